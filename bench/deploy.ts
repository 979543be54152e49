/**
 * `npm run bench:deploy` (root; boots a testbed): the SSH engine on 10 real hosts (plus one reference host).
 *   1. Reference: one host deployed ALONE (first deploy: install + configure), then a no-op re-apply alone.
 *   2. The other 10 hosts deployed together (concurrency 10): wall time of the full first deploy, each host's
 *      own time, SSH connections and exec round trips per host.
 *   3. A no-op re-apply of all 10 (wall and per host), then of the reference host alone again.
 * The target (issue 5): parallel wall time ≤ 1.5× the slowest single host's time. Ratios are printed against
 * both the slowest host inside the parallel run and the host deployed alone.
 * Also the testbed's memory (PSS per host) before and after. 50 hosts: `npm run bench:deploy -- --hosts 50`.
 * Usage: node dist/bench/deploy.js [--hosts N] [--name PREFIX] [--keep]
 * A benchmark, not a test: it prints figures and always takes its testbed down (unless --keep).
 */
import { parseArgs } from "node:util";
import { deploy } from "../provider/src/engine/deploy";
import type { HostResult } from "../provider/src/engine/types";
import { down, up } from "../test/testbed";
import { compile, engineOptions, nodeOn } from "../test/engine/e2e/mesh";

function stats(results: HostResult[]) {
  const d = results.map((r) => r.durationMs).sort((a, b) => a - b);
  return {
    slowestMs: d[d.length - 1] ?? 0,
    medianMs: d[Math.floor(d.length / 2)] ?? 0,
    fastestMs: d[0] ?? 0,
    sshConnections: [...new Set(results.map((r) => r.sshConnections))],
    execRoundTrips: [...new Set(results.map((r) => r.execRoundTrips))],
    failed: results.filter((r) => r.status === "failed").map((r) => `${r.node}: ${r.error}`),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { hosts: { type: "string" }, name: { type: "string" }, keep: { type: "boolean" } } });
  const n = Number(values.hosts ?? 10);
  const name = values.name ?? "e5bench";
  if (process.getuid?.() !== 0) throw new Error("bench:deploy needs root (it boots a testbed)");
  const t0 = Date.now();
  const tb = await up(n + 1, { name });
  const bootS = (Date.now() - t0) / 1000;
  try {
    const c = compile(tb, { nodes: tb.hosts.map((h) => nodeOn(h)) });
    const ref = c.targets[c.targets.length - 1]!;
    const fleet = c.targets.slice(0, n);
    const opts = engineOptions(tb, [], { concurrency: n });

    const time = async (targets: typeof fleet) => {
      const s = Date.now();
      const cpu = process.cpuUsage();
      const r = await deploy(targets, opts);
      const used = process.cpuUsage(cpu);
      return { wallMs: Date.now() - s, cpuMs: Math.round((used.user + used.system) / 1000), results: Object.values(r.hosts) };
    };
    const memBefore = await tb.memoryKiB();
    const aloneFirst = await time([ref]);
    const first = await time(fleet);
    const noop = await time(fleet);
    const aloneNoop = await time([ref]);
    const memAfter = await tb.memoryKiB();
    const mib = (m: Record<string, number>): string => {
      const v = Object.values(m).sort((a, b) => a - b);
      const at = (q: number): string => ((v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? 0) / 1024).toFixed(1);
      return `${at(0)} / ${at(0.5)} / ${at(1)} MiB (min / median / max PSS per host), ${(v.reduce((a, b) => a + b, 0) / 1024).toFixed(0)} MiB in all`;
    };

    const row = (label: string, run: { wallMs: number; cpuMs: number; results: HostResult[] }, alone: { wallMs: number; cpuMs: number }) => {
      const s = stats(run.results);
      return {
        label,
        hosts: run.results.length,
        wallMs: run.wallMs,
        slowestHostMs: s.slowestMs,
        medianHostMs: s.medianMs,
        aloneHostMs: alone.wallMs,
        serialEstimateMs: alone.wallMs * run.results.length,
        engineCpuMs: run.cpuMs,
        engineCpuAloneMs: alone.cpuMs,
        wallOverSlowest: +(run.wallMs / Math.max(1, s.slowestMs)).toFixed(2),
        wallOverAlone: +(run.wallMs / Math.max(1, alone.wallMs)).toFixed(2),
        sshConnectionsPerHost: s.sshConnections,
        execRoundTripsPerHost: s.execRoundTrips,
        statuses: [...new Set(run.results.map((r) => r.status))],
        failed: s.failed,
      };
    };
    const rows = [row(`first deploy (${n} hosts, install + configure)`, first, aloneFirst), row(`no-op re-apply (${n} hosts)`, noop, aloneNoop)];
    const memo = `machine: ${require("node:os").cpus().length} cores, load ${require("node:os").loadavg().map((x: number) => x.toFixed(1)).join(" ")}; testbed boot ${bootS.toFixed(1)} s`;
    console.log(`bench:deploy — ${memo}`);
    console.log(`testbed memory: booted ${mib(memBefore)}; after the deploys ${mib(memAfter)}`);
    for (const r of rows) {
      console.log(`\n${r.label}`);
      console.log(`  wall ${r.wallMs} ms; slowest host ${r.slowestHostMs} ms (median ${r.medianHostMs} ms); one host alone ${r.aloneHostMs} ms`);
      console.log(`  wall / slowest host = ${r.wallOverSlowest} ; wall / host alone = ${r.wallOverAlone}   (target ≤ 1.5); serial estimate (${r.hosts} × alone) ${r.serialEstimateMs} ms`);
      console.log(`  engine CPU (this process): ${r.engineCpuMs} ms for ${r.hosts} hosts, ${r.engineCpuAloneMs} ms for one host alone`);
      console.log(`  per host: ssh connections ${r.sshConnectionsPerHost.join("/")}, exec round trips ${r.execRoundTripsPerHost.join("/")}; status ${r.statuses.join("/")}`);
      if (r.failed.length) console.log(`  FAILED: ${r.failed.join("; ")}`);
    }
    console.log(`\n${JSON.stringify({ bench: "deploy", rows })}`);
    if (rows.some((r) => r.failed.length)) process.exitCode = 1;
  } finally {
    if (!values.keep) await down(name);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
