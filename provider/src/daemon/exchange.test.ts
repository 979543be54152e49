import { test } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import fc from "fast-check";
import { PeerExchange, ExchangeEvent, LocalNode } from "./exchange";
import { PeerStore } from "./store";
import { deriveParams, meshIPv4 } from "./derive";
import { openEnvelope, sealEnvelope } from "./envelope";
import { encodeAnnouncement, encodeGoodbye } from "./messages";
import { generateKeyPair } from "../core/keys";

const params = deriveParams("wgmesh-test-vector-secret-0001");

function node(name: string, opts: { gossip?: boolean; nowMs?: () => number } = {}) {
  const kp = generateKeyPair();
  const local: LocalNode = { pubkey: kp.publicKey, meshIp: meshIPv4(params, kp.publicKey), hostname: name, wgEndpoint: "0.0.0.0:51820" };
  const store = new PeerStore(opts.nowMs);
  const events: ExchangeEvent[] = [];
  const ex = new PeerExchange({ gossipKey: params.gossipKey, local: () => local, store, gossip: opts.gossip ?? false, onEvent: (e) => events.push(e), ...(opts.nowMs ? { nowMs: opts.nowMs } : {}) });
  return { ex, store, local, events };
}

/**
 * How long a test waits for a datagram it expects: long, so that a loaded machine (CI beside other work)
 * cannot fail it; only a missing datagram costs the wait. A check that one does NOT come uses `next()`'s
 * short default instead.
 */
const EXPECTED_MS = 15_000;

async function udpClient(): Promise<{ sock: dgram.Socket; port: number; next: (waitMs?: number) => Promise<Buffer | undefined> }> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const queue: Buffer[] = [];
  const waiters: ((b: Buffer) => void)[] = [];
  sock.on("message", (m) => { const w = waiters.shift(); if (w) w(m); else queue.push(m); });
  const next = (waitMs = 500): Promise<Buffer | undefined> => {
    const q = queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((r) => {
      const t = setTimeout(() => { waiters.splice(waiters.indexOf(f), 1); r(undefined); }, waitMs);
      const f = (b: Buffer): void => { clearTimeout(t); r(b); };
      waiters.push(f);
    });
  };
  return { sock, port: sock.address().port, next };
}

test("two exchanges on loopback: HELLO/REPLY stores both sides, REPLY carries observed_endpoint", async () => {
  const a = node("node-a");
  const b = node("node-b");
  const pa = await a.ex.start(0, "127.0.0.1");
  const pb = await b.ex.start(0, "127.0.0.1");
  try {
    const r = await a.ex.exchange("127.0.0.1", pb);
    assert.ok(r, "got a REPLY");
    assert.equal(r.from, `127.0.0.1:${pb}`);
    assert.equal(r.announcement.wg_pubkey, b.local.pubkey);
    assert.equal(r.announcement.observed_endpoint, `127.0.0.1:${pa}`);
    const atB = b.store.get(a.local.pubkey);
    assert.ok(atB);
    assert.equal(atB.endpoint, "127.0.0.1:51820", "0.0.0.0 host → UDP source IP, announced port");
    assert.equal(atB.mesh_ip, a.local.meshIp);
    assert.equal(atB.hostname, "node-a");
    assert.deepEqual(atB.discovered_via, ["dht"]);
    const atA = a.store.get(b.local.pubkey);
    assert.ok(atA);
    assert.equal(atA.endpoint, "127.0.0.1:51820");
    assert.equal(b.ex.stats.repliesSent, 1);
    // a third node learns A transitively from B's REPLY known_peers (with the endpoint B resolved)
    const c = node("node-c");
    await c.ex.start(0, "127.0.0.1");
    try {
      assert.ok(await c.ex.exchange("127.0.0.1", pb));
      const t = c.store.get(a.local.pubkey);
      assert.ok(t);
      assert.deepEqual(t.discovered_via, ["dht-transitive"]);
      assert.equal(t.endpoint, "127.0.0.1:51820");
      assert.equal(t.last_seen_ms <= Date.now(), true);
    } finally {
      await c.ex.stop();
    }
  } finally {
    await a.ex.stop();
    await b.ex.stop();
  }
});

