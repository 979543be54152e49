/**
 * The peer store (§5.6) and endpoint resolution (§2.6). Pure, with an injectable clock (ms).
 * Deviation from Go (weakness 26): a *direct* announcement from the peer itself (any method without
 * "transitive" and other than "cache") replaces routable_networks even when empty, so withdrawn routes
 * are withdrawn at the next direct contact. Known peers carry no routes and never clear them.
 *
 * More deviations, found with the 1,000-member churn simulation (bench/sim), all local policy with the same
 * wire format:
 *  - A store at its maximum gives the slot of its longest-dead record (left out of every list already) to a
 *    new peer that contacted us itself, instead of refusing it until that record's 10-min removal (Go). A
 *    mesh near the maximum with members crashing refused its joiners for 10 min. A second-hand mention
 *    waits for room: the slots that freed up went to departed members passed on by newer stores. (The
 *    daemon HELLOs a refused mention while a direct contact would be stored: `admitsDirect`, greet.ts.)
 *  - A *rumour* — a peer we have only heard of second-hand, never from itself — is active for
 *    RUMOUR_ACTIVE_MS after we added it, not PEER_DEAD_MS (Go: 5 min, like a peer heard directly).
 *  - A peer removed by its GOODBYE is not added again from another member's `known_peers` (second-hand) for
 *    DEPARTED_MS; only direct contact from it brings it back. In Go a mention by a member that missed the
 *    GOODBYE re-adds it with last_seen = now, and it is passed on and configured for another 5 min.
 *  - A peer silent for 10 min (expired) is not added again second-hand for another 10 min either.
 *  - What we pass on (`announceable`): peers heard from directly, and second-hand ones only in their first
 *    minute with us (Go: every active peer, for as long as it is active); walked newest first, and as a
 *    ring (`announceableRing`) for the window of `known_peers` that moves round the store (exchange.ts).
 */
import { memoize } from "./memo";
import { isIP, isIPv6, joinHostPort, splitHostPort, type PeerAnnouncement } from "./messages";

export const PEER_DEAD_MS = 5 * 60_000;
export const PEER_REMOVE_MS = 10 * 60_000;
export const MAX_PEERS = 1000;
/** How long a GOODBYE keeps the departed peer from being added again second-hand (its 10-min removal time). */
export const DEPARTED_MS = PEER_REMOVE_MS;
/** A peer first heard of second-hand is passed on for this long after we added it (then only once heard directly). */
export const PASS_ON_SECOND_HAND_MS = 60_000;
/**
 * A peer we have only heard of second-hand (every method "transitive") and never from itself is active for
 * this long after we added it, not PEER_DEAD_MS: long enough for two keep-alive rounds of ours (every 45 s)
 * and the peer's own round (it HELLOs us when it has had no exchange with us for 100 s: ≤ 145 s), either of
 * which makes a live peer first-hand.
 */
export const RUMOUR_ACTIVE_MS = 150_000;

export interface PeerUpdate {
  wg_pubkey: string;
  hostname?: string;
  mesh_ip?: string;
  mesh_ipv6?: string;
  endpoint?: string;
  introducer?: boolean;
  routable_networks?: string[];
  nat_type?: string;
  /** Only honoured for method "cache" (restored last_seen). */
  last_seen_ms?: number;
}

/** The store update for the sender of an announcement (HELLO/REPLY/ANNOUNCE), reached at `endpoint`. */
export function senderUpdate(a: PeerAnnouncement, endpoint: string): PeerUpdate {
  return {
    wg_pubkey: a.wg_pubkey,
    mesh_ip: a.mesh_ip,
    endpoint,
    introducer: a.introducer ?? false,
    routable_networks: a.routable_networks ?? [],
    ...(a.hostname ? { hostname: a.hostname } : {}),
    ...(a.mesh_ipv6 ? { mesh_ipv6: a.mesh_ipv6 } : {}),
    ...(a.nat_type ? { nat_type: a.nat_type } : {}),
  };
}

export interface PeerRecord {
  wg_pubkey: string;
  hostname: string;
  mesh_ip: string;
  mesh_ipv6: string;
  endpoint: string;
  endpoint_method: string;
  introducer: boolean;
  routable_networks: string[];
  nat_type: string;
  last_seen_ms: number;
  discovered_via: string[];
  latency_ms?: number;
}

/** "departed": a second-hand mention of a peer that left by GOODBYE, expiry or displacement, too recently (not added). */
export type UpsertResult = "new" | "updated" | "full" | "departed";

