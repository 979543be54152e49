/**
 * `npm run bench:keys` — the cost of per-pair preshared keys (issue 16) where the provider pays it: the Mesh's
 * check (`checkMesh`: validation + allocation, and with presharedKeys the pairs' key table), then every node's
 * share of the table (`presharedKeysFor`, what each NodeConfig gets) — for full meshes of 10, 100 and 500
 * nodes (45, 4 950 and 124 750 pairs) and a 500-node mesh in 10 groups in a ring:
 *   - check without PSKs (the floor), check creating every key (first up), check keeping every key (any
 *     later preview/up), check after one node joined (only its pairs new);
 *   - all nodes' shares; the table's size in the state (JSON bytes) and the NodeConfigs' total.
 * Each case in its own child process (peak RSS its own). A benchmark, not a test: prints figures and one JSON line.
 * Usage: node dist/bench/keys.js [--sizes 10,100,500]
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { checkMesh, type MeshInputs } from "../provider/src/pulumi/lifecycle/mesh";
import { unwrapSecret } from "../provider/src/pulumi/lifecycle/common";
import { presharedKeysFor, type PairKeyTable } from "../provider/src/core/psk";
import { peerSets } from "../provider/src/pulumi/plan";

interface Row {
  case: string;
  nodes: number;
  pairs: number;
  checkFloorMs: number;
  checkCreateMs: number;
  checkKeepMs: number;
  checkJoinMs: number;
  sharesMs: number;
  tableBytes: number;
  configBytes: number;
  peakRssMB: number;
}

function mesh(n: number, groups: number, presharedKeys: boolean): MeshInputs {
  const nodes = Array.from({ length: n }, (_, i) => ({ hostname: `node${i}`, sshHost: `198.18.${i >> 8}.${i & 255}` }));
  if (groups === 0) return { name: "bench", network: "10.96.0.0/12", nodes, presharedKeys };
  const members = Array.from({ length: groups }, (_, g) => nodes.filter((_, i) => i % groups === g).map((x) => x.hostname));
  return {
    name: "bench", network: "10.96.0.0/12", nodes, presharedKeys, enforcement: "none",
    groups: members.map((m, g) => ({ name: `g${g}`, members: m })),
    policies: members.flatMap((_, g) => [
      { name: `g${g}-self`, fromGroups: [`g${g}`], toGroups: [`g${g}`] },
      { name: `g${g}-next`, fromGroups: [`g${g}`], toGroups: [`g${(g + 1) % groups}`] },
    ]),
  };
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, +(performance.now() - t0).toFixed(1)];
}

function runCase(n: number, groups: number): Row {
  const [, floor] = timed(() => checkMesh(undefined, mesh(n, groups, false)));
  const [created, create] = timed(() => checkMesh(undefined, mesh(n, groups, true)));
  const table = unwrapSecret(created.inputs.presharedKeyTable as never) as PairKeyTable;
  const olds = { ...created.inputs, presharedKeyTable: table };
  const [, keep] = timed(() => checkMesh(olds, mesh(n, groups, true)));
  const grown = mesh(n, groups, true);
  grown.nodes = [...grown.nodes, { hostname: `node${n}`, sshHost: "198.19.0.1" }];
  if (grown.groups) grown.groups[0]!.members = [...(grown.groups[0]!.members ?? []), `node${n}`];
  const [, join] = timed(() => checkMesh(olds, grown));
  const m = mesh(n, groups, true);
  const sets = peerSets(m.nodes.map((x) => x.hostname), (m.groups ?? []).map((g) => ({ name: g.name, members: g.members ?? [] })), (m.policies ?? []).map((p) => ({ name: p.name, fromGroups: p.fromGroups ?? [], toGroups: p.toGroups ?? [] })));
  let configBytes = 0;
  const [, shares] = timed(() => {
    for (const [h, peers] of Object.entries(sets)) configBytes += JSON.stringify(presharedKeysFor(table, h, peers)).length;
  });
  const pairs = Object.values(table).reduce((s, row) => s + Object.keys(row).length, 0);
  return {
    case: groups === 0 ? "full mesh" : `${groups} groups in a ring`, nodes: n, pairs,
    checkFloorMs: floor, checkCreateMs: create, checkKeepMs: keep, checkJoinMs: join, sharesMs: shares,
    tableBytes: JSON.stringify(table).length, configBytes, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

if (process.argv[2] === "--case") {
  const [n, groups] = [Number(process.argv[3]), Number(process.argv[4])];
  process.stdout.write(JSON.stringify(runCase(n, groups)) + "\n");
} else {
  const { values } = parseArgs({ options: { sizes: { type: "string", default: "10,100,500" } } });
  const sizes = String(values.sizes).split(",").map(Number);
  const cases: Array<[number, number]> = [...sizes.map((n) => [n, 0] as [number, number]), [Math.max(...sizes), 10]];
  const rows: Row[] = [];
  for (const [n, groups] of cases) {
    const r = spawnSync(process.execPath, [__filename, "--case", String(n), String(groups)], { encoding: "utf8", maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`case ${n}/${groups} failed: ${r.stderr}`);
    rows.push(JSON.parse(r.stdout) as Row);
  }
  console.log("case                      nodes    pairs  check: floor  create    keep   +1 node   shares   table KB  configs KB  RSS MB");
  for (const r of rows) {
    console.log(`${r.case.padEnd(24)} ${String(r.nodes).padStart(6)} ${String(r.pairs).padStart(8)}  ${String(r.checkFloorMs).padStart(11)} ${String(r.checkCreateMs).padStart(7)} ${String(r.checkKeepMs).padStart(7)} ${String(r.checkJoinMs).padStart(9)} ${String(r.sharesMs).padStart(8)} ${String(Math.round(r.tableBytes / 1024)).padStart(10)} ${String(Math.round(r.configBytes / 1024)).padStart(11)} ${String(r.peakRssMB).padStart(7)}`);
  }
  console.log(JSON.stringify({ bench: "keys", rows }));
}
