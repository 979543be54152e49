/**
 * One first deploy under CPU load, end to end: busy loops on every core of this machine, then a fresh
 * testbed of N hosts booted, a first deploy of the full mesh (apt install, conf, unit start, health gate),
 * the ping matrix, the testbed down. Shared by the fault suite (once) and `npm run bench:fault-load` (5×).
 */
import * as os from "node:os";
import { deploy } from "../../provider/src/engine/deploy";
import { down, up } from "../testbed";
import { compile, engineOptions, nodeOn, reachability } from "../engine/e2e/mesh";
import { burnCpu } from "./faults";

export interface LoadedRun {
  hosts: number;
  burners: number;
  /** 1-minute load average when the deploy started. */
  loadAverage: number;
  upMs: number;
  deployMs: number;
  /** Per host: the health gate's wait, ms. */
  gateMs: number[];
  /** Hosts that failed, with their errors (empty when converged). */
  failed: string[];
  /** Pairs that did not ping. */
  missingPairs: string[];
  ok: boolean;
}

export async function loadedFirstDeploy(name: string, hosts = 7, burners = 2 * os.cpus().length): Promise<LoadedRun> {
  const load = burnCpu(burners);
  try {
    const t0 = Date.now();
    const tb = await up(hosts, { name });
    const upMs = Date.now() - t0;
    try {
      const c = compile(tb, { nodes: tb.hosts.map((h) => nodeOn(h)) });
      const loadAverage = os.loadavg()[0] as number;
      const t1 = Date.now();
      const r = await deploy(c.targets, engineOptions(tb, [], { concurrency: hosts }));
      const deployMs = Date.now() - t1;
      const failed = Object.values(r.hosts).filter((h) => h.status === "failed").map((h) => `${h.node}: ${h.error}`);
      const m = await reachability(tb, c);
      const missingPairs: string[] = [];
      for (const a of Object.keys(c.ip)) for (const b of Object.keys(c.ip)) if (a !== b && !m[a]!.includes(b)) missingPairs.push(`${a}→${b}`);
      return {
        hosts, burners, loadAverage: Math.round(loadAverage * 10) / 10, upMs, deployMs,
        gateMs: Object.values(r.hosts).map((h) => h.gateMs ?? -1),
        failed, missingPairs, ok: failed.length === 0 && missingPairs.length === 0,
      };
    } finally {
      await down(name);
    }
  } finally {
    load.stop();
  }
}
