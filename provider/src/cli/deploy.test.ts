import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateKeyPair } from "../core/keys";
import { encryptState } from "../core/statecrypt";
import { main } from "./main";
import type { CliIO } from "./commands";
import { isMeshStatus } from "./status";
import { age, bytes, healthSummary, healthTable, rowsOf } from "./health";
import type { NodeHealth, PeerHealth, PeerState } from "../planner/health";

function io(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIO = {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    readStdin: async () => Buffer.alloc(0),
    env: {},
    cwd,
  };
  return { cli, out: () => out.join(""), err: () => err.join("") };
}

const dir = mkdtempSync(path.join(os.tmpdir(), "wgmesh-deploy-cli-"));
const k = [generateKeyPair(), generateKeyPair()];
function state(over: Record<string, unknown> = {}): string {
  const nodes: Record<string, unknown> = {};
  ["a", "b"].forEach((h, i) => {
    // Port 1 on loopback: nothing listens; invalid-input tests must fail before any dial.
    nodes[h] = { hostname: h, mesh_ip: `10.99.0.${i + 1}`, public_key: k[i]!.publicKey, private_key: k[i]!.privateKey, ssh_host: "127.0.0.1", ssh_port: 1, listen_port: 51820, behind_nat: false, is_local: false };
  });
  return JSON.stringify({ interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, nodes, local_hostname: "", ...over });
}
writeFileSync(path.join(dir, "good.json"), state());

describe("wgmesh deploy/teardown: invalid input is exit 1 with nothing contacted", () => {
  it("missing state file", async () => {
    const t = io(dir);
    assert.equal(await main(["deploy", "nope.json"], t.cli), 1);
    assert.match(t.err(), /cannot read state file "nope.json": no such file/);
  });

  it("an invalid mesh lists every error and touches nothing", async () => {
    const bad = JSON.parse(state());
    bad.nodes.b.mesh_ip = "10.99.0.1";
    writeFileSync(path.join(dir, "dup.json"), JSON.stringify(bad));
    const t = io(dir);
    assert.equal(await main(["deploy", "dup.json", "--json"], t.cli), 1);
    assert.match(t.err(), /10\.99\.0\.1/);
    assert.doesNotMatch(t.err(), /connecting/);
    assert.doesNotMatch(t.err(), new RegExp(k[0]!.privateKey.replace(/[+/=]/g, ".")));
  });

  it("bad flags: concurrency, unreadable identity or known_hosts, unknown --node", async () => {
    for (const [args, re] of [
      [["deploy", "good.json", "--concurrency", "0"], /--concurrency "0"/],
      [["deploy", "good.json", "--identity", "nokey"], /cannot read identity file "nokey"/],
      [["deploy", "good.json", "--known-hosts", "nokh"], /cannot read known_hosts file/],
      [["teardown", "good.json", "--node", "zz"], /--node "zz": no such node/],
      [["deploy", "good.json", "--frobnicate"], /frobnicate/],
      [["deploy"], /exactly one state file/],
    ] as Array<[string[], RegExp]>) {
      const t = io(dir);
      assert.equal(await main(args, t.cli), 1, args.join(" "));
      assert.match(t.err(), re);
      assert.doesNotMatch(t.err(), /connecting/);
    }
  });

  it("usage is registered for both commands", async () => {
    for (const c of ["deploy", "teardown"]) {
      const t = io(dir);
      assert.equal(await main([c, "--help"], t.cli), 0);
      assert.match(t.out(), new RegExp(`^Usage: wgmesh ${c} <mesh-state.json>`));
    }
  });

  it("an encrypted state file needs its password; a wrong one is exit 1 without contacting anything", async () => {
    writeFileSync(path.join(dir, "enc.json"), encryptState(state(), "right horse"));
    writeFileSync(path.join(dir, "wrong.pw"), "wrong horse\n");
    const a = io(dir);
    assert.equal(await main(["deploy", "enc.json"], a.cli), 1);
    assert.match(a.err(), /looks encrypted/);
    const b = io(dir);
    assert.equal(await main(["deploy", "enc.json", "--password-file", "wrong.pw"], b.cli), 1);
    assert.doesNotMatch(b.err(), /connecting/);
  });
});

