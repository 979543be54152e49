import { test } from "node:test";
import assert from "node:assert/strict";
import { SourceRateLimiter } from "./ratelimit";
import { ReplayCache } from "./replay";

test("token bucket: burst 20, then 10 per second, per source", () => {
  let t = 0;
  const l = new SourceRateLimiter(10, 20, 4096, () => t);
  let ok = 0;
  for (let i = 0; i < 30; i++) if (l.allow("1.1.1.1")) ok++;
  assert.equal(ok, 20);
  assert.ok(l.allow("2.2.2.2"), "other sources have their own bucket");
  t += 100;
  assert.ok(l.allow("1.1.1.1"));
  assert.ok(!l.allow("1.1.1.1"));
  t += 10_000;
  ok = 0;
  for (let i = 0; i < 30; i++) if (l.allow("1.1.1.1")) ok++;
  assert.equal(ok, 20, "refill is capped at the burst");
});

test("at most N sources tracked; the least recently used is forgotten", () => {
  const t = 0;
  const l = new SourceRateLimiter(10, 2, 3, () => t);
  l.allow("a"); l.allow("a"); // a empty
  l.allow("b"); l.allow("c");
  l.allow("a"); // refused but refreshes a's recency
  assert.ok(!l.allow("a"));
  l.allow("d"); // evicts b (LRU)
  assert.equal(l.size, 3);
  assert.ok(!l.allow("a"), "a is still tracked, still empty");
});

test("replay cache: fresh, idempotent duplicate from the same source, replay otherwise, expiry", () => {
  const r = new ReplayCache(600, 3);
  assert.equal(r.check("n1", 1000, 1000, "1.1.1.1:5"), "fresh");
  assert.equal(r.check("n1", 1000, 1001, "1.1.1.1:5"), "duplicate");
  assert.equal(r.check("n1", 1000, 1001, "2.2.2.2:5"), "replay");
  assert.equal(r.check("n1", 1000, 1001), "replay", "re-labelled as a one-shot type");
  assert.equal(r.check("n1", 1000, 1601, "1.1.1.1:5"), "fresh", "after the window the envelope check rejects it anyway");
  assert.equal(r.check("o1", 1600, 1601), "fresh");
  assert.equal(r.check("o1", 1600, 1602), "replay", "a one-shot message is never a duplicate");
  assert.equal(r.check("o1", 1600, 1602, "1.1.1.1:5"), "replay", "nor re-labelled as an idempotent one");
  // at its maximum the oldest entries go, one per new message
  const small = new ReplayCache(600, 3);
  for (const n of ["a", "b", "c"]) small.check(n, 1000, 1000);
  assert.equal(small.check("d", 1000, 1001), "fresh");
  assert.equal(small.size, 3);
  assert.equal(small.evictions, 1);
  assert.equal(small.check("a", 1000, 1002), "fresh", "the evicted nonce is forgotten");
  assert.equal(small.check("c", 1000, 1002), "replay");
});

test("replay cache: expired entries are swept once a minute, so it holds about one window of traffic", () => {
  const r = new ReplayCache(600, 1_000_000, 60);
  // 10 messages per second for 30 minutes, each stamped with its own arrival time
  let max = 0;
  for (let t = 0; t < 1800; t++) {
    for (let i = 0; i < 10; i++) assert.equal(r.check(`${t}.${i}`, t, t, i % 2 ? "1.1.1.1:5" : undefined), "fresh");
    max = Math.max(max, r.size);
  }
  assert.ok(max <= (600 + 60 + 1) * 10, `at most a window and a sweep interval of entries (max ${max})`);
  assert.ok(max >= 600 * 10, `nothing still inside the window is forgotten (max ${max})`);
  assert.equal(r.check("1799.3", 1799, 1800, "1.1.1.1:5"), "duplicate");
  assert.equal(r.check("1200.4", 1200, 1800), "replay", "600 s old: still remembered");
});
