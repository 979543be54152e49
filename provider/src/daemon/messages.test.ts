import { test } from "node:test";
import { ipv4Fragments, SEND_DATAGRAM_BYTES, sealEnvelope, sealedSize } from "./envelope";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeAnnouncement, decodeGoodbye, decodeRendezvousOffer, decodeRendezvousStart, encodeAnnouncement, encodeGoodbye,
  encodeRendezvousOffer, encodeRendezvousStart, fitKnownPeers, isValidEndpoint, splitHostPort, PeerAnnouncement, LIMITS,
} from "./messages";
import { goString } from "./gojson";

const A = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
const B = "WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=";

function full(): PeerAnnouncement {
  return {
    protocol: "wgmesh-v1", wg_pubkey: A, hostname: "node-a", mesh_ip: "10.53.46.186",
    mesh_ipv6: "fd96:1a43:232a:2a66:6626:ad6b:c95d:6791", wg_endpoint: "198.51.100.7:51820", introducer: true,
    routable_networks: ["192.168.50.0/24"], timestamp: 1800000000,
    known_peers: [{ wg_pubkey: B, mesh_ip: "10.53.112.189", wg_endpoint: "" , nat_type: "cone" }],
    observed_endpoint: "203.0.113.9:40000", nat_type: "symmetric",
  };
}

test("announcement encoding: Go field order, omitempty, wg_endpoint always present", () => {
  assert.equal(encodeAnnouncement(full()),
    `{"protocol":"wgmesh-v1","wg_pubkey":"${A}","hostname":"node-a","mesh_ip":"10.53.46.186","mesh_ipv6":"fd96:1a43:232a:2a66:6626:ad6b:c95d:6791","wg_endpoint":"198.51.100.7:51820","introducer":true,"routable_networks":["192.168.50.0/24"],"timestamp":1800000000,"known_peers":[{"wg_pubkey":"${B}","mesh_ip":"10.53.112.189","wg_endpoint":"","nat_type":"cone"}],"observed_endpoint":"203.0.113.9:40000","nat_type":"symmetric"}`);
  assert.equal(encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: A, mesh_ip: "10.0.0.1", wg_endpoint: "", introducer: false, routable_networks: [], known_peers: [], timestamp: 5 }),
    `{"protocol":"wgmesh-v1","wg_pubkey":"${A}","mesh_ip":"10.0.0.1","wg_endpoint":"","timestamp":5}`);
});

test("Go string escaping: HTML characters and U+2028/2029", () => {
  assert.equal(goString("a<b>&c\u2028\u2029\"\\\n"), '"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\\"\\\\\\n"');
  assert.equal(goString("\ud800x"), '"\ufffdx"');
});

test("other payloads in Go order", () => {
  assert.equal(encodeGoodbye({ protocol: "wgmesh-v1", timestamp: 7, wg_pubkey: A }), `{"protocol":"wgmesh-v1","timestamp":7,"wg_pubkey":"${A}"}`);
  assert.equal(encodeRendezvousOffer({ protocol: "wgmesh-v1", timestamp: 7, from_pubkey: A, target_pubkey: B, pair_id: "2cb82cb0effa1637" }),
    `{"protocol":"wgmesh-v1","timestamp":7,"from_pubkey":"${A}","target_pubkey":"${B}","pair_id":"2cb82cb0effa1637"}`);
  assert.equal(encodeRendezvousStart({ protocol: "wgmesh-v1", timestamp: 7, pair_id: "2cb82cb0effa1637", peer_pubkey: B, peer_candidates: ["1.2.3.4:5"], start_at_unix_ms: 99, introducer_key: A }),
    `{"protocol":"wgmesh-v1","timestamp":7,"pair_id":"2cb82cb0effa1637","peer_pubkey":"${B}","peer_candidates":["1.2.3.4:5"],"start_at_unix_ms":99,"introducer_key":"${A}"}`);
});

test("decode round-trips a full announcement", () => {
  const a = full();
  const d = decodeAnnouncement(JSON.parse(encodeAnnouncement(a)));
  assert.ok(d.ok);
  assert.deepEqual(d.value, a);
  assert.equal(encodeAnnouncement(d.value), encodeAnnouncement(a));
});

function bad(mut: (o: Record<string, unknown>) => void): string {
  const o = JSON.parse(encodeAnnouncement(full())) as Record<string, unknown>;
  mut(o);
  const d = decodeAnnouncement(o);
  assert.equal(d.ok, false, "expected rejection");
  return d.ok ? "" : d.field;
}

