import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PeerStore, endpointMethodRank, resolvePeerEndpoint, knownPeerEndpoint, StoreEvent, heardDirectly, DEPARTED_MS, PEER_DEAD_MS, PEER_REMOVE_MS, PASS_ON_SECOND_HAND_MS, RUMOUR_ACTIVE_MS } from "./store";

const K = (i: number): string => Buffer.alloc(32, i).toString("base64");

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test("endpoint rank table", () => {
  assert.equal(endpointMethodRank("lan"), 100);
  assert.equal(endpointMethodRank("dht-rendezvous"), 90);
  assert.equal(endpointMethodRank("dht"), 70);
  assert.equal(endpointMethodRank("gossip"), 65);
  assert.equal(endpointMethodRank("dht-transitive"), 40);
  assert.equal(endpointMethodRank("gossip-transitive"), 35);
  assert.equal(endpointMethodRank("registry"), 30);
  assert.equal(endpointMethodRank("cache"), 20);
});

test("new entry and merge rules: non-empty replaces, introducer always overwritten, methods appended once", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  const events: StoreEvent[] = [];
  s.onEvent((e) => events.push(e));
  assert.equal(s.upsert({ wg_pubkey: K(1), mesh_ip: "10.1.0.1", endpoint: "1.1.1.1:51820", introducer: true, hostname: "h" }, "dht"), "new");
  assert.equal(s.upsert({ wg_pubkey: K(1), mesh_ip: "", hostname: "", introducer: false, endpoint: "" }, "lan"), "updated");
  const p = s.get(K(1));
  assert.ok(p);
  assert.equal(p.mesh_ip, "10.1.0.1");
  assert.equal(p.hostname, "h");
  assert.equal(p.introducer, false);
  assert.equal(p.endpoint, "1.1.1.1:51820");
  assert.deepEqual(p.discovered_via, ["dht", "lan"]);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  assert.deepEqual(s.get(K(1))?.discovered_via, ["dht", "lan"]);
  assert.deepEqual(events.map((e) => e.kind), ["new", "updated", "updated"]);
});

test("endpoint replacement by rank; LAN only by LAN; IPv6 beats IPv4 at equal rank", () => {
  const s = new PeerStore(clock().now);
  s.upsert({ wg_pubkey: K(1), endpoint: "1.1.1.1:1" }, "dht-transitive");
  s.upsert({ wg_pubkey: K(1), endpoint: "2.2.2.2:2" }, "cache");
  assert.equal(s.get(K(1))?.endpoint, "1.1.1.1:1");
  s.upsert({ wg_pubkey: K(1), endpoint: "3.3.3.3:3" }, "dht");
  assert.equal(s.get(K(1))?.endpoint, "3.3.3.3:3");
  s.upsert({ wg_pubkey: K(1), endpoint: "4.4.4.4:4" }, "dht");
  assert.equal(s.get(K(1))?.endpoint, "4.4.4.4:4", "newer wins at equal rank");
  s.upsert({ wg_pubkey: K(1), endpoint: "[2001:db8::1]:5" }, "dht");
  assert.equal(s.get(K(1))?.endpoint, "[2001:db8::1]:5");
  s.upsert({ wg_pubkey: K(1), endpoint: "5.5.5.5:5" }, "dht");
  assert.equal(s.get(K(1))?.endpoint, "[2001:db8::1]:5", "IPv4 does not replace IPv6 at equal rank");
  s.upsert({ wg_pubkey: K(1), endpoint: "192.168.1.5:6" }, "lan");
  assert.equal(s.get(K(1))?.endpoint, "192.168.1.5:6");
  s.upsert({ wg_pubkey: K(1), endpoint: "[2001:db8::9]:6" }, "dht-rendezvous");
  assert.equal(s.get(K(1))?.endpoint, "192.168.1.5:6");
  s.upsert({ wg_pubkey: K(1), endpoint: "192.168.1.6:7" }, "lan");
  assert.equal(s.get(K(1))?.endpoint, "192.168.1.6:7");
});