export type StoreEvent =
  | { kind: "new" | "updated"; peer: PeerRecord; method: string }
  /** "displaced": a dead record whose slot a new peer took while the store was at its maximum. */
  | { kind: "removed"; pubkey: string; reason: "goodbye" | "expired" | "evicted" | "displaced" };

/** Endpoint rank by discovery method (§5.6). */
export function endpointMethodRank(method: string): number {
  if (method === "") return 0;
  if (method === "lan") return 100;
  if (method.includes("dht-rendezvous")) return 90;
  if (method === "dht") return 70;
  if (method.includes("dht-transitive")) return 40;
  if (method.startsWith("gossip")) return method.includes("transitive") ? 35 : 65;
  if (method === "cache") return 20;
  return 30;
}

export function refreshesLastSeen(method: string): boolean {
  return method !== "cache" && !method.includes("transitive");
}

/**
 * Whether we have heard from the peer itself (some method that refreshes last_seen), not only about it from
 * others or our cache. Such peers are passed on in our `known_peers` while active; a second-hand one only in
 * its first minute with us (`announceable`): passed on for 5 min, a member that crashed or left kept being
 * re-added second-hand — each re-add with last_seen = now, passed on again — by whichever store did not hold
 * it yet (a joiner, a store that was full), long after everyone who heard it directly had let it die.
 * Second-hand entries are still active (configured, listed) for RUMOUR_ACTIVE_MS, and the keep-alive round
 * HELLOs them within 45 s, which makes a live one first-hand.
 */
export function heardDirectly(p: Readonly<PeerRecord>): boolean {
  for (const m of p.discovered_via) if (refreshesLastSeen(m)) return true;
  return false;
}

function endpointIsV6(ep: string): boolean {
  if (!ep.startsWith("[")) return false; // splitHostPort gives an IPv6 host only in brackets
  const hp = splitHostPort(ep);
  return hp !== undefined && isIPv6(hp.host);
}

/** Whether an endpoint learned via `method` replaces the current one. */
export function shouldReplaceEndpoint(cur: PeerRecord, newEndpoint: string, method: string): boolean {
  if (cur.endpoint === "") return true;
  const nr = endpointMethodRank(method);
  const or = endpointMethodRank(cur.endpoint_method);
  if (nr > or) return true;
  if (nr < or) return false;
  if (or === 100) return method === "lan";
  const oldV6 = endpointIsV6(cur.endpoint);
  const newV6 = endpointIsV6(newEndpoint);
  if (oldV6 && !newV6) return false; // IPv6 beats IPv4 at equal rank
  return true; // otherwise the newer endpoint wins
}

/** A stored record and its neighbours in insertion order (newest-first walks need no copy of the store). */
interface Slot {
  rec: PeerRecord;
  older: Slot | undefined;
  newer: Slot | undefined;
  /** When the record was added (ms). */
  addedMs: number;
  /** Heard of only second-hand so far (added by a transitive mention, no direct contact since). */
  rumour: boolean;
}

function copyRecord(p: Readonly<PeerRecord>): PeerRecord {
  return { ...p, discovered_via: [...p.discovered_via], routable_networks: [...p.routable_networks] };
}

/** When a stored record stops being active: PEER_DEAD_MS after direct contact, RUMOUR_ACTIVE_MS for a rumour. */
function deadAtMs(s: Slot): number {
  return s.rec.last_seen_ms + (s.rumour ? RUMOUR_ACTIVE_MS : PEER_DEAD_MS);
}

/** Whether a record is passed on in `known_peers` (`announceable`): active, and first-hand or a rumour in its first minute. */
function passedOn(s: Slot, now: number): boolean {
  if (now >= deadAtMs(s)) return false;
  const r = s.rec;
  return heardDirectly(r) || (now - s.addedMs < PASS_ON_SECOND_HAND_MS && (r.discovered_via[0] ?? "").includes("transitive"));
}

