/**
 * Fault injection (testbed, root): the health gate after apply, the automatic rollback, health as data and
 * the diagnostics of failed steps — on 5 real Debian hosts.
 * - First deploy: every host waits for its new peers and reports each one reachable, still in 2 round
 *   trips; `wgmesh status STATE` reads them back as connected.
 * - A change that breaks connectivity (a peer's endpoint moved to a dead port): rolled back on every host
 *   that has that peer, the error names node, peer and the change; pings between the other peers never stop;
 *   the previous state is on the host (0600); the next apply of the good plan changes nothing. With policies
 *   enforced, a change that also loads a new firewall gets the previous table and file back.
 * - A package that cannot be installed names apt's error line; a unit that fails shows systemctl status and
 *   the journal; a host whose sshd is down names address, port, attempts and the last error.
 * - healthCheck mode "ping" (a new node waited for by echo reply) and "off" (no wait).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main } from "../../provider/src/cli/main";
import { normalizeMesh, type MeshInput, type NodeInput } from "../../provider/src/core/model";
import { formatStateFile, meshToState } from "../../provider/src/core/statefile";
import { applyHost } from "../../provider/src/engine/apply";
import { deploy } from "../../provider/src/engine/deploy";
import { teardownHost } from "../../provider/src/engine/teardown";
import type { HealthCheck, NodeHealth } from "../../provider/src/planner/health";
import type { HostTarget } from "../../provider/src/engine/types";
import { down, up, type Testbed } from "../testbed";
import { compile, engineOptions, nodeOn, reachability, startPing, stopPing, type Compiled } from "../engine/e2e/mesh";

const NAME = "kgate";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withCheck = (targets: HostTarget[], healthCheck: HealthCheck) => targets.map((t) => ({ ...t, healthCheck }));

describe("fault injection: health gate, rollback, health output, diagnostics", { timeout: 900_000 }, () => {
  let tb: Testbed;
  let nodes: NodeInput[];
  let four: MeshInput;
  let c4: Compiled;
  const H = (i: number) => `${NAME}-h${i}`;

  before(async () => {
    tb = await up(5, { name: NAME });
    nodes = tb.hosts.map((h) => nodeOn(h));
    four = { nodes: nodes.slice(0, 4) };
    c4 = compile(tb, four);
  });
  after(async () => {
    await down(NAME);
  });

  it("first deploy: each host waits for its new peers and reports them reachable, in 2 round trips; `wgmesh status` reads them connected", async () => {
    const r = await deploy(c4.targets, engineOptions(tb, [], { concurrency: 5 }));
    for (const [n, h] of Object.entries(r.hosts)) {
      assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
      assert.equal(h.execRoundTrips, 2, `${n}: the gate costs no round trip`);
      assert.ok(h.gateMs !== undefined && h.gateMs < 15_000, `${n}: gate ${h.gateMs} ms`);
      const peers = Object.entries(h.health!.peers);
      assert.equal(peers.length, 3);
      for (const [p, ph] of peers) assert.equal(ph.state, "reachable", `${n} → ${p}`);
    }
    console.log(`# first deploy: gate waits ${Object.values(r.hosts).map((h) => h.gateMs).join(", ")} ms`);
    const files = await tb.execOk(H(1), ["sh", "-c", "ls -a /etc/wireguard"]);
    assert.doesNotMatch(files, /\.prev/, "nothing to keep before the first deploy");

    const mesh = normalizeMesh(four);
    mesh.nodes = mesh.nodes.map((n) => ({ ...n, meshIp: c4.ip[n.hostname] ?? null }));
    const dir = mkdtempSync(path.join(os.tmpdir(), "kgate-"));
    writeFileSync(path.join(dir, "mesh-state.json"), formatStateFile(meshToState(mesh)));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["status", "mesh-state.json", "--identity", tb.privateKeyPath, "--known-hosts", tb.knownHostsPath, "--json"],
      { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, readStdin: async () => Buffer.alloc(0), env: {}, cwd: dir });
    assert.equal(code, 0, err.join(""));
    const hosts = (JSON.parse(out.join("")) as { hosts: Record<string, { health: NodeHealth }> }).hosts;
    assert.deepEqual(Object.keys(hosts).sort(), [H(1), H(2), H(3), H(4)]);
    for (const [n, { health }] of Object.entries(hosts)) {
      for (const [p, ph] of Object.entries(health.peers)) {
        assert.equal(ph.state, "connected", `${n} → ${p}`);
        assert.ok(ph.rxBytes > 0 && ph.txBytes > 0 && ph.latestHandshakeAgeSeconds !== null && ph.endpoint !== null);
      }
    }
  });

  it("a peer's endpoint moved to a dead port: rolled back on every host that has it, the error names node, peer and change; other pings never stop", async () => {
    // The moved peer must not talk first: WireGuard would learn its real address from that (roaming) and the
    // change would work after all. Its only unsolicited packet is the passive keepalive 10 s after it last
    // received data (the first deploy's probes), so let that pass.
    await sleep(11_000);
    const dead = `${tb.host(H(2)).address}:9999`;
    const broken = compile(tb, { nodes: four.nodes.map((n) => (n.hostname === H(2) ? { ...n, publicEndpoint: dead } : n)) });
    await startPing(tb, H(1), c4.ip[H(3)]!);
    await startPing(tb, H(4), c4.ip[H(1)]!);
    let r: Awaited<ReturnType<typeof deploy>>;
    try {
      r = await deploy(broken.targets, engineOptions(tb));
    } finally {
      const p1 = await stopPing(tb, H(1));
      const p4 = await stopPing(tb, H(4));
      assert.ok(p1.sent > 100 && p4.sent > 100, `pings ran during the deploy (${p1.sent}, ${p4.sent})`);
      assert.deepEqual([p1.lost, p4.lost], [[], []], "no ping between the other peers was lost");
    }
    assert.equal(r!.hosts[H(2)]!.status, "unchanged", "the moved node itself has nothing to change");
    for (const n of [H(1), H(3), H(4)]) {
      const h = r!.hosts[n]!;
      assert.equal(h.status, "failed", n);
      assert.equal(h.rolledBack, true, n);
      assert.equal(h.execRoundTrips, 3, `${n}: read, change + gate, rollback`);
      assert.match(h.error!, new RegExp(`^node ${n}: the change made 1 peer unreachable and was rolled back on this host:`));
      assert.match(h.error!, new RegExp(`peer ${H(2)} \\(no handshake and no traffic back within 15 s; it was connected before the change\\); changed: endpoint [0-9.]+:51820 → ${dead.replace(/\./g, "\\.")}`));
      assert.match(h.error!, new RegExp(`${H(2)} reachable again after`));
      assert.equal(h.health!.peers[H(2)]!.state, "reachable", `${n}: ${H(2)} answers after the rollback`);
      assert.ok(h.gateMs! >= 15_000, `${n}: the gate waited its bound (${h.gateMs} ms)`);
    }
    console.log(`# rollback: gate ${r!.hosts[H(1)]!.gateMs} ms, rollback round trips ${[1, 3, 4].map((i) => r!.hosts[H(i)]!.rollbackMs).join(", ")} ms`);
    const files = await tb.execOk(H(1), ["sh", "-c", "cd /etc/wireguard && stat -c '%n %a %u' wg0.conf wg0.conf.prev wg0.live.prev && cmp wg0.conf wg0.conf.prev && echo same && wg show wg0 endpoints"]);
    assert.match(files, /^wg0\.conf 600 0\nwg0\.conf\.prev 600 0\nwg0\.live\.prev 600 0\nsame\n/);
    assert.match(files, new RegExp(`${tb.host(H(2)).address.replace(/\./g, "\\.")}:51820`));
    const again = await deploy(c4.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(again.hosts)) assert.deepEqual([h.status, h.execRoundTrips], ["unchanged", 1], `${n}: ${h.error ?? h.steps.join(", ")}`);
  });

  it("with enforcement: a change that also loads a new firewall is rolled back to the previous table and file", async () => {
    const hosts = four.nodes.map((n) => n.hostname);
    const enforced = (nodesOf: NodeInput[], ports: string[]): MeshInput => ({
      nodes: nodesOf, enforcement: "nftables",
      groups: [{ name: "all", members: hosts }],
      policies: [{ name: "all-to-all", fromGroups: ["all"], toGroups: ["all"], ports }],
    });
    const good = compile(tb, enforced(four.nodes, ["icmp", "tcp/22"]));
    const first = await deploy(good.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(first.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    const LIST = ["sh", "-c", "nft -s list table inet wgmesh_wg0 | sha256sum; sha256sum < /etc/wireguard/wg0.nft"];
    const tables = Object.fromEntries(await Promise.all([1, 3, 4].map(async (i) => [H(i), await tb.execOk(H(i), LIST)] as const)));
    await sleep(11_000); // the moved peer must not talk first (see the test above)
    const dead = `${tb.host(H(2)).address}:9999`;
    const moved = four.nodes.map((n) => (n.hostname === H(2) ? { ...n, publicEndpoint: dead } : n));
    const broken = compile(tb, enforced(moved, ["icmp", "tcp/22", "tcp/5432"]));
    const r = await deploy(broken.targets, engineOptions(tb));
    for (const i of [1, 3, 4]) {
      const h = r.hosts[H(i)]!;
      assert.equal(h.status, "failed", H(i));
      assert.equal(h.rolledBack, true, H(i));
      assert.ok(h.steps.some((s) => /^load the firewall/.test(s)), `${H(i)} loaded a new firewall: ${h.steps.join("; ")}`);
      assert.match(h.error!, new RegExp(`peer ${H(2)} \\(no handshake`));
      assert.match(h.error!, /rolled back to the previous state \(\/etc\/wireguard\/wg0\.conf\.prev, \/etc\/wireguard\/wg0\.live\.prev, \/etc\/wireguard\/wg0\.nft\.prev\)/);
      assert.equal(await tb.execOk(H(i), LIST), tables[H(i)], `${H(i)}: the table and its file are the ones before the change`);
      assert.match(await tb.execOk(H(i), ["stat", "-c", "%a %u", "/etc/wireguard/wg0.nft.prev"]), /^600 0\n/);
    }
    console.log(`# rollback with the firewall: rollback round trips ${[1, 3, 4].map((i) => r.hosts[H(i)]!.rollbackMs).join(", ")} ms`);
    assert.equal(r.hosts[H(2)]!.status, "changed", "the moved node only gains the new port in its own firewall (no peer touched)");
    const again = await deploy(good.targets, engineOptions(tb));
    for (const i of [1, 3, 4]) assert.deepEqual([again.hosts[H(i)]!.status, again.hosts[H(i)]!.execRoundTrips], ["unchanged", 1], `${H(i)}: ${again.hosts[H(i)]!.error ?? again.hosts[H(i)]!.steps.join(", ")}`);
    assert.equal(again.hosts[H(2)]!.status, "changed", again.hosts[H(2)]!.error);
    // Back to the unenforced mesh the next tests start from: the firewall removed (not a rollback case).
    const plain = await deploy(c4.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(plain.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    assert.doesNotMatch(await tb.execOk(H(1), ["sh", "-c", "nft list tables"]), /wgmesh_wg0/);
  });

  it("diagnostics: apt's error line for a package that cannot be installed; journal and status for a failing unit; address, port and attempts for a dead sshd", async () => {
    const c5 = compile(tb, { nodes });
    const h5 = c5.targets.find((t) => t.node === H(5))!;
    await tb.execOk(H(5), ["sh", "-c", "printf 'Package: wireguard-go\\nPin: release *\\nPin-Priority: -1\\n' > /etc/apt/preferences.d/no-wireguard-go"]);
    const apt = await applyHost(h5, engineOptions(tb));
    await tb.execOk(H(5), ["rm", "-f", "/etc/apt/preferences.d/no-wireguard-go"]);
    assert.equal(apt.status, "failed");
    assert.match(apt.error!, new RegExp(`^node ${H(5)}: step "install wireguard-tools, wireguard-go" failed \\(exit 1\\): E: .*wireguard-go`));
    assert.match(apt.error!, /Fix: make the package installable/);

    await tb.execOk(H(5), ["sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q wireguard-tools wireguard-go >/dev/null && chmod -x /usr/bin/wireguard-go"]);
    let unit;
    try {
      unit = await applyHost(h5, engineOptions(tb));
    } finally {
      await tb.execOk(H(5), ["chmod", "+x", "/usr/bin/wireguard-go"]);
    }
    assert.equal(unit.status, "failed");
    assert.match(unit.error!, new RegExp(`^node ${H(5)}: step "interface-up \\(systemctl start\\)" failed \\(exit 1\\): Job for wg-quick@wg0\\.service failed`));
    assert.match(unit.error!, /\n {2}systemctl status wg-quick@wg0:\n {4}.*wg-quick@wg0\.service/);
    assert.match(unit.error!, /\n {2}journalctl -u wg-quick@wg0 \(last \d+ lines\):\n[^]*ip link add wg0 type wireguard/);
    assert.match(unit.error!, /Fix: the journal lines above say why wg-quick@wg0 failed/);
    assert.ok(!unit.error!.includes(nodes[4]!.privateKey!), "no private key in the evidence");

    await tb.stopSshd(H(5));
    let dial;
    try {
      dial = await applyHost({ ...h5, connection: { ...h5.connection, dialErrorLimit: 3 } }, engineOptions(tb));
    } finally {
      await tb.startSshd(H(5));
    }
    assert.equal(dial.status, "failed");
    assert.equal(dial.dialAttempts, 3);
    assert.match(dial.error!, new RegExp(`could not connect to root@${tb.host(H(5)).address.replace(/\./g, "\\.")}:22 after 3 attempts .*ECONNREFUSED`));
  });

  it("mode ping waits for echo replies from a new node; mode off does not wait", async () => {
    const c5 = compile(tb, { nodes });
    const r = await deploy(withCheck(c5.targets, { mode: "ping", timeoutSeconds: 15 }), engineOptions(tb, [], { concurrency: 5 }));
    for (const [n, h] of Object.entries(r.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    for (let i = 1; i <= 4; i++) assert.equal(r.hosts[H(i)]!.health!.peers[H(5)]!.state, "reachable", H(i));
    assert.deepEqual(Object.values(r.hosts[H(5)]!.health!.peers).map((p) => p.state), ["reachable", "reachable", "reachable", "reachable"]);
    const m = await reachability(tb, c5);
    for (const n of Object.keys(c5.ip)) assert.equal(m[n]!.length, 4, n);

    const off = await deploy(withCheck(c4.targets, { mode: "off", timeoutSeconds: 15 }), engineOptions(tb));
    for (const [n, h] of Object.entries(off.hosts)) {
      assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
      assert.equal(h.gateMs, undefined, `${n}: no wait`);
      assert.equal(h.health!.mode, "off");
    }
    const gone = await teardownHost({ node: H(5), connection: c5.targets.find((t) => t.node === H(5))!.connection }, engineOptions(tb));
    assert.equal(gone.status, "changed", gone.error);
    assert.equal((await tb.execOk(H(5), ["sh", "-c", "ls -A /etc/wireguard | wc -l"])).trim(), "0", "teardown removes the snapshot files too");
  });
});
