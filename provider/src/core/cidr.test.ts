import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { sortCidrs, sortCidrsReference } from "./cidr";

const arbV4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, len]) => `${ip}/${len}`);
const arbV6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([ip, len]) => `${ip}/${len}`);

test("property: sortCidrs == reference sort (IPv4, IPv6, duplicates, host bits set)", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(arbV4, arbV4, arbV6), { maxLength: 30 }), (list) => {
      assert.deepEqual(sortCidrs(list), sortCidrsReference(list));
    }),
    { numRuns: 500 },
  );
});

test("invalid CIDRs are rejected like core/cidr does", () => {
  for (const bad of ["10.0.0.0/33", "256.0.0.0/8", "x/1", "10.0.0.0/"]) assert.throws(() => sortCidrs([bad]));
  assert.deepEqual(sortCidrs(["10.1.2.3/16", "10.1.0.0/16", "0.0.0.0/0"]), ["0.0.0.0/0", "10.1.0.0/16"]);
});
