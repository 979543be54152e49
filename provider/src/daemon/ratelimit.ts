/** Per-source token bucket (10/s, burst 20) over at most 4096 sources, least recently used evicted. */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly ratePerS = 10,
    private readonly burst = 20,
    private readonly maxSources = 4096,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Take one token for `source`; false when the bucket is empty. */
  allow(source: string): boolean {
    const now = this.nowMs();
    let b = this.buckets.get(source);
    if (b) {
      this.buckets.delete(source); // re-insert: Map order is the LRU order
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.atMs) / 1000) * this.ratePerS);
      b.atMs = now;
    } else {
      b = { tokens: this.burst, atMs: now };
      if (this.buckets.size >= this.maxSources) {
        const lru = this.buckets.keys().next();
        if (!lru.done) this.buckets.delete(lru.value);
      }
    }
    this.buckets.set(source, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}
