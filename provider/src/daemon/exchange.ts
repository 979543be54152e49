/**
 * The UDP exchange socket on gossip_port (§2.1, §2.6, §2.7): answers HELLO with REPLY from the same
 * socket, handles REPLY, GOODBYE (±60 s) and ANNOUNCE (gossip only), initiates HELLO exchanges
 * (same datagram every 100 ms for up to 4 s until a REPLY from exactly that ip:port).
 *
 * Safe where Go is weak: a per-source token bucket runs before decryption; every payload is validated;
 * a replay cache drops re-sent nonces (a duplicate HELLO from the same source is answered again — Go
 * initiators resend the same datagram — but not processed twice); GOODBYEs carrying announcement
 * members are refused as re-labelled; a GOODBYE for a known peer must come from one of its addresses
 * (endpoint host, mesh IPs); reflected addresses are taken only from REPLYs to our own HELLOs.
 * Nothing thrown escapes `handleDatagram`; every drop is counted.
 *
 * An authenticated HELLO whose fields fail validation (e.g. Go's `test-peer`, which sends the pubkey
 * "test-pubkey") is NOT stored, but is still answered: the sender holds the secret, so the REPLY tells it
 * nothing a valid HELLO would not, and Go's `test-peer` diagnostic keeps working against our nodes.
 */
import { DropCounters, DropReason } from "./counters";
import { openEnvelope, sealEnvelope, PROTOCOL_VERSION } from "./envelope";
import {
  decodeAnnouncement, decodeGoodbye, decodeRendezvousOffer, decodeRendezvousStart, encodeAnnouncement, encodeGoodbye,
  encodeKnownPeer, joinHostPort, KnownPeer, LIMITS, PeerAnnouncement, RendezvousOffer, RendezvousStart, splitHostPort,
} from "./messages";
import { isPublicIp, normalizeIp } from "./netaddr";
import { SourceRateLimiter } from "./ratelimit";
import { ReplayCache } from "./replay";
import { createUdpSocket, DatagramSocket, SocketFactory } from "./transport";
import { knownPeerEndpoint, PeerRecord, PeerStore, PeerUpdate, resolvePeerEndpoint, senderUpdate } from "./store";

/** A cached `known_peers` element: the record fields it was encoded from, the entry, its text and length. */
interface KnownEntry {
  from: Pick<PeerRecord, "hostname" | "mesh_ip" | "mesh_ipv6" | "endpoint" | "introducer" | "nat_type">;
  peer: KnownPeer;
  text: string;
  bytes: number;
}

/** `,"known_peers":[]` — what the member adds around its entries. */
const KNOWN_PEERS_MEMBER_BYTES = Buffer.byteLength(',"known_peers":[]');

/** How many peers' observed exchange sources are remembered (the store holds at most 1000 peers). */
const MAX_CONTROL_SOURCES = 4096;

/**
 * HELLO resends: the first after HELLO_INTERVAL_MS, each next gap doubled up to HELLO_MAX_INTERVAL_MS, until
 * HELLO_TIMEOUT_MS (sends at 0, 0.1, 0.3, 0.7, 1.5, 2.5, 3.5 s: 7 datagrams, where Go sends one every 100 ms,
 * 40). The fast first resends cover a lost datagram and a NAT mapping the other side opens a moment later; a
 * peer that answers none of the first few is mostly one that is gone (a crashed member is HELLOed by every
 * other member once per keep-alive round until its record dies), and 33 more copies of the same datagram
 * only cost both ends.
 */
export const HELLO_INTERVAL_MS = 100;
export const HELLO_MAX_INTERVAL_MS = 1000;
export const HELLO_TIMEOUT_MS = 4000;
export const GOODBYE_WINDOW_S = 60;

export interface LocalNode {
  pubkey: string;
  meshIp: string;
  meshIpv6?: string;
  hostname?: string;
  /** Announced WireGuard endpoint; "0.0.0.0:<port>" until a public address is known. */
  wgEndpoint: string;
  introducer?: boolean;
  routableNetworks?: string[];
  natType?: string;
}

export type LogFn = (level: "debug" | "info" | "warn", msg: string) => void;

