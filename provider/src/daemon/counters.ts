/** Counters of dropped (and otherwise notable) inbound messages, by reason. Never throws. */
export const DROP_REASONS = [
  "oversize", // datagram larger than the bound
  "rate-limited", // per-source token bucket empty
  "malformed-json", // envelope is not a JSON object with string members
  "bad-nonce", // nonce is not padded base64 of exactly 12 bytes
  "auth-failed", // AES-GCM open failed (wrong secret, tampering, bad ciphertext encoding)
  "malformed-payload", // plaintext is not a JSON object
  "wrong-protocol", // protocol != wgmesh-v1
  "too-old", // timestamp more than 600 s in the past
  "in-future", // timestamp more than 600 s ahead
  "replay", // nonce seen before within the window (from another source, or not an idempotent HELLO)
  "invalid-field", // payload fails field validation (§2.5 plus our stricter rules)
  "invalid-entry", // a bad known_peers / routable_networks entry, dropped from an accepted message
  "type-mismatch", // payload shape does not match the envelope type (re-labelled message)
  "unknown-type", // envelope type we do not know
  "own-message", // carries our own public key
  "gossip-disabled", // ANNOUNCE while gossip is off (Go ignores it silently)
  "goodbye-window", // GOODBYE outside ±60 s
  "goodbye-unverified", // GOODBYE for a known peer from an address that is not one of the peer's
  "unsolicited-reply", // REPLY with no pending HELLO (still processed, as Go does) — informational
  "unhandled", // valid message type this build does not act on (rendezvous)
  "store-full", // new peer while the store holds 1000 and none of them is dead
  "departed-peer", // a known_peers entry for a peer that left < 10 min ago by GOODBYE, expiry or displacement (not re-added) — informational
  "internal-error", // a bug: caught so the receive path never throws
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export class DropCounters {
  private readonly counts = new Map<DropReason, number>();

  inc(reason: DropReason, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  get(reason: DropReason): number {
    return this.counts.get(reason) ?? 0;
  }

  /** Plain object of the non-zero counters. */
  snapshot(): Partial<Record<DropReason, number>> {
    const out: Partial<Record<DropReason, number>> = {};
    for (const r of DROP_REASONS) {
      const v = this.counts.get(r);
      if (v) out[r] = v;
    }
    return out;
  }

  total(): number {
    let t = 0;
    for (const v of this.counts.values()) t += v;
    return t;
  }
}
