import { test } from "node:test";
import assert from "node:assert/strict";
import { findRouteConflicts, normalizeEndpoint, parseIpAddr, parseIpForward, parseIpRoutes, parseLiveState, parseWgDump, presharedKeyFingerprint } from "./live";
import { IP_ADDR_JSON, IP_ROUTE4_JSON, IP_ROUTE6_JSON, WG_DUMP } from "./testdata/captured";

const PRIVATE = (WG_DUMP.split("\n")[0] as string).split("\t")[0] as string;
const PSK = ((WG_DUMP.split("\n")[1] as string).split("\t")[1]) as string;

test("wg dump (captured from wireguard-go): interface line and every peer field in the real order", () => {
  const d = parseWgDump(WG_DUMP);
  assert.deepEqual(d.interface, { publicKey: "YXzJoSDxIh1zgCPaSL8avF3e3ynpqA9gOPlN6/X+ZBw=", listenPort: 51820, fwmark: "off" });
  assert.equal(d.peers.length, 3);
  assert.deepEqual(d.peers.map((p) => p.publicKey), [...d.peers.map((p) => p.publicKey)].sort(), "sorted by public key");
  const byKey = (k: string) => d.peers.find((p) => p.publicKey.startsWith(k));
  assert.deepEqual(byKey("Gd6B"), {
    publicKey: "Gd6BZjR7ARbJXCDfnUmoJnXPEIKnBCtConaQR5CsYlk=",
    presharedKey: true,
    presharedKeyFingerprint: presharedKeyFingerprint(PSK),
    endpoint: "127.0.0.2:51820",
    allowedIps: ["10.99.0.3/32", "192.168.50.0/24"],
    latestHandshake: 0,
    rxBytes: 0,
    txBytes: 148,
    persistentKeepalive: 25,
  });
  assert.deepEqual(byKey("dhdD"), {
    publicKey: "dhdD5G/nG9XBge5cgDrcbMOPXKPJ8P335ZIUNGlp5Hk=",
    presharedKey: false,
    endpoint: "[::1]:51821",
    allowedIps: ["10.99.0.4/32", "fd00:50::/64"],
    latestHandshake: 0,
    rxBytes: 0,
    txBytes: 148,
    persistentKeepalive: null,
  });
  assert.equal(byKey("OtuJ")?.endpoint, null, "(none) endpoint");
  assert.equal(byKey("OtuJ")?.presharedKey, false, "(none) psk");
});

test("the dump's private key and the PSK never leave the parser", () => {
  const text = JSON.stringify(parseWgDump(WG_DUMP));
  assert.ok(!text.includes(PRIVATE));
  assert.ok(!text.includes(PSK));
  assert.notEqual(presharedKeyFingerprint(PSK), PSK);
  // a malformed dump line does not echo the private key either
  const bad = `${PRIVATE}\tnot-a-key\t51820\toff\n`;
  assert.throws(() => parseWgDump(bad), (e: Error) => !e.message.includes(PRIVATE) && /interface public key/.test(e.message));
});

test("dump edge cases: interface without key, allowed-ips (none), latest-handshake is not the keepalive", () => {
  const key = Buffer.alloc(32, 1).toString("base64");
  const d = parseWgDump(`(none)\t(none)\t0\toff\n${key}\t(none)\t(none)\t(none)\t1700000000\t10\t20\toff\n`);
  assert.equal(d.interface.publicKey, null);
  assert.deepEqual(d.peers[0]?.allowedIps, []);
  assert.equal(d.peers[0]?.latestHandshake, 1700000000);
  assert.equal(d.peers[0]?.persistentKeepalive, null);
  assert.throws(() => parseWgDump(`(none)\t(none)\t0\toff\n${key}\t(none)\t(none)\n`), /expected 8/);
  assert.throws(() => parseWgDump(""), /empty/);
});

test("ip -j addr: MTU and global addresses; the kernel's IPv6 link-local address is not ours", () => {
  assert.deepEqual(parseIpAddr(IP_ADDR_JSON, "wgfx0"), { mtu: 1420, addresses: ["10.99.0.1/16"] });
  assert.equal(parseIpAddr(IP_ADDR_JSON, "wg0"), null);
  assert.equal(parseIpAddr("", "wg0"), null, "ip prints nothing on stdout for a missing device");
});

test("ip -j route: the connected route and fe80::/64 are excluded; IPv6 routes come from ip -6", () => {
  assert.deepEqual(parseIpRoutes(IP_ROUTE4_JSON, 4), ["192.168.50.0/24"]);
  assert.deepEqual(parseIpRoutes(IP_ROUTE6_JSON, 6), ["fd00:50::/64"]);
  assert.deepEqual(parseIpRoutes('[{"dst":"default","scope":"link","flags":[]},{"dst":"10.1.2.3","scope":"link","flags":[]}]', 4), ["0.0.0.0/0", "10.1.2.3/32"]);
  assert.throws(() => parseIpRoutes("10.0.0.0/8 dev wg0", 4), /not JSON/);
});

test("live state assembled from the captured outputs", () => {
  const live = parseLiveState({ ifname: "wgfx0", wgDump: WG_DUMP, ipAddr: IP_ADDR_JSON, ipRoute: IP_ROUTE4_JSON, ipRoute6: IP_ROUTE6_JSON, ipForward: "0\n" });
  assert.deepEqual(live.interface, { name: "wgfx0", publicKey: "YXzJoSDxIh1zgCPaSL8avF3e3ynpqA9gOPlN6/X+ZBw=", listenPort: 51820, addresses: ["10.99.0.1/16"], mtu: 1420 });
  assert.deepEqual(live.routes, ["192.168.50.0/24", "fd00:50::/64"]);
  assert.equal(live.forwarding, false);
  assert.equal(live.peers.length, 3);
  assert.deepEqual(parseLiveState({ ifname: "wg0", wgDump: "", ipAddr: "", ipRoute: "", ipForward: "1" }), { interface: null, peers: [], routes: [], forwarding: true });
  assert.throws(() => parseIpForward("yes"), /0 or 1/);
});

test("endpoint normalisation follows wg's printing", () => {
  assert.equal(normalizeEndpoint("[FD00:0:0::1]:51820"), "[fd00::1]:51820");
  assert.equal(normalizeEndpoint("198.51.100.3:51820"), "198.51.100.3:51820");
  assert.equal(normalizeEndpoint("host.example:1"), "host.example:1");
});

test("route conflicts: a desired route whose exact prefix another device holds (captured ip -j output)", () => {
  const main4 = '[{"dst":"192.168.50.0/24","dev":"lo","scope":"link","flags":[]},{"dst":"192.168.60.0/24","dev":"wgx5t","scope":"link","flags":[]},{"dst":"10.0.0.0/8","dev":"eth0","flags":[]}]';
  const main6 = '[{"dst":"fe80::/64","dev":"wgx5t","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]';
  assert.deepEqual(findRouteConflicts(["192.168.50.0/24", "192.168.60.0/24", "10.1.0.0/16"], "wgx5t", main4, main6), [{ cidr: "192.168.50.0/24", dev: "lo" }]);
  assert.deepEqual(findRouteConflicts([], "wgx5t", main4, main6), []);
});
