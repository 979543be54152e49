/**
 * BitTorrent mainline DHT discovery (§3), with the npm `bittorrent-dht` library (ESM-only, loaded with
 * a dynamic import). Wire behaviour as Go: announce gossip_port under the current- and previous-hour
 * infohash at start, every 15 min and at each hour boundary; get_peers on both every 30 s (60 s once the
 * store holds ≥ 3 peers); a HELLO exchange with every value, at most once per 60 s per address.
 *
 * Safe where Go is weak:
 * - Bootstrap nodes are overridable (`--dht-bootstrap`); the default is Go's four. If none answers, the
 *   daemon keeps running on its other layers (weakness 7) and the announce is retried.
 * - No lookup of the static network_id (weakness 6): the routing table is filled by the library's own
 *   find_node towards its random node ID, so nothing stable about the mesh is ever queried.
 * - An announce that reached no node is retried after 5 s, doubling to 60 s (Go waits 15 min: lab §3).
 * - Four extra lookups in the first 20 s (nodes starting together miss each other's first announce;
 *   Go's next lookup would come only after 30 s).
 * - Values are contacted only when their port is gossip_port (every member announces exactly that
 *   port), are IP literals, are not our own addresses, and at most 64 new addresses per lookup: a value
 *   planted by a stranger cannot turn us into a HELLO cannon against arbitrary ports.
 * - A value whose address we exchanged with recently (keep-alive, their HELLO) gets no HELLO: Go HELLOs
 *   every value every minute, N² exchanges per minute in a mesh of N. An address that did not answer is
 *   retried after 2, 4, 8 … 32 min (a departed member's value lingers in the DHT), and as a DHT node we
 *   keep stored announces 30 min (the library's default is forever).
 * - Library errors and malformed DHT traffic are logged and counted; nothing from the DHT can throw into
 *   the daemon.
 */
import * as os from "node:os";
import { KEEPALIVE_FRESH_MS, type DaemonCore, type DiscoveryLayer } from "./core";
import { hourOf, infohashes } from "./derive";
import type { Logger } from "./log";
import { normalizeIp } from "./netaddr";

export const DEFAULT_DHT_BOOTSTRAP = ["router.bittorrent.com:6881", "router.utorrent.com:6881", "dht.transmissionbt.com:6881", "dht.libtorrent.org:25401"];
export const ANNOUNCE_INTERVAL_MS = 15 * 60_000;
export const LOOKUP_INTERVAL_MS = 30_000;
export const LOOKUP_INTERVAL_BUSY_MS = 60_000;
export const CONTACT_INTERVAL_MS = 60_000;
/** An address that did not answer is tried again after 2, 4, 8 … min, at most this long (it left; its value lingers). */
export const SILENT_BACKOFF_MAX_MS = 32 * 60_000;
/** How long this node, as a DHT node, keeps the announces it stores (members re-announce every 15 min). */
export const STORED_VALUE_MAX_AGE_MS = 30 * 60_000;
/** Extra lookups soon after start (s): nodes that start together announce at slightly different times. */
export const EARLY_LOOKUPS_MS = [2000, 5000, 10_000, 20_000];
const MAX_NEW_PER_LOOKUP = 64;

/** The parts of bittorrent-dht's client we use. */
interface DhtClient {
  on(ev: "peer", f: (peer: { host: string; port: number }, infoHash: Buffer, from: unknown) => void): void;
  on(ev: "ready" | "listening", f: () => void): void;
  on(ev: "error" | "warning", f: (e: Error) => void): void;
  listen(port: number, cb?: () => void): void;
  address(): { port: number };
  announce(infoHash: Buffer, port: number, cb: (err: Error | null, hits?: number) => void): void;
  lookup(infoHash: Buffer, cb: (err: Error | null, n?: number) => void): void;
  destroy(cb?: () => void): void;
  once(ev: "error" | "listening", f: (e?: Error) => void): void;
  removeListener(ev: string, f: (...a: never[]) => void): void;
}

export interface DhtLayerOptions {
  bootstrap: string[];
  log: Logger;
  /** UDP port of the DHT socket (default gossip_port + 1, falling back to any). */
  port?: number;
  nowMs?: () => number;
  /** The DHT's UDP socket (default: the library's own udp4 socket; the simulation passes an in-memory one). */
  socket?: () => unknown;
  /** The DHT node ID (default random, as the library picks it). */
  nodeId?: Buffer;
  /** This host's addresses, to skip our own DHT values (default: the host's interfaces). */
  localAddresses?: () => Set<string>;
}

