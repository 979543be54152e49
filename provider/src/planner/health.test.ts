import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { diff } from "./diff";
import {
  DEFAULT_HEALTH_CHECK,
  describeUnreachable,
  healthCheckProblems,
  healthFromLive,
  judgeGate,
  planGate,
  probeAddress,
  resolveHealthCheck,
  retiresKeys,
  SESSION_SECONDS,
  unknownPeerName,
  type GateOutcome,
} from "./health";
import { arbDesired, arbLive, arbUniverse, desiredAsLive } from "./testdata/arbitraries";
import type { LiveState, NodeDesiredState } from "./types";

const K = (c: string): string => `${c.repeat(43)}=`.replace(/^(.{42})./, "$1A");
const SELF = K("S");
const A = K("a");
const B = K("b");
const C = K("c");
const NOW = 1_800_000_000;
const CHECK = DEFAULT_HEALTH_CHECK;

function desired(): NodeDesiredState {
  return {
    hostname: "web1",
    interface: { name: "wg0", address: "10.99.0.1/16", listenPort: 51820, mtu: null, publicKey: SELF },
    peers: [
      { hostname: "app1", publicKey: A, endpoint: "198.51.100.3:51820", allowedIps: ["10.99.0.3/32", "192.168.50.0/24"], persistentKeepalive: null, presharedKey: false },
      { hostname: "db1", publicKey: B, endpoint: null, allowedIps: ["10.99.0.4/32"], persistentKeepalive: 25, presharedKey: false },
      { hostname: "web2", publicKey: C, endpoint: "198.51.100.5:51820", allowedIps: ["10.99.0.5/32"], persistentKeepalive: null, presharedKey: false },
    ],
    routes: ["192.168.50.0/24"],
    forwarding: false,
  };
}

/** The desired state live, every peer with a handshake `age` seconds ago. */
function live(d: NodeDesiredState, age: number | null = 10): LiveState {
  const l = desiredAsLive(d);
  for (const p of l.peers) p.latestHandshake = age === null ? 0 : NOW - age;
  return l;
}

test("healthCheck values: defaults, every problem named with the field and the allowed values", () => {
  assert.deepEqual(resolveHealthCheck(undefined), { mode: "handshake", timeoutSeconds: 15 });
  assert.deepEqual(resolveHealthCheck(null), { mode: "handshake", timeoutSeconds: 15 });
  assert.deepEqual(resolveHealthCheck({ mode: "ping" }), { mode: "ping", timeoutSeconds: 15 });
  assert.deepEqual(resolveHealthCheck({ timeoutSeconds: 40 }), { mode: "handshake", timeoutSeconds: 40 });
  assert.deepEqual(healthCheckProblems({ mode: "off", timeoutSeconds: 600 }), []);
  assert.match(healthCheckProblems({ mode: "pong" })[0]!, /healthCheck\.mode "pong" is not one of "handshake", "ping", "off"/);
  for (const t of [0, -1, 1.5, 601, "15"]) assert.match(healthCheckProblems({ timeoutSeconds: t })[0]!, /healthCheck\.timeoutSeconds .* whole number of seconds from 1 to 600/);
  assert.match(healthCheckProblems({ mode: "ping", timeout: 3 })[0]!, /healthCheck\.timeout is not a setting/);
  assert.match(healthCheckProblems("ping")[0]!, /must be an object/);
  assert.throws(() => resolveHealthCheck({ mode: "x" as never }), /healthCheck\.mode/);
});

test("the probe address is the peer's /32 inside the node's mesh prefix, else its first host route", () => {
  assert.equal(probeAddress(["10.99.0.3/32", "192.168.50.0/24"], "10.99.0.1/16"), "10.99.0.3");
  assert.equal(probeAddress(["192.168.50.7/32", "10.99.0.3/32"], "10.99.0.1/16"), "10.99.0.3");
  assert.equal(probeAddress(["192.168.50.7/32"], "10.99.0.1/16"), "192.168.50.7");
  assert.equal(probeAddress(["192.168.50.0/24"], "10.99.0.1/16"), null);
  assert.equal(probeAddress(["fd00::3/128"], "10.99.0.1/16"), "fd00::3");
});

test("first deploy (no interface): every peer is new and gated, none can roll back", () => {
  const d = desired();
  const before: LiveState = { interface: null, peers: [], routes: [], forwarding: false };
  const g = planGate(d, before, diff(d, before), NOW, CHECK);
  assert.equal(g.hadInterface, false);
  assert.deepEqual(g.interfaceChanges, ["interface brought up"]);
  assert.deepEqual(g.peers.map((p) => [p.hostname, p.probe, p.isNew, p.rollbackOnFailure]), [
    ["app1", "10.99.0.3", true, false],
    ["db1", "10.99.0.4", true, false],
    ["web2", "10.99.0.5", true, false],
  ]);
});