export class PeerStore {
  /** Records by key; the Map's order is insertion order, the same as the slots' list. */
  private readonly peers = new Map<string, Slot>();
  private newest: Slot | undefined;
  private readonly listeners: ((e: StoreEvent) => void)[] = [];
  /**
   * Keys that left the store by their GOODBYE, by expiry or by giving their slot up, and until when a
   * second-hand mention may not add them again (bounded: the oldest are forgotten first).
   */
  private readonly goneUntil = new Map<string, number>();
  /**
   * No record can be dead before this time (the oldest last_seen at the last look + 5 min): a full store
   * looks for a dead record to displace only from then on, so refusing at the maximum costs no scan.
   * last_seen values only grow, except for records restored from the cache, which reset it.
   */
  private noDeadBeforeMs = 0;
  /**
   * The record that died first, as the last scan found it (`oldestDead`): still the one while it is held and
   * dead — last_seen values only grow, and an insert that could die earlier (a cache restore) drops the hint.
   * A store at its maximum asks on every refused mention (`admitsDirect`); one scan per displacement, not per ask.
   */
  private deadHint: Slot | undefined;

  constructor(private readonly nowMs: () => number = Date.now, private readonly maxPeers = MAX_PEERS) {}

  onEvent(l: (e: StoreEvent) => void): void {
    this.listeners.push(l);
  }