test("HELLO resends: the initiator repeats until a REPLY from that exact ip:port; duplicates are answered, processed once", async () => {
  const b = node("node-b");
  const pb = await b.ex.start(0, "127.0.0.1");
  const cl = await udpClient();
  try {
    const kp = generateKeyPair();
    const hello = sealEnvelope("HELLO", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: kp.publicKey, mesh_ip: "10.53.1.2", wg_endpoint: "0.0.0.0:51820", timestamp: Math.floor(Date.now() / 1000) }), params.gossipKey);
    for (let i = 0; i < 3; i++) cl.sock.send(hello, pb, "127.0.0.1");
    const replies = [await cl.next(EXPECTED_MS), await cl.next(EXPECTED_MS), await cl.next(EXPECTED_MS)];
    assert.ok(replies.every((r) => r !== undefined), "each copy of the HELLO is answered");
    assert.equal(b.ex.stats.duplicateHellos, 2);
    assert.equal(b.events.filter((e) => e.kind === "hello").length, 1, "processed once");
    // the same datagram from another source is a replay: dropped, not answered
    const other = await udpClient();
    other.sock.send(hello, pb, "127.0.0.1");
    assert.equal(await other.next(), undefined);
    assert.equal(b.ex.counters.get("replay"), 1);
    other.sock.close();
  } finally {
    cl.sock.close();
    await b.ex.stop();
  }
  // initiator side: a silent target gets the same datagram again, the gap doubling from the interval to its
  // cap, until the timeout
  const a = node("node-a");
  await a.ex.start(0, "127.0.0.1");
  const sink = await udpClient();
  try {
    const r = await a.ex.exchange("127.0.0.1", sink.port, { timeoutMs: 1000, intervalMs: 100, maxIntervalMs: 1000 });
    assert.equal(r, undefined);
    const got: Buffer[] = [];
    for (;;) { const m = await sink.next(); if (!m) break; got.push(m); }
    // Sends at 0, 0.1, 0.3 and 0.7 s (every 100 ms would be 10); a loaded machine delays timers, so only
    // "resent, never more than the doubling allows" is asserted, not a count.
    assert.ok(got.length >= 2 && got.length <= 4, `${got.length} sends`);
    assert.ok(got.every((m) => m.equals(got[0] as Buffer)), "the same datagram each time");
  } finally {
    sink.sock.close();
    await a.ex.stop();
  }
});

test("an authenticated HELLO with invalid fields (Go test-peer's 'test-pubkey') is answered but not stored", async () => {
  const b = node("node-b");
  const pb = await b.ex.start(0, "127.0.0.1");
  const cl = await udpClient();
  try {
    const hello = sealEnvelope("HELLO", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: "test-pubkey", mesh_ip: "10.0.0.1", wg_endpoint: "test:51820", timestamp: Math.floor(Date.now() / 1000) }), params.gossipKey);
    cl.sock.send(hello, pb, "127.0.0.1");
    assert.ok(await cl.next(EXPECTED_MS));
    assert.equal(b.store.size, 0);
    assert.equal(b.ex.counters.get("invalid-field"), 1);
  } finally {
    cl.sock.close();
    await b.ex.stop();
  }
});

test("wrong secret: counted as auth-failed, no REPLY", async () => {
  const b = node("node-b");
  const pb = await b.ex.start(0, "127.0.0.1");
  const cl = await udpClient();
  try {
    const wrong = deriveParams("a-completely-different-secret").gossipKey;
    const kp = generateKeyPair();
    cl.sock.send(sealEnvelope("HELLO", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: kp.publicKey, mesh_ip: "10.1.1.1", wg_endpoint: "", timestamp: Math.floor(Date.now() / 1000) }), wrong), pb, "127.0.0.1");
    assert.equal(await cl.next(), undefined);
    assert.equal(b.ex.counters.get("auth-failed"), 1);
    assert.equal(b.store.size, 0);
  } finally {
    cl.sock.close();
    await b.ex.stop();
  }
});