test("validation rejects each bad field (§2.5 plus the stricter rules)", () => {
  assert.equal(bad((o) => (o["wg_pubkey"] = "test-pubkey")), "wg_pubkey");
  assert.equal(bad((o) => (o["wg_pubkey"] = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9_AsrhtHHw=")), "wg_pubkey");
  assert.equal(bad((o) => (o["wg_pubkey"] = "AAAA")), "wg_pubkey");
  assert.equal(bad((o) => delete o["mesh_ip"]), "mesh_ip");
  assert.equal(bad((o) => (o["mesh_ip"] = "10.0.0")), "mesh_ip");
  assert.equal(bad((o) => (o["mesh_ip"] = "fd00::1")), "mesh_ip");
  assert.equal(bad((o) => (o["mesh_ipv6"] = "10.1.1.1")), "mesh_ipv6");
  assert.equal(bad((o) => (o["wg_endpoint"] = "test:51820")), "wg_endpoint");
  assert.equal(bad((o) => (o["wg_endpoint"] = "1.2.3.4:0")), "wg_endpoint");
  assert.equal(bad((o) => (o["wg_endpoint"] = "1.2.3.4:65536")), "wg_endpoint");
  assert.equal(bad((o) => (o["hostname"] = "x".repeat(254))), "hostname");
  assert.equal(bad((o) => (o["hostname"] = "tab\there")), "hostname");
  assert.equal(bad((o) => (o["routable_networks"] = Array.from({ length: 101 }, () => "10.0.0.0/8"))), "routable_networks");
  assert.equal(bad((o) => (o["known_peers"] = Array.from({ length: 1001 }, () => ({})))), "known_peers");
  assert.equal(bad((o) => (o["introducer"] = "yes")), "introducer");
  assert.equal(bad((o) => (o["nat_type"] = "weird")), "nat_type");
  assert.equal(bad((o) => (o["observed_endpoint"] = "nowhere")), "observed_endpoint");
  assert.equal(bad((o) => (o["timestamp"] = 1.5)), "timestamp");
});

test("null members count as absent, like Go", () => {
  const o = JSON.parse(encodeAnnouncement(full())) as Record<string, unknown>;
  o["known_peers"] = null;
  o["hostname"] = null;
  const d = decodeAnnouncement(o);
  assert.ok(d.ok);
  assert.equal(d.value.known_peers, undefined);
});

test("GOODBYE must not carry announcement members (re-labelled HELLO)", () => {
  assert.ok(decodeGoodbye({ protocol: "wgmesh-v1", timestamp: 1, wg_pubkey: A }).ok);
  const r = decodeGoodbye(JSON.parse(encodeAnnouncement(full())));
  assert.ok(!r.ok && r.message.endsWith("not part of a GOODBYE"));
  assert.ok(!decodeGoodbye({ protocol: "wgmesh-v1", timestamp: 1, wg_pubkey: "x" }).ok);
});

test("rendezvous payloads validate keys, pair id and candidates", () => {
  assert.ok(decodeRendezvousOffer({ protocol: "wgmesh-v1", timestamp: 1, from_pubkey: A, target_pubkey: B, pair_id: "2cb82cb0effa1637", candidates: ["[2001:db8::1]:5"] }).ok);
  assert.ok(!decodeRendezvousOffer({ protocol: "wgmesh-v1", timestamp: 1, from_pubkey: A, target_pubkey: B, pair_id: "XYZ" }).ok);
  assert.ok(!decodeRendezvousOffer({ protocol: "wgmesh-v1", timestamp: 1, from_pubkey: A, target_pubkey: B, candidates: ["host:1"] }).ok);
  assert.ok(decodeRendezvousStart({ protocol: "wgmesh-v1", timestamp: 1, pair_id: "2cb82cb0effa1637", peer_pubkey: B, start_at_unix_ms: 5 }).ok);
  assert.ok(!decodeRendezvousStart({ protocol: "wgmesh-v1", timestamp: 1, pair_id: "2cb82cb0effa1637", peer_pubkey: B, peer_candidates: new Array(65).fill("1.2.3.4:5") }).ok);
});

test("host:port parsing follows Go's SplitHostPort for the forms we accept", () => {
  assert.deepEqual(splitHostPort("[::1]:80"), { host: "::1", port: 80 });
  assert.deepEqual(splitHostPort("0.0.0.0:51820"), { host: "0.0.0.0", port: 51820 });
  assert.equal(splitHostPort("::1:80"), undefined);
  assert.equal(splitHostPort("1.2.3.4"), undefined);
  assert.ok(isValidEndpoint(""));
  assert.ok(isValidEndpoint("[fd00::1]:51820"));
  assert.ok(!isValidEndpoint("[fd00::1%eth0]:51820"));
});

test("our sends cut known_peers to fit one datagram (Go's are unbounded, weakness 12)", () => {
  const many = Array.from({ length: 1000 }, (_, i) => ({ wg_pubkey: A, hostname: `host-${i}-${"x".repeat(40)}`, mesh_ip: "10.1.2.3", wg_endpoint: "198.51.100.200:51820" }));
  const cut = fitKnownPeers({ ...full(), known_peers: many });
  const size = Buffer.byteLength(encodeAnnouncement(cut));
  assert.ok(size <= LIMITS.sendBudgetBytes, `${size}`);
  assert.ok((cut.known_peers?.length ?? 0) > 20);
  assert.ok((cut.known_peers?.length ?? 0) < 1000);
  // the sealed datagram (base64 adds a third) stays within 8 IPv4 fragments, and the next entry would not fit
  for (const type of ["HELLO", "REPLY", "ANNOUNCE"]) {
    const sealed = sealEnvelope(type, encodeAnnouncement(cut), Buffer.alloc(32, 7));
    assert.ok(sealed.length <= SEND_DATAGRAM_BYTES && ipv4Fragments(sealed.length) <= 8, `${type}: ${sealed.length}`);
    assert.equal(sealed.length, sealedSize(type, size));
  }
  const one = fitKnownPeers({ ...full(), known_peers: many.slice(0, (cut.known_peers?.length ?? 0) + 1) });
  assert.equal(one.known_peers?.length, cut.known_peers?.length);
  assert.ok(Buffer.byteLength(encodeAnnouncement({ ...full(), known_peers: many.slice(0, (cut.known_peers?.length ?? 0) + 1) })) > LIMITS.sendBudgetBytes);
  const small = full();
  assert.equal(fitKnownPeers(small), small);
});

test("bad known_peers and routable_networks entries are dropped one by one, the message is kept", () => {
  const o = JSON.parse(encodeAnnouncement(full())) as Record<string, unknown>;
  o["routable_networks"] = ["0.0.0.0/0", "192.168.50.0/24", "::/0", "10.0.0.0", "fd00:1::/64"];
  o["known_peers"] = [{ wg_pubkey: "test-pubkey", mesh_ip: "10.0.0.1", wg_endpoint: "test:51820" }, 7, { wg_pubkey: B, mesh_ip: "10.53.112.189", wg_endpoint: "" }, { wg_pubkey: B, mesh_ip: "nope", wg_endpoint: "" }];
  const d = decodeAnnouncement(o);
  assert.ok(d.ok);
  assert.deepEqual(d.value.routable_networks, ["192.168.50.0/24", "fd00:1::/64"]);
  assert.deepEqual(d.value.known_peers, [{ wg_pubkey: B, mesh_ip: "10.53.112.189", wg_endpoint: "" }]);
  assert.equal(d.discarded.length, 6);
  assert.match(d.discarded.join("\n"), /known_peers\[0\]\.wg_pubkey/);
  assert.match(d.discarded.join("\n"), /known_peers\[3\]\.mesh_ip/);
});

test("property: an entry decodes the same whether or not a valid entry with its key was seen before", () => {
  // The decoder remembers the last valid fields per key; a look-alike with any field changed (to junk,
  // to null, to another valid value) must decode exactly as it does on first sight.
  const values: unknown[] = [undefined, null, "", 0, 1, false, true, [], {}, "x", "10.1.2.3", "10.1.2.4", "1.2.3.4:51820", "0.0.0.0:51820",
    "fd00::1", "[fd00::1]:51820", "cone", "symmetric", "bogus", "node-a", "node-\u00e9", "a".repeat(254)];
  const fields = ["wg_pubkey", "mesh_ip", "wg_endpoint", "hostname", "mesh_ipv6", "introducer", "nat_type", "extra"];
  const withEntry = (e: Record<string, unknown>): Record<string, unknown> => ({ ...JSON.parse(encodeAnnouncement(full())), known_peers: [e] });
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.tuple(fc.constantFrom(...fields), fc.constantFrom(...values)), { minLength: 1, maxLength: 3 }), (keyBytes, edits) => {
    const valid: Record<string, unknown> = { wg_pubkey: Buffer.from(keyBytes).toString("base64"), hostname: "node-x", mesh_ip: "10.9.8.7", mesh_ipv6: "fd00::7", wg_endpoint: "198.51.100.9:51820", introducer: true, nat_type: "cone" };
    const variant = { ...valid };
    for (const [f, v] of edits) if (v === undefined) delete variant[f]; else variant[f] = v;
    const first = decodeAnnouncement(withEntry(variant)); // the key (fresh) was never seen
    assert.ok(decodeAnnouncement(withEntry(valid)).ok);
    const again = decodeAnnouncement(withEntry(variant));
    assert.deepEqual(again, first);
  }), { numRuns: 3000 });
});