export type ExchangeEvent =
  | { kind: "hello"; from: string; pubkey: string; stored: boolean; replied: boolean }
  | { kind: "reply"; from: string; pubkey: string; solicited: boolean }
  | { kind: "announce"; from: string; pubkey: string }
  | { kind: "goodbye"; from: string; pubkey: string; removed: boolean }
  | { kind: "rendezvous-offer"; from: string; offer: RendezvousOffer }
  | { kind: "rendezvous-start"; from: string; start: RendezvousStart }
  | { kind: "drop"; from: string; reason: DropReason; detail: string };

export interface ExchangeOptions {
  gossipKey: Buffer;
  local: () => LocalNode;
  store: PeerStore;
  gossip?: boolean;
  nowMs?: () => number;
  counters?: DropCounters;
  log?: LogFn;
  onEvent?: (e: ExchangeEvent) => void;
  /** A REPLY reflected a public IP for us (§2.6). */
  onObservedEndpoint?: (ip: string) => void;
  limiter?: SourceRateLimiter;
  replay?: ReplayCache;
  /**
   * Whether a source address lies inside the mesh (arrived through the tunnel). A gossip ANNOUNCE from
   * such an address with an unspecified endpoint host does not set the peer's endpoint: Go would make
   * the sender's mesh IP its WireGuard endpoint, inside its own tunnel (weakness 13).
   */
  isTunnelSource?: (ip: string) => boolean;
  /** Makes the UDP socket (default node:dgram; the simulation's in-memory network). */
  socketFactory?: SocketFactory;
  /**
   * Peers one message mentioned (`known_peers`) that the store refused at its maximum (`store-full`), with
   * their announced fields. A daemon may HELLO them (greet.ts): a peer that contacts us itself may take a dead
   * record's slot, a mention may not.
   */
  onRefused?: (peers: readonly PeerUpdate[]) => void;
}

/**
 * The share of the `known_peers` budget given to our newest peers; the rest carries a window that moves round
 * the store with every datagram we send (store.ts `announceableRing`). Newest first spreads a joiner in a few
 * exchanges; the window passes on, over many exchanges, every peer a datagram has no room for: in a store of
 * hundreds only ≈ 40 fit, and with newest-first alone an early joiner was never mentioned again — two members
 * that had missed each other (one store full when the other joined) stayed apart.
 */
export const NEWEST_SHARE = 0.5;

export interface ExchangeResult {
  from: string;
  announcement: PeerAnnouncement;
}

/** Addresses a GOODBYE for this peer may come from: its endpoint host, mesh IPv4 and mesh IPv6. */
function peerAddresses(p: PeerRecord): Set<string> {
  const out = new Set<string>();
  const hp = splitHostPort(p.endpoint);
  const epIp = hp ? normalizeIp(hp.host) : undefined;
  if (epIp) out.add(epIp);
  for (const a of [p.mesh_ip, p.mesh_ipv6]) {
    const n = a ? normalizeIp(a) : undefined;
    if (n) out.add(n);
  }
  return out;
}

export class PeerExchange {
  readonly counters: DropCounters;
  readonly stats = { received: 0, accepted: 0, repliesSent: 0, duplicateHellos: 0, hellosSent: 0 };
  private socket: DatagramSocket | undefined;
  private v6 = false;
  private readonly pending = new Map<string, Set<(r: ExchangeResult) => void>>();
  /** Every exchange in flight, to end at once (resolving undefined) when we leave. */
  private readonly inflight = new Set<() => void>();
  /**
   * Where each peer's exchange datagrams really come from (UDP source of its last direct HELLO/REPLY):
   * behind NAT that is the mapping its own socket opened, which Go's "endpoint host + gossip_port"
   * convention misses when the NAT had to pick another port. Bounded; oldest entries go first.
   */
  private readonly controlSources = new Map<string, { ip: string; port: number }>();
  private readonly lastExchangeMs = new Map<string, number>();
  private readonly lastExchangeByIp = new Map<string, number>();
  /** Encoded known_peers entries by key (see `knownEntry`); entries go with their peer (`forgetPeer`). */
  private readonly knownCache = new Map<string, KnownEntry>();
  /** Where the moving window of our `known_peers` goes on: after this peer (see NEWEST_SHARE). */
  private ringAfter: string | undefined;
  /** Store changes seen (any event), to know when a sealed HELLO still says what a new one would. */
  private storeEpoch = 0;
  /**
   * The last sealed HELLO: reused for HELLOs that start at the same millisecond with the same store and
   * own fields (a keep-alive round HELLOs hundreds of peers at once, a DHT answer brings dozens of new
   * addresses): the datagram would be the same but for its random nonce. Each receiver still sees the
   * nonce once (replay caches are per receiver), as when a HELLO is re-sent.
   */
  private helloCache: { atMs: number; epoch: number; own: string; data: Buffer } | undefined;
  private readonly nowMs: () => number;
  private readonly limiter: SourceRateLimiter;
  private readonly replay: ReplayCache;
  private readonly log: LogFn;

