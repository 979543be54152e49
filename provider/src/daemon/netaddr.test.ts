import { test } from "node:test";
import assert from "node:assert/strict";
import { isPublicIp, normalizeIp } from "./netaddr";

test("normalizeIp: canonical text, IPv4-mapped unwrapped, zones and junk refused", () => {
  assert.equal(normalizeIp("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(normalizeIp("[2001:DB8:0:0::1]"), "2001:db8::1");
  assert.equal(normalizeIp("10.0.0.1"), "10.0.0.1");
  assert.equal(normalizeIp("fe80::1%eth0"), undefined);
  assert.equal(normalizeIp("10.1"), undefined);
  assert.equal(normalizeIp("host"), undefined);
});

test("isPublicIp: as the Go daemon judges reflected addresses (not loopback, private/ULA, link-local)", () => {
  for (const ip of ["203.0.113.5", "8.8.8.8", "100.64.1.1", "2001:db8::1", "2a01::1"]) assert.ok(isPublicIp(ip), ip);
  for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::", "224.0.0.1", "::ffff:10.0.0.1"]) {
    assert.ok(!isPublicIp(ip), ip);
  }
});