test("GOODBYE removes within ±60 s; re-labelled HELLO as GOODBYE is refused; ANNOUNCE only with gossip", () => {
  let now = 1_800_000_000_000;
  const b = node("node-b", { nowMs: () => now });
  const g = node("node-g", { gossip: true, nowMs: () => now });
  const kp = generateKeyPair();
  const ts = Math.floor(now / 1000);
  const ann = encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: kp.publicKey, mesh_ip: "10.53.9.9", wg_endpoint: "198.51.100.3:51820", timestamp: ts });
  b.ex.handleDatagram(sealEnvelope("ANNOUNCE", ann, params.gossipKey), "10.0.0.5", 52311);
  assert.equal(b.ex.counters.get("gossip-disabled"), 1);
  assert.equal(b.store.size, 0);
  g.ex.handleDatagram(sealEnvelope("ANNOUNCE", ann, params.gossipKey), "10.0.0.5", 52311);
  assert.deepEqual(g.store.get(kp.publicKey)?.discovered_via, ["gossip"]);
  assert.equal(g.store.get(kp.publicKey)?.endpoint, "198.51.100.3:51820");
  // re-labelled ANNOUNCE → GOODBYE (different nonce so the replay cache does not decide)
  g.ex.handleDatagram(sealEnvelope("GOODBYE", ann, params.gossipKey), "10.0.0.5", 52311);
  assert.equal(g.ex.counters.get("type-mismatch"), 1);
  assert.equal(g.store.size, 1);
  const bye = (t: number): Buffer => sealEnvelope("GOODBYE", encodeGoodbye({ protocol: "wgmesh-v1", timestamp: t, wg_pubkey: kp.publicKey }), params.gossipKey);
  g.ex.handleDatagram(bye(ts - 61), "10.0.0.5", 52311);
  assert.equal(g.ex.counters.get("goodbye-window"), 1);
  assert.equal(g.store.size, 1);
  now += 60_000;
  g.ex.handleDatagram(bye(ts), "10.0.0.66", 52311);
  assert.equal(g.ex.counters.get("goodbye-unverified"), 1, "forged from another member's address");
  assert.equal(g.store.size, 1);
  g.ex.handleDatagram(bye(ts), "198.51.100.3", 52311);
  assert.equal(g.store.size, 0);
  assert.ok(g.events.some((e) => e.kind === "goodbye" && e.removed));
});

test("leave: the GOODBYE is the socket's last datagram — exchanges in flight end, no HELLO resend or REPLY after it", async () => {
  const a = node("node-a");
  const pa = await a.ex.start(0, "127.0.0.1");
  const peer = await udpClient();
  try {
    // an exchange in flight towards a silent peer: HELLO resent every 50 ms
    const pending = a.ex.exchange("127.0.0.1", peer.port, { timeoutMs: 60_000, intervalMs: 50 });
    assert.ok(await peer.next(EXPECTED_MS), "a first HELLO");
    const left = a.ex.leave([{ ip: "127.0.0.1", port: peer.port }]);
    assert.equal(await pending, undefined, "the exchange in flight ends at once");
    await left;
    const types: string[] = [];
    for (;;) {
      const m = await peer.next(400);
      if (!m) break;
      const o = openEnvelope(m, params.gossipKey, Math.floor(Date.now() / 1000));
      assert.ok(o.ok);
      types.push(o.type);
    }
    assert.equal(types[types.length - 1], "GOODBYE", `the last datagram is the GOODBYE: ${types.join(",")}`);
    assert.equal(types.filter((t) => t === "GOODBYE").length, 1);
    // a HELLO arriving now is not answered (the socket is closed), and a new exchange does not start
    const kp = generateKeyPair();
    peer.sock.send(sealEnvelope("HELLO", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: kp.publicKey, mesh_ip: "10.53.1.2", wg_endpoint: "0.0.0.0:51820", timestamp: Math.floor(Date.now() / 1000) }), params.gossipKey), pa, "127.0.0.1");
    assert.equal(await peer.next(), undefined, "no REPLY after leaving");
    assert.equal(await a.ex.exchange("127.0.0.1", peer.port), undefined);
    assert.equal(a.ex.port, undefined);
  } finally {
    peer.sock.close();
    await a.ex.stop();
  }
});

test("rate limit: a flood from one source is cut at the burst before decryption", () => {
  const b = node("node-b", { nowMs: () => 1_800_000_000_000 });
  for (let i = 0; i < 100; i++) b.ex.handleDatagram(Buffer.from("junk"), "10.9.9.9", 1000 + i);
  assert.equal(b.ex.counters.get("rate-limited"), 80);
  assert.equal(b.ex.counters.get("malformed-json"), 20);
});

