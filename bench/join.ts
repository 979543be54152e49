/**
 * `npm run bench:join [-- N…] [--mode dht+lan|dht]`: time from `wgmesh join` to full connectivity for N of
 * our daemons in network namespaces on this machine (root needed; everything is created and removed here;
 * see test/daemon/netlab.ts; namespaces are named x17…, segments 172.31.170–177.0/24). All daemons start at
 * once against a fresh local DHT bootstrap node. Measured from the start of the first `join`:
 *   - up:    every daemon answers daemon.status on its RPC socket (process start, wireguard-go, setup);
 *            on a small, busy machine starting many Node.js processes dominates the total;
 *   - lists: every daemon's `peers list` (RPC) holds all N−1 others;
 *   - wg:    every node's wg0 carries N−1 peers;
 *   - ping:  every ordered pair pings over mesh IPv4 (all N·(N−1) pings succeed in one sweep; the
 *            sweep's own duration is included).
 * Then, with the mesh complete, each daemon's memory (RSS and PSS of the Node.js process, and of its
 * wireguard-go) — min / median / max over the daemons.
 * No arguments: 5 and 20 nodes, DHT+LAN (the defaults) and DHT only (LAN off). `bench:join 50` runs 50.
 * A benchmark, not a test.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { NetLab, sleep } from "../test/daemon/netlab";
import { ensureNeighbourCapacity } from "../test/testbed/limits";

const SECRET = "wgmesh://v1/bench-join-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD";

interface Memory {
  rssMiB: number;
  pssMiB: number;
}

interface JoinResult {
  up: number;
  lists: number;
  wg: number;
  ping: number;
  daemon: Memory[];
  wireguardGo: Memory[];
}

/** RSS and PSS of one process in MiB (PSS from smaps_rollup: shared pages split among their users). */
function memoryOf(pid: number): Memory | undefined {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
    return { rssMiB: kib("Rss") / 1024, pssMiB: kib("Pss") / 1024 };
  } catch {
    return undefined;
  }
}

/** Processes in a network namespace (wireguard-go daemonizes, so it is nobody's child). */
function pidsIn(ns: string): number[] {
  return spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number);
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Every mesh IP in `ips` pinged from node `from` at once (one nsenter, pings in parallel); failures. */
function pingAll(lab: NetLab, from: string, ips: string[]): string[] {
  const script = 'for ip in "$@"; do (ping -c 1 -W 2 "$ip" >/dev/null 2>&1 || echo "$ip") & done; wait';
  const r = lab.exec(from, ["sh", "-c", script, "sh", ...ips], 30_000);
  return r.stdout.split("\n").filter(Boolean);
}

async function run(n: number, flags: string[], subnet: number): Promise<JoinResult> {
  const lab = new NetLab(subnet, { prefix: "x17j" });
  try {
    await lab.setup();
    const names = Array.from({ length: n }, (_, i) => `b${i + 1}`);
    for (const name of names) await lab.addNode(name);
    const t0 = Date.now();
    const procs = names.map((name) => lab.startTs(name, SECRET, ["--log-level", "info", ...flags]));
    const elapsed = (): number => (Date.now() - t0) / 1000;
    let lists = 0;
    let wg = 0;
    let up = 0;
    const deadline = t0 + Math.max(180, 6 * n) * 1000;
    const ips = new Map<string, string>();
    let lastFailures: string[] = [];
    while (Date.now() < deadline) {
      if (!lists) {
        let ok = true;
        for (const name of names) {
          if (!ips.has(name)) {
            try {
              ips.set(name, await lab.meshIp(name));
            } catch {
              ok = false;
              continue;
            }
          }
          if ((await lab.activePeers(name)).length < n - 1) ok = false;
        }
        if (!up && ips.size === n) up = elapsed();
        if (ok) lists = elapsed();
      }
      if (lists && !wg) {
        if (names.every((name) => lab.wgPeers(name).length === n - 1)) wg = elapsed();
      }
      if (lists && wg) {
        const failed = names.flatMap((a) => pingAll(lab, a, names.filter((b) => b !== a).map((b) => ips.get(b) as string)).map((ip) => `${a}→${ip}`));
        lastFailures = failed;
        if (failed.length === 0) {
          const ping = elapsed();
          const daemon: Memory[] = [];
          const wireguardGo: Memory[] = [];
          for (const p of procs) {
            const m = memoryOf(p.child.pid as number);
            if (m) daemon.push(m);
          }
          for (const name of names) {
            for (const pid of pidsIn(lab.node(name).ns)) {
              const m = comm(pid) === "wireguard-go" ? memoryOf(pid) : undefined;
              if (m) wireguardGo.push(m);
            }
          }
          return { up, lists, wg, ping, daemon, wireguardGo };
        }
      }
      await sleep(200);
    }
    const byIp = new Map([...ips].map(([k, v]) => [v, k]));
    const hold = process.env["BENCH_JOIN_HOLD_FILE"];
    if (hold) {
      // debugging: keep the lab until the file exists (inspect with `ip netns exec <prefix>-bN …`)
      console.error(`holding lab ${lab.prefix} (${[...ips].map(([k, v]) => `${k}=${v}`).join(" ")}) until ${hold} exists`);
      while (!fs.existsSync(hold)) await sleep(1000);
    }
    const first = lastFailures[0];
    if (first) {
      const [from, ip] = first.split("→") as [string, string];
      const sh = (cmd: string): string => lab.exec(from, ["sh", "-c", cmd], 20_000).stdout.trim();
      console.error(`diagnostics on ${from}:\n${sh("wg show wg0 | head -40")}\n${sh("ip -br addr; ip route")}\n${lab.exec(from, ["ping", "-c", "3", "-W", "5", ip], 30_000).stdout}`);
    }
    throw new Error(`${n} nodes: no full connectivity within ${(deadline - t0) / 1000} s (lists ${lists || "-"}, wg ${wg || "-"}; last ping sweep: ${lastFailures.length} of ${n * (n - 1)} failed: ${lastFailures.slice(0, 20).map((f) => `${f} (${byIp.get(f.split("→")[1] as string)})`).join(", ")})\nmesh IPs: ${[...ips].map(([k, v]) => `${k}=${v}`).join(" ")}\n${lab.tails(400)}`);
  } finally {
    await lab.cleanup();
  }
}

