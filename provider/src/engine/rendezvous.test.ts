import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mapLimit } from "./deploy";
import { keySwitchSync, partnerRendezvous, switchesKey } from "./rendezvous";

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("key-switch rendezvous", () => {
  it("a host that switches a key waits until every started host has planned; the others never wait", async () => {
    const s = keySwitchSync(60_000);
    const order: string[] = [];
    s.start(); s.start(); s.start();
    const a = s.planned(true).then((w) => order.push(`a:${w.timedOut}:${w.hosts}`));
    const b = s.planned(false).then(() => order.push("b"));
    await tick();
    assert.deepEqual(order, ["b"], "b switches nothing: no wait; a waits for c");
    const c = s.planned(true).then(() => order.push("c"));
    await Promise.all([a, b, c]);
    assert.deepEqual(order, ["b", "a:false:3", "c"]);
  });

  it("a host that fails before planning releases the waiters", async () => {
    const s = keySwitchSync(60_000);
    s.start(); s.start();
    let released = false;
    const a = s.planned(true).then(() => { released = true; });
    await tick();
    assert.equal(released, false);
    s.abandoned();
    await a;
    assert.equal(released, true);
  });

  it("the wait is bounded: a stuck host never holds the others past maxWaitMs", async () => {
    const s = keySwitchSync(30);
    s.start(); s.start();
    const w = await s.planned(true);
    assert.equal(w.timedOut, true);
    // The late host then passes without waiting for anyone.
    const late = await s.planned(true);
    assert.equal(late.timedOut, false);
  });

  it("with more hosts than the concurrency, waiting hosts never deadlock the queue (they wait only for started hosts)", async () => {
    const s = keySwitchSync(60_000);
    const switchedAt: number[] = [];
    let clock = 0;
    const results = await mapLimit(Array.from({ length: 7 }, (_, i) => i), 3, async (i) => {
      s.start();
      await sleep(5 * (i % 3)); // connect + read, spread out
      const w = await s.planned(i % 2 === 0);
      switchedAt.push(clock++);
      return w.timedOut;
    });
    assert.deepEqual(results, Array(7).fill(false));
    assert.equal(switchedAt.length, 7);
  });
});

describe("switchesKey", () => {
  const none = new Set<string>();
  it("own key, a preshared key, and a peer whose key changed (one leaves, one comes) switch keys", () => {
    assert.equal(switchesKey([{ kind: "private-key" }], none, none), true);
    assert.equal(switchesKey([{ kind: "peer-set", presharedKey: true }], new Set(["A"]), new Set(["A"])), true);
    assert.equal(switchesKey([{ kind: "peer-remove" }, { kind: "peer-set" }], new Set(["A", "B"]), new Set(["A", "C"])), true);
  });
  it("an added or removed peer alone, a route or an endpoint does not", () => {
    assert.equal(switchesKey([{ kind: "peer-set" }], new Set(["A"]), new Set(["A", "B"])), false);
    assert.equal(switchesKey([{ kind: "peer-remove" }], new Set(["A", "B"]), new Set(["A"])), false);
    assert.equal(switchesKey([{ kind: "route-add" }, { kind: "peer-set" }], new Set(["A"]), new Set(["A"])), false);
  });
});

/** A manual clock: timers run only when the test advances time. */
function manualClock() {
  let t = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; f: () => void }>();
  return {
    now: () => t,
    setTimeout: (f: () => void, ms: number) => {
      const id = ++seq;
      timers.set(id, { at: t + ms, f });
      return id;
    },
    clearTimeout: (id: unknown) => void timers.delete(id as number),
    /** Advance to now + ms, running due timers in time order. */
    async advance(ms: number) {
      const end = t + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        timers.delete(due[0]);
        t = due[1].at;
        due[1].f();
        await tick();
      }
      t = end;
      await tick();
    },
    pending: () => timers.size,
  };
}

