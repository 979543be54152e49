/**
 * The 1,000-node simulation: N members with one secret, each running the daemon's real discovery (DHT over
 * bittorrent-dht, gossip), exchange, store and expiry code (see node.ts) on an in-memory network
 * (network.ts) and a virtual clock (clock.ts), with seeded loss and churn.
 *
 *  1. A storing DHT bootstrap node (bittorrent-dht, as in the namespace lab) is up at t = 0; the members
 *     start at seeded times within the first 10 s, each on its own public address (198.18.0.0/15, as if
 *     spread over the internet; LAN multicast has nobody to reach).
 *  2. Every virtual second: converged = every running member's active peer list (what `peers list` shows)
 *     is exactly the other running members — nobody missing, nobody extra.
 *  3. With churn: once converged, for `churnMinutes` minutes, PCT % of N leave and as many brand-new members
 *     join every minute, at seeded times; a leaver stops gracefully (GOODBYE, as on SIGTERM) or crashes
 *     (cut off, silent), seeded half and half. Then the run goes on until the stores are exact again.
 *  4. ghostPeers: departed members still in some running member's active list at the end; lostMembers:
 *     running members missing from some other running member's list at the end (distinct keys).
 *
 * Everything random comes from one seeded generator (keys, addresses, start times, latency, loss, churn,
 * gossip targets, DHT node IDs, Math.random): the virtual figures are the same for the same seed. Only
 * cpuSeconds and peakRssMB are measurements of this process.
 */
import { clampPrivateKey, encodeKey } from "../../provider/src/core/keys";
import { defaultSubnetCidr, deriveParams } from "../../provider/src/daemon/derive";
import { parseSecret } from "../../provider/src/daemon/secret";
import { PEER_DEAD_MS } from "../../provider/src/daemon/store";
import { VirtualClock } from "./clock";
import { SimNetwork } from "./network";
import { SimNode } from "./node";
import { SimRandom } from "./random";

export const SIM_SECRET = "wgmesh://v1/simulation-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const BOOTSTRAP_IP = "198.19.255.254";
const DHT_PORT = 6881;

export interface SimOptions {
  nodes: number;
  lossPct: number;
  churnPctPerMin: number;
  seed: number;
  /** Members start at seeded times in [0, startSpreadS). */
  startSpreadS?: number;
  churnMinutes?: number;
  /**
   * The members' peer-store maximum (default: the daemon's, Go's 1000). Lowered to N, a run of N members
   * meets what a 1,000-member mesh meets at its store limit, at a fraction of the cost.
   */
  maxPeers?: number;
  /** Give up converging after this many virtual seconds (per phase). */
  deadlineS?: number;
  /** Progress lines (stderr), one per virtual `progressEveryS`. */
  progress?: (line: string) => void;
  progressEveryS?: number;
}

/** The contract of `npm run sim -- … --json`. */
export interface SimReport {
  nodes: number;
  converged: boolean;
  virtualSecondsToConverge: number | null;
  messagesPerNodePerSecond: number;
  cpuSeconds: number;
  peakRssMB: number;
  ghostPeers: number;
  lostMembers: number;
}

export interface SimDetail {
  /** Virtual seconds from t = 0 until the first exact state (all N members). */
  initialConvergeS: number | null;
  /** With churn: virtual seconds from the last churn event until the stores were exact again. */
  afterChurnConvergeS: number | null;
  virtualSeconds: number;
  joined: number;
  leftGracefully: number;
  crashed: number;
  traffic: Record<string, { datagrams: number; bytes: number; lost: number; oversize: number; unreachable: number }>;
  bytesPerNodePerSecond: number;
  drops: Record<string, number>;
  timerEvents: number;
  largestStore: number;
  wallSeconds: number;
}

function ipFor(i: number): string {
  const n = i + 1;
  return `198.18.${(n >> 8) & 255}.${n & 255}`;
}

interface Check {
  exact: boolean;
  ghosts: number;
  lost: number;
}