  constructor(private readonly opts: ExchangeOptions) {
    this.nowMs = opts.nowMs ?? Date.now;
    this.counters = opts.counters ?? new DropCounters();
    this.limiter = opts.limiter ?? new SourceRateLimiter(10, 20, 4096, this.nowMs);
    this.replay = opts.replay ?? new ReplayCache();
    this.log = opts.log ?? (() => undefined);
    opts.store.onEvent((e) => {
      this.storeEpoch++;
      if (e.kind === "removed") this.forgetPeer(e.pubkey);
    });
  }

  /**
   * Bind the socket. Default: all addresses, dual stack ("::" with IPv4 mapped), falling back to
   * IPv4 only if the host has no IPv6. `host` binds one address (tests use 127.0.0.1).
   */
  async start(port: number, host?: string): Promise<number> {
    const create = this.opts.socketFactory ?? createUdpSocket;
    const attempt = (type: "udp4" | "udp6", addr: string): Promise<DatagramSocket> =>
      new Promise((resolve, reject) => {
        const s = create(type);
        const onErr = (e: Error): void => {
          s.close();
          reject(e);
        };
        s.once("error", onErr);
        s.bind(port, addr, () => {
          s.off("error", onErr);
          resolve(s);
        });
      });
    let s: DatagramSocket;
    if (host !== undefined) {
      this.v6 = host.includes(":");
      s = await attempt(this.v6 ? "udp6" : "udp4", host);
    } else {
      try {
        s = await attempt("udp6", "::");
        this.v6 = true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL") throw e;
        s = await attempt("udp4", "0.0.0.0");
        this.v6 = false;
      }
    }
    s.on("message", (msg, rinfo) => this.handleDatagram(msg, rinfo.address, rinfo.port));
    s.on("error", (e) => this.log("warn", `[Exchange] socket error: ${e.message}`));
    this.socket = s;
    return s.address().port;
  }

