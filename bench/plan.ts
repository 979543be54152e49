/**
 * `npm run bench:plan`: time and peak memory of the core pipeline (normalise + validate + allocate +
 * policy evaluation) on
 *   1. a 1,000-node full mesh (no groups/policies: every pair peered); every 10th node has a routable
 *      /24, every 50th is behind NAT without endpoint;
 *   2. a 10,000-node mesh in 50 groups of 200 ("seg0".."seg49"): each group talks to itself
 *      ("segN-internal", routable networks allowed) and to the next group in a ring ("segN-to-segN+1",
 *      mesh IPs only). So every node peers its 199 group mates and the 400 members of the two adjacent
 *      groups: 599 peers per node, ~6 M peer entries in all (not a 10k² mesh). Every 10th node has a
 *      routable /24; half the nodes have explicit mesh IPs, the other half are allocated.
 *   3. (extra, not an issue target) 10,000 nodes each in its own group plus a 50-node "hub" group that
 *      every own-group may reach: 10,000 distinct group sets, to show memory stays O(N) then too.
 *   4./5. (issue 13) the firewall: 1,000 and 10,000 nodes in 50 groups as in 2. (every 5th policy limited to
 *      "tcp/5432", "tcp/8000-8100", "icmp"), enforced: compile + every node's nftables ruleset planned AND
 *      rendered to its file text; reports rules per node and ruleset bytes.
 * Each case runs in its own child process so its peak RSS (getrusage maxRSS) is its own.
 * Targets (issue 3): ≤ 1 s and ≤ 10 s, ≤ 512 MB; (issue 13) firewall ≤ 2 s at 1,000 and ≤ 15 s at 10,000.
 * A benchmark, not a test.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as os from "node:os";
import { compileMesh } from "../provider/src/core/compile";
import type { MeshInput, NodeInput, PolicyInput } from "../provider/src/core/model";
import { planFirewalls } from "../provider/src/planner/firewall";
import { renderNftRuleset } from "../provider/src/planner/nft";

const pubkey = () => randomBytes(32).toString("base64");
const routable = (k: number) => `172.${16 + (k >> 8)}.${k & 255}.0/24`;
const ip = (i: number) => `10.99.${(i + 1) >> 8}.${(i + 1) & 255}`;

function fullMesh(n: number): MeshInput {
  const nodes: NodeInput[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push({
      hostname: `node${i}`, meshIp: ip(i), sshHost: `198.18.${i >> 8}.${i & 255}`, publicKey: pubkey(),
      behindNat: i % 50 === 49, routableNetworks: i % 10 === 0 ? [routable(i / 10)] : [],
    });
  }
  return { nodes };
}

function segmented(n: number, groups: number): MeshInput {
  const nodes: NodeInput[] = [];
  const members: string[][] = Array.from({ length: groups }, () => []);
  for (let i = 0; i < n; i++) {
    const hostname = `node${i}`;
    nodes.push({
      hostname, meshIp: i % 2 === 0 ? ip(i) : null, sshHost: `198.18.${i >> 8}.${i & 255}`, publicKey: pubkey(),
      routableNetworks: i % 10 === 0 ? [routable(i / 10)] : [],
    });
    (members[i % groups] as string[]).push(hostname);
  }
  const policies: PolicyInput[] = [];
  for (let g = 0; g < groups; g++) {
    policies.push({ name: `seg${g}-internal`, fromGroups: [`seg${g}`], toGroups: [`seg${g}`], allowRoutableNetworks: true });
    policies.push({ name: `seg${g}-to-seg${(g + 1) % groups}`, fromGroups: [`seg${g}`], toGroups: [`seg${(g + 1) % groups}`] });
  }
  return { nodes, groups: members.map((m, g) => ({ name: `seg${g}`, members: m })), policies };
}

/** Extra stress case: every node in its own group plus a 50-node hub (10,000 distinct group sets). */
function perNodeGroups(n: number, hub: number): MeshInput {
  const nodes: NodeInput[] = [];
  const groups = [{ name: "hub", members: [] as string[] }];
  const policies: PolicyInput[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push({ hostname: `node${i}`, meshIp: ip(i), sshHost: `198.18.${i >> 8}.${i & 255}`, publicKey: pubkey(), routableNetworks: i % 10 === 0 ? [routable(i / 10)] : [] });
    groups.push({ name: `own${i}`, members: [`node${i}`] });
    if (i < hub) groups[0]?.members.push(`node${i}`);
    policies.push({ name: `own${i}-to-hub`, fromGroups: [`own${i}`], toGroups: ["hub"], allowRoutableNetworks: true });
  }
  return { nodes, groups, policies };
}

/** The segmented mesh with ports on every 5th policy and enforcement (issue 13). */
function enforced(n: number, groups: number): MeshInput {
  const m = segmented(n, groups);
  return { ...m, enforcement: "nftables", policies: (m.policies ?? []).map((p, i) => (i % 5 === 0 ? { ...p, ports: ["tcp/5432", "tcp/8000-8100", "icmp"] } : p)) };
}