describe("wgmesh status and the health flags", () => {
  it("status: a state file selects the deployed mesh's status, --secret the daemon's", () => {
    assert.equal(isMeshStatus(["mesh.json"]), true);
    assert.equal(isMeshStatus(["--json", "mesh.json", "--user", "admin"]), true);
    assert.equal(isMeshStatus(["--secret", "wgmesh://v1/x"]), false);
    assert.equal(isMeshStatus(["-secret=wgmesh://v1/x", "--json"]), false);
    assert.equal(isMeshStatus([]), false);
    assert.equal(isMeshStatus(["--json"]), false);
  });

  it("invalid health flags and a missing state file are exit 1 before any contact; usage shows both forms", async () => {
    for (const [args, re] of [
      [["deploy", "good.json", "--health-check", "pong"], /--health-check "pong" is not one of "handshake", "ping", "off"/],
      [["deploy", "good.json", "--health-timeout", "0"], /--health-timeout 0 must be a whole number of seconds from 1 to 600/],
      [["deploy", "good.json", "--health-timeout", "ten"], /--health-timeout "ten"/],
      [["status", "nope.json"], /cannot read state file "nope.json"/],
      [["status", "good.json", "--dry-run"], /status reads only/],
    ] as Array<[string[], RegExp]>) {
      const t = io(dir);
      assert.equal(await main(args, t.cli), 1, args.join(" "));
      assert.match(t.err(), re);
      assert.doesNotMatch(t.err(), /connecting/);
    }
    const h = io(dir);
    assert.equal(await main(["status", "--help"], h.cli), 0);
    assert.match(h.out(), /^Usage: wgmesh status <mesh-state\.json>[^]*?\n {7}wgmesh status --secret <SECRET>/);
    const d = io(dir);
    assert.equal(await main(["status"], d.cli), 1, "no state file and no --secret: the daemon's own error");
    assert.match(d.err(), /--secret is required/);
  });

  it("a host that cannot be read: status prints its row, names it on stderr and exits 2", async () => {
    const t = io(dir);
    assert.equal(await main(["status", "good.json"], t.cli), 2);
    assert.match(t.out(), /^NODE +PEER +STATE +HANDSHAKE +RX +TX +ENDPOINT\na +- +unread +- +- +- +no SSH credentials for root@127\.0\.0\.1/);
    assert.match(t.err(), /2 host\(s\) could not be read: a, b/);
  });

  it("the table and the summary", () => {
    const peer = (state: PeerState, age: number | null, rx: number): PeerHealth => ({ publicKey: k[0]!.publicKey, state, latestHandshakeAgeSeconds: age, rxBytes: rx, txBytes: 92, endpoint: age === null ? null : "198.18.0.12:51820" });
    const h: NodeHealth = { mode: "handshake", checkedAt: "2026-01-01T00:00:00.000Z", peers: { web2: peer("connected", 75, 1536), db1: peer("never", null, 0) } };
    assert.equal(healthSummary(h), "1 connected, 1 never");
    assert.equal(healthTable([...rowsOf("web1", h), ...rowsOf("app1", null, "could not connect")]),
      "NODE  PEER  STATE      HANDSHAKE  RX       TX    ENDPOINT\n" +
      "web1  db1   never      never      0 B      92 B  -\n" +
      "web1  web2  connected  1m15s ago  1.5 KiB  92 B  198.18.0.12:51820\n" +
      "app1  -     unread     -          -        -     could not connect\n");
    assert.deepEqual([age(3), age(7300), age(200000), bytes(5 * 1048576)], ["3s ago", "2h01m ago", "2d ago", "5.0 MiB"]);
  });
});

