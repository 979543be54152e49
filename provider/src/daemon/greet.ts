/**
 * Greeting (a daemon-level choice, same wire format as Go): a peer that announced itself to us (LAN
 * multicast, gossip ANNOUNCE) gets one HELLO at once, at most once per GREET_INTERVAL_MS, so that it learns
 * us now instead of at its next discovery round. HELLO/REPLY already go both ways.
 * A peer first heard of second-hand (another member's `known_peers`) gets one too, within
 * GREET_SPREAD_MS: we pass on second-hand peers only in their first minute with us (store.ts `announceable`),
 * after that only peers we heard from directly — with the greeting a live newcomer is first-hand within
 * seconds, not at the next keep-alive round (≤ 45 s; when only first-hand peers were passed on, 100 members
 * with 10 % loss took 49 s instead of 12 s to converge without the greeting). The
 * keep-alive round would HELLO the same peer within 45 s anyway: the greeting moves that exchange earlier. It
 * is spread over a random delay, and dropped when the two of us exchanged meanwhile (either side's HELLO
 * refreshes both), so that a newcomer every member hears of at once is not answered by all of them in the
 * same moment, and a pair that hears of each other at once mostly exchanges once, not twice.
 * A store listener (`PeerSink`).
 */
import { KEEPALIVE_FRESH_MS, type DaemonCore, type PeerSink } from "./core";
import type { StoreEvent } from "./store";

export const GREET_INTERVAL_MS = 60_000;
/** A peer first heard of second-hand is greeted after a random delay up to this. */
export const GREET_SPREAD_MS = 5_000;
/** How many greeted keys are remembered (oldest forgotten first). */
const MAX_GREETED = 2000;

export class Greeter implements PeerSink {
  private readonly greeted = new Map<string, number>();

  constructor(
    private readonly core: () => DaemonCore | undefined,
    private readonly nowMs: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  onStoreEvent(e: StoreEvent): void {
    const core = this.core();
    if (!core || e.kind === "removed" || !e.peer.endpoint) return;
    const secondHand = e.kind === "new" && e.method.includes("transitive");
    if (e.method !== "lan" && e.method !== "gossip" && !secondHand) return;
    const key = e.peer.wg_pubkey;
    const now = this.nowMs();
    const last = this.greeted.get(key);
    if (last !== undefined && now - last < GREET_INTERVAL_MS) return;
    this.greeted.set(key, now);
    if (this.greeted.size > MAX_GREETED) this.greeted.delete(this.greeted.keys().next().value as string);
    if (!secondHand) return this.greet(core, key);
    const t = setTimeout(() => {
      const c = this.core();
      if (!c) return;
      const at = c.exchange.lastExchange(key);
      if (at !== undefined && this.nowMs() - at < KEEPALIVE_FRESH_MS) return; // we met meanwhile
      this.greet(c, key);
    }, this.random() * GREET_SPREAD_MS);
    t.unref?.();
  }

  private greet(core: DaemonCore, key: string): void {
    const p = core.store.get(key);
    const c = p ? core.controlEndpoint(p) : undefined;
    if (c) void core.exchange.exchange(c.ip, c.port);
  }
}
