/**
 * What the decentralized-mode tests on the testbed share: when they can run, and the local BEP 5 bootstrap
 * node on the testbed's segment (a storing bittorrent-dht with no upstream bootstrap), started before any
 * daemon — a daemon that announced into an empty DHT would wait long to announce again.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import type { Testbed } from "../testbed";

const REPO_ROOT = path.resolve(__dirname, "../../..");

/** Why a testbed test cannot run here, or undefined. */
export function testbedSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (testbed)";
  if (spawnSync("sh", ["-c", "command -v systemd-nspawn"]).status !== 0) return "needs systemd-nspawn (testbed)";
  if (process.env["WGMESH_SKIP_TESTBED"]) return "WGMESH_SKIP_TESTBED set";
  return undefined;
}

export interface DhtBootstrap {
  /** The node's address on the segment (daemons get `--dht-bootstrap <address>:6881`). */
  address: string;
  process: ChildProcess;
  /** Stop it (the testbed's down() stops it too). */
  stop(): void;
}

/** Start the bootstrap node in a segment namespace of `tb`; resolves once it listens on UDP 6881. */
export async function startDhtBootstrap(tb: Testbed): Promise<DhtBootstrap> {
  const seg = await tb.addSegmentNode("dht");
  let out = "";
  const child = spawn("ip", ["netns", "exec", seg.ns, process.execPath, "-e",
    `import('bittorrent-dht').then(({default: DHT}) => { const d = new DHT({ bootstrap: false }); d.listen(6881, '${seg.address}', () => console.log('listening')); })`],
  { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 40 && !out.includes("listening"); i++) await new Promise((r) => setTimeout(r, 250));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  if (!out.includes("listening")) {
    stop();
    assert.fail(`the DHT bootstrap node did not start listening on ${seg.address}:6881: ${out.trim() || "no output"}`);
  }
  return { address: seg.address, process: child, stop };
}