test("last_seen: refreshed by direct methods, not by cache or transitive ones; cache keeps its value", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  s.upsert({ wg_pubkey: K(1), last_seen_ms: 5 }, "cache");
  assert.equal(s.get(K(1))?.last_seen_ms, 5);
  s.upsert({ wg_pubkey: K(2), last_seen_ms: 5 }, "dht");
  assert.equal(s.get(K(2))?.last_seen_ms, c.now(), "last_seen_ms is honoured only for cache");
  const t0 = c.now();
  c.advance(1000);
  s.upsert({ wg_pubkey: K(2) }, "dht-transitive");
  s.upsert({ wg_pubkey: K(2) }, "gossip-transitive");
  s.upsert({ wg_pubkey: K(2) }, "cache");
  assert.equal(s.get(K(2))?.last_seen_ms, t0);
  s.upsert({ wg_pubkey: K(2) }, "gossip");
  assert.equal(s.get(K(2))?.last_seen_ms, t0 + 1000);
});

test("routes: a direct announcement withdraws them, a transitive one never clears them", () => {
  const s = new PeerStore(clock().now);
  s.upsert({ wg_pubkey: K(1), routable_networks: ["192.168.5.0/24"] }, "dht");
  s.upsert({ wg_pubkey: K(1) }, "dht-transitive");
  assert.deepEqual(s.get(K(1))?.routable_networks, ["192.168.5.0/24"]);
  s.upsert({ wg_pubkey: K(1), routable_networks: [] }, "dht");
  assert.deepEqual(s.get(K(1))?.routable_networks, []);
});

test("active < 5 min, dead ≥ 5 min, removed > 10 min; counts", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  c.advance(4 * 60_000);
  s.upsert({ wg_pubkey: K(2) }, "dht");
  c.advance(60_000 - 1);
  assert.deepEqual(s.counts(), { active: 2, total: 2, dead: 0 });
  c.advance(1);
  assert.deepEqual(s.counts(), { active: 1, total: 2, dead: 1 });
  assert.deepEqual(s.active().map((p) => p.wg_pubkey), [K(2)]);
  c.advance(5 * 60_000);
  assert.deepEqual(s.expire(), [], "exactly 10 min is not yet removed");
  c.advance(1);
  assert.deepEqual(s.expire(), [K(1)]);
  assert.equal(s.size, 1);
});

test("at most 1000 peers: new ones beyond are refused while none is dead, existing still update", () => {
  const s = new PeerStore(clock().now, 3);
  for (let i = 1; i <= 3; i++) assert.equal(s.upsert({ wg_pubkey: K(i) }, "dht"), "new");
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht"), "full");
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht-transitive"), "full");
  assert.equal(s.upsert({ wg_pubkey: K(1), mesh_ip: "10.0.0.1" }, "dht"), "updated");
  assert.equal(new PeerStore().upsert({ wg_pubkey: K(9) }, "dht"), "new");
});