const CASES: Record<string, { label: string; targetMs: number; make: () => MeshInput; firewall?: boolean }> = {
  full1000: { label: "1,000-node full mesh", targetMs: 1000, make: () => fullMesh(1000) },
  seg10000: { label: "10,000 nodes, 50 groups", targetMs: 10000, make: () => segmented(10000, 50) },
  own10000: { label: "(extra) 10,000 own groups+hub", targetMs: 10000, make: () => perNodeGroups(10000, 50) },
  fw1000: { label: "firewall: 1,000 nodes, 50 groups", targetMs: 2000, make: () => enforced(1000, 50), firewall: true },
  fw10000: { label: "firewall: 10,000 nodes, 50 groups", targetMs: 15000, make: () => enforced(10000, 50), firewall: true },
};
const TARGET_MB = 512;

function runCase(name: string): void {
  const c = CASES[name];
  if (!c) throw new Error(`unknown case ${name}`);
  const input = c.make();
  const rssBefore = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = compileMesh(input);
  if (!result.ok) throw new Error(`bench mesh invalid: ${result.errors.slice(0, 3).map((e) => e.message).join("; ")}`);
  // Firewall cases: every node's ruleset planned and rendered to its file text (what the engine writes).
  const fw = { rulesMin: 0, rulesMax: 0, rulesAvg: 0, bytesAvg: 0, bytesMax: 0, bytesTotal: 0 };
  if (c.firewall) {
    const plans = planFirewalls(result.mesh);
    let rules = 0;
    fw.rulesMin = Infinity;
    for (const [, plan] of plans) {
      if (!plan) throw new Error("bench: a node without firewall");
      const text = renderNftRuleset(result.mesh.interfaceName, plan);
      const r = Object.keys(plan.rules).length;
      rules += r;
      fw.rulesMin = Math.min(fw.rulesMin, r);
      fw.rulesMax = Math.max(fw.rulesMax, r);
      fw.bytesTotal += text.length;
      fw.bytesMax = Math.max(fw.bytesMax, text.length);
    }
    fw.rulesAvg = rules / plans.size;
    fw.bytesAvg = fw.bytesTotal / plans.size;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const peers = result.plan.nodes.reduce((s, n) => s + n.peers.length, 0);
  const routes = result.plan.nodes.reduce((s, n) => s + n.routes.length, 0);
  process.stdout.write(JSON.stringify({
    name, ms, cpuMs, nodes: result.plan.nodes.length, peers, routes, warnings: result.warnings.length, fw: c.firewall ? fw : null,
    maxRssMB: process.resourceUsage().maxRSS / 1024, rssBeforeMB: rssBefore / 2 ** 20, heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
  }));
}

function runAll(): number {
  const rows: string[] = [];
  let ok = true;
  for (const [name, c] of Object.entries(CASES)) {
    const r = spawnSync(process.execPath, [__filename, "--case", name], { encoding: "utf8" });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      return 1;
    }
    const m = JSON.parse(r.stdout) as { ms: number; cpuMs: number; nodes: number; peers: number; routes: number; warnings: number; maxRssMB: number; rssBeforeMB: number; fw: null | { rulesMin: number; rulesMax: number; rulesAvg: number; bytesAvg: number; bytesMax: number; bytesTotal: number } };
    const timeOk = m.ms <= c.targetMs;
    const memOk = m.maxRssMB <= TARGET_MB;
    ok &&= timeOk && memOk;
    rows.push(
      `${c.label.padEnd(30)} ${`${m.ms.toFixed(0)} ms`.padStart(9)} (target ≤ ${c.targetMs} ms ${timeOk ? "ok" : "MISSED"}; CPU ${m.cpuMs.toFixed(0)} ms)  ` +
      `peak RSS ${m.maxRssMB.toFixed(0)} MB (target ≤ ${TARGET_MB} MB ${memOk ? "ok" : "MISSED"}; ${m.rssBeforeMB.toFixed(0)} MB before planning)  ` +
      `${m.nodes} nodes, ${m.peers} peer entries, ${m.routes} routes, ${m.warnings} warnings` +
      (m.fw ? `; firewall: ${m.fw.rulesMin}–${m.fw.rulesMax} rules per node (avg ${m.fw.rulesAvg.toFixed(1)}), ruleset ${(m.fw.bytesAvg / 1024).toFixed(1)} KiB avg / ${(m.fw.bytesMax / 1024).toFixed(1)} KiB max per node (${(m.fw.bytesTotal / 2 ** 20).toFixed(1)} MiB in all)` : ""),
    );
  }
  const load = os.loadavg()[0]?.toFixed(1);
  process.stdout.write(`wgmesh plan benchmark (validate + allocate + plan [+ firewall: plan + render every ruleset]; node ${process.version}; ${os.cpus().length} CPUs, load ${load})\n${rows.join("\n")}\n`);
  return ok ? 0 : 1;
}

const i = process.argv.indexOf("--case");
if (i >= 0) runCase(process.argv[i + 1] ?? "");
else process.exitCode = runAll();
