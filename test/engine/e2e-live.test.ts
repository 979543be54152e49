/**
 * E2E (testbed, root): live changes on a running mesh and faults.
 * - A 5-node mesh deployed by a non-root user through sudo.
 * - Add a 6th node while a ping runs between two existing nodes: 0 lost pings, 0 interface restarts, each
 *   existing host gets exactly one peer-add operation. Remove it: same (one peer-remove each).
 * - Reboot a host: identical `wg show dump` (minus handshake/transfer) and routes; a re-apply changes nothing.
 * - A changed host key is refused before any command runs; a host whose sshd is down fails alone, the others
 *   converge, and the next apply fixes it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deploy } from "../../provider/src/engine/deploy";
import { main } from "../../provider/src/cli/main";
import { formatStateFile, meshToState } from "../../provider/src/core/statefile";
import { normalizeMesh } from "../../provider/src/core/model";
import { teardownHost } from "../../provider/src/engine/teardown";
import type { MeshInput, NodeInput } from "../../provider/src/core/model";
import type { HostTarget } from "../../provider/src/engine/types";
import { down, up, type Testbed } from "../testbed";
import { compile, engineOptions, interfaceIdentity, nodeOn, reachability, stableDump, startPing, stopPing, type Compiled } from "./e2e/mesh";

const NAME = "e5live";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("engine e2e: live add/remove, reboot, sudo, host keys, sshd down", { timeout: 900_000 }, () => {
  let tb: Testbed;
  let nodes: NodeInput[];
  let five: MeshInput;
  let c5: Compiled;
  const H = (i: number) => `${NAME}-h${i}`;

  before(async () => {
    tb = await up(6, { name: NAME });
    nodes = tb.hosts.map((h) => nodeOn(h));
    five = { nodes: nodes.slice(0, 5) };
    c5 = compile(tb, five);
  });
  after(async () => {
    await down(NAME);
  });

  it("a non-root user with passwordless sudo deploys a 5-node mesh", async () => {
    const asAdmin = compile(tb, five, { user: tb.hosts[0]!.sudoUser });
    assert.notEqual(tb.hosts[0]!.sudoUser, "root");
    const r = await deploy(asAdmin.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(r.hosts)) {
      assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
      assert.equal(h.execRoundTrips, 2);
    }
    const m = await reachability(tb, c5);
    for (const n of Object.keys(c5.ip)) assert.equal(m[n]!.length, 4, `${n} reaches the 4 others`);
    const again = await deploy(asAdmin.targets, engineOptions(tb));
    for (const h of Object.values(again.hosts)) assert.equal(h.status, "unchanged");
  });

  async function liveChange(targets: HostTarget[], extra: () => Promise<unknown> = async () => undefined) {
    const ids = await Promise.all([1, 2, 3, 4, 5].map((i) => interfaceIdentity(tb, H(i))));
    await startPing(tb, H(1), c5.ip[H(2)]!);
    await sleep(500);
    const [r] = await Promise.all([deploy(targets, engineOptions(tb)), extra()]);
    await sleep(500);
    const ping = await stopPing(tb, H(1));
    const idsAfter = await Promise.all([1, 2, 3, 4, 5].map((i) => interfaceIdentity(tb, H(i))));
    return { r, ping, ids, idsAfter };
  }

  it("adding a 6th node while h1 pings h2: 0 lost, 0 restarts, exactly one peer-add on each existing host", async () => {
    const c6 = compile(tb, { nodes });
    const newKey = c6.targets.find((t) => t.node === H(6))!.desired.interface.publicKey;
    const { r, ping, ids, idsAfter } = await liveChange(c6.targets);
    for (const [n, h] of Object.entries(r.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    assert.ok(ping.sent > 20, `the ping ran during the deploy (${ping.sent} sent)`);
    assert.deepEqual(ping.lost, [], "no ping lost");
    assert.deepEqual(idsAfter, ids, "no interface was restarted (same ifindex and wireguard-go pid)");
    for (let i = 1; i <= 5; i++) {
      const ops = r.hosts[H(i)]!.plannedOperations;
      assert.equal(ops.length, 1, `${H(i)}: ${JSON.stringify(ops)}`);
      assert.equal(ops[0]!.kind, "peer-set");
      assert.equal((ops[0] as { publicKey: string }).publicKey, newKey);
      assert.deepEqual((ops[0] as { allowedIps?: string[] }).allowedIps, [`${c6.ip[H(6)]}/32`]);
    }
    const m = await reachability(tb, c6);
    for (const n of Object.keys(c6.ip)) assert.equal(m[n]!.length, 5, `${n} reaches the 5 others`);
  });

  it("removing it again while h1 pings h2: 0 lost, 0 restarts, exactly one peer-remove on each remaining host", async () => {
    const c6 = compile(tb, { nodes });
    const goneKey = c6.targets.find((t) => t.node === H(6))!.desired.interface.publicKey;
    const h6 = c6.targets.find((t) => t.node === H(6))!;
    let torn: Awaited<ReturnType<typeof teardownHost>> | undefined;
    const { r, ping, ids, idsAfter } = await liveChange(c5.targets, async () => {
      torn = await teardownHost({ node: H(6), connection: h6.connection }, engineOptions(tb));
    });
    assert.equal(torn!.status, "changed", torn!.error);
    assert.equal(torn!.execRoundTrips, 2);
    for (const [n, h] of Object.entries(r.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    assert.deepEqual(ping.lost, []);
    assert.ok(ping.sent > 20);
    assert.deepEqual(idsAfter, ids);
    for (let i = 1; i <= 5; i++) {
      assert.deepEqual(r.hosts[H(i)]!.plannedOperations, [{ kind: "peer-remove", publicKey: goneKey }], H(i));
    }
    const left = await tb.execOk(H(6), ["sh", "-c", "ip link show wg0 >/dev/null 2>&1 && echo link; ls /etc/wireguard; systemctl is-enabled wg-quick@wg0 || true"]);
    assert.equal(left.trim(), "disabled", "h6: no interface, no files, unit disabled");
    const again = await teardownHost({ node: H(6), connection: h6.connection }, engineOptions(tb));
    assert.deepEqual([again.status, again.execRoundTrips], ["unchanged", 1]);
  });

  it("a rebooted host comes back with the identical WireGuard state and routes", async () => {
    const host = H(3);
    const routes = () => tb.execOk(host, ["ip", "-4", "route", "show", "dev", "wg0"]);
    const dumpBefore = await stableDump(tb, host);
    const routesBefore = await routes();
    await tb.reboot(host);
    let active = "";
    for (let i = 0; i < 60 && active !== "active"; i++) {
      active = (await tb.exec(host, ["systemctl", "is-active", "wg-quick@wg0"])).stdout.trim();
      if (active !== "active") await sleep(500);
    }
    assert.equal(active, "active");
    assert.equal(await stableDump(tb, host), dumpBefore);
    assert.equal(await routes(), routesBefore);
    const r = await deploy(c5.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(r.hosts)) assert.equal(h.status, "unchanged", `${n}: ${h.steps.join(", ")} ${h.error ?? ""}`);
    const m = await reachability(tb, c5);
    assert.equal(m[host]!.length, 4);
  });

  it("a changed host key is refused before any command runs; the others are unaffected", async () => {
    const host = H(4);
    await tb.changeHostKey(host);
    const r = await deploy(c5.targets, engineOptions(tb));
    const h = r.hosts[host]!;
    assert.equal(h.status, "failed");
    assert.match(h.error!, /host key/i);
    assert.match(h.error!, new RegExp(tb.host(host).address.replace(/\./g, "\\.")));
    assert.equal(h.execRoundTrips, 0, "no command ran");
    assert.equal(h.sshConnections, 0);
    for (const [n, x] of Object.entries(r.hosts)) if (n !== host) assert.equal(x.status, "unchanged", n);
    await tb.changeHostKey(host, { updateKnownHosts: true });
    const ok = await deploy(c5.targets, engineOptions(tb));
    assert.equal(ok.hosts[host]!.status, "unchanged", ok.hosts[host]!.error);
  });

  it("a host whose sshd is down fails alone, the others converge, and the next apply fixes it", async () => {
    const host = H(5);
    // A change for every host: h2 moves to another listen port (everyone's endpoint for h2 changes).
    const changed = { nodes: five.nodes.map((n) => (n.hostname === H(2) ? { ...n, listenPort: 51888 } : n)) };
    const c = compile(tb, changed);
    const targets = c.targets.map((t) => ({ ...t, connection: { ...t.connection, dialErrorLimit: 2, perDialTimeout: 5 } }));
    await tb.stopSshd(host);
    let r;
    try {
      r = await deploy(targets, engineOptions(tb));
    } finally {
      await tb.startSshd(host);
    }
    assert.equal(r.hosts[host]!.status, "failed");
    assert.match(r.hosts[host]!.error!, /could not connect/);
    for (const [n, h] of Object.entries(r.hosts)) if (n !== host) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    const m1 = await reachability(tb, c, [H(1), H(2), H(3), H(4)]);
    for (const n of [H(1), H(3), H(4)]) assert.ok(m1[n]!.includes(H(2)), `${n} reaches h2 on its new port`);
    const fixed = await deploy(targets, engineOptions(tb));
    assert.equal(fixed.hosts[host]!.status, "changed", fixed.hosts[host]!.error);
    for (const [n, h] of Object.entries(fixed.hosts)) if (n !== host) assert.equal(h.status, "unchanged", n);
    const m = await reachability(tb, c);
    for (const n of Object.keys(c.ip)) assert.equal(m[n]!.length, 4, `${n} reaches the 4 others`);
  });

  it("wgmesh deploy (CLI): a host whose sshd is down → exit 2, the others converge; next run exit 0", async () => {
    const host = H(1);
    const changed = { nodes: five.nodes.map((n) => (n.hostname === H(3) ? { ...n, listenPort: 51777 } : n)) };
    const mesh = normalizeMesh(changed);
    const ips = compile(tb, changed).ip;
    mesh.nodes = mesh.nodes.map((n) => ({ ...n, meshIp: ips[n.hostname] ?? null }));
    const dir = mkdtempSync(path.join(os.tmpdir(), "e5live-"));
    writeFileSync(path.join(dir, "mesh-state.json"), formatStateFile(meshToState(mesh)));
    const run = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(["deploy", "mesh-state.json", "--identity", tb.privateKeyPath, "--known-hosts", tb.knownHostsPath, "--json"],
        { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, readStdin: async () => Buffer.alloc(0), env: {}, cwd: dir });
      return { code, hosts: (JSON.parse(out.join("")) as { hosts: Record<string, { status: string; error?: string }> }).hosts, err: err.join("") };
    };
    await tb.stopSshd(host);
    let first;
    try {
      first = await run();
    } finally {
      await tb.startSshd(host);
    }
    assert.equal(first.code, 2, first.err);
    assert.equal(first.hosts[host]!.status, "failed");
    assert.match(first.hosts[host]!.error!, /could not connect/);
    for (const [n, h] of Object.entries(first.hosts)) if (n !== host) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    assert.match(first.err, /1 host\(s\) failed/);
    const second = await run();
    assert.equal(second.code, 0, second.err);
    assert.equal(second.hosts[host]!.status, "changed");
    for (const [n, h] of Object.entries(second.hosts)) if (n !== host) assert.equal(h.status, "unchanged", n);
  });
});