test("a full store gives the slot of its longest-dead record to a new peer, never an active one's", () => {
  const c = clock();
  const s = new PeerStore(c.now, 3);
  const ev: StoreEvent[] = [];
  s.onEvent((e) => ev.push(e));
  s.upsert({ wg_pubkey: K(1) }, "dht");
  c.advance(60_000);
  s.upsert({ wg_pubkey: K(2) }, "dht");
  s.upsert({ wg_pubkey: K(3) }, "dht");
  c.advance(PEER_DEAD_MS - 60_000 - 1);
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht"), "full", "K(1) is one ms short of dead");
  c.advance(1);
  s.upsert({ wg_pubkey: K(3) }, "dht"); // K(3) stays alive, K(2) is 1 min younger than K(1)
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht-transitive"), "full", "a second-hand mention waits for room, dead records or not");
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "gossip-transitive"), "full");
  assert.deepEqual(ev.filter((e) => e.kind === "removed"), []);
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht"), "new", "K(1) is dead: its slot is taken by a peer that contacted us");
  assert.deepEqual(ev.filter((e) => e.kind === "removed"), [{ kind: "removed", pubkey: K(1), reason: "displaced" }]);
  assert.equal(s.get(K(1)), undefined);
  assert.equal(s.size, 3);
  assert.equal(s.upsert({ wg_pubkey: K(5) }, "dht"), "full", "K(2) is not dead yet");
  c.advance(60_000);
  assert.equal(s.upsert({ wg_pubkey: K(5) }, "dht"), "new", "now K(2) is");
  assert.equal(s.get(K(2)), undefined);
  assert.deepEqual(new Set(s.all().map((p) => p.wg_pubkey)), new Set([K(3), K(4), K(5)]));
  // A displaced record is kept out of second-hand mentions until its removal time (last_seen + 10 min), as
  // the dead record would have been: it comes back earlier only by contacting us itself.
  s.upsert({ wg_pubkey: K(3) }, "dht");
  s.upsert({ wg_pubkey: K(4) }, "dht");
  s.upsert({ wg_pubkey: K(5) }, "dht");
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "departed", "K(1) was displaced");
  c.advance(1_000_000 + PEER_REMOVE_MS - c.now() - 1);
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "gossip-transitive"), "departed", "1 ms before K(1)'s removal time");
  c.advance(1);
  s.remove(K(4), "evicted");
  s.remove(K(5), "evicted"); // room for two (an eviction marks nothing)
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "new", "its removal time has come: a mention adds it, as in Go");
  assert.equal(s.upsert({ wg_pubkey: K(2) }, "dht"), "new", "direct contact from a displaced peer is taken at once");
});

test("a full store notices a dead record restored from the cache (older than the others) at once", () => {
  const c = clock(10 * PEER_DEAD_MS);
  const s = new PeerStore(c.now, 2);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  s.upsert({ wg_pubkey: K(2), last_seen_ms: c.now() - 2 * PEER_DEAD_MS + 1 }, "cache"); // room left: restored as it was
  assert.equal(s.upsert({ wg_pubkey: K(3) }, "dht"), "new", "the cached record is dead");
  assert.equal(s.get(K(2)), undefined);
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht"), "full");
  s.remove(K(3));
  assert.equal(s.upsert({ wg_pubkey: K(5), last_seen_ms: c.now() - PEER_DEAD_MS }, "cache"), "new");
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht"), "new", "the bound from the last look does not hide a record restored since");
  assert.equal(s.get(K(5)), undefined);
});

test("property: the store never exceeds its maximum, never drops an active record for a new one, and refuses a direct contact only when none is dead", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 6 }),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom("dht", "dht-transitive", "gossip", "cache"), fc.integer({ min: 0, max: 4 * 60_000 })), { maxLength: 80 }),
    (max, steps) => {
      const c = clock(10 * PEER_DEAD_MS);
      const s = new PeerStore(c.now, max);
      for (const [k, method, dt] of steps) {
        c.advance(dt);
        const before = s.all();
        const activeBefore = before.filter((p) => s.isActive(p)).map((p) => p.wg_pubkey);
        const r = s.upsert({ wg_pubkey: K(k), last_seen_ms: c.now() - dt }, method);
        const after = s.all();
        assert.ok(after.length <= max);
        for (const key of activeBefore) assert.ok(after.some((p) => p.wg_pubkey === key), "an active record stays");
        assert.deepEqual(new Set(s.active().map((p) => p.wg_pubkey)), new Set([...s.activeRecords()].map((p) => p.wg_pubkey)));
        if (r === "full") {
          assert.equal(before.length, max);
          // Only a peer that contacted us takes a dead record's slot (mentions and the cache need room).
          if (method === "dht" || method === "gossip") assert.equal(activeBefore.length, max, "a peer that contacted us is refused only when every record is active");
        }
      }
    },
  ));
});

