import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isDnsLabel, isDnsName, isHost, isInterfaceName, isPort, parseEndpoint, q } from "./names";

test("DNS labels and names", () => {
  for (const ok of ["a", "web1", "Web-1", "x".repeat(63), "1host"]) assert.ok(isDnsLabel(ok), ok);
  for (const bad of ["", "-a", "a-", "a.b", "a_b", "x".repeat(64), "a b", "é"]) assert.ok(!isDnsLabel(bad), bad);
  assert.ok(isDnsName("web1.example.com"));
  assert.ok(isDnsName("web1.example.com."));
  assert.ok(!isDnsName("web1..example.com"));
  assert.ok(!isDnsName(`${"a".repeat(63)}.`.repeat(4) + "a"));
});

test("property: a DNS label never contains a character a shell would interpret", () => {
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 70 }), (s) => {
    if (isDnsLabel(s)) assert.match(s, /^[A-Za-z0-9-]+$/);
    if (isHost(s)) assert.match(s, /^[A-Za-z0-9.:-]+$/);
  }), { numRuns: 2000 });
});

test("hosts, ports, interface names", () => {
  assert.ok(isHost("192.0.2.1") && isHost("2001:db8::1") && isHost("db.example.com"));
  assert.ok(!isHost("a;b") && !isHost("-x") && !isHost(""));
  assert.ok(isPort(1) && isPort(65535) && !isPort(0) && !isPort(65536) && !isPort(1.5) && !isPort("22"));
  assert.ok(isInterfaceName("wg0") && isInterfaceName("mesh_1.a=b+c-d"));
  assert.ok(!isInterfaceName("") && !isInterfaceName("a".repeat(16)) && !isInterfaceName("wg 0") && !isInterfaceName("..") && !isInterfaceName("wg/0"));
});

test("endpoints", () => {
  assert.deepEqual(parseEndpoint("198.51.100.3:51820"), { host: "198.51.100.3", port: 51820 });
  assert.deepEqual(parseEndpoint("[2001:db8::1]:443"), { host: "2001:db8::1", port: 443 });
  assert.deepEqual(parseEndpoint("vpn.example.com:1"), { host: "vpn.example.com", port: 1 });
  for (const bad of ["198.51.100.3", "198.51.100.3:", ":51820", "2001:db8::1:51820", "[vpn.example.com]:1", "[2001:db8::1]", "a b:1", "h:65536", "h:0", "h:-1", "h;x:1", "h:1 "]) {
    assert.equal(parseEndpoint(bad), null, bad);
  }
});

test("q escapes control characters", () => {
  assert.equal(q("a\nb"), '"a\\nb"');
  assert.equal(q(5), "5");
  assert.equal(q(undefined), "undefined");
});