test("an endpoint change gates only that peer; it rolls back when it was connected before, with what changed", () => {
  const d = desired();
  const before = live(d);
  const broken = { ...d, peers: d.peers.map((p) => (p.hostname === "app1" ? { ...p, endpoint: "198.51.100.3:9999" } : p)) };
  const g = planGate(broken, before, diff(broken, before), NOW, CHECK);
  assert.deepEqual(g.interfaceChanges, []);
  assert.equal(g.peers.length, 1);
  const p = g.peers[0]!;
  assert.deepEqual([p.hostname, p.healthyBefore, p.isNew, p.rollbackOnFailure], ["app1", true, false, true]);
  assert.deepEqual(p.changes, ["endpoint 198.51.100.3:51820 → 198.51.100.3:9999"]);
  assert.equal(describeUnreachable(p, g),
    "peer app1 (no handshake and no traffic back within 15 s; it was connected before the change); changed: endpoint 198.51.100.3:51820 → 198.51.100.3:9999");
});

test("an idle peer (handshake older than the session lifetime) is gated but never rolls back; nor does a new one", () => {
  const d = desired();
  const before = live(d, SESSION_SECONDS + 1);
  const moved = { ...d, peers: d.peers.map((p) => ({ ...p, allowedIps: [...p.allowedIps, "10.98.0.0/24"].sort() })) };
  const g = planGate(moved, before, diff(moved, before), NOW, CHECK);
  assert.equal(g.peers.length, 3);
  assert.ok(g.peers.every((p) => !p.healthyBefore && !p.rollbackOnFailure));
  const withNew = { ...d, peers: [...d.peers, { hostname: "zz", publicKey: K("z"), endpoint: "198.51.100.9:51820", allowedIps: ["10.99.0.9/32"], persistentKeepalive: null, presharedKey: false }] };
  const g2 = planGate(withNew, live(d), diff(withNew, live(d)), NOW, CHECK);
  assert.deepEqual(g2.peers.map((p) => [p.hostname, p.isNew, p.rollbackOnFailure, p.changes]), [["zz", true, false, ["peer added"]]]);
});

test("an interface-wide change (listen port) touches every peer; mode off gates nothing", () => {
  const d = desired();
  const before = live(d);
  const moved = { ...d, interface: { ...d.interface, listenPort: 51821 } };
  const g = planGate(moved, before, diff(moved, before), NOW, CHECK);
  assert.deepEqual(g.interfaceChanges, ["listen port 51820 → 51821"]);
  assert.deepEqual(g.peers.map((p) => [p.hostname, p.rollbackOnFailure, p.changes]), [["app1", true, []], ["db1", true, []], ["web2", true, []]]);
  assert.match(describeUnreachable(g.peers[0]!, g), /changed: listen port 51820 → 51821$/);
  const blind = planGate(moved, before, diff(moved, before), NOW, CHECK, false);
  assert.equal(blind.peers.length, 3, "a host without ping still waits and reports");
  assert.ok(blind.peers.every((p) => p.healthyBefore && !p.rollbackOnFailure), "but silence proves nothing: no rollback");
  assert.deepEqual(planGate(moved, before, diff(moved, before), NOW, { mode: "off", timeoutSeconds: 15 }).peers, []);
  const ping = planGate(moved, before, diff(moved, before), NOW, { mode: "ping", timeoutSeconds: 5 });
  assert.match(describeUnreachable(ping.peers[0]!, ping), /no echo reply within 5 s/);
});