test("a rumour (a peer heard of only second-hand) is active for RUMOUR_ACTIVE_MS; the peer's own contact makes it first-hand", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  s.upsert({ wg_pubkey: K(1) }, "dht-transitive");
  s.upsert({ wg_pubkey: K(1) }, "gossip-transitive"); // more mentions are no evidence either
  s.upsert({ wg_pubkey: K(2) }, "gossip-transitive");
  s.upsert({ wg_pubkey: K(3), last_seen_ms: c.now() }, "cache"); // restored: Go's rule (its last contact + 5 min)
  s.upsert({ wg_pubkey: K(4) }, "dht");
  const active = () => [...s.activeRecords()].map((p) => p.wg_pubkey).sort();
  c.advance(60_000);
  s.upsert({ wg_pubkey: K(2) }, "gossip"); // K(2) contacts us: first-hand from now on
  c.advance(RUMOUR_ACTIVE_MS - 60_000 - 1);
  assert.deepEqual(active(), [K(1), K(2), K(3), K(4)].sort());
  c.advance(1);
  assert.deepEqual(active(), [K(2), K(3), K(4)].sort(), "K(1) was never heard from: not configured, not listed");
  assert.equal(s.isActive(s.get(K(1))!), false);
  assert.deepEqual(s.active().map((p) => p.wg_pubkey).sort(), active());
  assert.deepEqual(s.counts(), { active: 3, total: 4, dead: 1 });
  assert.equal(s.get(K(1))!.last_seen_ms, 1_000_000, "last_seen stays when we added it (RPC shows it as Go does)");
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "updated", "a held rumour is not revived by a mention");
  assert.equal(s.isActive(s.get(K(1))!), false);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  assert.equal(s.isActive(s.get(K(1))!), true, "its own contact revives it");
  c.advance(PEER_DEAD_MS - RUMOUR_ACTIVE_MS);
  assert.deepEqual(active(), [K(1), K(2)].sort(), "cache and first-hand records: dead 5 min after their last contact");
  c.advance(PEER_REMOVE_MS);
  assert.deepEqual(s.expire().sort(), [K(1), K(2), K(3), K(4)].sort());
});

test("at the maximum a dead rumour gives its slot before an older first-hand record, and only to a peer that contacted us", () => {
  const c = clock();
  const s = new PeerStore(c.now, 2);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  c.advance(60_000);
  s.upsert({ wg_pubkey: K(2) }, "gossip-transitive");
  c.advance(RUMOUR_ACTIVE_MS);
  assert.equal(s.upsert({ wg_pubkey: K(3) }, "gossip-transitive"), "full");
  assert.equal(s.upsert({ wg_pubkey: K(3) }, "gossip"), "new", "K(2) is dead (a rumour never confirmed), K(1) is not");
  assert.equal(s.get(K(2)), undefined);
  assert.ok(s.get(K(1)));
  assert.equal(s.upsert({ wg_pubkey: K(2) }, "dht-transitive"), "departed", "displaced: not added again second-hand before its removal time");
});

test("a peer removed by its GOODBYE is not added again second-hand for 10 min; direct contact brings it back at once", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  s.upsert({ wg_pubkey: K(2) }, "dht");
  assert.ok(s.remove(K(1)));
  assert.ok(s.remove(K(2), "evicted"));
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "departed");
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "gossip-transitive"), "departed");
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "cache"), "departed");
  assert.equal(s.upsert({ wg_pubkey: K(2) }, "dht-transitive"), "new", "only a GOODBYE marks a peer departed");
  c.advance(DEPARTED_MS - 1);
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "departed");
  c.advance(1);
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "new", "after 10 min a mention adds it again, as before");
  assert.ok(s.remove(K(1)));
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht"), "new", "it came back itself");
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "updated");
  s.upsert({ wg_pubkey: K(3) }, "dht-transitive");
  assert.ok(!s.remove(K(9)), "a GOODBYE for a key we do not hold marks nothing");
  assert.equal(s.upsert({ wg_pubkey: K(9) }, "dht-transitive"), "new");
});

