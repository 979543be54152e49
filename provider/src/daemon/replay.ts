/**
 * Replay cache (the Go daemon has none, §2.3 / weakness 3). Remembers each accepted nonce until its
 * message leaves the ±600 s window. A duplicate of an idempotent message (a HELLO: Go initiators resend
 * the same datagram, so the responder must answer again) from the same source is reported as such; any
 * other duplicate is a replay.
 *
 * Sized for a daemon that hears hundreds of peers: a one-shot message's entry is only its expiry (a small
 * integer, stored inline in the map), an idempotent one's also its source; expired entries are swept once a
 * minute, so the cache holds about one window of traffic instead of growing to its maximum first.
 */
export type ReplayVerdict = "fresh" | "duplicate" | "replay";

interface IdempotentEntry {
  readonly source: string;
  readonly expiresAtS: number;
}

export class ReplayCache {
  /** nonce → expiry (s) of a one-shot message, or source and expiry of an idempotent one. */
  private readonly entries = new Map<string, number | IdempotentEntry>();
  private nextSweepS = -Infinity;
  evictions = 0;

  constructor(
    private readonly windowS = 600,
    private readonly maxEntries = 200_000,
    private readonly sweepEveryS = 60,
  ) {}

  /**
   * Check and record. `timestampS` is the message's own timestamp; `idempotentSource` is given (the
   * sender's ip:port) only for a message whose exact resend must be answered again.
   */
  check(nonce: string, timestampS: number, nowS: number, idempotentSource?: string): ReplayVerdict {
    if (nowS >= this.nextSweepS) {
      this.prune(nowS);
      this.nextSweepS = nowS + this.sweepEveryS;
    }
    const seen = this.entries.get(nonce);
    if (seen !== undefined) {
      const expiresAtS = typeof seen === "number" ? seen : seen.expiresAtS;
      if (expiresAtS >= nowS) {
        return idempotentSource !== undefined && typeof seen !== "number" && seen.source === idempotentSource ? "duplicate" : "replay";
      }
      this.entries.delete(nonce);
    }
    // full: the oldest entries go (a sweep here would walk the whole map for every message while nothing
    // has expired yet)
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
      this.evictions++;
    }
    const expiresAtS = timestampS + this.windowS;
    this.entries.set(nonce, idempotentSource === undefined ? expiresAtS : { source: idempotentSource, expiresAtS });
    return "fresh";
  }

  /** Forget every entry whose message can no longer pass the envelope's time check. */
  prune(nowS: number): void {
    for (const [k, e] of this.entries) if ((typeof e === "number" ? e : e.expiresAtS) < nowS) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
