/**
 * Greeting (a daemon-level choice, same wire format as Go): a peer that announced itself to us (LAN
 * multicast, gossip ANNOUNCE) gets one HELLO at once, at most once per GREET_INTERVAL_MS, so that it learns
 * us now instead of at its next discovery round. HELLO/REPLY already go both ways; transitive entries are
 * left to the discovery layers and the keep-alive round. A store listener (`PeerSink`).
 */
import type { DaemonCore, PeerSink } from "./core";
import type { StoreEvent } from "./store";

export const GREET_INTERVAL_MS = 60_000;
/** How many greeted keys are remembered (oldest forgotten first). */
const MAX_GREETED = 2000;

export class Greeter implements PeerSink {
  private readonly greeted = new Map<string, number>();

  constructor(private readonly core: () => DaemonCore | undefined, private readonly nowMs: () => number = Date.now) {}

  onStoreEvent(e: StoreEvent): void {
    const core = this.core();
    if (!core || e.kind === "removed" || !e.peer.endpoint || (e.method !== "lan" && e.method !== "gossip")) return;
    const now = this.nowMs();
    const last = this.greeted.get(e.peer.wg_pubkey);
    if (last !== undefined && now - last < GREET_INTERVAL_MS) return;
    this.greeted.set(e.peer.wg_pubkey, now);
    if (this.greeted.size > MAX_GREETED) this.greeted.delete(this.greeted.keys().next().value as string);
    const c = core.controlEndpoint(e.peer);
    if (c) void core.exchange.exchange(c.ip, c.port);
  }
}
