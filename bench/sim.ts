/**
 * `npm run -s sim -- --nodes N [--loss PCT] [--churn PCT_PER_MIN] [--seed S] [--json]`
 *   (also --churn-minutes M, default 5; --max-peers P, the members' store maximum, default 1000)
 * The daemon's real discovery/exchange/gossip/store/expiry code for N members on an in-memory network and
 * a virtual clock (bench/sim/scenario.ts). With --json: exactly one JSON document on stdout,
 *   {"nodes": N, "converged": true|false, "virtualSecondsToConverge": …, "messagesPerNodePerSecond": …,
 *    "cpuSeconds": …, "peakRssMB": …, "ghostPeers": 0, "lostMembers": 0}
 * and progress on stderr; without it, a readable summary (plus traffic and drop details). Exit 0 when
 * converged, 1 when not, 2 on bad arguments. The same seed gives the same virtual figures.
 * A benchmark (and a slow-suite test at 100 nodes), not a unit test.
 */
import { parseArgs } from "node:util";
import { runSimulation } from "./sim/scenario";

function usage(msg: string): never {
  process.stderr.write(`sim: ${msg}\nusage: npm run -s sim -- --nodes N [--loss PCT] [--churn PCT_PER_MIN] [--seed S] [--json] [--quiet] [--churn-minutes M] [--max-peers P]\n`);
  process.exit(2);
}

function num(v: string | undefined, name: string, def: number, min: number, max: number, integer = false): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) usage(`--${name} ${JSON.stringify(v)}: a${integer ? "n integer" : " number"} from ${min} to ${max}`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        nodes: { type: "string" }, loss: { type: "string" }, churn: { type: "string" }, seed: { type: "string" },
        json: { type: "boolean" }, quiet: { type: "boolean" }, "churn-minutes": { type: "string" }, "max-peers": { type: "string" },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.nodes === undefined) usage("--nodes is required");
  const nodes = num(values.nodes, "nodes", 0, 2, 5000, true);
  const lossPct = num(values.loss, "loss", 0, 0, 90);
  const churnPctPerMin = num(values.churn, "churn", 0, 0, 50);
  const seed = num(values.seed, "seed", 1, 0, 2 ** 31 - 1, true);
  const churnMinutes = num(values["churn-minutes"], "churn-minutes", 5, 1, 60, true);
  const maxPeers = values["max-peers"] === undefined ? undefined : num(values["max-peers"], "max-peers", 1000, 1, 100_000, true);
  const progress = values.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const { report, detail } = await runSimulation({ nodes, lossPct, churnPctPerMin, seed, churnMinutes, ...(maxPeers !== undefined ? { maxPeers } : {}), ...(progress ? { progress } : {}) });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (progress) progress(`[sim] detail ${JSON.stringify(detail)}`);
  } else {
    const v = (x: number | null): string => (x === null ? "never" : `${x} s`);
    console.log(`sim: ${nodes} members, loss ${lossPct} %, churn ${churnPctPerMin} %/min (${churnMinutes} min), seed ${seed}${maxPeers !== undefined ? `, store maximum ${maxPeers}` : ""}`);
    console.log(`  converged: ${report.converged}; all ${nodes} knew each other after ${v(detail.initialConvergeS)} (virtual)${churnPctPerMin ? `; after churn (${detail.joined} joined, ${detail.leftGracefully} left, ${detail.crashed} crashed): exact again ${v(detail.afterChurnConvergeS)} after the last churn event` : ""}`);
    console.log(`  ghost peers ${report.ghostPeers}, lost members ${report.lostMembers}; largest store ${detail.largestStore}`);
    console.log(`  traffic: ${report.messagesPerNodePerSecond} datagrams and ${(detail.bytesPerNodePerSecond / 1024).toFixed(1)} KiB per member per virtual second`);
    for (const [k, t] of Object.entries(detail.traffic)) console.log(`    ${k.padEnd(9)} ${t.datagrams} datagrams, ${(t.bytes / 2 ** 20).toFixed(1)} MiB, lost ${t.lost}, to nobody ${t.unreachable}, refused as oversize ${t.oversize}`);
    console.log(`  drops (all members): ${JSON.stringify(detail.drops)}`);
    console.log(`  cost of the run: ${report.cpuSeconds} CPU s, peak RSS ${report.peakRssMB} MB, ${detail.virtualSeconds} virtual s in ${detail.wallSeconds.toFixed(1)} wall s, ${detail.timerEvents} timer events`);
  }
  process.exitCode = report.converged ? 0 : 1;
}

main().catch((e) => {
  process.stderr.write(`sim: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
