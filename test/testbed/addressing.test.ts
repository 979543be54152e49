// Pure parts of the testbed: address arithmetic, naming rules, router ruleset, known_hosts format.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { defaultSubnet, hostAddress, overlaps, parseAnyCidr, parseCidr } from "./addressing";
import { machineVeth, nsBelongsTo, runName, validatePrefix } from "./naming";
import { routerRuleset, stableMac } from "./network";
import { knownHostsPattern } from "./sshkeys";

describe("testbed addressing", () => {
  it("parses and normalises segments, rejects what cannot be a segment", () => {
    assert.deepEqual(parseCidr("172.31.77.9/24"), parseCidr("172.31.77.0/24"));
    assert.equal(hostAddress(parseCidr("172.31.77.0/24"), 11), "172.31.77.11");
    assert.throws(() => hostAddress(parseCidr("172.31.77.0/28"), 15), /no room/);
    assert.throws(() => parseCidr("fd00::/64"), /IPv4/);
    assert.throws(() => parseCidr("10.0.0.0/30"), /between/);
    assert.throws(() => parseCidr("nonsense"), /not an IPv4 CIDR/);
  });

  it("picks a default /24 in 198.18.0.0/15 that avoids the machine's routes, stable per prefix", () => {
    const a = defaultSubnet("tb", []);
    assert.equal(a, defaultSubnet("tb", []));
    const c = parseCidr(a);
    assert.ok(overlaps(parseCidr("198.18.0.0/15"), c) && c.len === 24);
    const b = defaultSubnet("tb", [c]);
    assert.notEqual(b, a);
    assert.ok(!overlaps(parseCidr(b), c));
    // a host route inside the first choice also moves it
    assert.notEqual(defaultSubnet("tb", [parseAnyCidr(`${hostAddress(c, 77)}/32`)]), a);
  });

  it("WGMESH_TESTBED_PREFIX puts a run's letter in front of every name, once", () => {
    const was = process.env.WGMESH_TESTBED_PREFIX;
    try {
      delete process.env.WGMESH_TESTBED_PREFIX;
      assert.equal(runName("ftier"), "ftier");
      process.env.WGMESH_TESTBED_PREFIX = "k";
      assert.deepEqual(["ftier", "kgate", "p6fm"].map(runName), ["kftier", "kgate", "kp6fm"]);
      assert.throws(() => runName("abcdefghij"), /invalid/, "too long with the prefix: named, not cut");
    } finally {
      if (was === undefined) delete process.env.WGMESH_TESTBED_PREFIX;
      else process.env.WGMESH_TESTBED_PREFIX = was;
    }
  });

  it("prefixes never nest, so down(P) cannot touch another testbed", () => {
    assert.equal(validatePrefix("e2e1"), "e2e1");
    for (const bad of ["", "Tb", "tb-x", "1tb", "abcdefghijk"]) assert.throws(() => validatePrefix(bad), /invalid/);
    assert.ok(nsBelongsTo("tbns-tb-h1", "tb"));
    assert.ok(!nsBelongsTo("tbns-tb2-h1", "tb"));
    assert.ok(machineVeth("abcdefghij").length <= 15);
  });

  it("stable MACs are locally administered unicast and differ per host", () => {
    const m = stableMac("tbns-tb-h1");
    assert.match(m, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(parseInt(m.slice(0, 2), 16) & 3, 2);
    assert.equal(m, stableMac("tbns-tb-h1"));
    assert.notEqual(m, stableMac("tbns-tb-h2"));
  });

  it("the router masquerades out of pub0, forwards only replies and the SSH port forwards", () => {
    const r = routerRuleset({
      prefix: "tb",
      publicAddr: "198.18.0.2",
      publicLen: 24,
      natSubnet: parseCidr("192.168.77.0/24"),
      forwards: [{ port: 2201, to: "192.168.77.11" }],
    });
    assert.match(r, /iifname "pub0" tcp dport 2201 dnat to 192\.168\.77\.11:22/);
    assert.match(r, /oifname "pub0" masquerade/);
    assert.match(r, /hook forward priority filter; policy drop;/);
  });

  it("known_hosts patterns follow ssh's [host]:port rule", () => {
    assert.equal(knownHostsPattern("198.18.0.11", 22), "198.18.0.11");
    assert.equal(knownHostsPattern("198.18.0.2", 2201), "[198.18.0.2]:2201");
  });
});