test("judge: evidence → reachable, none → unreachable; only peers connected before roll back", () => {
  const d = desired();
  const before = live(d);
  const after = live({ ...d, peers: [...d.peers, { hostname: "zz", publicKey: K("z"), endpoint: "198.51.100.9:51820", allowedIps: ["10.99.0.9/32"], persistentKeepalive: null, presharedKey: false }] }, 2);
  after.peers.find((p) => p.publicKey === K("z"))!.latestHandshake = 0;
  const changed = { ...d, interface: { ...d.interface, mtu: 1380 }, peers: [...d.peers, { hostname: "zz", publicKey: K("z"), endpoint: "198.51.100.9:51820", allowedIps: ["10.99.0.9/32"], persistentKeepalive: null, presharedKey: false }] };
  const g = planGate(changed, before, diff(changed, before), NOW, CHECK);
  const outcome: GateOutcome = {
    ran: true,
    waitedMs: 15_000,
    peers: [
      { publicKey: A, ok: true, evidence: "reply", waitedMs: 1200 },
      { publicKey: B, ok: false, waitedMs: 15_000 },
      { publicKey: C, ok: true, evidence: "traffic", waitedMs: 9_000 },
      { publicKey: K("z"), ok: false, waitedMs: 15_000 },
    ],
  };
  const v = judgeGate(g, outcome, after, NOW);
  assert.deepEqual(v.unreachable.map((p) => p.hostname), ["db1", "zz"]);
  assert.deepEqual(v.rollback.map((p) => p.hostname), ["db1"]);
  assert.deepEqual(Object.fromEntries(Object.entries(v.health.peers).map(([n, p]) => [n, [p.state, p.waitedSeconds, p.latestHandshakeAgeSeconds]])), {
    app1: ["reachable", 1.2, 2],
    db1: ["unreachable", 15, 2],
    web2: ["reachable", 9, 2],
    zz: ["unreachable", 15, null],
  });
  assert.equal(v.health.checkedAt, new Date(NOW * 1000).toISOString());
  // A peer the gate did not report at all counts as not proven.
  const silent = judgeGate(g, { ran: true, waitedMs: 15_000, peers: [] }, after, NOW);
  assert.equal(silent.unreachable.length, 4);
});

test("judge: a peer the change did not touch (not gated) is still named by its hostname with allNames", () => {
  const d = desired();
  const before = live(d);
  // Only db1's endpoint moves: the gate waits for db1 alone.
  const moved = { ...d, peers: d.peers.map((p) => (p.publicKey === B ? { ...p, endpoint: "198.51.100.77:51820" } : p)) };
  const g = planGate(moved, before, diff(moved, before), NOW, CHECK);
  assert.deepEqual(g.peers.map((p) => p.hostname), ["db1"]);
  const outcome: GateOutcome = { ran: true, waitedMs: 800, peers: [{ publicKey: B, ok: true, evidence: "reply", waitedMs: 800 }] };
  const names = new Map(moved.peers.map((p) => [p.publicKey, p.hostname]));
  const v = judgeGate(g, outcome, live(moved, 2), NOW, names);
  assert.deepEqual(Object.keys(v.health.peers).sort(), moved.peers.map((p) => p.hostname).sort());
  assert.equal(v.health.peers["db1"]?.state, "reachable");
  // Without allNames the untouched peers have no name but their key's.
  assert.ok(Object.keys(judgeGate(g, outcome, live(moved, 2), NOW).health.peers).some((n) => n.startsWith("unknown-peer-")));
});

test("health from a read: connected within 180 s, stale after, never; unknown peers named by key prefix", () => {
  const d = desired();
  const l = live(d, 30);
  l.peers[1]!.latestHandshake = NOW - SESSION_SECONDS - 5;
  l.peers[2]!.latestHandshake = 0;
  l.peers.push({ publicKey: K("u"), presharedKey: false, endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null });
  const names = new Map(d.peers.map((p) => [p.publicKey, p.hostname]));
  const h = healthFromLive(l, names, NOW, "handshake");
  assert.deepEqual(Object.keys(h.peers).sort(), ["app1", "db1", unknownPeerName(K("u")), "web2"].sort());
  assert.equal(unknownPeerName(K("u")), "unknown-peer-uuuuuuuu");
  assert.deepEqual([h.peers.app1!.state, h.peers.db1!.state, h.peers.web2!.state], ["connected", "stale", "never"]);
  assert.deepEqual(h.peers.app1, { publicKey: A, state: "connected", latestHandshakeAgeSeconds: 30, rxBytes: 1234, txBytes: 5678, endpoint: "198.51.100.3:51820" });
  assert.equal(h.peers.web2!.latestHandshakeAgeSeconds, null);
});

