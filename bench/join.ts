/**
 * `npm run bench:join`: time from `wgmesh join` to full connectivity, for 5 and 20 of our daemons in
 * network namespaces on this machine (root needed; everything is created and removed here; see
 * test/daemon/netlab.ts). All daemons start at once against a fresh local DHT bootstrap node, DHT + LAN
 * discovery on (the defaults). Measured from the start of the first `join`:
 *   - lists: every daemon's `peers list` (RPC) holds all N−1 others;
 *   - wg:    every node's wg0 carries N−1 peers;
 *   - ping:  every ordered pair pings over mesh IPv4 (all N·(N−1) pings succeed in one sweep; the
 *            sweep's own duration is included).
 *   - up:    every daemon answers daemon.status on its RPC socket (process start, wireguard-go, setup);
 *            on a small, busy machine starting 20 Node.js processes dominates the total.
 * DHT-only figures (LAN off) are measured too. `node dist/bench/join.js 5` runs only the 5-node cases.
 * A benchmark, not a test.
 */
import * as os from "node:os";
import { NetLab, sleep } from "../test/daemon/netlab";

const SECRET = "wgmesh://v1/bench-join-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD";

async function run(n: number, flags: string[], subnet: number): Promise<{ up: number; lists: number; wg: number; ping: number }> {
  const lab = new NetLab(subnet);
  try {
    await lab.setup();
    const names = Array.from({ length: n }, (_, i) => `b${i + 1}`);
    for (const name of names) await lab.addNode(name);
    const t0 = Date.now();
    for (const name of names) lab.startTs(name, SECRET, ["--log-level", "info", ...flags]);
    const elapsed = (): number => (Date.now() - t0) / 1000;
    let lists = 0;
    let wg = 0;
    let up = 0;
    const deadline = t0 + 180_000;
    const ips = new Map<string, string>();
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
        let all = true;
        for (const a of names) {
          for (const b of names) {
            if (a !== b && !lab.ping(a, ips.get(b) as string)) {
              all = false;
              break;
            }
          }
          if (!all) break;
        }
        if (all) return { up, lists, wg, ping: elapsed() };
      }
      await sleep(200);
    }
    throw new Error(`${n} nodes: no full connectivity within 180 s (lists ${lists || "-"}, wg ${wg || "-"})\n${lab.tails(800)}`);
  } finally {
    await lab.cleanup();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench:join needs root (network namespaces)");
    process.exit(1);
  }
  console.log(`bench:join — ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? "?"}, node ${process.version}; userspace wireguard-go (no kernel module)`);
  console.log("nodes  discovery   all daemons up   peer lists complete   wg peers complete   all pairs ping");
  const all: [number, string, string[], number][] = [[5, "DHT+LAN", [], 90], [5, "DHT only", ["--no-lan-discovery"], 91], [20, "DHT+LAN", [], 92], [20, "DHT only", ["--no-lan-discovery"], 93]];
  const only = process.argv.slice(2).map(Number);
  const cases = only.length ? all.filter(([n]) => only.includes(n)) : all;
  for (const [n, label, flags, subnet] of cases) {
    const r = await run(n, flags, subnet);
    console.log(`${String(n).padStart(5)}  ${label.padEnd(10)}  ${r.up.toFixed(2).padStart(12)} s  ${r.lists.toFixed(2).padStart(17)} s  ${r.wg.toFixed(2).padStart(15)} s  ${r.ping.toFixed(2).padStart(12)} s`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