function spread(ms: Memory[], k: keyof Memory): string {
  if (ms.length === 0) return "-";
  const v = ms.map((m) => m[k]).sort((a, b) => a - b);
  const at = (q: number): string => (v[Math.min(v.length - 1, Math.floor(q * v.length))] as number).toFixed(1);
  return `${at(0)} / ${at(0.5)} / ${at(1)}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench:join needs root (network namespaces)");
    process.exit(1);
  }
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { mode: { type: "string" } } });
  if (spawnSync("sh", ["-c", "command -v wireguard-go"]).status !== 0) throw new Error("bench:join needs wireguard-go (apt-get install wireguard-go)");
  console.log(`bench:join — ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? "?"}, node ${process.version}; userspace wireguard-go (no kernel module); load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  const modes: [string, string[]][] = [["DHT+LAN", []], ["DHT only", ["--no-lan-discovery"]]];
  const sizes = positionals.length ? positionals.map(Number) : [5, 20];
  if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 200)) throw new Error("node counts must be integers 2-200");
  const wanted = values.mode ? modes.filter(([l]) => l.toLowerCase().startsWith(String(values.mode).toLowerCase())) : modes;
  if (wanted.length === 0) throw new Error(`--mode ${values.mode}: one of dht+lan, dht`);
  const base: Record<number, number> = { 5: 170, 20: 172, 50: 174 };
  const rows: Record<string, unknown>[] = [];
  // N daemons need ≈ 2·N² neighbour entries (mesh peers on wg0, segment neighbours on eth0), in tables every
  // namespace shares (the testbed's limits.ts; raised, never lowered — a testbed may be up beside the run).
  ensureNeighbourCapacity(Math.max(...sizes));
  console.log("nodes  discovery   all daemons up   peer lists complete   wg peers complete   all pairs ping   daemon RSS / PSS MiB (min/median/max)   wireguard-go RSS MiB");
  for (const n of sizes) {
    for (const [label, flags] of wanted) {
      const mode = modes.findIndex(([l]) => l === label);
      const r = await run(n, flags, (base[n] ?? 176) + mode);
      console.log(`${String(n).padStart(5)}  ${label.padEnd(10)}  ${r.up.toFixed(2).padStart(12)} s  ${r.lists.toFixed(2).padStart(17)} s  ${r.wg.toFixed(2).padStart(15)} s  ${r.ping.toFixed(2).padStart(12)} s   ${spread(r.daemon, "rssMiB")} / ${spread(r.daemon, "pssMiB")}   ${spread(r.wireguardGo, "rssMiB")}`);
      rows.push({ nodes: n, discovery: label, upS: r.up, listsS: r.lists, wgS: r.wg, pingS: r.ping, daemonRssMiB: r.daemon.map((m) => +m.rssMiB.toFixed(1)), daemonPssMiB: r.daemon.map((m) => +m.pssMiB.toFixed(1)), wireguardGoRssMiB: r.wireguardGo.map((m) => +m.rssMiB.toFixed(1)) });
    }
  }
  console.log(JSON.stringify({ bench: "join", rows }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
