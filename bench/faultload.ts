/**
 * `npm run bench:fault-load` (root; boots testbeds): the fault suite's CPU-load case 5 times in a row —
 * two busy loops per core on this machine, a fresh 7-host testbed booted, a first deploy (apt install,
 * conf, unit start, health gate), the full ping matrix, the testbed down. Prints one JSON document with
 * every run (boot and deploy times, load average, gate waits, failures) and the failure count (target 0/5).
 * Usage: node dist/bench/faultload.js [--runs N] [--hosts N] [--name PREFIX]
 */
import { parseArgs } from "node:util";
import { loadedFirstDeploy, type LoadedRun } from "../test/fault/loaded";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: "string" }, hosts: { type: "string" }, name: { type: "string" } } });
  const runs = Number(values.runs ?? 5);
  const hosts = Number(values.hosts ?? 7);
  const name = values.name ?? "kbench";
  if (process.getuid?.() !== 0) throw new Error("bench:fault-load needs root (it boots testbeds)");
  const out: Array<LoadedRun | { error: string; ok: false }> = [];
  for (let i = 0; i < runs; i++) {
    try {
      const r = await loadedFirstDeploy(name, hosts);
      out.push(r);
      process.stderr.write(`run ${i + 1}/${runs}: ${r.ok ? "ok" : "FAILED"} (load ${r.loadAverage}, up ${r.upMs} ms, deploy ${r.deployMs} ms)\n`);
    } catch (e) {
      out.push({ error: (e as Error).message, ok: false });
      process.stderr.write(`run ${i + 1}/${runs}: FAILED: ${(e as Error).message}\n`);
    }
  }
  const failures = out.filter((r) => !r.ok).length;
  process.stdout.write(`${JSON.stringify({ runs: out, failures: `${failures}/${runs}` }, null, 2)}\n`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((e) => {
  process.stderr.write(`bench:fault-load: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
