// A real fleet through `pulumi up` (issue 12): 50 testbed hosts in a policy-segmented mesh (5 groups in a
// ring: each group reaches itself and the next, so every node has 29 peers), deployed from scratch by the
// real CLI and the TypeScript program of bench:pulumi; compared with the SSH engine's own deploy of the same
// 50 hosts (the floor). Then: a ping sample (every host → 5 of its peers), a converged preview that opens no
// SSH connection, and a 51st node whose `up` touches exactly it and its peers.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { deploy, teardown } from "../../provider/src/engine/deploy";
import { peerSets } from "../../provider/src/pulumi/plan";
import { compile, engineOptions, nodeOn } from "../engine/e2e/mesh";
import { Workspace, pulumiEnv, toolchainMissing } from "../pulumi/harness";
import { ok, runMeasured, writeProgram, type FleetHost } from "../pulumi/fleet";
import { down, up, type Testbed } from "../testbed";

const NAME = "sfleet";
const HOSTS = 50;
const GROUPS = 5;
const env = pulumiEnv();
const skip = toolchainMissing(env) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);

/** The program's groups and policies by name: node i is in seg(i % 5); seg g reaches seg g and seg g+1. */
function segments(names: string[]) {
  const groups = Array.from({ length: GROUPS }, (_, g) => ({ name: `seg${g}`, members: names.filter((_, i) => i % GROUPS === g) }));
  const policies = groups.flatMap((_, g) => [
    { name: `seg${g}-internal`, fromGroups: [`seg${g}`], toGroups: [`seg${g}`] },
    { name: `seg${g}-to-next`, fromGroups: [`seg${g}`], toGroups: [`seg${(g + 1) % GROUPS}`] },
  ]);
  return { groups, policies };
}

/** "Accepted publickey" lines in each host's sshd journal: SSH sessions opened so far. */
async function sshSessions(tb: Testbed, hosts: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(hosts.map(async (h) => {
    const r = await tb.exec(h, ["sh", "-c", "journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey' || true"]);
    out[h] = Number(r.stdout.trim() || "0");
  }));
  return out;
}

function opened(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(after).filter((h) => (after[h] ?? 0) > (before[h] ?? 0)).sort();
}