test("announceable: active first-hand peers, second-hand ones for a minute after they were added, never cached ones; newest first", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  s.upsert({ wg_pubkey: K(2) }, "gossip-transitive");
  s.upsert({ wg_pubkey: K(3), last_seen_ms: c.now() }, "cache");
  s.upsert({ wg_pubkey: K(4) }, "dht-transitive");
  const keys = () => [...s.announceable()].map((p) => p.wg_pubkey);
  assert.deepEqual(keys(), [K(4), K(2), K(1)]);
  c.advance(PASS_ON_SECOND_HAND_MS);
  assert.deepEqual(keys(), [K(1)]);
  s.upsert({ wg_pubkey: K(2) }, "gossip");
  assert.deepEqual(keys(), [K(2), K(1)], "heard directly: passed on while active");
  c.advance(PEER_DEAD_MS - PASS_ON_SECOND_HAND_MS);
  assert.deepEqual(keys(), [K(2)], "K(1) is dead: never passed on");
  c.advance(PASS_ON_SECOND_HAND_MS);
  assert.deepEqual(keys(), [], "nor K(2) once dead");
});

test("a peer removed by expiry is not added again second-hand for another 10 min; its own contact brings it back", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  s.upsert({ wg_pubkey: K(1) }, "dht");
  c.advance(PEER_REMOVE_MS + 1);
  assert.deepEqual(s.expire(), [K(1)]);
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "departed");
  c.advance(PEER_REMOVE_MS);
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht-transitive"), "new");
  c.advance(PEER_REMOVE_MS + 1);
  assert.deepEqual(s.expire(), [K(1)]);
  assert.equal(s.upsert({ wg_pubkey: K(1) }, "dht"), "new");
});

test("heardDirectly: some method that refreshes last_seen, not only transitive mentions or the cache", () => {
  const s = new PeerStore(clock().now);
  s.upsert({ wg_pubkey: K(1) }, "dht-transitive");
  s.upsert({ wg_pubkey: K(1) }, "gossip-transitive");
  s.upsert({ wg_pubkey: K(1) }, "cache");
  assert.equal(heardDirectly(s.get(K(1))!), false);
  ["dht", "gossip", "lan", "dht-rendezvous"].forEach((m, i) => {
    s.upsert({ wg_pubkey: K(10 + i) }, "gossip-transitive");
    assert.equal(heardDirectly(s.get(K(10 + i))!), false, m);
    s.upsert({ wg_pubkey: K(10 + i) }, m);
    assert.equal(heardDirectly(s.get(K(10 + i))!), true, m);
  });
});

test("remove (GOODBYE) emits an event; latency is kept", () => {
  const s = new PeerStore(clock().now);
  const ev: StoreEvent[] = [];
  s.onEvent((e) => ev.push(e));
  s.onEvent(() => { throw new Error("listener bug"); });
  s.upsert({ wg_pubkey: K(1) }, "dht");
  s.setLatency(K(1), 3);
  assert.equal(s.get(K(1))?.latency_ms, 3);
  assert.ok(s.remove(K(1)));
  assert.ok(!s.remove(K(1)));
  assert.deepEqual(ev.at(-1), { kind: "removed", pubkey: K(1), reason: "goodbye" });
});

test("§2.6 endpoint resolution", () => {
  assert.equal(resolvePeerEndpoint("198.51.100.7:51820", "10.0.0.9"), "198.51.100.7:51820");
  assert.equal(resolvePeerEndpoint("0.0.0.0:51999", "10.0.0.9"), "10.0.0.9:51999");
  assert.equal(resolvePeerEndpoint("[::]:51999", "10.0.0.9"), "10.0.0.9:51999");
  assert.equal(resolvePeerEndpoint("[::]:51999", "fd00::9"), "[fd00::9]:51999");
  assert.equal(resolvePeerEndpoint("", "10.0.0.9"), "10.0.0.9:51820");
  assert.equal(resolvePeerEndpoint("garbage", "10.0.0.9"), "10.0.0.9:51820");
  assert.equal(resolvePeerEndpoint("[2001:db8::1]:7", "10.0.0.9"), "[2001:db8::1]:7");
  assert.equal(knownPeerEndpoint("0.0.0.0:51820"), "");
  assert.equal(knownPeerEndpoint("[::]:51820"), "");
  assert.equal(knownPeerEndpoint(""), "");
  assert.equal(knownPeerEndpoint("198.51.100.7:51820"), "198.51.100.7:51820");
});

