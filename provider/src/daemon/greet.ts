/**
 * Greeting (a daemon-level choice, same wire format as Go): a peer that announced itself to us (LAN
 * multicast, gossip ANNOUNCE) gets one HELLO at once, at most once per GREET_INTERVAL_MS, so that it learns
 * us now instead of at its next discovery round. HELLO/REPLY already go both ways; transitive entries are
 * left to the discovery layers and the keep-alive round — except where the store refused them at its
 * maximum (`onRefused`): a mention may not take a dead record's slot, but the peer may when it answers us
 * itself, so a refused peer gets a HELLO (at most once per REFUSED_GREET_INTERVAL_MS, at most
 * REFUSED_GREETS_PER_MESSAGE per message, and only while the store would take it: `admitsDirect`). Without
 * it, two members that had missed each other while their stores were full (crashed members' records still
 * active) stayed apart once the records died: neither held a record of the other, so no keep-alive reached
 * it. A store listener (`PeerSink`).
 */
import type { DaemonCore, PeerSink } from "./core";
import type { PeerUpdate, StoreEvent } from "./store";

export const GREET_INTERVAL_MS = 60_000;
/** A peer refused at the store maximum is HELLOed at most this often (a departed member is mentioned until it is dead everywhere). */
export const REFUSED_GREET_INTERVAL_MS = 120_000;
/** At most this many refused peers are HELLOed per message (a datagram can mention ≈ 40). */
export const REFUSED_GREETS_PER_MESSAGE = 4;
/** How many greeted keys are remembered (oldest forgotten first). */
const MAX_GREETED = 2000;

function remember(m: Map<string, number>, key: string, now: number): void {
  m.delete(key);
  m.set(key, now);
  if (m.size > MAX_GREETED) m.delete(m.keys().next().value as string);
}

export class Greeter implements PeerSink {
  private readonly greeted = new Map<string, number>();
  private readonly refusedGreeted = new Map<string, number>();

  constructor(private readonly core: () => DaemonCore | undefined, private readonly nowMs: () => number = Date.now) {}

  onStoreEvent(e: StoreEvent): void {
    const core = this.core();
    if (!core || e.kind === "removed" || !e.peer.endpoint || (e.method !== "lan" && e.method !== "gossip")) return;
    const now = this.nowMs();
    const last = this.greeted.get(e.peer.wg_pubkey);
    if (last !== undefined && now - last < GREET_INTERVAL_MS) return;
    remember(this.greeted, e.peer.wg_pubkey, now);
    const c = core.controlEndpoint(e.peer);
    if (c) void core.exchange.exchange(c.ip, c.port);
  }

  onRefused(peers: readonly PeerUpdate[]): void {
    const core = this.core();
    if (!core || !core.store.admitsDirect()) return;
    const now = this.nowMs();
    let sent = 0;
    for (const u of peers) {
      if (!u.endpoint) continue;
      const last = this.refusedGreeted.get(u.wg_pubkey);
      if (last !== undefined && now - last < REFUSED_GREET_INTERVAL_MS) continue;
      const c = core.controlEndpoint({ wg_pubkey: u.wg_pubkey, endpoint: u.endpoint });
      if (!c) continue;
      remember(this.refusedGreeted, u.wg_pubkey, now);
      void core.exchange.exchange(c.ip, c.port);
      if (++sent >= REFUSED_GREETS_PER_MESSAGE) return;
    }
  }
}
