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
  assert.equal(r.check("n1", "HELLO", "1.1.1.1:5", 1000, 1000), "fresh");
  assert.equal(r.check("n1", "HELLO", "1.1.1.1:5", 1000, 1001), "duplicate");
  assert.equal(r.check("n1", "HELLO", "2.2.2.2:5", 1000, 1001), "replay");
  assert.equal(r.check("n1", "REPLY", "1.1.1.1:5", 1000, 1001), "replay", "re-labelled type");
  assert.equal(r.check("n1", "HELLO", "1.1.1.1:5", 1000, 1601), "fresh", "after the window the envelope check rejects it anyway");
  r.check("n2", "HELLO", "x", 1000, 1000);
  r.check("n3", "HELLO", "x", 1000, 1000);
  r.check("n4", "HELLO", "x", 1000, 1000);
  assert.equal(r.size, 3);
  assert.equal(r.evictions, 1);
});