test("a transitive mention that changes nothing is no event; any change is", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  const events: StoreEvent[] = [];
  s.onEvent((e) => events.push(e));
  s.upsert({ wg_pubkey: K(1), mesh_ip: "10.1.0.1", endpoint: "1.1.1.1:51820", hostname: "h" }, "dht");
  s.upsert({ wg_pubkey: K(1), mesh_ip: "10.1.0.1", endpoint: "1.1.1.1:51820", hostname: "h", introducer: false }, "dht-transitive");
  assert.deepEqual(events.map((e) => e.kind), ["new", "updated"], "first transitive mention adds the method");
  c.advance(1000);
  assert.equal(s.upsert({ wg_pubkey: K(1), mesh_ip: "10.1.0.1", endpoint: "1.1.1.1:51820", hostname: "h", introducer: false }, "dht-transitive"), "updated");
  assert.equal(events.length, 2, "the same again: no event");
  assert.equal(s.get(K(1))?.last_seen_ms, 1_000_000, "transitive never refreshes last_seen");
  s.upsert({ wg_pubkey: K(1), mesh_ip: "10.1.0.2", endpoint: "", introducer: false }, "dht-transitive");
  assert.equal(events.length, 3);
  s.upsert({ wg_pubkey: K(1), mesh_ip: "10.1.0.2", endpoint: "1.1.1.1:51820", introducer: false }, "dht");
  assert.equal(events.length, 4, "a direct contact is an event (last_seen moves)");
  assert.equal(s.get(K(1))?.last_seen_ms, 1_001_000);
});

test("activeRecords: the active peers in store order, without copies", () => {
  const c = clock();
  const s = new PeerStore(c.now);
  s.upsert({ wg_pubkey: K(1), mesh_ip: "10.1.0.1" }, "dht");
  c.advance(4 * 60_000);
  s.upsert({ wg_pubkey: K(2), mesh_ip: "10.1.0.2" }, "dht");
  c.advance(2 * 60_000);
  assert.deepEqual([...s.activeRecords()].map((p) => p.wg_pubkey), [K(2)]);
  assert.deepEqual(s.counts(), { active: 1, total: 2, dead: 1 });
});

test("announceableRing: every announceable record once, starting just older than the given key and wrapping round (property)", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom("dht", "dht-transitive", "cache"), { minLength: 0, maxLength: 12 }), fc.integer({ min: -1, max: 13 }), fc.integer({ min: 0, max: 2 }), (methods, pick, minutes) => {
      const c = clock();
      const s = new PeerStore(c.now);
      methods.forEach((m, i) => s.upsert({ wg_pubkey: K(i + 1), ...(m === "cache" ? { last_seen_ms: c.now() } : {}) }, m));
      c.advance(minutes * PASS_ON_SECOND_HAND_MS);
      const newestFirst = [...s.announceable()].map((p) => p.wg_pubkey);
      const after = pick < 0 ? undefined : K(pick + 1);
      const ring = [...s.announceableRing(after)].map((p) => p.wg_pubkey);
      const held = after !== undefined && s.get(after) !== undefined;
      if (!held) return assert.deepEqual(ring, newestFirst, "a key not held: newest first, once");
      // the expected ring: all records newest-first (announceable or not), rotated to start after `after`
      const all = s.all().map((p) => p.wg_pubkey).reverse();
      const at = all.indexOf(after);
      const rotated = [...all.slice(at + 1), ...all.slice(0, at)].filter((k) => newestFirst.includes(k));
      assert.deepEqual(ring, rotated);
    }),
  );
});

test("admitsDirect: room, or a dead record a direct contact would displace", () => {
  const c = clock();
  const s = new PeerStore(c.now, 2);
  assert.ok(s.admitsDirect());
  s.upsert({ wg_pubkey: K(1) }, "dht");
  s.upsert({ wg_pubkey: K(2) }, "dht-transitive");
  assert.ok(!s.admitsDirect(), "full, nothing dead");
  c.advance(RUMOUR_ACTIVE_MS);
  assert.ok(s.admitsDirect(), "the rumour died after 150 s");
  assert.equal(s.upsert({ wg_pubkey: K(3) }, "dht-transitive"), "full", "a mention still may not take its slot");
  assert.equal(s.upsert({ wg_pubkey: K(3) }, "dht"), "new", "a peer that contacts us itself may");
  assert.equal(s.get(K(2)), undefined);
  assert.ok(!s.admitsDirect());
});

