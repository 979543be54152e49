import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { applyOperations, diff } from "./diff";
import { presharedKeyFingerprint } from "./live";
import { arbDesired, arbLive, arbUniverse, desiredAsLive } from "./testdata/arbitraries";
import type { LiveState, NodeDesiredState, Operation } from "./types";

const K = (c: string): string => `${c.repeat(43)}=`.replace(/^(.{42})./, "$1A");
const SELF = K("S");
const A = K("a");
const B = K("b");
const C = K("c");

function desired(): NodeDesiredState {
  return {
    hostname: "node1",
    interface: { name: "wg0", address: "10.99.0.1/16", listenPort: 51820, mtu: null, publicKey: SELF },
    peers: [
      { hostname: "app1", publicKey: A, endpoint: "198.51.100.3:51820", allowedIps: ["10.99.0.3/32", "192.168.50.0/24"], persistentKeepalive: null, presharedKey: false },
      { hostname: "db1", publicKey: B, endpoint: null, allowedIps: ["10.99.0.4/32"], persistentKeepalive: 25, presharedKey: false },
    ],
    routes: ["192.168.50.0/24"],
    forwarding: false,
  };
}

test("a live state equal to the desired one gives no operations (also with traffic counters and a roamed NAT endpoint)", () => {
  const d = desired();
  const live = desiredAsLive(d);
  (live.peers[1] as { endpoint: string | null }).endpoint = "203.0.113.9:40000"; // learned from the NAT'd peer
  assert.deepEqual(diff(d, live), []);
});

test("missing interface: interface-up, then forwarding", () => {
  const d = { ...desired(), forwarding: true };
  assert.deepEqual(diff(d, { interface: null, peers: [], routes: [], forwarding: false }), [{ kind: "interface-up" }, { kind: "forwarding", enabled: true }]);
  const up = applyOperations({ interface: null, peers: [], routes: [], forwarding: false }, diff(d, { interface: null, peers: [], routes: [], forwarding: false }), d);
  assert.deepEqual(diff(d, up), []);
});

