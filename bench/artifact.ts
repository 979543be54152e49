/**
 * `npm run bench:artifact`: the self-contained daemon artifact (scripts/daemon-artifact.js) measured.
 *   - build: cold (empty cache; default and --code-cache) and warm (cache hit), into a temp cache/output dir
 *     (dist/artifact and /var/cache/wgmesh are not touched);
 *   - sizes: bundle, raw artifact, gzip;
 *   - startup: wall time of `wgmesh status --secret S` (median / p90 of N runs) for the artifact without and
 *     with V8 code cache, `node dist/provider/src/cli/daemon-main.js` and `node bin/wgmesh` (full CLI);
 *   - memory (root only): RSS and PSS of an idle `join` (DHT + LAN on, a local bootstrap, no peers) after
 *     10 s, in a network namespace of test/daemon/netlab.ts, artifact vs. node.
 * One JSON document on stdout; progress on stderr. `node dist/bench/artifact.js [runs]` (default 20).
 * A benchmark, not a test.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NetLab, sleep } from "../test/daemon/netlab";

const ROOT = path.resolve(__dirname, "../..");
const SECRET = "wgmesh://v1/bench-artifact-secret-0123456789abcdefghijklmnopqrstuvwxyzAB";
const runs = Number(process.argv[2] ?? 20);
const log = (m: string): void => void process.stderr.write(`bench:artifact ${m}\n`);

interface Manifest { bytes: number; gzBytes: number; bundleBytes: number; nodeVersion: string; useCodeCache: boolean }

function build(cache: string, out: string, flags: string[]): { ms: number; manifest: Manifest } {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/daemon-artifact.js"), "--quiet", ...flags], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, WGMESH_ARTIFACT_CACHE: cache, WGMESH_ARTIFACT_OUT: out },
  });
  if (r.status !== 0) throw new Error(`daemon-artifact.js ${flags.join(" ")} failed:\n${r.stderr}`);
  const ms = Number((process.hrtime.bigint() - t) / 1_000_000n);
  return { ms, manifest: JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")) as Manifest };
}

function startup(label: string, argv: string[]): { median: number; p90: number } {
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(argv[0] as string, [...argv.slice(1), "status", "--secret", SECRET], { encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0 || !r.stdout.includes("Mesh Subnet:")) throw new Error(`${label}: status failed: ${r.stderr}`);
    if (i >= 2) times.push(ms); // two warm-up runs (page cache)
  }
  times.sort((a, b) => a - b);
  const q = (p: number): number => Math.round((times[Math.min(times.length - 1, Math.floor(p * times.length))] as number) * 10) / 10;
  const res = { median: q(0.5), p90: q(0.9) };
  log(`startup ${label}: median ${res.median} ms, p90 ${res.p90} ms`);
  return res;
}

function kib(pid: number, file: string, field: string): number {
  const m = fs.readFileSync(`/proc/${pid}/${file}`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : NaN;
}

async function idleJoin(cmds: Record<string, string[]>): Promise<Record<string, { rssKiB: number; pssKiB: number }>> {
  const lab = new NetLab(97);
  const out: Record<string, { rssKiB: number; pssKiB: number }> = {};
  try {
    await lab.setup();
    let i = 0;
    for (const [label, argv] of Object.entries(cmds)) {
      const name = `m${++i}`;
      const n = await lab.addNode(name);
      const p = lab.spawn(label, "nsenter", [...lab.enterArgs(n), ...argv, "join", "--interface", "wg0", "--socket-path", n.socket, "--dht-bootstrap", `${lab.bootstrapIp}:6881`],
        { ...process.env, WGMESH_SECRET: SECRET });
      await lab.waitFor(`${label} RPC socket`, () => fs.existsSync(n.socket), 30_000);
      await sleep(10_000);
      const pid = p.child.pid as number; // nsenter without --fork execs the daemon: same pid
      out[label] = { rssKiB: kib(pid, "status", "VmRSS"), pssKiB: kib(pid, "smaps_rollup", "Pss") };
      log(`idle join ${label}: RSS ${out[label]?.rssKiB} KiB, PSS ${out[label]?.pssKiB} KiB`);
      await lab.stop(p);
    }
  } finally {
    await lab.cleanup();
  }
  return out;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-bench-artifact-"));
  try {
    const plain = path.join(tmp, "out");
    const withCache = path.join(tmp, "out-cc");
    const cold = build(path.join(tmp, "cache"), plain, []);
    log(`cold build: ${cold.ms} ms`);
    const warm = build(path.join(tmp, "cache"), plain, []);
    log(`warm build (cache hit): ${warm.ms} ms`);
    const coldCc = build(path.join(tmp, "cache"), withCache, ["--code-cache"]);
    log(`cold build (--code-cache): ${coldCc.ms} ms`);
    const art = path.join(plain, "wgmesh-linux-x64");
    const artCc = path.join(withCache, "wgmesh-linux-x64");
    const daemonMain = path.join(ROOT, "dist/provider/src/cli/daemon-main.js");
    const cmds: Record<string, string[]> = {
      "artifact": [art],
      "artifact --code-cache": [artCc],
      "node dist/…/daemon-main.js": [process.execPath, daemonMain],
      "node bin/wgmesh (full CLI)": [process.execPath, path.join(ROOT, "bin/wgmesh")],
    };
    const start: Record<string, { median: number; p90: number }> = {};
    for (const [label, argv] of Object.entries(cmds)) start[label] = startup(label, argv);
    let memory: Record<string, { rssKiB: number; pssKiB: number }> | string = "skipped: needs root (network namespaces, wireguard-go)";
    if (process.getuid?.() === 0) {
      memory = await idleJoin({ "artifact": [art], "node dist/…/daemon-main.js": [process.execPath, daemonMain], "node bin/wgmesh (full CLI)": [process.execPath, path.join(ROOT, "bin/wgmesh")] });
    }
    const m = cold.manifest;
    process.stdout.write(`${JSON.stringify({
      machine: { cpus: os.cpus().length, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
      node: m.nodeVersion,
      sizes: { bundleBytes: m.bundleBytes, artifactBytes: m.bytes, gzBytes: m.gzBytes, artifactCodeCacheBytes: coldCc.manifest.bytes },
      buildMs: { cold: cold.ms, warm: warm.ms, coldCodeCache: coldCc.ms },
      statusStartupMs: start,
      idleJoinMemory: memory,
      runs,
    }, null, 2)}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:artifact: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
