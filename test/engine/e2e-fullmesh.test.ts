/**
 * E2E (testbed, root): a 4-host full mesh deployed by the engine from bare Debian hosts — WireGuard
 * installed from the local apt repository, every pair pings over the mesh IPs; a second apply changes
 * nothing and runs no mutating command (only the read round trip); private keys never appear in any
 * process's argv on the hosts nor in the engine's logs; the `wgmesh deploy` CLI on the same hosts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deploy } from "../../provider/src/engine/deploy";
import { provisionHostKey } from "../../provider/src/engine/hostkey";
import { teardownHost } from "../../provider/src/engine/teardown";
import { meshToState, formatStateFile } from "../../provider/src/core/statefile";
import { normalizeMesh } from "../../provider/src/core/model";
import { main } from "../../provider/src/cli/main";
import { down, up, type Testbed } from "../testbed";
import { compile, engineOptions, interfaceIdentity, nodeOn, reachability, startArgvSampler, stopArgvSampler, type Compiled } from "./e2e/mesh";
import type { MeshInput } from "../../provider/src/core/model";

const NAME = "e5full";

describe("engine e2e: 4-host full mesh", { timeout: 600_000 }, () => {
  let tb: Testbed;
  let input: MeshInput;
  let c: Compiled;
  const log: string[] = [];

  before(async () => {
    tb = await up(4, { name: NAME });
    input = { nodes: tb.hosts.map((h) => nodeOn(h)) };
    c = compile(tb, input);
  });
  after(async () => {
    await down(NAME);
  });

  it("first deploy installs and configures every host: 1 connection, 2 round trips each; no key in any argv or log", async () => {
    await Promise.all(tb.hosts.map((h) => startArgvSampler(tb, h.name)));
    const r = await deploy(c.targets, engineOptions(tb, log, { concurrency: 4 }));
    const secrets = input.nodes.map((n) => n.privateKey as string);
    const samples = await Promise.all(tb.hosts.map((h) => stopArgvSampler(tb, h.name, secrets)));
    for (const [name, h] of Object.entries(r.hosts)) {
      assert.equal(h.status, "changed", `${name}: ${h.error ?? ""}`);
      assert.equal(h.sshConnections, 1, name);
      assert.equal(h.execRoundTrips, 2, name);
      assert.deepEqual(h.installed, ["wireguard-tools", "wireguard-go"], name);
      assert.ok(h.plannedOperations.some((o) => o.kind === "interface-up"), name);
    }
    for (const [i, s] of samples.entries()) {
      assert.ok(s.lines > 100 && s.sawWg, `sampler on host ${i + 1} saw the apply (${s.lines} argv lines)`);
      assert.deepEqual(s.leaked, [], `no private key in any argv on host ${i + 1}`);
    }
    const text = log.join("\n");
    assert.match(text, /connecting to root@/);
    for (const k of secrets) assert.ok(!text.includes(k), "no private key in the engine's log");
  });

  it("every pair pings over the mesh IPs", async () => {
    const m = await reachability(tb, c);
    const names = Object.keys(c.ip).sort();
    for (const n of names) assert.deepEqual(m[n], names.filter((x) => x !== n), `${n} reaches every other node`);
  });

  it("the persistent state is in place: 0600 root file, enabled unit", async () => {
    for (const h of tb.hosts) {
      const out = await tb.execOk(h.name, ["sh", "-c", "stat -c '%a %u:%g' /etc/wireguard/wg0.conf; systemctl is-enabled wg-quick@wg0; systemctl is-active wg-quick@wg0"]);
      assert.equal(out.trim(), "600 0:0\nenabled\nactive");
    }
  });

  it("a second apply reports 0 changes and runs no mutating command", async () => {
    const idBefore = await Promise.all(tb.hosts.map((h) => interfaceIdentity(tb, h.name)));
    const stat = "stat -c '%i %Y' /etc/wireguard/wg0.conf";
    const fileBefore = await Promise.all(tb.hosts.map((h) => tb.execOk(h.name, ["sh", "-c", stat])));
    const r = await deploy(c.targets, engineOptions(tb));
    for (const [name, h] of Object.entries(r.hosts)) {
      assert.equal(h.status, "unchanged", `${name}: ${h.error ?? h.steps.join(", ")}`);
      assert.equal(h.operations, 0);
      assert.equal(h.sshConnections, 1);
      assert.equal(h.execRoundTrips, 1, `${name}: only the read-only facts round trip ran`);
    }
    assert.deepEqual(await Promise.all(tb.hosts.map((h) => interfaceIdentity(tb, h.name))), idBefore);
    assert.deepEqual(await Promise.all(tb.hosts.map((h) => tb.execOk(h.name, ["sh", "-c", stat]))), fileBefore);
  });

  it("drift is repaired: a deleted interface, a hand-edited file, a stray peer, a disabled unit", async () => {
    const [a, b, d] = [tb.hosts[0]!.name, tb.hosts[1]!.name, tb.hosts[2]!.name];
    await tb.execOk(a, ["ip", "link", "del", "wg0"]); // unit still "active", interface gone
    await tb.execOk(b, ["sh", "-c", "echo '# hand edit' >> /etc/wireguard/wg0.conf; chmod 644 /etc/wireguard/wg0.conf; wg set wg0 peer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= allowed-ips 10.99.9.9/32"]);
    await tb.execOk(d, ["systemctl", "disable", "-q", "wg-quick@wg0"]);
    const idB = await interfaceIdentity(tb, b);
    const r = await deploy(c.targets, engineOptions(tb));
    assert.deepEqual(r.hosts[a]!.steps, ["stop wg-quick@wg0 (active without its interface)", "interface-up (systemctl start)"]);
    assert.deepEqual(r.hosts[b]!.steps, ["write /etc/wireguard/wg0.conf", "peer-remove AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]);
    assert.deepEqual(r.hosts[d]!.steps, ["enable wg-quick@wg0"]);
    assert.equal(r.hosts[tb.hosts[3]!.name]!.status, "unchanged");
    assert.equal(await interfaceIdentity(tb, b), idB, "the hand-edited host was not restarted");
    assert.equal((await tb.execOk(b, ["stat", "-c", "%a", "/etc/wireguard/wg0.conf"])).trim(), "600");
    const m = await reachability(tb, c);
    for (const n of Object.keys(c.ip)) assert.equal(m[n]!.length, 3, `${n} reaches the 3 others`);
    const again = await deploy(c.targets, engineOptions(tb));
    for (const h of Object.values(again.hosts)) assert.equal(h.status, "unchanged");
  });

  it("wgmesh deploy (CLI) on the same hosts: --dry-run and a re-apply report unchanged; a changed mesh converges (exit 0)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "e5full-"));
    const file = path.join(dir, "mesh-state.json");
    const mesh = normalizeMesh(input);
    // Same mesh, with the IPs compile() allocated, as the Go tool's state file.
    mesh.nodes = mesh.nodes.map((n) => ({ ...n, meshIp: c.ip[n.hostname] ?? null }));
    writeFileSync(file, formatStateFile(meshToState(mesh)));
    const flags = ["--identity", tb.privateKeyPath, "--known-hosts", tb.knownHostsPath, "--json"];
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, readStdin: async () => Buffer.alloc(0), env: {}, cwd: dir });
      return { code, json: JSON.parse(out.join("")) as { hosts: Record<string, { status: string; operations: number; sshConnections: number; execRoundTrips: number }> }, err: err.join("") };
    };
    const same = await run(["deploy", file, ...flags]);
    assert.equal(same.code, 0, same.err);
    for (const h of Object.values(same.json.hosts)) {
      const { health, ...rest } = h as typeof h & { health?: { peers: Record<string, unknown> } };
      assert.deepEqual(rest, { status: "unchanged", operations: 0, sshConnections: 1, execRoundTrips: 1 });
      assert.equal(Object.keys(health!.peers).length, 3, "each host's health: its 3 peers");
    }
    assert.match(same.err, /connecting to root@/);
    for (const n of input.nodes) assert.ok(!same.err.includes(n.privateKey as string));

    // Give node 4 a different listen port: dry run shows it, touches nothing; the real run converges.
    mesh.nodes[3] = { ...mesh.nodes[3]!, listenPort: 51999 };
    writeFileSync(file, formatStateFile(meshToState(mesh)));
    const dry = await run(["deploy", file, ...flags, "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    const h4 = mesh.nodes[3]!.hostname;
    assert.equal(dry.json.hosts[h4]!.status, "changed");
    assert.equal(dry.json.hosts[h4]!.execRoundTrips, 1);
    assert.match(JSON.stringify(dry.json.hosts[h4]), /listen-port 51999/);
    assert.match((await tb.execOk(c.host[h4]!, ["wg", "show", "wg0", "listen-port"])).trim(), /^51820$/);
    const real = await run(["deploy", file, ...flags]);
    assert.equal(real.code, 0, real.err);
    assert.equal(real.json.hosts[h4]!.status, "changed");
    assert.equal((await tb.execOk(c.host[h4]!, ["wg", "show", "wg0", "listen-port"])).trim(), "51999");
    const m = await reachability(tb, c);
    for (const n of Object.keys(c.ip)) assert.equal(m[n]!.length, 3, `${n} still reaches all after the port change`);
    const again = await run(["deploy", file, ...flags]);
    for (const h of Object.values(again.json.hosts)) assert.equal(h.status, "unchanged");
  });

  it("a private key that lives only on the host: created there, only its public key returned, the mesh converges", async () => {
    const last = c.targets[3]!;
    const torn = await teardownHost({ node: last.node, connection: last.connection }, engineOptions(tb));
    assert.equal(torn.status, "changed", torn.error);
    const k = await provisionHostKey(last.node, last.connection, engineOptions(tb));
    assert.equal(k.created, true);
    assert.equal(k.counters.sshConnections, 1);
    assert.equal(k.counters.execRoundTrips, 2);
    const again = await provisionHostKey(last.node, last.connection, engineOptions(tb));
    assert.deepEqual([again.created, again.publicKey, again.counters.execRoundTrips], [false, k.publicKey, 1]);
    const hostOnly = { nodes: input.nodes.map((n, i) => (i === 3 ? { ...n, privateKey: null, publicKey: k.publicKey, meshIp: c.ip[n.hostname] } : { ...n, meshIp: c.ip[n.hostname] })) };
    const c2 = compile(tb, hostOnly);
    assert.deepEqual(c2.targets[3]!.key, { onHost: true });
    const r = await deploy(c2.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(r.hosts)) assert.notEqual(h.status, "failed", `${n}: ${h.error ?? ""}`);
    const conf = await tb.execOk(c.host[last.node]!, ["cat", "/etc/wireguard/wg0.conf"]);
    assert.doesNotMatch(conf, /PrivateKey/);
    assert.match(conf, /PostUp = wg set wg0 private-key \/etc\/wireguard\/wg0\.key/);
    assert.equal((await tb.execOk(c.host[last.node]!, ["wg", "show", "wg0", "public-key"])).trim(), k.publicKey);
    const m = await reachability(tb, c2);
    for (const n of Object.keys(c2.ip)) assert.equal(m[n]!.length, 3, `${n} reaches the 3 others`);
    const noop = await deploy(c2.targets, engineOptions(tb));
    for (const h of Object.values(noop.hosts)) assert.deepEqual([h.status, h.execRoundTrips], ["unchanged", 1]);
  });

  it("wgmesh teardown (CLI) removes the mesh from every host; a second run has nothing to do", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "e5full-td-"));
    const file = path.join(dir, "mesh-state.json");
    writeFileSync(file, formatStateFile(meshToState(normalizeMesh(input))));
    const run = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(["teardown", file, "--identity", tb.privateKeyPath, "--known-hosts", tb.knownHostsPath, "--json", "--concurrency", "2"],
        { stdout: { write: (x: string) => out.push(x) }, stderr: { write: (x: string) => err.push(x) }, readStdin: async () => Buffer.alloc(0), env: {}, cwd: dir });
      return { code, hosts: (JSON.parse(out.join("")) as { hosts: Record<string, { status: string; operations: number; execRoundTrips: number }> }).hosts, err: err.join("") };
    };
    const first = await run();
    assert.equal(first.code, 0, first.err);
    for (const [n, h] of Object.entries(first.hosts)) assert.deepEqual([h.status, h.execRoundTrips], ["changed", 2], n);
    for (const h of tb.hosts) {
      const left = await tb.execOk(h.name, ["sh", "-c", "ip link show wg0 >/dev/null 2>&1 && echo link; ls -A /etc/wireguard; systemctl is-enabled wg-quick@wg0 || true"]);
      assert.equal(left.trim(), "disabled", `${h.name}: nothing left`);
    }
    const second = await run();
    assert.equal(second.code, 0);
    for (const [n, h] of Object.entries(second.hosts)) assert.deepEqual([h.status, h.operations, h.execRoundTrips], ["unchanged", 0, 1], n);
  });
});