test("every operation kind, in the documented order, with only what changed", () => {
  const d = { ...desired(), forwarding: true, interface: { ...desired().interface, mtu: 1380 } };
  d.peers[0] = { ...(d.peers[0] as NodeDesiredState["peers"][number]), presharedKey: true };
  const live: LiveState = {
    interface: { name: "wg0", publicKey: K("Z"), listenPort: 51999, addresses: ["10.99.0.1/24", "10.99.0.77/16"], mtu: 1420 },
    peers: [
      { publicKey: C, presharedKey: false, endpoint: null, allowedIps: ["10.99.0.9/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null },
      { publicKey: A, presharedKey: false, endpoint: "198.51.100.3:51820", allowedIps: ["10.99.0.3/32"], latestHandshake: 5, rxBytes: 1, txBytes: 1, persistentKeepalive: 25 },
    ],
    routes: ["10.200.0.0/16"],
    forwarding: false,
  };
  const ops = diff(d, live);
  assert.deepEqual(ops, [
    { kind: "peer-remove", publicKey: C },
    { kind: "private-key", publicKey: SELF },
    { kind: "listen-port", port: 51820 },
    { kind: "address-set", remove: ["10.99.0.1/24", "10.99.0.77/16"], add: "10.99.0.1/16" },
    { kind: "mtu", mtu: 1380 },
    { kind: "peer-set", publicKey: A, hostname: "app1", presharedKey: true, persistentKeepalive: 0, allowedIps: ["10.99.0.3/32", "192.168.50.0/24"] },
    { kind: "peer-set", publicKey: B, hostname: "db1", persistentKeepalive: 25, allowedIps: ["10.99.0.4/32"] },
    { kind: "route-del", cidr: "10.200.0.0/16" },
    { kind: "route-add", cidr: "192.168.50.0/24" },
    { kind: "forwarding", enabled: true },
  ] satisfies Operation[]);
  assert.deepEqual(diff(d, applyOperations(live, ops, d)), []);
});

test("peer fields one at a time", () => {
  const d = desired();
  const base = desiredAsLive(d);
  const withPeer0 = (patch: Partial<LiveState["peers"][number]>): LiveState => ({ ...base, peers: [{ ...(base.peers[0] as LiveState["peers"][number]), ...patch }, base.peers[1] as LiveState["peers"][number]] });
  assert.deepEqual(diff(d, withPeer0({ endpoint: "198.51.100.4:51820" })), [{ kind: "peer-set", publicKey: A, hostname: "app1", endpoint: "198.51.100.3:51820" }]);
  assert.deepEqual(diff(d, withPeer0({ endpoint: null })), [{ kind: "peer-set", publicKey: A, hostname: "app1", endpoint: "198.51.100.3:51820" }]);
  assert.deepEqual(diff(d, withPeer0({ persistentKeepalive: 10 })), [{ kind: "peer-set", publicKey: A, hostname: "app1", persistentKeepalive: 0 }]);
  assert.deepEqual(diff(d, withPeer0({ presharedKey: true, presharedKeyFingerprint: "x" })), [{ kind: "peer-set", publicKey: A, hostname: "app1", presharedKey: false }]);
  assert.deepEqual(diff(d, withPeer0({ allowedIps: ["10.99.0.3/32"] })), [{ kind: "peer-set", publicKey: A, hostname: "app1", allowedIps: ["10.99.0.3/32", "192.168.50.0/24"] }]);
});

test("endpoints: IPv6 spelling, DNS names with and without resolutions", () => {
  const d = desired();
  (d.peers[0] as { endpoint: string | null }).endpoint = "[FD00:0::1]:51820";
  const live = desiredAsLive(d);
  (live.peers[0] as { endpoint: string | null }).endpoint = "[fd00::1]:51820";
  assert.deepEqual(diff(d, live), []);
  (d.peers[0] as { endpoint: string | null }).endpoint = "app1.example.net:51820";
  (live.peers[0] as { endpoint: string | null }).endpoint = "198.51.100.3:51820";
  assert.deepEqual(diff(d, live), [], "same port, no resolution given: left alone");
  assert.deepEqual(diff(d, live, { resolvedEndpoints: { "app1.example.net:51820": ["198.51.100.3:51820"] } }), []);
  assert.equal(diff(d, live, { resolvedEndpoints: { "app1.example.net:51820": ["198.51.100.7:51820"] } }).length, 1);
});

test("a changed PSK is detected through fingerprints only", () => {
  const d = desired();
  (d.peers[0] as { presharedKey: boolean }).presharedKey = true;
  const psk = Buffer.alloc(32, 7).toString("base64");
  const live = desiredAsLive(d);
  (live.peers[0] as LiveState["peers"][number]).presharedKeyFingerprint = presharedKeyFingerprint(psk);
  assert.deepEqual(diff(d, live, { presharedKeyFingerprint: presharedKeyFingerprint(psk) }), []);
  const other = presharedKeyFingerprint(Buffer.alloc(32, 8).toString("base64"));
  const ops = diff(d, live, { presharedKeyFingerprint: other });
  assert.deepEqual(ops, [{ kind: "peer-set", publicKey: A, hostname: "app1", presharedKey: true, presharedKeyFingerprint: other }]);
  assert.deepEqual(diff(d, applyOperations(live, ops), { presharedKeyFingerprint: other }), []);
});

test("forwarding is turned on, never off", () => {
  const d = desired();
  assert.deepEqual(diff(d, { ...desiredAsLive(d), forwarding: true }), []);
  assert.deepEqual(diff({ ...d, forwarding: true }, desiredAsLive(d)), [{ kind: "forwarding", enabled: true }]);
});

test("MTU null is not managed", () => {
  const d = desired();
  assert.deepEqual(diff(d, desiredAsLive(d, 65456)), []);
});

test("an AllowedIP moving from one peer to another: both lists sent whole; the model steals like WireGuard", () => {
  const d = desired();
  d.peers[0] = { ...(d.peers[0] as NodeDesiredState["peers"][number]), allowedIps: ["10.99.0.3/32"] };
  d.peers[1] = { ...(d.peers[1] as NodeDesiredState["peers"][number]), allowedIps: ["10.99.0.4/32", "192.168.50.0/24"] };
  const live = desiredAsLive(desired());
  const ops = diff(d, live);
  assert.deepEqual(ops.map((o) => o.kind), ["peer-set", "peer-set"]);
  // the model: setting B's list first takes 192.168.50.0/24 away from A
  const stolen = applyOperations(live, [ops[1] as Operation]);
  assert.deepEqual(stolen.peers.find((p) => p.publicKey === A)?.allowedIps, ["10.99.0.3/32"]);
  assert.deepEqual(diff(d, applyOperations(live, ops)), []);
});

const KIND_RANK: Record<Operation["kind"], number> = {
  "interface-up": 0,
  "peer-remove": 0,
  "private-key": 1,
  "listen-port": 1,
  "address-set": 1,
  mtu: 1,
  "peer-set": 2,
  "route-del": 3,
  "route-add": 4,
  forwarding: 5,
  handshake: 6, // never emitted by diff (planner/rekey.ts adds it)
  "handshake-confirm": 7, // likewise
};

test("property: diff(desired, apply(diff(desired, live), live)) is empty", () => {
  fc.assert(
    fc.property(arbUniverse.chain((u) => fc.tuple(arbDesired(u.keys), arbLive(u.keys))), ([d, l]) => {
      const ops = diff(d, l);
      assert.deepEqual(diff(d, applyOperations(l, ops, d)), []);
    }),
    { numRuns: 500 },
  );
});

test("property: diff(d, d as live) is empty", () => {
  fc.assert(fc.property(arbUniverse.chain((u) => arbDesired(u.keys)), (d) => assert.deepEqual(diff(d, desiredAsLive(d)), [])), { numRuns: 300 });
});

test("property: operations are ordered, unique per target, and minimal (every peer-set field is a real change)", () => {
  fc.assert(
    fc.property(arbUniverse.chain((u) => fc.tuple(arbDesired(u.keys), arbLive(u.keys))), ([d, l]) => {
      const ops = diff(d, l);
      for (let i = 1; i < ops.length; i++) assert.ok(KIND_RANK[(ops[i - 1] as Operation).kind] <= KIND_RANK[(ops[i] as Operation).kind], JSON.stringify(ops));
      const targets = ops.map((o) => ("publicKey" in o && o.kind !== "private-key" ? o.publicKey : "cidr" in o ? `${o.kind}${o.cidr}` : o.kind));
      assert.equal(new Set(targets).size, targets.length);
      for (const op of ops) {
        if (op.kind !== "peer-set") continue;
        const have = l.peers.find((p) => p.publicKey === op.publicKey);
        if (!have) continue;
        assert.ok(Object.keys(op).length > 3, "a peer-set changes something");
        if (op.allowedIps) assert.notDeepEqual(op.allowedIps, [...have.allowedIps].sort());
        if (op.persistentKeepalive !== undefined) assert.notEqual(op.persistentKeepalive || null, have.persistentKeepalive || null);
        if (op.presharedKey !== undefined) assert.notEqual(op.presharedKey, have.presharedKey);
        if (op.endpoint !== undefined) assert.notEqual(op.endpoint, have.endpoint);
      }
    }),
    { numRuns: 300 },
  );
});

test("applyOperations models interface-up, peer removal + re-add and PSK removal exactly", () => {
  const d = desired();
  const live = desiredAsLive(d);
  const withExtra: LiveState = { ...live, peers: [...live.peers, { publicKey: C, presharedKey: true, presharedKeyFingerprint: "f", endpoint: null, allowedIps: ["10.99.0.9/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null }] };
  const after = applyOperations(withExtra, [
    { kind: "peer-remove", publicKey: C },
    { kind: "peer-set", publicKey: C, allowedIps: ["10.99.0.10/32"] },
    { kind: "peer-set", publicKey: A, presharedKey: true, presharedKeyFingerprint: "g" },
  ]);
  const c = after.peers.find((p) => p.publicKey === C);
  assert.deepEqual(c, { publicKey: C, presharedKey: false, endpoint: null, allowedIps: ["10.99.0.10/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null });
  assert.equal(after.peers.find((p) => p.publicKey === A)?.presharedKeyFingerprint, "g");
  const up = applyOperations(live, [{ kind: "interface-up" }], { ...d, peers: [d.peers[1] as NodeDesiredState["peers"][number]], routes: [] });
  assert.deepEqual(up.peers.map((p) => [p.publicKey, p.allowedIps]), [[B, ["10.99.0.4/32"]]]);
  assert.deepEqual(up.routes, []);
  assert.deepEqual(withExtra.peers.length, 3, "the input is not mutated");
});

test("per-peer PSK fingerprints (issue 16): only the peer whose key changed is set again; they win over the shared one", () => {
  const d = desired();
  for (const p of d.peers) (p as { presharedKey: boolean }).presharedKey = true;
  const live = desiredAsLive(d);
  const [ka, kb, kc] = [1, 2, 3].map((i) => presharedKeyFingerprint(Buffer.alloc(32, i).toString("base64")));
  (live.peers.find((p) => p.publicKey === A) as LiveState["peers"][number]).presharedKeyFingerprint = ka;
  (live.peers.find((p) => p.publicKey === B) as LiveState["peers"][number]).presharedKeyFingerprint = kb;
  assert.deepEqual(diff(d, live, { presharedKeyFingerprints: { [A]: ka, [B]: kb } }), []);
  const ops = diff(d, live, { presharedKeyFingerprint: ka, presharedKeyFingerprints: { [B]: kc } });
  assert.deepEqual(ops, [{ kind: "peer-set", publicKey: B, hostname: "db1", presharedKey: true, presharedKeyFingerprint: kc }]);
  assert.deepEqual(diff(d, applyOperations(live, ops), { presharedKeyFingerprints: { [A]: ka, [B]: kc } }), []);
});
