/**
 * Replay cache (the Go daemon has none, §2.3 / weakness 3). Remembers each accepted nonce until its
 * message leaves the ±600 s window. A duplicate of an idempotent HELLO from the same source is reported
 * as such (Go initiators resend the same datagram every 100 ms, so the responder must answer again);
 * any other duplicate is a replay.
 */
export type ReplayVerdict = "fresh" | "duplicate" | "replay";

interface Entry {
  source: string;
  type: string;
  expiresAtS: number;
}

export class ReplayCache {
  private readonly entries = new Map<string, Entry>();
  evictions = 0;

  constructor(private readonly windowS = 600, private readonly maxEntries = 200_000) {}

  /** Check and record. `timestampS` is the message's own timestamp. */
  check(nonce: string, type: string, source: string, timestampS: number, nowS: number): ReplayVerdict {
    const seen = this.entries.get(nonce);
    if (seen && seen.expiresAtS >= nowS) {
      return seen.source === source && seen.type === type ? "duplicate" : "replay";
    }
    if (seen) this.entries.delete(nonce);
    if (this.entries.size >= this.maxEntries) this.prune(nowS);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
      this.evictions++;
    }
    this.entries.set(nonce, { source, type, expiresAtS: timestampS + this.windowS });
    return "fresh";
  }

  prune(nowS: number): void {
    for (const [k, e] of this.entries) if (e.expiresAtS < nowS) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
