import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isValidKey } from "./keys";
import { pairKeySource, planPairKeys, presharedKeyOf, presharedKeysFor, type PairKeyTable } from "./psk";

/** A symmetric peering over n named nodes (hostname → peers) from random edges. */
const arbPeering = fc.integer({ min: 0, max: 9 }).chain((n) =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: Math.max(0, n - 1) }), fc.integer({ min: 0, max: Math.max(0, n - 1) })), { maxLength: 30 }).map((edges) => {
    const names = Array.from({ length: n }, (_, i) => `n${i}`);
    const peers: Record<string, Set<string>> = Object.fromEntries(names.map((h) => [h, new Set<string>()]));
    for (const [a, b] of edges) {
      if (a === b || n === 0) continue;
      peers[`n${a}`]!.add(`n${b}`);
      peers[`n${b}`]!.add(`n${a}`);
    }
    return Object.fromEntries(Object.entries(peers).map(([h, s]) => [h, [...s]])) as Record<string, string[]>;
  }));

const pairs = (p: Record<string, string[]>) => Object.entries(p).flatMap(([a, ps]) => ps.filter((b) => a < b).map((b) => `${a}|${b}`)).sort();
const tablePairs = (t: PairKeyTable) => Object.entries(t).flatMap(([a, row]) => Object.keys(row).map((b) => `${a}|${b}`)).sort();
const allKeys = (t: PairKeyTable) => Object.values(t).flatMap((row) => Object.values(row).map((k) => k.key));
const allIds = (t: PairKeyTable) => Object.values(t).flatMap((row) => Object.values(row).map((k) => k.id));

test("property: one valid, distinct key per peered pair, the same seen from both ends", () => {
  fc.assert(fc.property(arbPeering, (peering) => {
    const { table, changes } = planPairKeys(peering, undefined);
    assert.deepEqual(tablePairs(table), pairs(peering));
    const keys = allKeys(table);
    assert.ok(keys.every((k) => isValidKey(k)));
    assert.equal(new Set(keys).size, keys.length, "keys differ between pairs");
    assert.ok(allIds(table).every((id) => /^[0-9a-f]{8}$/.test(id)), "each with an id of 8 hex digits");
    assert.deepEqual(changes, { kept: 0, created: keys.length, removed: 0 });
    for (const [x, ps] of Object.entries(peering)) {
      const mine = presharedKeysFor(table, x, ps);
      assert.deepEqual(Object.keys(mine).sort(), [...ps].sort());
      for (const y of ps) assert.deepEqual(mine[y], presharedKeysFor(table, y, [x])[x], `${x}–${y} share their key`);
    }
  }), { numRuns: 300 });
});

test("property: a new peering keeps every surviving pair's key, makes new ones only for new pairs, drops the rest", () => {
  fc.assert(fc.property(arbPeering, arbPeering, (before, after) => {
    const first = planPairKeys(before, undefined).table;
    const { table, changes } = planPairKeys(after, first);
    const old = new Set(allKeys(first));
    const survivors = pairs(after).filter((p) => pairs(before).includes(p));
    for (const p of pairs(after)) {
      const [a, b] = p.split("|") as [string, string];
      const k = presharedKeyOf(table, a, b)!;
      if (survivors.includes(p)) assert.deepEqual(k, presharedKeyOf(first, a, b), `${p} kept (key and id)`);
      else assert.ok(!old.has(k.key), `${p} is new: a new key`);
    }
    assert.deepEqual(tablePairs(table), pairs(after), "removed pairs are gone");
    assert.deepEqual(changes, { kept: survivors.length, created: pairs(after).length - survivors.length, removed: pairs(before).length - survivors.length });
  }), { numRuns: 300 });
});

test("property: rotateAll gives every pair a new key; the same peering without it changes nothing", () => {
  fc.assert(fc.property(arbPeering, (peering) => {
    const first = planPairKeys(peering, undefined).table;
    assert.deepEqual(planPairKeys(peering, first).table, first);
    const rotated = planPairKeys(peering, first, { rotateAll: true }).table;
    const old = new Set(allKeys(first));
    assert.ok(allKeys(rotated).every((k) => !old.has(k)));
    assert.deepEqual(tablePairs(rotated), tablePairs(first));
  }), { numRuns: 200 });
});

test("adding a node creates exactly its pairs' keys; a broken stored key is replaced, never kept", () => {
  const three = { a: ["b", "c"], b: ["a", "c"], c: ["a", "b"] };
  const four = { a: ["b", "c", "d"], b: ["a", "c", "d"], c: ["a", "b", "d"], d: ["a", "b", "c"] };
  const first = planPairKeys(three, undefined).table;
  const next = planPairKeys(four, first);
  assert.deepEqual(next.changes, { kept: 3, created: 3, removed: 0 });
  const broken: PairKeyTable = { ...first, a: { ...first.a, b: { id: "00000000", key: "not a key" }, c: { id: "bad id", key: first.a!.c!.key } } };
  const repaired = planPairKeys(three, broken);
  assert.ok(isValidKey(presharedKeyOf(repaired.table, "a", "b")?.key));
  assert.notEqual(presharedKeyOf(repaired.table, "a", "c")?.key, first.a!.c!.key, "a stored key with a broken id is not kept either");
  assert.equal(repaired.changes.created, 2);
  assert.equal(presharedKeyOf(undefined, "a", "b"), undefined);
  assert.equal(presharedKeyOf({ a: {} }, "b", "a"), undefined);
  // A prototype name as a hostname is a plain key, not Object.prototype's.
  assert.equal(presharedKeyOf({ a: {} }, "a", "constructor"), undefined);
});

test("the key source: valid, distinct keys and ids across its blocks (2 500 draws = three blocks)", () => {
  const next = pairKeySource();
  const keys = Array.from({ length: 2500 }, () => next());
  assert.ok(keys.every((k) => isValidKey(k.key) && /^[0-9a-f]{8}$/.test(k.id)));
  assert.equal(new Set(keys.map((k) => k.key)).size, 2500);
});
