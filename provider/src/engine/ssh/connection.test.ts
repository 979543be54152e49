import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { types } from "@pulumi/command";
import { CONNECTION_DEFAULTS, connect, type Connection, type ProxyConnection } from "./connection";
import { SshError } from "./errors";

// Compile-time: our Connection is exactly @pulumi/command's plain remote.Connection, both ways.
type Pc = types.output.remote.Connection;
type PcProxy = types.output.remote.ProxyConnection;
const toPulumi = (c: Connection): Pc => c;
const fromPulumi = (c: Pc): Connection => c;
const proxyToPulumi = (c: ProxyConnection): PcProxy => c;
const proxyFromPulumi = (c: PcProxy): ProxyConnection => c;
type Exact<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const sameKeys: Exact<Connection, Pc> = true;
const sameProxyKeys: Exact<ProxyConnection, PcProxy> = true;

describe("connection arguments", () => {
  it("mirror @pulumi/command's defaults", () => {
    assert.deepEqual(CONNECTION_DEFAULTS, { port: 22, user: "root", dialErrorLimit: 10, perDialTimeout: 15 });
    assert.ok(sameKeys && sameProxyKeys);
    void [toPulumi, fromPulumi, proxyToPulumi, proxyFromPulumi];
  });

  it("reject invalid values before dialing, naming the field and the host", async () => {
    const cases: Array<[Connection, RegExp]> = [
      [{ host: " " }, /connection\.host is empty/],
      [{ host: "h1", port: 70000 }, /connection\.port 70000 for host h1 is not a TCP port/],
      [{ host: "h1", user: "" }, /connection\.user for host h1 is empty/],
      [{ host: "h1", dialErrorLimit: -2 }, /connection\.dialErrorLimit -2 for host h1/],
      [{ host: "h1", perDialTimeout: -1 }, /connection\.perDialTimeout -1 for host h1/],
      [{ host: "h1", proxy: { host: "b", port: 0 } }, /connection\.proxy\.port 0 for host b/],
      [{ host: "h1", privateKey: "/home/me/.ssh/id_ed25519" }, /privateKey for root@h1 cannot be used: .*Fix: give the private key's contents/],
      [{ host: "h1", hostKey: "nonsense" }, /connection\.hostKey of host h1: hostKey is not an SSH public key/],
    ];
    for (const [conn, re] of cases) {
      await assert.rejects(connect(conn, { env: { sshAuthSock: "", home: "/nonexistent" } }),
        (e: unknown) => e instanceof SshError && e.code === "config" && re.test(e.message), `${JSON.stringify(conn)} → ${re}`);
    }
  });
});