  private emit(e: StoreEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's bug must not break the store
      }
    }
  }

  private insert(rec: PeerRecord, now: number, method: string): Slot {
    const slot: Slot = { rec, older: this.newest, newer: undefined, addedMs: now, rumour: method.includes("transitive") };
    if (this.newest) this.newest.newer = slot;
    this.newest = slot;
    this.peers.set(rec.wg_pubkey, slot);
    return slot;
  }

  private delete(pubkey: string): boolean {
    const slot = this.peers.get(pubkey);
    if (!slot) return false;
    if (slot.older) slot.older.newer = slot.newer;
    if (slot.newer) slot.newer.older = slot.older;
    else this.newest = slot.older;
    this.peers.delete(pubkey);
    return true;
  }

  upsert(u: PeerUpdate, method: string): UpsertResult {
    const now = this.nowMs();
    const curSlot = this.peers.get(u.wg_pubkey);
    const cur = curSlot?.rec;
    if (!curSlot || !cur) {
      if (this.goneUntil.size > 0) {
        const until = this.goneUntil.get(u.wg_pubkey);
        if (until !== undefined) {
          if (!refreshesLastSeen(method) && now < until) return "departed";
          this.goneUntil.delete(u.wg_pubkey); // it is back (direct contact), or long enough gone
        }
      }
      // At the maximum, only a peer that contacted us itself may take a dead record's slot: a rumour (a
      // second-hand mention) waits for room. Else every slot that frees up at the maximum goes to whatever
      // is mentioned next — at the end of churn, mostly departed members passed on by newer stores.
      if (this.peers.size >= this.maxPeers && !(refreshesLastSeen(method) && this.displaceDead(now))) return "full";
      const rec: PeerRecord = {
        wg_pubkey: u.wg_pubkey,
        hostname: u.hostname ?? "",
        mesh_ip: u.mesh_ip ?? "",
        mesh_ipv6: u.mesh_ipv6 ?? "",
        endpoint: u.endpoint ?? "",
        endpoint_method: u.endpoint ? method : "",
        introducer: u.introducer ?? false,
        routable_networks: [...(u.routable_networks ?? [])],
        nat_type: u.nat_type ?? "",
        last_seen_ms: method === "cache" && u.last_seen_ms !== undefined ? u.last_seen_ms : now,
        discovered_via: [method],
      };
      const slot = this.insert(rec, now, method);
      this.noDeadBeforeMs = Math.min(this.noDeadBeforeMs, deadAtMs(slot));
      if (this.deadHint && deadAtMs(slot) < deadAtMs(this.deadHint)) this.deadHint = undefined;
      this.emit({ kind: "new", peer: { ...rec }, method });
      return "new";
    }
    // Only a real change is an event: a transitive mention of a peer we hold as it is (hundreds per
    // announcement in a large mesh) changes nothing, and costs no copy.
    let changed = false;
    if (u.endpoint && (cur.endpoint !== u.endpoint || cur.endpoint_method !== method) && shouldReplaceEndpoint(cur, u.endpoint, method)) {
      cur.endpoint = u.endpoint;
      cur.endpoint_method = method;
      changed = true;
    }
    if (u.mesh_ip && cur.mesh_ip !== u.mesh_ip) {
      cur.mesh_ip = u.mesh_ip;
      changed = true;
    }
    if (u.mesh_ipv6 && cur.mesh_ipv6 !== u.mesh_ipv6) {
      cur.mesh_ipv6 = u.mesh_ipv6;
      changed = true;
    }
    if (u.hostname && cur.hostname !== u.hostname) {
      cur.hostname = u.hostname;
      changed = true;
    }
    if (u.nat_type && cur.nat_type !== u.nat_type) {
      cur.nat_type = u.nat_type;
      changed = true;
    }
    const introducer = u.introducer ?? false;
    if (cur.introducer !== introducer) {
      cur.introducer = introducer;
      changed = true;
    }
    const direct = refreshesLastSeen(method);
    const routes = u.routable_networks && u.routable_networks.length ? u.routable_networks : direct && u.routable_networks !== undefined ? [] : undefined;
    if (routes && (routes.length > 0 || cur.routable_networks.length > 0) && routes.join(",") !== cur.routable_networks.join(",")) {
      cur.routable_networks = [...routes];
      changed = true;
    }
    if (direct) {
      cur.last_seen_ms = now;
      curSlot.rumour = false;
      changed = true;
    }
    if (!cur.discovered_via.includes(method)) {
      cur.discovered_via.push(method);
      changed = true;
    }
    if (changed) this.emit({ kind: "updated", peer: { ...cur }, method });
    return "updated";
  }

  get(pubkey: string): PeerRecord | undefined {
    const p = this.peers.get(pubkey)?.rec;
    return p ? copyRecord(p) : undefined;
  }

  remove(pubkey: string, reason: "goodbye" | "evicted" = "goodbye"): boolean {
    const had = this.delete(pubkey);
    if (had && reason === "goodbye") this.markGone(pubkey, this.nowMs() + DEPARTED_MS);
    if (had) this.emit({ kind: "removed", pubkey, reason });
    return had;
  }

  /**
   * At the maximum: remove the record that died first (`deadAtMs`: 5 min without direct contact, a rumour
   * 150 s after it was added) if it is dead, so that a new peer can have its slot. False when none is dead.
   */
  private displaceDead(now: number): boolean {
    const oldest = this.oldestDead(now);
    if (!oldest) return false;
    const rec = oldest.rec;
    this.delete(rec.wg_pubkey);
    this.deadHint = undefined;
    // As a dead record would have: no second-hand mention brings it back before its removal time.
    this.markGone(rec.wg_pubkey, rec.last_seen_ms + PEER_REMOVE_MS);
    this.emit({ kind: "removed", pubkey: rec.wg_pubkey, reason: "displaced" });
    return true;
  }

  /** The record that died first (`deadAtMs`), if any is dead now; a scan only when the hint no longer holds. */
  private oldestDead(now: number): Slot | undefined {
    if (now < this.noDeadBeforeMs) return undefined;
    const h = this.deadHint;
    if (h && this.peers.get(h.rec.wg_pubkey) === h && now >= deadAtMs(h)) return h;
    let oldest: Slot | undefined;
    let oldestDeadAt = Infinity;
    for (const slot of this.peers.values()) {
      const at = deadAtMs(slot);
      if (at < oldestDeadAt) {
        oldest = slot;
        oldestDeadAt = at;
      }
    }
    if (!oldest || now < oldestDeadAt) {
      this.deadHint = undefined;
      this.noDeadBeforeMs = oldestDeadAt;
      return undefined;
    }
    this.deadHint = oldest;
    return oldest;
  }

  private markGone(pubkey: string, until: number): void {
    this.goneUntil.delete(pubkey);
    this.goneUntil.set(pubkey, until);
    if (this.goneUntil.size > this.maxPeers) this.goneUntil.delete(this.goneUntil.keys().next().value as string);
  }

  setLatency(pubkey: string, ms: number): void {
    const p = this.peers.get(pubkey)?.rec;
    if (p) p.latency_ms = ms;
  }

  /** Whether a record (of this store) is active: PEER_DEAD_MS after direct contact, RUMOUR_ACTIVE_MS for a rumour. */
  isActive(p: PeerRecord): boolean {
    const slot = this.peers.get(p.wg_pubkey);
    return this.nowMs() < (slot ? deadAtMs(slot) : p.last_seen_ms + PEER_DEAD_MS);
  }

  all(): PeerRecord[] {
    return [...this.peers.keys()].map((k) => this.get(k) as PeerRecord);
  }

  /** Copies of the active records, in store order (one walk: no look-up per record). */
  active(): PeerRecord[] {
    return Array.from(this.activeRecords(), copyRecord);
  }

  /**
   * The active records themselves, in store order, without copies (for the hot paths: building an
   * announcement reads a few fields of the newest peers; gossip and collision checks read all). Callers
   * must not modify them, keep them, or change the store while iterating.
   */
  *activeRecords(order: "oldest-first" | "newest-first" = "oldest-first"): IterableIterator<Readonly<PeerRecord>> {
    const now = this.nowMs();
    if (order === "oldest-first") {
      for (const s of this.peers.values()) if (now < deadAtMs(s)) yield s.rec;
      return;
    }
    for (let s = this.newest; s; s = s.older) if (now < deadAtMs(s)) yield s.rec;
  }

  /**
   * What we pass on in `known_peers`, newest first: active peers we heard from directly, and peers first heard
   * of second-hand in the last PASS_ON_SECOND_HAND_MS (so a newcomer spreads through the mesh as in Go). A
   * second-hand entry older than that is not passed on: in Go it is, and departed members came back again and
   * again through stores that did not hold them yet (see `heardDirectly`). Same rules as `activeRecords`.
   */
  *announceable(): IterableIterator<Readonly<PeerRecord>> {
    const now = this.nowMs();
    for (let s = this.newest; s; s = s.older) {
      if (passedOn(s, now)) yield s.rec;
    }
  }

  /**
   * The same records as `announceable`, walked as a ring: from the record just older than `afterKey` (the
   * newest when that key is not held) towards the oldest, then from the newest on, ending before `afterKey`
   * again. What a member passes on beyond its newest peers: a window that moves on with every datagram, so
   * that over many exchanges the whole store is passed on, not only the newest entries that fit one datagram.
   */
  *announceableRing(afterKey: string | undefined): IterableIterator<Readonly<PeerRecord>> {
    const now = this.nowMs();
    const stop = afterKey === undefined ? undefined : this.peers.get(afterKey);
    let s = stop ? stop.older ?? this.newest : this.newest;
    let wrapped = stop === undefined || stop.older === undefined;
    while (s && s !== stop) {
      if (passedOn(s, now)) yield s.rec;
      if (s.older) s = s.older;
      else if (wrapped) return;
      else {
        wrapped = true;
        s = this.newest;
      }
    }
  }

  /**
   * Whether a peer that contacts us itself would be stored now: there is room, or a dead record whose slot
   * it would take (`displaceDead`). At the maximum, a peer mentioned second-hand is worth a HELLO only then.
   */
  admitsDirect(): boolean {
    return this.peers.size < this.maxPeers || this.oldestDead(this.nowMs()) !== undefined;
  }

  counts(): { active: number; total: number; dead: number } {
    const total = this.peers.size;
    let active = 0;
    for (const _ of this.activeRecords()) active++;
    return { active, total, dead: total - active };
  }

  /** Remove peers not seen for more than 10 min; returns their keys. */
  expire(): string[] {
    const now = this.nowMs();
    const gone: string[] = [];
    for (const [k, { rec }] of this.peers) {
      if (now - rec.last_seen_ms > PEER_REMOVE_MS) {
        this.delete(k);
        // Silent for 10 min: no second-hand mention brings it back for another 10 (only its own contact).
        this.markGone(k, now + PEER_REMOVE_MS);
        gone.push(k);
        this.emit({ kind: "removed", pubkey: k, reason: "expired" });
      }
    }
    return gone;
  }

  get size(): number {
    return this.peers.size;
  }
}

function isUnspecified(host: string): boolean {
  return host === "" || host === "0.0.0.0" || host === "::";
}

/**
 * §2.6: announced endpoint as given if its host is a real address; the UDP source IP with the announced
 * port if the host is 0.0.0.0/::; the source IP with port 51820 if empty or unparsable.
 */
export function resolvePeerEndpoint(announced: string, sourceIp: string): string {
  const hp = announced ? splitHostPort(announced) : undefined;
  if (hp && hp.port >= 1 && !isUnspecified(hp.host)) return joinHostPort(hp.host, hp.port);
  if (hp && hp.port >= 1) return joinHostPort(sourceIp, hp.port);
  return joinHostPort(sourceIp, 51820);
}

/** Known-peer endpoints with an empty or unspecified host become "no endpoint". Remembered (memo.ts). */
export const knownPeerEndpoint: (announced: string) => string = memoize(knownEndpointOf);

function knownEndpointOf(announced: string): string {
  const hp = announced ? splitHostPort(announced) : undefined;
  if (!hp || hp.port < 1 || isUnspecified(hp.host) || !isIP(hp.host)) return "";
  return joinHostPort(hp.host, hp.port);
}