/** Compare every running member's active list with the set of running members. */
function check(running: SimNode[], departed: Set<string>, full: boolean): Check {
  const live = new Set(running.map((n) => n.pubkey));
  const ghosts = new Set<string>();
  const lost = new Set<string>();
  let exact = true;
  for (const n of running) {
    let known = 0;
    for (const p of n.core.store.activeRecords()) {
      if (live.has(p.wg_pubkey)) known++;
      else {
        exact = false;
        if (departed.has(p.wg_pubkey)) ghosts.add(p.wg_pubkey);
      }
    }
    if (known !== live.size - 1) {
      exact = false;
      if (full) {
        const have = new Set<string>();
        for (const p of n.core.store.activeRecords()) have.add(p.wg_pubkey);
        for (const k of live) if (k !== n.pubkey && !have.has(k)) lost.add(k);
      }
    }
    if (!exact && !full) break;
  }
  return { exact, ghosts: ghosts.size, lost: lost.size };
}

export async function runSimulation(o: SimOptions): Promise<{ report: SimReport; detail: SimDetail }> {
  const wall0 = Date.now();
  const cpu0 = process.cpuUsage();
  const rng = new SimRandom(o.seed);
  const startSpreadMs = (o.startSpreadS ?? 10) * 1000;
  const churnMinutes = o.churnMinutes ?? 5;
  const deadlineMs = (o.deadlineS ?? 900) * 1000;
  const everyS = o.progressEveryS ?? 30;
  const secret = parseSecret(SIM_SECRET).secret;
  const params = deriveParams(secret);
  const meshPrefix = defaultSubnetCidr(params).replace(/0\.0\/16$/, "");
  const { default: DHT } = (await import("bittorrent-dht")) as unknown as { default: new (opts: Record<string, unknown>) => { listen(port: number, cb?: () => void): void; destroy(cb?: () => void): void } };

  const realRandom = Math.random;
  Math.random = () => rng.float(); // bittorrent-dht's own jitter
  const clock = new VirtualClock();
  const t0 = clock.nowMs;
  const all: SimNode[] = [];
  const byIp = new Map<string, SimNode>();
  const byKey = new Map<string, SimNode>();
  const departed = new Set<string>();
  const aliveSince = new Map<SimNode, number>();
  let nodeSeconds = 0;
  const stats = { joined: 0, leftGracefully: 0, crashed: 0 };

  const net = new SimNetwork({
    rng,
    loss: o.lossPct / 100,
    minLatencyMs: 5,
    maxLatencyMs: 40,
    isMeshAddress: (ip) => ip.startsWith(meshPrefix),
    // WireGuard carries a datagram from A to mesh address M when A configures a peer B holding M (the lower
    // key of those claiming it, as the reconciler does) with an endpoint at B's host, and B configures A.
    tunnel: (fromIp, meshIp) => {
      const a = byIp.get(fromIp);
      if (!a) return undefined;
      let best: string | undefined;
      for (const p of a.core.store.activeRecords()) if (p.mesh_ip === meshIp && p.endpoint && (best === undefined || p.wg_pubkey < best)) best = p.wg_pubkey;
      const b = best ? byKey.get(best) : undefined;
      if (!b || !b.running) return undefined;
      const ab = a.core.store.get(b.pubkey);
      const ba = b.core.store.get(a.pubkey);
      if (!ab || !ba || !ab.endpoint.startsWith(`${b.o.ip}:`) || !ba.endpoint || !b.core.store.isActive(ba)) return undefined;
      return { nodeIp: b.o.ip, sourceIp: a.meshIp };
    },
  });

  const boot = new DHT({ bootstrap: false, socket: net.socket(BOOTSTRAP_IP, "bootstrap"), nodeId: rng.bytes(20) });
  boot.listen(DHT_PORT);

  const makeNode = (): SimNode => {
    const i = all.length;
    const n = new SimNode({
      name: `m${i + 1}`,
      ip: ipFor(i),
      secret,
      params,
      privateKey: encodeKey(clampPrivateKey(new Uint8Array(rng.bytes(32)))),
      net,
      rng,
      bootstrap: `${BOOTSTRAP_IP}:${DHT_PORT}`,
      meshPrefix,
      ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
    });
    all.push(n);
    byIp.set(n.o.ip, n);
    byKey.set(n.pubkey, n);
    return n;
  };
  const startNode = (n: SimNode): void => {
    void n.start().then(() => aliveSince.set(n, clock.nowMs));
  };
  const running = (): SimNode[] => all.filter((n) => n.running && aliveSince.has(n));
  const leave = (n: SimNode, crash: boolean): void => {
    const since = aliveSince.get(n);
    if (since !== undefined) nodeSeconds += (clock.nowMs - since) / 1000;
    aliveSince.delete(n);
    departed.add(n.pubkey);
    if (crash) {
      net.down.add(n.o.ip);
      stats.crashed++;
    } else stats.leftGracefully++;
    void n.stop();
  };

  for (let i = 0; i < o.nodes; i++) {
    const n = makeNode();
    setTimeout(() => startNode(n), rng.float() * startSpreadMs);
  }

  let peakRss = process.memoryUsage().rss;
  let largestStore = 0;
  let last: Check = { exact: false, ghosts: 0, lost: 0 };
  const sample = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  /** Run second by second until exact (returns the virtual time then) or until `untilMs`. */
  /** The progress period (every `everyS` virtual s since t0) a virtual time falls in: a line when it changes. */
  let lastPeriod = 0;
  const newPeriod = (t: number): boolean => {
    const p = Math.floor((t - t0) / 1000 / everyS);
    if (p <= lastPeriod) return false;
    lastPeriod = p;
    return true;
  };
  const converge = async (untilMs: number, label: string): Promise<number | null> => {
    for (let t = clock.nowMs + 1000; t <= untilMs; t += 1000) {
      await clock.runUntil(t);
      const r = running();
      if (r.length === all.length - departed.size && r.length > 0) {
        last = check(r, departed, false);
        if (last.exact) return clock.nowMs;
      }
      // By period, not by an exact multiple: after the churn phase t is off the second grid (it starts at the
      // last churn event), and an exact test never printed again.
      if (newPeriod(t)) {
        sample();
        const full = check(r, departed, true);
        let known = 0;
        for (const n of r) known += n.core.store.counts().active;
        o.progress?.(`[sim] ${label} t=${(t - t0) / 1000}s running=${r.length} mean-known=${(known / Math.max(1, r.length)).toFixed(1)} missing=${full.lost} ghosts=${full.ghosts} events=${clock.events} cpu=${cpuS().toFixed(1)}s rss=${(process.memoryUsage().rss / 2 ** 20).toFixed(0)}MB`);
      }
    }
    return null;
  };
  const cpuS = (): number => {
    const c = process.cpuUsage(cpu0);
    return (c.user + c.system) / 1e6;
  };

  const trafficAtEnd = new Map<string, SimDetail["traffic"][string]>();
  let initial: number | null = null;
  let afterChurn: number | null = null;
  let convergedAt: number | null = null;
  try {
    initial = await converge(t0 + deadlineMs, "join");
    convergedAt = initial;
    if (initial !== null && o.churnPctPerMin > 0) {
      const perMinute = Math.round((o.nodes * o.churnPctPerMin) / 100);
      const churnStart = clock.nowMs;
      const leaving = new Set<SimNode>();
      let lastEvent = churnStart;
      for (let m = 0; m < churnMinutes; m++) {
        for (let k = 0; k < perMinute; k++) {
          const at = churnStart + m * 60_000 + rng.float() * 60_000;
          lastEvent = Math.max(lastEvent, at);
          const crash = rng.float() < 0.5;
          setTimeout(() => {
            const candidates = running().filter((n) => !leaving.has(n));
            const [victim] = rng.sample(candidates, 1);
            if (!victim) return;
            leaving.add(victim);
            leave(victim, crash);
          }, at - clock.nowMs);
          const joinAt = churnStart + m * 60_000 + rng.float() * 60_000;
          lastEvent = Math.max(lastEvent, joinAt);
          setTimeout(() => {
            stats.joined++;
            startNode(makeNode());
          }, joinAt - clock.nowMs);
        }
      }
      // The churn minutes, in steps of the progress period so a long run shows where it is.
      for (let t = clock.nowMs + everyS * 1000; t < lastEvent + 1; t += everyS * 1000) {
        await clock.runUntil(t);
        if (newPeriod(t)) o.progress?.(`[sim] churn t=${Math.round((t - t0) / 1000)}s running=${running().length} departed=${departed.size} joined=${stats.joined} events=${clock.events} cpu=${cpuS().toFixed(1)}s rss=${(process.memoryUsage().rss / 2 ** 20).toFixed(0)}MB`);
      }
      await clock.runUntil(lastEvent + 1);
      // Crashed members leave active lists only after PEER_DEAD_MS without contact: converge from there on.
      const done = await converge(lastEvent + Math.max(deadlineMs, PEER_DEAD_MS + 5 * 60_000), "churn");
      afterChurn = done === null ? null : Math.round(done - lastEvent) / 1000;
      convergedAt = done;
    }
    sample();
    const r = running();
    last = check(r, departed, true);
    for (const n of r) largestStore = Math.max(largestStore, n.core.store.size);
    for (const n of r) nodeSeconds += (clock.nowMs - (aliveSince.get(n) as number)) / 1000;
    for (const [label, c] of net.traffic) trafficAtEnd.set(label, { ...c }); // before the shutdown's GOODBYEs
  } finally {
    // The figures are taken: end every member at once, cut off (N² GOODBYEs would only cost time), and
    // keep the clock going while they stop (sockets close on virtual timers).
    for (const n of all) net.down.add(n.o.ip);
    const stopping = Promise.all([...all.filter((x) => x.running).map((n) => n.stop().catch(() => undefined)), new Promise<void>((res) => boot.destroy(() => res()))]);
    await clock.runUntil(clock.nowMs + 1000);
    await stopping;
    clock.uninstall();
    Math.random = realRandom;
  }

  const traffic: SimDetail["traffic"] = {};
  let sent = 0;
  let bytes = 0;
  for (const [label, c] of trafficAtEnd) {
    traffic[label] = c;
    if (label !== "bootstrap") {
      sent += c.datagrams + c.oversize;
      bytes += c.bytes;
    }
  }
  const drops: Record<string, number> = {};
  for (const n of all) for (const [k, v] of Object.entries(n.core.counters.snapshot())) drops[k] = (drops[k] ?? 0) + (v as number);
  const resUsage = process.resourceUsage();
  const virtualSeconds = (clock.nowMs - t0) / 1000;
  const converged = convergedAt !== null && last.ghosts === 0 && last.lost === 0;
  const report: SimReport = {
    nodes: o.nodes,
    converged,
    virtualSecondsToConverge: o.churnPctPerMin > 0 ? afterChurn : initial === null ? null : (initial - t0) / 1000,
    messagesPerNodePerSecond: +(sent / Math.max(1, nodeSeconds)).toFixed(3),
    cpuSeconds: +cpuS().toFixed(2),
    peakRssMB: Math.round(Math.max(peakRss, resUsage.maxRSS * 1024) / 2 ** 20),
    ghostPeers: last.ghosts,
    lostMembers: last.lost,
  };
  const detail: SimDetail = {
    initialConvergeS: initial === null ? null : (initial - t0) / 1000,
    afterChurnConvergeS: afterChurn,
    virtualSeconds,
    ...stats,
    traffic,
    bytesPerNodePerSecond: Math.round(bytes / Math.max(1, nodeSeconds)),
    drops,
    timerEvents: clock.events,
    largestStore,
    wallSeconds: (Date.now() - wall0) / 1000,
  };
  return { report, detail };
}