describe("partner rendezvous (Pulumi's NodeConfig updates)", () => {
  const make = (clock: ReturnType<typeof manualClock>, idleMs = 5_000, maxWaitMs = 120_000) => partnerRendezvous({ maxWaitMs, idleMs, clock });

  it("one node's key rotated: it and every peer switch when the last of them has planned, however late it started", async () => {
    const clock = manualClock();
    const r = make(clock);
    const a2 = r.party("a2", ["a1", "a3", "a4"]);
    const peers = ["a1", "a3", "a4"].map((n) => r.party(n, ["a2"]));
    const released: string[] = [];
    a2.start();
    peers[0]!.start();
    const w2 = a2.planned(true).then((w) => { released.push("a2"); return w; });
    const w1 = peers[0]!.planned(true).then(() => released.push("a1"));
    await clock.advance(3_000);
    assert.equal(released.length, 0, "a3 and a4 have not started: their tunnels with a2 would break");
    peers[1]!.start();
    peers[2]!.start();
    await clock.advance(2_000);
    const w3 = peers[1]!.planned(true).then(() => released.push("a3"));
    await clock.advance(4_000);
    assert.equal(released.length, 0, "a4 started and is still reading its host: no one switches");
    peers[2]!.planned(true).then(() => released.push("a4"));
    await clock.advance(0);
    await Promise.all([w1, w3]);
    assert.deepEqual(released.sort(), ["a1", "a2", "a3", "a4"]);
    const w = await w2;
    assert.deepEqual({ waitedMs: w.waitedMs, timedOut: w.timedOut, hosts: w.hosts, notStarted: w.notStarted }, { waitedMs: 9_000, timedOut: false, hosts: 4, notStarted: [] });
    assert.equal(clock.pending(), 0, "no timer left behind");
  });

  it("switches are independent: a pair whose PSK changed does not wait for another pair", async () => {
    const clock = manualClock();
    const r = make(clock);
    const [a, b, c, d] = [r.party("a", ["b"]), r.party("b", ["a"]), r.party("c", ["d"]), r.party("d", ["c"])];
    for (const p of [a, b, c, d]) p.start();
    const order: string[] = [];
    const pa = a.planned(true).then((w) => order.push(`a:${w.hosts}`));
    const pc = c.planned(true).then(() => order.push("c"));
    await clock.advance(1_000);
    const pb = b.planned(true).then(() => order.push("b"));
    await Promise.all([pa, pb]);
    assert.deepEqual(order.sort(), ["a:2", "b"], "a and b go; c still waits for d");
    d.planned(false);
    await pc;
    assert.deepEqual(order.sort(), ["a:2", "b", "c"]);
  });

  it("a partner that fails before planning, or needs no switch, releases the others", async () => {
    const clock = manualClock();
    const r = make(clock);
    const x = r.party("x", ["y", "z"]);
    const y = r.party("y", ["x"]);
    const z = r.party("z", ["x"]);
    x.start(); y.start(); z.start();
    let done = false;
    const px = x.planned(true).then(() => { done = true; });
    y.abandoned();
    await clock.advance(1_000);
    assert.equal(done, false);
    await z.planned(false);
    await px;
    assert.equal(done, true);
    y.abandoned(); // idempotent
  });

  it("partners that never start (fewer parallel slots than nodes, --target): the started ones go after idleMs, later ones wait only for started jobs", async () => {
    const clock = manualClock();
    const r = make(clock, 5_000);
    const names = ["n1", "n2", "n3", "n4", "n5"];
    const partnersOf = (n: string) => names.filter((m) => m !== n);
    // Two slots: n1 and n2 run; the others would start only when a slot frees.
    const s1 = r.party("n1", partnersOf("n1"));
    const s2 = r.party("n2", partnersOf("n2"));
    s1.start(); s2.start();
    await clock.advance(1_000);
    const w1 = s1.planned(true);
    await clock.advance(1_000);
    const w2 = s2.planned(true);
    let settled = 0;
    void w1.then(() => settled++);
    await clock.advance(4_900);
    assert.equal(settled, 0, "idle for 4.9 s only");
    await clock.advance(100);
    const [a, b] = await Promise.all([w1, w2]);
    assert.deepEqual([a.timedOut, a.waitedMs, a.notStarted], [false, 6_000, ["n3", "n4", "n5"]]);
    assert.deepEqual([b.timedOut, b.waitedMs], [false, 5_000]);
    // The next batch: n3 planned while n4 (started) still reads — it waits for n4 but not for n5, never started.
    const s3 = r.party("n3", partnersOf("n3"));
    const s4 = r.party("n4", partnersOf("n4"));
    s3.start(); s4.start();
    const w3 = s3.planned(true);
    let w3done = false;
    void w3.then(() => { w3done = true; });
    await clock.advance(1_000);
    assert.equal(w3done, false);
    s4.planned(true);
    const c = await w3;
    assert.deepEqual([c.waitedMs, c.notStarted], [1_000, ["n5"]]);
  });

  it("the wait is bounded by maxWaitMs: a partner stuck connecting never holds the others longer", async () => {
    const clock = manualClock();
    const r = make(clock, 5_000, 120_000);
    const a = r.party("a", ["b"]);
    const b = r.party("b", ["a"]);
    a.start(); b.start();
    const w = a.planned(true);
    await clock.advance(120_000);
    const x = await w;
    assert.deepEqual([x.timedOut, x.waitedMs], [true, 120_000]);
    const late = await b.planned(true);
    assert.equal(late.timedOut, false, "the late one finds everyone arrived");
    assert.equal(clock.pending(), 0);
  });

  it("links made late join the switches: a party naming partners of an earlier one merges their switch", async () => {
    const clock = manualClock();
    const r = make(clock);
    const a = r.party("a", ["b"]);
    a.start();
    const wa = a.planned(true);
    const c = r.party("c", ["a"]); // c's key changed: a is its peer, and a's own change did not know it
    c.start();
    const b = r.party("b", ["a"]);
    b.start();
    b.planned(true);
    let done = false;
    void wa.then(() => { done = true; });
    await clock.advance(100);
    assert.equal(done, false, "c (linked through a) is still reading");
    await c.planned(true);
    assert.equal((await wa).hosts, 3);
  });
});