test("property: the receive path never throws for random or mutated datagrams, and counts every drop", () => {
  const b = node("node-b", { gossip: true, nowMs: () => 1_800_000_000_000 });
  const kp = generateKeyPair();
  const valid = encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: kp.publicKey, mesh_ip: "10.53.9.9", wg_endpoint: "0.0.0.0:51820", timestamp: 1_800_000_000, known_peers: [{ wg_pubkey: kp.publicKey, mesh_ip: "10.53.9.8", wg_endpoint: "" }] });
  const types = ["HELLO", "REPLY", "ANNOUNCE", "GOODBYE", "RENDEZVOUS_OFFER", "RENDEZVOUS_START", "X"];
  let i = 0;
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
    b.ex.handleDatagram(Buffer.from(bytes), `10.1.${(i >> 8) & 255}.${i++ & 255}`, 1);
  }), { numRuns: 1000 });
  // mutate plaintext JSON values, then seal validly: exercises every decoder
  const arb = fc.record({
    type: fc.constantFrom(...types),
    key: fc.constantFrom("wg_pubkey", "mesh_ip", "wg_endpoint", "hostname", "known_peers", "routable_networks", "timestamp", "protocol", "introducer", "pair_id", "from_pubkey", "peer_pubkey", "candidates"),
    value: fc.jsonValue(),
  });
  fc.assert(fc.property(arb, ({ type, key, value }) => {
    const o = JSON.parse(valid) as Record<string, unknown>;
    o[key] = value;
    b.ex.handleDatagram(sealEnvelope(type, JSON.stringify(o), params.gossipKey), `10.2.${(i >> 8) & 255}.${i++ & 255}`, 1);
  }), { numRuns: 3000 });
  assert.equal(b.ex.counters.get("internal-error"), 0);
  assert.equal(b.ex.stats.received, 4000);
});

test("dual stack: a socket on [::] answers IPv4 (mapped addresses normalised) and IPv6 peers", async () => {
  const b = node("node-b");
  let pb: number;
  try {
    pb = await b.ex.start(0);
  } catch (e) {
    assert.fail(`dual-stack bind failed: ${(e as Error).message}`);
  }
  const a4 = node("node-a4");
  const a6 = node("node-a6");
  await a4.ex.start(0, "127.0.0.1");
  let v6 = true;
  try {
    await a6.ex.start(0, "::1");
  } catch {
    v6 = false; // no IPv6 loopback on this host
  }
  try {
    const r4 = await a4.ex.exchange("127.0.0.1", pb);
    assert.ok(r4);
    assert.equal(r4.announcement.observed_endpoint, `127.0.0.1:${a4.ex.port}`, "IPv4-mapped source shown as plain IPv4");
    assert.equal(b.store.get(a4.local.pubkey)?.endpoint, "127.0.0.1:51820");
    if (v6) {
      const r6 = await a6.ex.exchange("::1", pb);
      assert.ok(r6);
      assert.equal(r6.announcement.observed_endpoint, `[::1]:${a6.ex.port}`);
      assert.equal(b.store.get(a6.local.pubkey)?.endpoint, "[::1]:51820");
    }
  } finally {
    await a4.ex.stop();
    await a6.ex.stop();
    await b.ex.stop();
  }
});

test("a HELLO from a polluted Go node (junk known peer, default route) is accepted without the junk", () => {
  const b = node("node-b", { nowMs: () => 1_800_000_000_000 });
  const kp = generateKeyPair();
  const good = generateKeyPair();
  const hello = encodeAnnouncement({
    protocol: "wgmesh-v1", wg_pubkey: kp.publicKey, mesh_ip: "10.53.3.3", wg_endpoint: "0.0.0.0:51820", timestamp: 1_800_000_000,
    routable_networks: ["0.0.0.0/0", "192.168.3.0/24"],
    known_peers: [{ wg_pubkey: "test-pubkey", mesh_ip: "10.0.0.1", wg_endpoint: "test:51820" }, { wg_pubkey: good.publicKey, mesh_ip: "10.53.4.4", wg_endpoint: "198.51.100.4:51820" }],
  });
  b.ex.handleDatagram(sealEnvelope("HELLO", hello, params.gossipKey), "10.0.0.3", 52311);
  assert.deepEqual(b.store.get(kp.publicKey)?.routable_networks, ["192.168.3.0/24"]);
  assert.equal(b.store.get(good.publicKey)?.endpoint, "198.51.100.4:51820");
  assert.equal(b.store.get("test-pubkey"), undefined);
  assert.equal(b.store.size, 2);
  assert.equal(b.ex.counters.get("invalid-entry"), 2);
});