/** Parse `HOST:PORT,HOST:PORT` (IPv6 as [addr]:port). Throws with the bad entry named. */
export function parseBootstrapList(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`--dht-bootstrap: '${raw}' is not HOST:PORT (e.g. 10.0.0.2:6881)`);
    out.push(raw);
  }
  if (out.length === 0) throw new Error("--dht-bootstrap: give at least one HOST:PORT");
  return out;
}

function localAddresses(): Set<string> {
  const s = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) s.add(normalizeIp(a.address) ?? a.address);
  return s;
}

export class DhtLayer implements DiscoveryLayer {
  readonly name = "dht";
  readonly stats = { values: 0, contacted: 0, replies: 0, announces: 0, announceFailures: 0, lookups: 0, ignored: 0, errors: 0 };
  private dht: DhtClient | undefined;
  private core: DaemonCore | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly lastContact = new Map<string, number>();
  /** Consecutive unanswered HELLO exchanges per value address (reset by a REPLY). */
  private readonly silent = new Map<string, number>();
  private newThisLookup = 0;
  private stopped = false;
  private retryMs = 5000;
  private readonly nowMs: () => number;

  constructor(private readonly o: DhtLayerOptions) {
    this.nowMs = o.nowMs ?? Date.now;
  }

  async start(core: DaemonCore): Promise<void> {
    this.core = core;
    this.stopped = false;
    const mod = (await import("bittorrent-dht")) as unknown as { default: new (opts: Record<string, unknown>) => DhtClient };
    const dht = new mod.default({ bootstrap: this.o.bootstrap, maxAge: STORED_VALUE_MAX_AGE_MS, ...(this.o.socket ? { socket: this.o.socket() } : {}), ...(this.o.nodeId ? { nodeId: this.o.nodeId } : {}) });
    this.dht = dht;
    dht.on("error", (e) => {
      this.stats.errors++;
      this.o.log.warn("[DHT] error", { error: e.message });
    });
    dht.on("warning", (e) => {
      this.stats.errors++;
      this.o.log.debug("[DHT] warning", { error: e.message });
    });
    dht.on("peer", (peer, infoHash) => {
      try {
        this.onValue(peer, infoHash);
      } catch (e) {
        this.stats.errors++;
        this.o.log.debug("[DHT] bad value", { error: (e as Error).message });
      }
    });
    const want = this.o.port ?? core.params.gossipPort + 1;
    const port = await new Promise<number>((resolve) => {
      const onErr = (): void => {
        // port busy: any port (as Go falls back to an OS-chosen one)
        dht.listen(0, () => resolve(dht.address().port));
      };
      dht.once("error", onErr);
      dht.listen(want, () => {
        dht.removeListener("error", onErr as never);
        resolve(dht.address().port);
      });
    });
    this.o.log.info("[DHT] listening", { port, bootstrap: this.o.bootstrap.join(",") });
    let first = true;
    const kick = (): void => {
      if (!first || this.stopped) return;
      first = false;
      this.announce();
      this.lookup();
    };
    dht.on("ready", kick);
    const t0 = setTimeout(kick, 3000); // bootstrap slow or unreachable: try anyway (and retry)
    t0.unref();
    this.timers.push(t0);
    this.every(ANNOUNCE_INTERVAL_MS, () => this.announce());
    for (const ms of EARLY_LOOKUPS_MS) {
      const t = setTimeout(() => this.lookup(), ms);
      t.unref();
      this.timers.push(t);
    }
    this.scheduleHourly();
    this.scheduleLookup();
  }

  private every(ms: number, f: () => void): void {
    const t = setInterval(f, ms);
    t.unref();
    this.timers.push(t);
  }

  private scheduleHourly(): void {
    const now = this.nowMs();
    const next = (hourOf(Math.floor(now / 1000)) + 1) * 3600_000 + 2000;
    const t = setTimeout(() => {
      this.o.log.info("[DHT] hour boundary: announcing under the new infohash");
      this.announce();
      this.lookup();
      this.scheduleHourly();
    }, next - now);
    t.unref();
    this.timers.push(t);
  }

