import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateKeyPair } from "../core/keys";
import { encryptState } from "../core/statecrypt";
import { main } from "./main";
import type { CliIO } from "./commands";

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