test("observed_endpoint is taken only from a REPLY to our own HELLO", () => {
  const seen: string[] = [];
  const kp = generateKeyPair();
  const store = new PeerStore(() => 1_800_000_000_000);
  const ex = new PeerExchange({ gossipKey: params.gossipKey, store, nowMs: () => 1_800_000_000_000, local: () => ({ pubkey: kp.publicKey, meshIp: "10.53.0.1", wgEndpoint: "0.0.0.0:51820" }), onObservedEndpoint: (ip) => seen.push(ip) });
  const other = generateKeyPair();
  const reply = encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: other.publicKey, mesh_ip: "10.53.0.2", wg_endpoint: "", timestamp: 1_800_000_000, observed_endpoint: "203.0.113.50:4000" });
  ex.handleDatagram(sealEnvelope("REPLY", reply, params.gossipKey), "10.0.0.2", 52311);
  assert.deepEqual(seen, []);
  assert.equal(ex.counters.get("unsolicited-reply"), 1);
  assert.ok(store.get(other.publicKey), "an unsolicited REPLY still updates the store, as in Go");
});

test("a solicited REPLY reflecting a public address reports it; private ones are ignored", async () => {
  const seen: string[] = [];
  const kp = generateKeyPair();
  const ex = new PeerExchange({ gossipKey: params.gossipKey, store: new PeerStore(), local: () => ({ pubkey: kp.publicKey, meshIp: "10.53.0.1", wgEndpoint: "0.0.0.0:51820" }), onObservedEndpoint: (ip) => seen.push(ip) });
  await ex.start(0, "127.0.0.1");
  const fake = await udpClient();
  const other = generateKeyPair();
  let observed = "203.0.113.50:4000";
  fake.sock.on("message", (_m, rinfo) => {
    const reply = encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: other.publicKey, mesh_ip: "10.53.0.2", wg_endpoint: "", timestamp: Math.floor(Date.now() / 1000), observed_endpoint: observed });
    fake.sock.send(sealEnvelope("REPLY", reply, params.gossipKey), rinfo.port, rinfo.address);
  });
  try {
    assert.ok(await ex.exchange("127.0.0.1", fake.port));
    observed = "192.168.1.9:4000";
    assert.ok(await ex.exchange("127.0.0.1", fake.port));
    assert.deepEqual(seen, ["203.0.113.50"]);
  } finally {
    fake.sock.close();
    await ex.stop();
  }
});

test("the UDP source of a peer's direct HELLO/REPLY is remembered as its control address (NAT mappings), and forgotten on request with its address's freshness", async () => {
  const a = node("node-a");
  const b = node("node-b");
  const pa = await a.ex.start(0, "127.0.0.1");
  const pb = await b.ex.start(0, "127.0.0.1");
  try {
    assert.equal(b.ex.observedControl(a.local.pubkey), undefined);
    assert.ok(await a.ex.exchange("127.0.0.1", pb));
    // b saw a's HELLO from a's socket (not a's WG port or Go's host:gossip_port guess); a saw b's REPLY
    assert.deepEqual(b.ex.observedControl(a.local.pubkey), { ip: "127.0.0.1", port: pa });
    assert.deepEqual(a.ex.observedControl(b.local.pubkey), { ip: "127.0.0.1", port: pb });
    assert.equal(typeof b.ex.lastExchangeFrom("127.0.0.1"), "number");
    b.ex.forgetPeer(a.local.pubkey);
    assert.equal(b.ex.observedControl(a.local.pubkey), undefined);
    assert.equal(b.ex.lastExchangeFrom("127.0.0.1"), undefined, "a forgotten peer's address is no longer 'exchanged recently'");
  } finally {
    await a.ex.stop();
    await b.ex.stop();
  }
});