  private scheduleLookup(): void {
    if (this.stopped) return;
    const busy = (this.core?.store.size ?? 0) >= 3;
    const t = setTimeout(() => {
      this.lookup();
      this.scheduleLookup();
    }, busy ? LOOKUP_INTERVAL_BUSY_MS : LOOKUP_INTERVAL_MS);
    t.unref();
    this.timers.push(t);
  }

  private hashes(): Buffer[] {
    const core = this.core as DaemonCore;
    const h = infohashes(core.params.secret, Math.floor(this.nowMs() / 1000));
    return [h.current, h.previous];
  }

  /** Announce gossip_port under both hourly infohashes; retry soon when no node took it. */
  announce(): void {
    const dht = this.dht;
    const core = this.core;
    if (!dht || !core || this.stopped) return;
    let pending = 2;
    let hits = 0;
    for (const ih of this.hashes()) {
      dht.announce(ih, core.params.gossipPort, (err, n) => {
        if (!err) hits += n ?? 0;
        if (--pending > 0 || this.stopped) return;
        if (hits > 0) {
          this.stats.announces++;
          this.retryMs = 5000;
          this.o.log.debug("[DHT] announced", { nodes: hits, port: core.params.gossipPort });
        } else {
          this.stats.announceFailures++;
          this.o.log.info("[DHT] announce reached no node; retrying", { retry_s: this.retryMs / 1000 });
          const t = setTimeout(() => this.announce(), this.retryMs);
          t.unref();
          this.timers.push(t);
          this.retryMs = Math.min(this.retryMs * 2, 60_000);
        }
      });
    }
  }

  lookup(): void {
    const dht = this.dht;
    if (!dht || this.stopped) return;
    this.newThisLookup = 0;
    this.stats.lookups++;
    for (const ih of this.hashes()) dht.lookup(ih, () => undefined);
  }

  private onValue(peer: { host: string; port: number }, infoHash: Buffer): void {
    const core = this.core;
    if (!core || this.stopped) return;
    this.stats.values++;
    const ip = typeof peer?.host === "string" ? normalizeIp(peer.host) : undefined;
    const port = peer?.port;
    if (!ip || typeof port !== "number" || port !== core.params.gossipPort || !Buffer.isBuffer(infoHash)) {
      this.stats.ignored++;
      return;
    }
    if ((this.o.localAddresses ?? localAddresses)().has(ip)) return; // our own announcement
    const key = `${ip}:${port}`;
    const now = this.nowMs();
    // A member we exchanged with recently needs no HELLO for its value: the keep-alive round covers it.
    // (Go HELLOs every value every minute: N² exchanges per minute in a mesh of N.)
    const exchanged = core.exchange.lastExchangeFrom(ip);
    if (exchanged !== undefined && now - exchanged < KEEPALIVE_FRESH_MS) return;
    const last = this.lastContact.get(key);
    const misses = this.silent.get(key) ?? 0;
    if (last !== undefined && now - last < Math.min(CONTACT_INTERVAL_MS * 2 ** misses, SILENT_BACKOFF_MAX_MS)) return;
    if (last === undefined && ++this.newThisLookup > MAX_NEW_PER_LOOKUP) {
      this.stats.ignored++;
      return;
    }
    this.lastContact.set(key, now);
    if (this.lastContact.size > 4096) this.lastContact.delete(this.lastContact.keys().next().value as string);
    this.stats.contacted++;
    this.o.log.debug("[DHT] value found, sending HELLO", { peer: key });
    void core.exchange.exchange(ip, core.peerControlPortFor()).then((r) => {
      if (!r) {
        this.silent.set(key, misses + 1);
        if (this.silent.size > 4096) this.silent.delete(this.silent.keys().next().value as string);
        return;
      }
      this.silent.delete(key);
      this.stats.replies++;
      this.o.log.info("[DHT] found wgmesh peer", { peer: key, pubkey: r.announcement.wg_pubkey.slice(0, 16), mesh_ip: r.announcement.mesh_ip });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.splice(0)) {
      clearTimeout(t);
      clearInterval(t);
    }
    const d = this.dht;
    this.dht = undefined;
    if (d) await new Promise<void>((r) => d.destroy(() => r()));
  }
}
