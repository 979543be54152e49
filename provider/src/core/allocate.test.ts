import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { assignMeshIps, lowestFreeAddress } from "./allocate";
import { intToIpv4, ipv4Range, ipv4ToInt } from "./cidr";

test("lowest free host address, skipping the network address and taken ones", () => {
  assert.equal(lowestFreeAddress("10.99.0.0/16", []), "10.99.0.1");
  assert.equal(lowestFreeAddress("10.99.0.0/16", ["10.99.0.1", "10.99.0.2", "10.99.0.4"]), "10.99.0.3");
  assert.equal(lowestFreeAddress("10.99.0.0/30", ["10.99.0.1", "10.99.0.2"]), null, "never the broadcast address");
  assert.equal(lowestFreeAddress("192.168.0.0/31", []), null);
  assert.equal(lowestFreeAddress("10.0.0.0/24", ["10.0.0.0"]), "10.0.0.1");
  assert.equal(lowestFreeAddress("10.0.0.0/23", Array.from({ length: 255 }, (_, i) => `10.0.0.${i + 1}`)), "10.0.1.0", "crosses octet boundaries (10.0.0.255 is a host address of a /23)");
});

test("explicit addresses win, new nodes are numbered in hostname order", () => {
  const r = assignMeshIps("10.99.0.0/16", [
    { hostname: "zed", meshIp: null },
    { hostname: "web", meshIp: "10.99.0.1" },
    { hostname: "alpha", meshIp: null },
  ]);
  assert.deepEqual(Object.fromEntries(r.assigned), { web: "10.99.0.1", alpha: "10.99.0.2", zed: "10.99.0.3" });
  assert.deepEqual(r.unallocated, []);
});

test("stable: a node with a previous address keeps it; a new node does not shift the others", () => {
  const first = assignMeshIps("10.99.0.0/16", [{ hostname: "m", meshIp: null }, { hostname: "n", meshIp: null }]);
  assert.deepEqual(Object.fromEntries(first.assigned), { m: "10.99.0.1", n: "10.99.0.2" });
  const second = assignMeshIps("10.99.0.0/16", [{ hostname: "a", meshIp: null }, { hostname: "m", meshIp: null }, { hostname: "n", meshIp: null }], first.assigned);
  assert.deepEqual(Object.fromEntries(second.assigned), { a: "10.99.0.3", m: "10.99.0.1", n: "10.99.0.2" });
  // an explicit address now claims m's old one: m moves, n stays
  const third = assignMeshIps("10.99.0.0/16", [{ hostname: "x", meshIp: "10.99.0.1" }, { hostname: "m", meshIp: null }, { hostname: "n", meshIp: null }], first.assigned);
  assert.deepEqual(Object.fromEntries(third.assigned), { x: "10.99.0.1", n: "10.99.0.2", m: "10.99.0.3" });
  // a previous address outside a changed network is replaced
  const moved = assignMeshIps("10.50.0.0/24", [{ hostname: "m", meshIp: null }], { m: "10.99.0.1" });
  assert.equal(moved.assigned.get("m"), "10.50.0.1");
});

test("full network: the rest are reported unallocated", () => {
  const r = assignMeshIps("10.0.0.0/30", [{ hostname: "a", meshIp: null }, { hostname: "b", meshIp: null }, { hostname: "c", meshIp: null }]);
  assert.deepEqual(Object.fromEntries(r.assigned), { a: "10.0.0.1", b: "10.0.0.2" });
  assert.deepEqual(r.unallocated, ["c"]);
});

test("property: never a taken, network or broadcast address, never twice, always lowest free", () => {
  fc.assert(fc.property(
    fc.integer({ min: 24, max: 30 }),
    fc.array(fc.nat(255), { maxLength: 40 }),
    fc.integer({ min: 0, max: 20 }),
    (prefix, takenOffsets, fresh) => {
      const network = `10.7.3.0/${prefix}`;
      const { first, last } = ipv4Range(network);
      const size = last - first + 1;
      const taken = [...new Set(takenOffsets.map((o) => first + (o % size)))].filter((n) => n > first && n < last);
      const req = [
        ...taken.map((n, i) => ({ hostname: `t${i}`, meshIp: intToIpv4(n) })),
        ...Array.from({ length: fresh }, (_, i) => ({ hostname: `f${String(i).padStart(2, "0")}`, meshIp: null })),
      ];
      const r = assignMeshIps(network, req);
      const used = new Set(taken);
      let expectNext = first + 1;
      for (let i = 0; i < fresh; i++) {
        const h = `f${String(i).padStart(2, "0")}`;
        while (expectNext < last && used.has(expectNext)) expectNext++;
        const got = r.assigned.get(h);
        if (expectNext >= last) { assert.equal(got, undefined); assert.ok(r.unallocated.includes(h)); continue; }
        assert.equal(got, intToIpv4(expectNext));
        const n = ipv4ToInt(got as string);
        assert.ok(n !== first && n !== last && !taken.includes(n));
        used.add(n);
      }
      assert.equal(new Set(r.assigned.values()).size, r.assigned.size, "no address twice");
      assert.equal(lowestFreeAddress(network, [...used].map(intToIpv4)) === null, r.unallocated.length > 0 || used.size === size - 2);
    },
  ), { numRuns: 300 });
});