test("announcementText is the encoding of buildAnnouncement, cut to the datagram budget, and follows store changes", () => {
  const a = node("a");
  for (let i = 0; i < 400; i++) {
    const k = generateKeyPair().publicKey;
    a.store.upsert({ wg_pubkey: k, mesh_ip: meshIPv4(params, k), endpoint: `198.51.100.${i % 250}:51820`, hostname: `peer-${i}-with-a-longer-name` }, "dht");
  }
  const text = a.ex.announcementText({ observed_endpoint: "203.0.113.9:4000" });
  assert.equal(text, encodeAnnouncement(a.ex.buildAnnouncement({ observed_endpoint: "203.0.113.9:4000" })));
  const known = (JSON.parse(text) as { known_peers: { wg_pubkey: string }[] }).known_peers;
  assert.ok(known.length > 20 && known.length < 400, `${known.length} known peers`);
  assert.ok(sealEnvelope("REPLY", text, params.gossipKey).length <= 8 * 1480 - 8);
  const all = a.store.all();
  assert.equal(known[0]?.wg_pubkey, all[all.length - 1]?.wg_pubkey, "newest first");
  const first = all[all.length - 1]!;
  a.store.upsert({ wg_pubkey: first.wg_pubkey, hostname: "renamed" }, "dht");
  assert.match(a.ex.announcementText(), /"hostname":"renamed"/, "a changed peer is encoded again");
  a.store.remove(first.wg_pubkey);
  assert.doesNotMatch(a.ex.announcementText(), new RegExp(first.wg_pubkey.replace(/[+/]/g, "\\$&")));
});

test("known_peers: peers heard from directly, and second-hand ones only in their first minute with us; never cached ones", () => {
  let now = 1_800_000_000_000;
  const a = node("a", { nowMs: () => now });
  const direct = generateKeyPair().publicKey;
  const second = generateKeyPair().publicKey;
  const cached = generateKeyPair().publicKey;
  a.store.upsert({ wg_pubkey: direct, mesh_ip: meshIPv4(params, direct), endpoint: "198.51.100.1:51820" }, "dht");
  a.store.upsert({ wg_pubkey: second, mesh_ip: meshIPv4(params, second), endpoint: "198.51.100.2:51820" }, "dht-transitive");
  a.store.upsert({ wg_pubkey: cached, mesh_ip: meshIPv4(params, cached), endpoint: "198.51.100.3:51820", last_seen_ms: now }, "cache");
  const keys = (): string[] => (a.ex.buildAnnouncement().known_peers ?? []).map((k) => k.wg_pubkey);
  assert.deepEqual(keys(), [second, direct], "newest first; a second-hand newcomer spreads as in Go");
  now += 60_000 - 1;
  a.store.upsert({ wg_pubkey: direct, mesh_ip: meshIPv4(params, direct), endpoint: "198.51.100.1:51820" }, "dht");
  assert.deepEqual(keys(), [second, direct]);
  now += 1;
  assert.deepEqual(keys(), [direct], "after a minute a second-hand entry is no longer passed on");
  assert.equal(a.store.active().length, 3, "second-hand and cached entries are still active (configured, listed)");
  a.store.upsert({ wg_pubkey: second, mesh_ip: meshIPv4(params, second), endpoint: "198.51.100.2:51820" }, "dht");
  assert.deepEqual(keys(), [second, direct], "once heard directly it is passed on again");
  assert.equal(a.ex.announcementText(), encodeAnnouncement(a.ex.buildAnnouncement()));
});

