import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mapLimit } from "./deploy";
import { keySwitchSync, switchesKey } from "./rendezvous";

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