test("a change of the pair's keys (own private key, the pair's PSK) is waited for and reported, never rolled back; a PSK change alone is not waited for", () => {
  const d = desired();
  const before = live(d);
  const rotated = { ...d, interface: { ...d.interface, publicKey: K("T") } };
  const g = planGate(rotated, before, diff(rotated, before), NOW, CHECK);
  assert.deepEqual(g.peers.map((p) => [p.hostname, p.healthyBefore, p.keyChange, p.rollbackOnFailure]), [["app1", true, true, false], ["db1", true, true, false], ["web2", true, true, false]]);
  const psk = { ...d, peers: d.peers.map((p) => (p.hostname === "app1" ? { ...p, presharedKey: true } : p)) };
  assert.deepEqual(planGate(psk, before, diff(psk, before), NOW, CHECK).peers, [], "a PSK change alone ends no session (planner/rekey.ts): nothing to wait for");
  const pskMoved = { ...psk, peers: psk.peers.map((p) => (p.hostname === "app1" ? { ...p, endpoint: "198.51.100.3:9999" } : p)) };
  const gp = planGate(pskMoved, before, diff(pskMoved, before), NOW, CHECK);
  assert.deepEqual(gp.peers.map((p) => [p.hostname, p.changes, p.keyChange, p.rollbackOnFailure]), [["app1", ["endpoint 198.51.100.3:51820 → 198.51.100.3:9999", "preshared key set"], true, false]]);
  const outcome: GateOutcome = { ran: true, waitedMs: 15_000, peers: gp.peers.map((p) => ({ publicKey: p.publicKey, ok: false, waitedMs: 15_000 })) };
  const v = judgeGate(gp, outcome, before, NOW);
  assert.deepEqual([v.unreachable.map((p) => p.hostname), v.rollback], [["app1"], []], "reported unreachable, no rollback");
  assert.deepEqual([g.keepPrevious, gp.keepPrevious], [false, true], "a retired private key is kept nowhere; a PSK where there was none retires nothing");
  const withPsk = live(psk);
  for (const p of withPsk.peers) if (p.presharedKey) p.presharedKeyFingerprint = "old-fingerprint";
  const changed = diff(psk, withPsk, { presharedKeyFingerprint: "new-fingerprint" });
  assert.ok(changed.some((o) => o.kind === "peer-set" && o.presharedKey === true), "a changed PSK is set again");
  assert.equal(planGate(psk, withPsk, changed, NOW, CHECK).keepPrevious, false, "a changed PSK retires the old one");
  const removed = diff(d, withPsk);
  assert.equal(planGate(d, withPsk, removed, NOW, CHECK).keepPrevious, false, "a removed PSK is retired");
  const both = { ...psk, peers: psk.peers.map((p) => (p.hostname === "web2" ? { ...p, endpoint: "198.51.100.5:9999" } : p)) };
  const gb = planGate(both, withPsk, diff(both, withPsk, { presharedKeyFingerprint: "new-fingerprint" }), NOW, CHECK);
  assert.deepEqual(gb.peers.map((p) => [p.hostname, p.keyChange, p.rollbackOnFailure]), [["web2", false, false]], "nothing to roll back to in an apply that retires a key");
  const moved = { ...d, peers: d.peers.map((p) => (p.hostname === "app1" ? { ...p, endpoint: "198.51.100.3:9999" } : p)) };
  const gm = planGate(moved, before, diff(moved, before), NOW, CHECK);
  assert.deepEqual(gm.peers.map((p) => [p.hostname, p.keyChange, p.rollbackOnFailure]), [["app1", false, true]], "an endpoint change still rolls back");
  assert.equal(gm.keepPrevious, true);
});

test("property: gated peers are touched desired peers; rollback ⇒ connected before and not new; the judge covers every live peer", () => {
  fc.assert(
    fc.property(
      arbUniverse.chain((u) => fc.tuple(arbDesired(u.keys), arbLive(u.keys), fc.integer({ min: 0, max: 400 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))),
      ([d, l, age, oks]) => {
        for (const p of l.peers) p.latestHandshake = NOW - age;
        const ops = diff(d, l);
        const g = planGate(d, l, ops, NOW, CHECK);
        const desiredKeys = new Set(d.peers.map((p) => p.publicKey));
        for (const p of g.peers) {
          assert.ok(desiredKeys.has(p.publicKey));
          if (p.rollbackOnFailure) assert.ok(p.healthyBefore && !p.isNew && !p.keyChange && g.keepPrevious && age <= SESSION_SECONDS);
          if (ops.some((o) => o.kind === "private-key")) assert.ok(p.keyChange, "a new own key is a key change for every peer");
        }
        if (ops.length === 0) assert.equal(g.peers.length, 0, "nothing applied, nothing to wait for");
        assert.equal(g.keepPrevious, !retiresKeys(ops, l));
        const outcome: GateOutcome = { ran: true, waitedMs: 1000, peers: g.peers.map((p, i) => ({ publicKey: p.publicKey, ok: oks[i % 8] as boolean, waitedMs: 500 })) };
        const v = judgeGate(g, outcome, l, NOW);
        assert.ok(v.rollback.every((p) => v.unreachable.includes(p)));
        assert.equal(Object.keys(v.health.peers).length, new Set(l.peers.map((p) => p.publicKey)).size);
      },
    ),
    { numRuns: 300 },
  );
});