test("a known_peers entry for a peer that said GOODBYE is not added again, and is counted", async () => {
  const a = node("node-a");
  const b = node("node-b");
  await a.ex.start(0, "127.0.0.1");
  await b.ex.start(0, "127.0.0.1");
  try {
    const gone = generateKeyPair().publicKey;
    b.store.upsert({ wg_pubkey: gone, mesh_ip: meshIPv4(params, gone), endpoint: "127.0.0.1:9" }, "dht");
    a.store.upsert({ wg_pubkey: gone, mesh_ip: meshIPv4(params, gone), endpoint: "127.0.0.1:9" }, "dht");
    a.store.remove(gone, "goodbye");
    assert.ok(await a.ex.exchange("127.0.0.1", b.ex.port as number, { timeoutMs: EXPECTED_MS }));
    assert.equal(a.store.get(gone), undefined, "b's REPLY mentioned it; a did not add it again");
    assert.equal(a.ex.counters.get("departed-peer"), 1);
    assert.ok(a.store.get(b.local.pubkey), "the sender itself is stored");
    // three more in one message: counted one by one, reported once (one event naming how many)
    const more = [1, 2, 3].map(() => generateKeyPair().publicKey);
    for (const k of more) {
      b.store.upsert({ wg_pubkey: k, mesh_ip: meshIPv4(params, k), endpoint: "127.0.0.1:9" }, "dht");
      a.store.upsert({ wg_pubkey: k, mesh_ip: meshIPv4(params, k), endpoint: "127.0.0.1:9" }, "dht");
      a.store.remove(k, "goodbye");
    }
    a.events.length = 0;
    assert.ok(await a.ex.exchange("127.0.0.1", b.ex.port as number, { timeoutMs: EXPECTED_MS }));
    assert.equal(a.ex.counters.get("departed-peer"), 1 + 4, "every refused mention counted (gone again, and the three)");
    const reported = a.events.filter((e) => e.kind === "drop" && e.reason === "departed-peer");
    assert.equal(reported.length, 1, "one report for the message");
    assert.match((reported[0] as { detail: string }).detail, /^4 known peers \(/);
  } finally {
    await a.ex.stop();
    await b.ex.stop();
  }
});

test("HELLOs started at the same moment with the same store share one sealed datagram; a store change or a new moment seals anew", async () => {
  let now = 1_800_000_000_000;
  const a = node("node-a", { nowMs: () => now });
  await a.ex.start(0, "127.0.0.1");
  const c1 = await udpClient();
  const c2 = await udpClient();
  try {
    const pending = [a.ex.exchange("127.0.0.1", c1.port, { timeoutMs: 50, intervalMs: 1000 }), a.ex.exchange("127.0.0.1", c2.port, { timeoutMs: 50, intervalMs: 1000 })];
    const [h1, h2] = [await c1.next(EXPECTED_MS), await c2.next(EXPECTED_MS)];
    assert.ok(h1 && h2);
    assert.ok(h1.equals(h2), "same moment, same store: one datagram");
    a.store.upsert({ wg_pubkey: generateKeyPair().publicKey, mesh_ip: "10.9.9.9", endpoint: "198.51.100.9:51820" }, "dht");
    pending.push(a.ex.exchange("127.0.0.1", c1.port, { timeoutMs: 50, intervalMs: 1000 }));
    const h3 = await c1.next(EXPECTED_MS);
    assert.ok(h3 && !h3.equals(h1), "the store changed: sealed anew");
    now += 1;
    pending.push(a.ex.exchange("127.0.0.1", c2.port, { timeoutMs: 50, intervalMs: 1000 }));
    const h4 = await c2.next(EXPECTED_MS);
    assert.ok(h4 && !h4.equals(h3), "a later moment: sealed anew");
    await Promise.all(pending);
  } finally {
    c1.sock.close();
    c2.sock.close();
    await a.ex.stop();
  }
});

test("known_peers: the newest peers, then a window that moves round the store with each datagram sent: every peer is passed on", () => {
  const a = node("a");
  for (let i = 0; i < 400; i++) {
    const k = generateKeyPair().publicKey;
    a.store.upsert({ wg_pubkey: k, mesh_ip: meshIPv4(params, k), endpoint: `198.51.100.${i % 250}:51820`, hostname: `peer-${i}` }, "dht");
  }
  const keys = (advance: boolean): string[] => (JSON.parse(a.ex.announcementText({}, advance)) as { known_peers: { wg_pubkey: string }[] }).known_peers.map((k) => k.wg_pubkey);
  const newest = [...a.store.announceable()].map((p) => p.wg_pubkey);
  const first = keys(false);
  assert.deepEqual(keys(false), first, "not sent: the window stays");
  assert.equal(a.ex.announcementText(), encodeAnnouncement(a.ex.buildAnnouncement()));
  assert.deepEqual(first, newest.slice(0, first.length), "the window starts just after the newest part");
  keys(true);
  const second = keys(false);
  const head = second.findIndex((k, i) => k !== newest[i]);
  assert.ok(head >= 10 && head < second.length, `${head} newest of ${second.length} entries`);
  const seen = new Set<string>();
  for (let n = 0; n < 40 && seen.size < 400; n++) {
    const ks = keys(true);
    assert.deepEqual(ks.slice(0, head), newest.slice(0, head), "the newest part stays");
    assert.equal(new Set(ks).size, ks.length, "no peer twice in one datagram");
    for (const k of ks) seen.add(k);
  }
  assert.equal(seen.size, 400, "every peer passed on within a few dozen datagrams");
  // a small store fits whole: newest first, no window
  const b = node("b");
  for (let i = 0; i < 5; i++) b.store.upsert({ wg_pubkey: generateKeyPair().publicKey, mesh_ip: "10.53.0.1", endpoint: `198.51.100.${i}:51820` }, "dht");
  assert.deepEqual((b.ex.buildAnnouncement().known_peers ?? []).map((k) => k.wg_pubkey), [...b.store.announceable()].map((p) => p.wg_pubkey));
});