test("at the maximum a direct newcomer displaces exactly the record that died first; admitsDirect agrees (property, against a scan of the records)", () => {
  type Op = { kind: "upsert"; key: number; method: "dht" | "dht-transitive" | "cache"; ageMs: number } | { kind: "advance"; ms: number } | { kind: "ask" } | { kind: "remove"; key: number } | { kind: "expire" };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("upsert" as const), key: fc.integer({ min: 1, max: 5 }), method: fc.constantFrom("dht" as const, "dht-transitive" as const, "cache" as const), ageMs: fc.integer({ min: 0, max: PEER_REMOVE_MS }) }),
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: PEER_DEAD_MS }) }),
    fc.constant({ kind: "ask" as const }),
    fc.record({ kind: fc.constant("remove" as const), key: fc.integer({ min: 1, max: 5 }) }),
    fc.constant({ kind: "expire" as const }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 1, max: 3 }), (ops, max) => {
      const c = clock(10 * PEER_REMOVE_MS);
      const s = new PeerStore(c.now, max);
      const displaced: string[] = [];
      s.onEvent((e) => { if (e.kind === "removed" && e.reason === "displaced") displaced.push(e.pubkey); });
      const deadAt = (p: ReturnType<PeerStore["all"]>[number]): number =>
        p.last_seen_ms + (!heardDirectly(p) && (p.discovered_via[0] ?? "").includes("transitive") ? RUMOUR_ACTIVE_MS : PEER_DEAD_MS);
      const firstDead = (): { key: string; at: number } | undefined => {
        let best: { key: string; at: number } | undefined;
        for (const p of s.all()) if (!best || deadAt(p) < best.at) best = { key: p.wg_pubkey, at: deadAt(p) };
        return best && best.at <= c.now() ? best : undefined;
      };
      for (const o of ops) {
        if (o.kind === "advance") c.advance(o.ms);
        else if (o.kind === "ask") assert.equal(s.admitsDirect(), s.size < max || firstDead() !== undefined);
        else if (o.kind === "remove") s.remove(K(o.key));
        else if (o.kind === "expire") s.expire();
        else {
          const held = s.get(K(o.key)) !== undefined;
          const expect = !held && s.size >= max && o.method !== "dht-transitive" && o.method !== "cache" ? firstDead() : undefined;
          const before = displaced.length;
          s.upsert({ wg_pubkey: K(o.key), ...(o.method === "cache" ? { last_seen_ms: c.now() - o.ageMs } : {}) }, o.method);
          if (expect) {
            assert.deepEqual(displaced.slice(before), [expect.key], "the first record (store order) of the earliest dead time");
            assert.ok(s.get(K(o.key)), "and the newcomer holds its slot");
          } else assert.equal(displaced.length, before);
        }
      }
    }),
    { numRuns: 1000 },
  );
});

test("a record restored from the cache that died before the remembered first-dead one is displaced first", () => {
  const c = clock(10 * PEER_REMOVE_MS);
  const s = new PeerStore(c.now, 2);
  const displaced: string[] = [];
  s.onEvent((e) => { if (e.kind === "removed" && e.reason === "displaced") displaced.push(e.pubkey); });
  s.upsert({ wg_pubkey: K(1) }, "dht");
  c.advance(1000);
  s.upsert({ wg_pubkey: K(2) }, "dht");
  c.advance(PEER_DEAD_MS + 10_000);
  assert.ok(s.admitsDirect(), "K(1) died first");
  s.remove(K(2));
  s.upsert({ wg_pubkey: K(3), last_seen_ms: c.now() - 2 * PEER_DEAD_MS }, "cache");
  assert.equal(s.upsert({ wg_pubkey: K(4) }, "dht"), "new");
  assert.deepEqual(displaced, [K(3)], "K(3) died before K(1)");
});