test(`50 hosts through pulumi up: converges, pings, 0-SSH converged preview, adding a node touches only its peers`, { skip, timeout: 3_600_000 }, async (t) => {
  const tb = await up(HOSTS + 1, { name: NAME });
  const ws = new Workspace(env);
  const log = (m: string) => t.diagnostic(m);
  try {
    const fleet = tb.hosts.slice(0, HOSTS);
    const extra = tb.hosts[HOSTS]!;
    const names = fleet.map((h) => h.name);

    // 1. The floor: the SSH engine deploys the same mesh to the 50 fresh hosts, then removes it again
    //    (WireGuard packages purged, so `pulumi up` below starts from the same fresh hosts).
    const c = compile(tb, { nodes: fleet.map((h) => nodeOn(h)), ...segments(names) });
    const opts = engineOptions(tb, [], { concurrency: HOSTS });
    let t0 = Date.now();
    const floor = await deploy(c.targets, opts);
    const floorMs = Date.now() - t0;
    const failed = Object.values(floor.hosts).filter((r) => r.status === "failed");
    assert.deepEqual(failed.map((r) => `${r.node}: ${r.error}`), [], "the engine deploys all 50 hosts");
    const slowestMs = Math.max(...Object.values(floor.hosts).map((r) => r.durationMs));
    const removed = await teardown(c.targets.map((target) => ({ node: target.node, connection: target.connection, interfaceName: "wg0" })), opts);
    assert.deepEqual(Object.values(removed.hosts).filter((r) => r.status === "failed").map((r) => r.node), [], "the engine's mesh is removed again");
    await Promise.all(names.map((h) => tb.execOk(h, ["sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq wireguard-tools wireguard-go >/dev/null && rm -rf /etc/wireguard"])));
    log(`engine floor: wgmesh deploy of ${HOSTS} hosts ${floorMs} ms (slowest host ${slowestMs} ms)`);

    // 2. pulumi up from scratch.
    const hosts: FleetHost[] = fleet.map((h) => ({ name: h.name, host: h.address, port: h.sshPort, hostKey: h.hostPublicKey }));
    const project = writeProgram(ws, "fleet50", "ts-mesh", hosts, { groups: GROUPS, meshName: "fleet" });
    ws.pulumiOk(project.dir, ["stack", "init", "dev"]);
    ws.pulumiOk(project.dir, ["config", "set", "--secret", "sshPrivateKey"], { input: fs.readFileSync(tb.privateKeyPath, "utf8") });
    // --parallel: Pulumi runs at most 4 × cores resource operations at once by default (8 here); these wait on
    // remote hosts, not on this machine's CPU (README: "At fleet size").
    const upRun = ok(await runMeasured(ws, project.dir, ["up", "--yes", "--skip-preview", "--parallel", "64"]), "pulumi up (50 hosts)");
    log(`pulumi up from scratch: ${upRun.wallS} s wall (${(upRun.wallS * 1000 / floorMs).toFixed(2)}× the engine's deploy), cpu ${upRun.cpuS} s, program peak ${upRun.roles.program.peakRssMB} MB, provider peak ${upRun.roles.provider.peakRssMB} MB`);
    const meshIps = JSON.parse(ws.pulumiOk(project.dir, ["stack", "output", "meshIps", "--json"]).stdout) as Record<string, string>;
    assert.equal(Object.keys(meshIps).length, HOSTS);

    // 3. Every host pings 5 of the peers its policies let it reach (the policies are enforced: seg g may
    //    open connections to seg g and seg g+1, not to seg g-1, although those are WireGuard peers too).
    const sets = peerSets(names, segments(names).groups, segments(names).policies);
    const misses: string[] = [];
    await Promise.all(names.map(async (h, i) => {
      const peers = sets[h] ?? [];
      assert.equal(peers.length, 29, `${h} has 29 peers`);
      const reachable = peers.filter((p) => [i % GROUPS, (i + 1) % GROUPS].includes(names.indexOf(p) % GROUPS));
      assert.equal(reachable.length, 19, `${h} may reach 19 of them`);
      const sample = [0, 1, 2, 3, 4].map((k) => reachable[(i * 7 + k * 4) % reachable.length] as string);
      const script = sample.map((p) => `( ping -c 1 -i 0.5 -w 10 -q ${meshIps[p]} >/dev/null 2>&1 || echo "miss ${p}" ) &`).join("\n") + "\nwait\n";
      const r = await tb.exec(h, ["sh", "-c", script]);
      for (const l of r.stdout.split("\n")) if (l.startsWith("miss ")) misses.push(`${h} → ${l.slice(5)}`);
    }));
    assert.deepEqual(misses, [], "every sampled peer answers over the mesh");

    // 4. A converged preview: no changes and not one SSH connection.
    const beforePreview = await sshSessions(tb, names);
    const preview = ok(await runMeasured(ws, project.dir, ["preview", "--expect-no-changes"]), "converged preview");
    assert.deepEqual(opened(beforePreview, await sshSessions(tb, names)), [], "the converged preview opened no SSH session");
    log(`converged preview: ${preview.wallS} s wall, cpu ${preview.cpuS} s`);
    const stateBytes = ws.pulumiOk(project.dir, ["stack", "export"]).stdout.length;
    log(`state: ${stateBytes} bytes for ${HOSTS} nodes (${Object.values(sets).reduce((s, p) => s + p.length, 0)} peer entries)`);

    // 5. A 51st node (in seg0): the preview and the up touch exactly it and its peers.
    const all = [...names, extra.name];
    const expected = [...(peerSets(all, segments(all).groups, segments(all).policies)[extra.name] ?? [])].sort();
    fs.writeFileSync(`${project.dir}/hosts.json`, JSON.stringify([...hosts, { name: extra.name, host: extra.address, port: extra.sshPort, hostKey: extra.hostPublicKey }]));
    const diff = ws.pulumiOk(project.dir, ["preview", "--diff"]).stdout;
    const updated = [...diff.matchAll(/~ pulumi-nodejs:dynamic:Resource: \(update\)\n\s+\[id=fleet\/([^\]]+)\]/g)].map((m) => m[1] as string).sort();
    assert.deepEqual(updated, expected, "the preview updates exactly the new node's peers");
    const beforeAdd = await sshSessions(tb, all);
    const add = ok(await runMeasured(ws, project.dir, ["up", "--yes", "--skip-preview", "--parallel", "64"]), "pulumi up (+1 node)");
    assert.deepEqual(opened(beforeAdd, await sshSessions(tb, all)), [...expected, extra.name].sort(), "SSH only to the new node and its peers");
    log(`adding node 51: up ${add.wallS} s wall, ${expected.length} peers updated`);
    const newIp = JSON.parse(ws.pulumiOk(project.dir, ["stack", "output", "meshIps", "--json"]).stdout)[extra.name] as string;
    const reacher = expected.find((p) => [0, 4].includes(names.indexOf(p) % GROUPS)) as string; // seg0 and seg4 may reach seg0
    assert.ok((await tb.exec(reacher, ["ping", "-c", "1", "-i", "0.5", "-w", "10", "-q", newIp])).code === 0, "a peer reaches the new node");

    ok(await runMeasured(ws, project.dir, ["destroy", "--yes", "--skip-preview", "--parallel", "64"]), "pulumi destroy");
  } finally {
    ws.cleanup();
    await down(NAME);
  }
});