  get port(): number | undefined {
    return this.socket ? this.socket.address().port : undefined;
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    for (const cancel of [...this.inflight]) cancel();
    for (const set of this.pending.values()) set.clear();
    this.pending.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /**
   * Leave the mesh: a GOODBYE for our key to each ip:port (every peer's control endpoint) as the socket's
   * LAST datagrams, then the socket closed. Exchanges in flight end first (no HELLO resend after the
   * GOODBYE) and nothing received after it is answered — a HELLO resend or a REPLY that reached a peer after
   * our GOODBYE would add us back there as a direct contact, active for 5 more minutes (seen on a loaded
   * testbed host, where stopping the other layers took seconds while the socket still answered). Resolves
   * when the datagrams have left (or failed) and the socket is closed.
   */
  async leave(targets: readonly { ip: string; port: number }[]): Promise<void> {
    const s = this.socket;
    if (!s) return;
    this.socket = undefined; // from here: no HELLO, no REPLY (send() needs the socket), exchange() resolves undefined at once
    for (const cancel of [...this.inflight]) cancel();
    this.pending.clear();
    const sends: Promise<void>[] = [];
    let data: Buffer | undefined;
    for (const t of targets) {
      const ip = normalizeIp(t.ip);
      if (!ip) continue;
      data ??= sealEnvelope("GOODBYE", encodeGoodbye({ protocol: PROTOCOL_VERSION, timestamp: this.nowS(), wg_pubkey: this.opts.local().pubkey }), this.opts.gossipKey);
      const d = data;
      sends.push(new Promise((r) => this.sendOn(s, d, ip, t.port, r)));
    }
    await Promise.all(sends);
    await new Promise<void>((r) => s.close(() => r()));
  }

  private nowS(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  private drop(from: string, reason: DropReason, detail: string, n = 1): void {
    this.counters.inc(reason, n);
    this.log("debug", `[Exchange] dropped packet from ${from}: ${reason} (${detail})`);
    this.emit({ kind: "drop", from, reason, detail });
  }

  private emit(e: ExchangeEvent): void {
    if (!this.opts.onEvent) return;
    try {
      this.opts.onEvent(e);
    } catch {
      // listener bugs stay out of the receive path
    }
  }

  /** A peer's `known_peers` element, encoded once and reused while its announced fields stay the same. */
  private knownEntry(p: Readonly<PeerRecord>): KnownEntry {
    const hit = this.knownCache.get(p.wg_pubkey);
    if (
      hit && hit.from.hostname === p.hostname && hit.from.mesh_ip === p.mesh_ip && hit.from.mesh_ipv6 === p.mesh_ipv6 &&
      hit.from.endpoint === p.endpoint && hit.from.introducer === p.introducer && hit.from.nat_type === p.nat_type
    ) return hit;
    const peer: KnownPeer = { wg_pubkey: p.wg_pubkey, mesh_ip: p.mesh_ip, wg_endpoint: p.endpoint };
    if (p.hostname) peer.hostname = p.hostname;
    if (p.mesh_ipv6) peer.mesh_ipv6 = p.mesh_ipv6;
    if (p.introducer) peer.introducer = true;
    if (p.nat_type) peer.nat_type = p.nat_type;
    const text = encodeKnownPeer(peer);
    const from = { hostname: p.hostname, mesh_ip: p.mesh_ip, mesh_ipv6: p.mesh_ipv6, endpoint: p.endpoint, introducer: p.introducer, nat_type: p.nat_type };
    const e: KnownEntry = { from, peer, text, bytes: Buffer.byteLength(text) };
    this.knownCache.set(p.wg_pubkey, e);
    return e;
  }

  /**
   * Our announcement without known_peers, plus the active peers whose entries fit after it
   * (`LIMITS.sendBudgetBytes`: 8 IPv4 fragments, weakness 12): the newest first, up to NEWEST_SHARE of the
   * budget — what the receiver is least likely to know yet: joins spread in a few exchanges even when a
   * datagram carries only ≈ 40 of hundreds of peers — then a window that moves round the store from
   * `ringAfter`; `advance` (a datagram that is sent) moves it on. Each entry encoded once per change of the peer.
   * Only peers we heard from directly, or first heard of second-hand within the last minute, are passed on
   * (store.ts `announceable`; Go passes on every active peer): a second-hand entry passed on for 5 min re-adds
   * departed members wherever they were not held yet.
   */
  private announcementParts(extra: { observed_endpoint?: string }, advance = false): { a: PeerAnnouncement; known: KnownPeer[]; texts: string[] } {
    const a = this.ownAnnouncement(extra);
    const known: KnownPeer[] = [];
    const texts: string[] = [];
    let size = Buffer.byteLength(encodeAnnouncement(a)) + KNOWN_PEERS_MEMBER_BYTES;
    const newestBudget = size + Math.floor((LIMITS.sendBudgetBytes - size) * NEWEST_SHARE);
    const fits = (e: KnownEntry, budget: number): boolean => size + e.bytes + (texts.length ? 1 : 0) <= budget && texts.length < LIMITS.knownPeers;
    const take = (e: KnownEntry): void => {
      size += e.bytes + (texts.length ? 1 : 0);
      known.push(e.peer);
      texts.push(e.text);
    };
    let all = true;
    const taken = new Set<string>();
    for (const p of this.opts.store.announceable()) {
      if (p.wg_pubkey === a.wg_pubkey) continue;
      const e = this.knownEntry(p);
      if (!fits(e, newestBudget)) {
        all = false;
        break;
      }
      take(e);
      taken.add(p.wg_pubkey);
    }
    if (all) return { a, known, texts };
    let last: string | undefined;
    for (const p of this.opts.store.announceableRing(this.ringAfter)) {
      if (p.wg_pubkey === a.wg_pubkey || taken.has(p.wg_pubkey)) continue;
      const e = this.knownEntry(p);
      if (!fits(e, LIMITS.sendBudgetBytes)) break;
      take(e);
      last = p.wg_pubkey;
    }
    if (advance && last !== undefined) this.ringAfter = last;
    return { a, known, texts };
  }

  /** Build our announcement (with known_peers, cut to fit one datagram). */
  buildAnnouncement(extra: { observed_endpoint?: string } = {}): PeerAnnouncement {
    const { a, known } = this.announcementParts(extra);
    if (known.length) a.known_peers = known.map((k) => ({ ...k }));
    return a;
  }

  /**
   * `encodeAnnouncement(buildAnnouncement(extra))`, from the cached entries; with `advance` (for a datagram
   * that is sent) the moving window of `known_peers` goes on past the entries it carried.
   */
  announcementText(extra: { observed_endpoint?: string } = {}, advance = false): string {
    const { a, texts } = this.announcementParts(extra, advance);
    return encodeAnnouncement(a, texts);
  }

  private ownAnnouncement(extra: { observed_endpoint?: string }): PeerAnnouncement {
    const l = this.opts.local();
    const a: PeerAnnouncement = {
      protocol: PROTOCOL_VERSION,
      wg_pubkey: l.pubkey,
      mesh_ip: l.meshIp,
      wg_endpoint: l.wgEndpoint,
      timestamp: this.nowS(),
    };
    if (l.hostname) a.hostname = l.hostname;
    if (l.meshIpv6) a.mesh_ipv6 = l.meshIpv6;
    if (l.introducer) a.introducer = true;
    if (l.routableNetworks && l.routableNetworks.length) a.routable_networks = [...l.routableNetworks];
    if (extra.observed_endpoint) a.observed_endpoint = extra.observed_endpoint;
    if (l.natType) a.nat_type = l.natType;
    return a;
  }

  private send(data: Buffer, ip: string, port: number): void {
    const s = this.socket;
    if (s) this.sendOn(s, data, ip, port);
  }

  /** One datagram on socket `s`; `done` when it has left (or failed, logged). */
  private sendOn(s: DatagramSocket, data: Buffer, ip: string, port: number, done?: () => void): void {
    const target = this.v6 && !ip.includes(":") ? `::ffff:${ip}` : ip;
    s.send(data, port, target, (err) => {
      if (err) this.log("warn", `[Exchange] send to ${joinHostPort(ip, port)} failed: ${err.message}`);
      done?.();
    });
  }

  private sendReply(ip: string, port: number): void {
    const reply = this.announcementText({ observed_endpoint: joinHostPort(ip, port) }, true);
    this.send(sealEnvelope("REPLY", reply, this.opts.gossipKey), ip, port);
    this.stats.repliesSent++;
  }

  /** Process one datagram. Public so tests and fuzzers can drive it without a socket. Never throws. */
  handleDatagram(msg: Buffer, address: string, port: number): void {
    const ip = normalizeIp(address) ?? address;
    const from = joinHostPort(ip, port);
    try {
      this.stats.received++;
      if (!this.limiter.allow(ip)) return this.drop(from, "rate-limited", "token bucket empty");
      const nowS = this.nowS();
      const opened = openEnvelope(msg, this.opts.gossipKey, nowS);
      if (!opened.ok) return this.drop(from, opened.reason, opened.detail);
      const verdict = this.replay.check(opened.nonce, opened.timestamp, nowS, opened.type === "HELLO" ? from : undefined);
      if (verdict === "replay") return this.drop(from, "replay", "nonce seen before");
      if (verdict === "duplicate") {
        if (opened.type === "HELLO" && this.socket) {
          this.stats.duplicateHellos++;
          const own = opened.payload["wg_pubkey"] === this.opts.local().pubkey;
          if (!own) this.sendReply(ip, port);
          return;
        }
        return this.drop(from, "replay", "duplicate nonce");
      }
      this.stats.accepted++;
      this.dispatch(opened.type, opened.payload, ip, port, from, nowS);
    } catch (e) {
      this.drop(from, "internal-error", e instanceof Error ? e.message : String(e));
    }
  }

  private countDiscarded(list: string[], from: string): void {
    for (const why of list) this.drop(from, "invalid-entry", why);
  }

  private upsertKnown(list: KnownPeer[] | undefined, method: string, ownKey: string, from: string): void {
    // refusals are counted one by one but reported once per message: at the store maximum a single
    // datagram can mention hundreds of peers that do not fit
    let full = 0, departed = 0, firstFull = "", firstDeparted = "";
    let refused: PeerUpdate[] | undefined;
    for (const k of list ?? []) {
      if (k.wg_pubkey === ownKey) continue;
      const u: PeerUpdate = { wg_pubkey: k.wg_pubkey, mesh_ip: k.mesh_ip, endpoint: knownPeerEndpoint(k.wg_endpoint), introducer: k.introducer ?? false };
      if (k.hostname) u.hostname = k.hostname;
      if (k.mesh_ipv6) u.mesh_ipv6 = k.mesh_ipv6;
      if (k.nat_type) u.nat_type = k.nat_type;
      const r = this.opts.store.upsert(u, method);
      if (r === "full") {
        if (full++ === 0) firstFull = k.wg_pubkey;
        if (this.opts.onRefused && u.endpoint) (refused ??= []).push(u);
      } else if (r === "departed") {
        if (departed++ === 0) firstDeparted = k.wg_pubkey;
      }
    }
    if (full) this.drop(from, "store-full", `peer store holds its maximum; ${full === 1 ? firstFull : `${full} known peers (${firstFull}, …)`} not added`, full);
    if (refused && this.opts.onRefused) {
      try {
        this.opts.onRefused(refused);
      } catch {
        // a listener's bug stays out of the receive path
      }
    }
    if (departed) this.drop(from, "departed-peer", `${departed === 1 ? firstDeparted : `${departed} known peers (${firstDeparted}, …)`} left recently (GOODBYE, expiry or displaced); not added again second-hand`, departed);
  }

  private upsertSender(a: PeerAnnouncement, ip: string, method: string, from: string): boolean {
    let endpoint = resolvePeerEndpoint(a.wg_endpoint, ip);
    if (this.opts.isTunnelSource?.(ip)) {
      const hp = splitHostPort(endpoint);
      if (hp && normalizeIp(hp.host) === ip) endpoint = ""; // never an endpoint inside the tunnel
    }
    const r = this.opts.store.upsert(senderUpdate(a, endpoint), method);
    if (r === "full") {
      this.drop(from, "store-full", `peer store holds its maximum; ${a.wg_pubkey} not added`);
      return false;
    }
    return true;
  }

  private noteControlSource(pubkey: string, ip: string, port: number): void {
    if (this.opts.isTunnelSource?.(ip)) return;
    this.controlSources.delete(pubkey);
    this.controlSources.set(pubkey, { ip, port });
    this.lastExchangeMs.set(pubkey, this.nowMs());
    this.lastExchangeByIp.delete(ip);
    this.lastExchangeByIp.set(ip, this.nowMs());
    if (this.lastExchangeByIp.size > MAX_CONTROL_SOURCES) this.lastExchangeByIp.delete(this.lastExchangeByIp.keys().next().value as string);
    if (this.controlSources.size > MAX_CONTROL_SOURCES) {
      const oldest = this.controlSources.keys().next().value;
      if (oldest !== undefined) {
        this.controlSources.delete(oldest);
        this.lastExchangeMs.delete(oldest);
      }
    }
  }

  /** The UDP source a peer's last direct HELLO/REPLY came from, if any (see `controlSources`). */
  observedControl(pubkey: string): { ip: string; port: number } | undefined {
    return this.controlSources.get(pubkey);
  }

  /**
   * When the peer's last direct HELLO or REPLY reached us (ms), if any. Either proves both sides heard
   * each other: a HELLO from it is answered with our REPLY, a REPLY from it answers our HELLO.
   */
  lastExchange(pubkey: string): number | undefined {
    return this.lastExchangeMs.get(pubkey);
  }

  /** When a direct HELLO or REPLY last came from this IP (ms), if any. */
  lastExchangeFrom(ip: string): number | undefined {
    return this.lastExchangeByIp.get(ip);
  }

  /** Forget what we keep about a peer that left or expired (observed source, encoded entry). */
  forgetPeer(pubkey: string): void {
    // Its address's freshness goes too: a member that left and restarts there (a new process, maybe a new
    // key) must be greeted when its DHT value turns up, not ignored as "exchanged recently" until the
    // freshness runs out — no keep-alive round reaches a peer we forgot.
    const src = this.controlSources.get(pubkey);
    if (src) this.lastExchangeByIp.delete(src.ip);
    this.controlSources.delete(pubkey);
    this.lastExchangeMs.delete(pubkey);
    this.knownCache.delete(pubkey);
  }

  private dispatch(type: string, payload: Record<string, unknown>, ip: string, port: number, from: string, nowS: number): void {
    const ownKey = this.opts.local().pubkey;
    switch (type) {
      case "HELLO": {
        if (payload["wg_pubkey"] === ownKey) return this.drop(from, "own-message", "HELLO carries our own key");
        const d = decodeAnnouncement(payload);
        let stored = false;
        if (!d.ok) {
          this.drop(from, "invalid-field", `HELLO ${d.message} (answered, not stored)`);
        } else {
          this.countDiscarded(d.discarded, from);
          stored = this.upsertSender(d.value, ip, "dht", from);
          if (stored) this.noteControlSource(d.value.wg_pubkey, ip, port);
          this.upsertKnown(d.value.known_peers, "dht-transitive", ownKey, from);
        }
        this.sendReply(ip, port);
        this.emit({ kind: "hello", from, pubkey: typeof payload["wg_pubkey"] === "string" ? payload["wg_pubkey"] : "", stored, replied: true });
        return;
      }
      case "REPLY": {
        const d = decodeAnnouncement(payload);
        if (!d.ok) return this.drop(from, "invalid-field", `REPLY ${d.message}`);
        this.countDiscarded(d.discarded, from);
        const a = d.value;
        if (a.wg_pubkey === ownKey) return this.drop(from, "own-message", "REPLY carries our own key");
        if (this.upsertSender(a, ip, "dht", from)) this.noteControlSource(a.wg_pubkey, ip, port);
        this.upsertKnown(a.known_peers, "dht-transitive", ownKey, from);
        const waiters = this.pending.get(from);
        const solicited = waiters !== undefined && waiters.size > 0;
        // reflection is trusted only from a REPLY to our own HELLO (Go takes it from any REPLY)
        if (solicited && a.observed_endpoint && this.opts.onObservedEndpoint) {
          const obsIp = a.observed_endpoint.startsWith("[") ? a.observed_endpoint.slice(1, a.observed_endpoint.indexOf("]")) : a.observed_endpoint.slice(0, a.observed_endpoint.lastIndexOf(":"));
          if (isPublicIp(obsIp)) this.opts.onObservedEndpoint(normalizeIp(obsIp) as string);
        }
        if (solicited) for (const w of [...waiters]) w({ from, announcement: a });
        else this.counters.inc("unsolicited-reply");
        this.emit({ kind: "reply", from, pubkey: a.wg_pubkey, solicited });
        return;
      }
      case "ANNOUNCE": {
        if (!this.opts.gossip) return this.drop(from, "gossip-disabled", "ANNOUNCE while gossip is off");
        const d = decodeAnnouncement(payload);
        if (!d.ok) return this.drop(from, "invalid-field", `ANNOUNCE ${d.message}`);
        if (d.value.wg_pubkey === ownKey) return this.drop(from, "own-message", "ANNOUNCE carries our own key");
        this.countDiscarded(d.discarded, from);
        this.upsertSender(d.value, ip, "gossip", from);
        this.upsertKnown(d.value.known_peers, "gossip-transitive", ownKey, from);
        this.emit({ kind: "announce", from, pubkey: d.value.wg_pubkey });
        return;
      }
      case "GOODBYE": {
        const d = decodeGoodbye(payload);
        if (!d.ok) return this.drop(from, d.message.endsWith("not part of a GOODBYE") ? "type-mismatch" : "invalid-field", `GOODBYE ${d.message}`);
        if (Math.abs(nowS - d.value.timestamp) > GOODBYE_WINDOW_S) return this.drop(from, "goodbye-window", "GOODBYE older or newer than 60 s");
        if (d.value.wg_pubkey === ownKey) return this.drop(from, "own-message", "GOODBYE carries our own key");
        const known = this.opts.store.get(d.value.wg_pubkey);
        if (known && !peerAddresses(known).has(ip)) {
          return this.drop(from, "goodbye-unverified", "GOODBYE from an address the peer is not known at");
        }
        const removed = this.opts.store.remove(d.value.wg_pubkey, "goodbye");
        this.emit({ kind: "goodbye", from, pubkey: d.value.wg_pubkey, removed });
        return;
      }
      case "RENDEZVOUS_OFFER": {
        const d = decodeRendezvousOffer(payload);
        if (!d.ok) return this.drop(from, "invalid-field", `RENDEZVOUS_OFFER ${d.message}`);
        this.counters.inc("unhandled");
        this.emit({ kind: "rendezvous-offer", from, offer: d.value });
        return;
      }
      case "RENDEZVOUS_START": {
        const d = decodeRendezvousStart(payload);
        if (!d.ok) return this.drop(from, "invalid-field", `RENDEZVOUS_START ${d.message}`);
        this.counters.inc("unhandled");
        this.emit({ kind: "rendezvous-start", from, start: d.value });
        return;
      }
      default:
        return this.drop(from, "unknown-type", `unknown message type ${JSON.stringify(type).slice(0, 40)}`);
    }
  }

  /**
   * HELLO exchange with ip:port: the same datagram again after `intervalMs`, each next gap doubled up to
   * `maxIntervalMs`, until a REPLY arrives from exactly that address, or `timeoutMs` passes (resolves
   * undefined).
   */
  exchange(host: string, port: number, opts: { timeoutMs?: number; intervalMs?: number; maxIntervalMs?: number } = {}): Promise<ExchangeResult | undefined> {
    const ip = normalizeIp(host);
    if (!ip || !this.socket) return Promise.resolve(undefined);
    const key = joinHostPort(ip, port);
    const data = this.helloDatagram();
    return new Promise((resolve) => {
      let set = this.pending.get(key);
      if (!set) this.pending.set(key, (set = new Set()));
      const waiters = set;
      let gap = opts.intervalMs ?? HELLO_INTERVAL_MS;
      const maxGap = Math.max(gap, opts.maxIntervalMs ?? HELLO_MAX_INTERVAL_MS);
      let tick: ReturnType<typeof setTimeout> | undefined;
      const finish = (r: ExchangeResult | undefined): void => {
        clearTimeout(tick);
        clearTimeout(timer);
        this.inflight.delete(cancel);
        waiters.delete(onReply);
        if (waiters.size === 0 && this.pending.get(key) === waiters) this.pending.delete(key);
        resolve(r);
      };
      const onReply = (r: ExchangeResult): void => finish(r);
      const cancel = (): void => finish(undefined);
      waiters.add(onReply);
      this.inflight.add(cancel);
      const sendOnce = (): void => {
        this.stats.hellosSent++;
        this.send(data, ip, port);
        tick = setTimeout(sendOnce, gap);
        gap = Math.min(gap * 2, maxGap);
      };
      const timer = setTimeout(() => finish(undefined), opts.timeoutMs ?? HELLO_TIMEOUT_MS);
      sendOnce();
    });
  }

  /** A sealed HELLO with our announcement now (see `helloCache`). */
  private helloDatagram(): Buffer {
    const now = this.nowMs();
    const own = encodeAnnouncement(this.ownAnnouncement({}));
    const c = this.helloCache;
    if (c && c.atMs === now && c.epoch === this.storeEpoch && c.own === own) return c.data;
    const data = sealEnvelope("HELLO", this.announcementText({}, true), this.opts.gossipKey);
    this.helloCache = { atMs: now, epoch: this.storeEpoch, own, data };
    return data;
  }

  /** Send a gossip ANNOUNCE (with known_peers) to ip:port. */
  sendAnnounce(host: string, port: number): void {
    const ip = normalizeIp(host);
    if (!ip) return;
    this.send(sealEnvelope("ANNOUNCE", this.announcementText({}, true), this.opts.gossipKey), ip, port);
  }
}