describe("partner rendezvous: property", () => {
  it("with every job started, no job switches before every partner of its switch has planned, and none waits after that", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 7 }),
        fc.array(fc.tuple(fc.nat(6), fc.nat(6)), { maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        fc.array(fc.nat(2_000), { minLength: 7, maxLength: 7 }),
        async (n, links, switching, planAt) => {
          const clock = manualClock();
          const r = partnerRendezvous({ maxWaitMs: 120_000, idleMs: 5_000, clock });
          const names = Array.from({ length: n }, (_, i) => `h${i}`);
          const partners = names.map(() => new Set<string>());
          for (const [a, b] of links) {
            if (a >= n || b >= n || a === b) continue;
            partners[a]!.add(names[b]!);
            partners[b]!.add(names[a]!);
          }
          const syncs = names.map((h, i) => r.party(h, partners[i]!));
          for (const s of syncs) s.start();
          const plannedAt = new Map<string, number>();
          const releasedAt = new Map<string, number>();
          const order = names.map((_, i) => i).sort((a, b) => planAt[a]! - planAt[b]! || a - b);
          const waits: Promise<unknown>[] = [];
          let t = 0;
          for (const i of order) {
            await clock.advance(planAt[i]! - t);
            t = planAt[i]!;
            plannedAt.set(names[i]!, t);
            waits.push(syncs[i]!.planned(switching[i]!).then((w) => {
              releasedAt.set(names[i]!, plannedAt.get(names[i]!)! + w.waitedMs);
              assert.equal(w.timedOut, false);
            }));
          }
          await Promise.all(waits);
          // Each job's switch: the hosts reachable through partner links.
          for (let i = 0; i < n; i++) {
            const seen = new Set([names[i]!]);
            const stack = [i];
            while (stack.length) for (const p of partners[stack.pop()!]!) if (!seen.has(p)) { seen.add(p); stack.push(names.indexOf(p)); }
            const last = Math.max(...[...seen].map((h) => plannedAt.get(h)!));
            assert.equal(releasedAt.get(names[i]!), switching[i] ? last : plannedAt.get(names[i]!), `${names[i]} released at the last plan of its switch`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
