import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { applyOperations, diff } from "./diff";
import { HANDSHAKE_CONFIRM_SECONDS, withRekey } from "./rekey";
import { renderOperation } from "./commands";
import type { LiveState, NodeDesiredState, Operation } from "./types";
import { arbDesired, arbLive, arbUniverse } from "./testdata/arbitraries";

const K = (c: string) => `${c.repeat(43)}=`;
const [SELF, SELF2, B_OLD, B_NEW, C, D_OLD, D_NEW] = [K("A"), K("Q"), K("B"), K("E"), K("C"), K("D"), K("F")].map((k) => k.replace(/^(.{42})./, "$1A")) as [string, string, string, string, string, string, string];

function desired(over: Partial<NodeDesiredState> = {}): NodeDesiredState {
  return {
    hostname: "a",
    interface: { name: "wg0", address: "10.9.0.1/24", listenPort: 51820, mtu: null, publicKey: SELF },
    peers: [
      { hostname: "b", publicKey: B_NEW, endpoint: "192.0.2.2:51820", allowedIps: ["10.9.0.2/32"], persistentKeepalive: null, presharedKey: false },
      { hostname: "c", publicKey: C, endpoint: "192.0.2.3:51820", allowedIps: ["10.9.0.3/32"], persistentKeepalive: null, presharedKey: false },
      { hostname: "d", publicKey: D_NEW, endpoint: null, allowedIps: ["10.9.0.4/32"], persistentKeepalive: 25, presharedKey: false },
    ],
    routes: [],
    forwarding: false,
    ...over,
  };
}

function live(self = SELF, b = B_OLD, d = D_OLD): LiveState {
  const peer = (publicKey: string, endpoint: string | null, ip: string, keepalive: number | null = null) =>
    ({ publicKey, presharedKey: false, endpoint, allowedIps: [ip], latestHandshake: 1, rxBytes: 1, txBytes: 1, persistentKeepalive: keepalive });
  return {
    interface: { name: "wg0", publicKey: self, listenPort: 51820, addresses: ["10.9.0.1/24"], mtu: 1420 },
    peers: [peer(b, "192.0.2.2:51820", "10.9.0.2/32"), peer(C, "192.0.2.3:51820", "10.9.0.3/32"), peer(d, "198.51.100.7:40001", "10.9.0.4/32", 25)],
    routes: [],
    forwarding: false,
  };
}

const kinds = (ops: Operation[]) => ops.map((o) => `${o.kind}${"hostname" in o && o.hostname ? ` ${o.hostname}` : ""}`);

test("a peer's new key: the old entry goes, the new one comes, then a handshake with it at once", () => {
  const d = desired({ peers: desired().peers.map((p) => (p.hostname === "d" ? { ...p, publicKey: D_OLD } : p)) });
  const l = live();
  const ops = withRekey(d, l, diff(d, l));
  assert.deepEqual(kinds(ops), ["peer-remove", "peer-set b", "handshake b", "handshake-confirm"]);
  assert.equal((ops[0] as { publicKey: string }).publicKey, B_OLD);
  assert.deepEqual(diff(d, applyOperations(l, ops, d)), []);
});

test("a peer behind NAT with a new key: its new entry keeps the address it was last seen at", () => {
  const d = desired({ peers: desired().peers.map((p) => (p.hostname === "b" ? { ...p, publicKey: B_OLD } : p)) });
  const l = live();
  const ops = withRekey(d, l, diff(d, l));
  assert.deepEqual(kinds(ops), ["peer-remove", "peer-set d", "handshake d", "handshake-confirm"]);
  const set = ops[1] as Extract<Operation, { kind: "peer-set" }>;
  assert.equal(set.endpoint, "198.51.100.7:40001", "learned endpoint carried over");
  assert.deepEqual(ops[2], { kind: "handshake", publicKey: D_NEW, hostname: "d", persistentKeepalive: 25 });
  assert.deepEqual(diff(d, applyOperations(l, ops, d)), []);
});

test("the node's own new key: every peer gets a handshake, after every other operation", () => {
  const d = desired({ interface: { ...desired().interface, publicKey: SELF2 }, peers: desired().peers.map((p) => ({ ...p, publicKey: p.hostname === "b" ? B_OLD : p.hostname === "d" ? D_OLD : p.publicKey })) });
  const l = live();
  const ops = withRekey(d, l, diff(d, l));
  // SELF2 sorts after every peer's key: the peers' ends confirm, this one does not.
  assert.deepEqual(kinds(ops), ["private-key", "handshake b", "handshake c", "handshake d"]);
});

test("crossing initiations: the end whose key sorts first confirms each switched peer, with its settings", () => {
  const d = desired({ peers: desired().peers.map((p) => (p.hostname === "b" ? { ...p, publicKey: B_OLD } : p)) });
  const l = live();
  const ops = withRekey(d, l, diff(d, l));
  assert.deepEqual(ops[ops.length - 1], {
    kind: "handshake-confirm",
    seconds: HANDSHAKE_CONFIRM_SECONDS,
    peers: [{ publicKey: D_NEW, hostname: "d", endpoint: null, allowedIps: ["10.9.0.4/32"], persistentKeepalive: 25, presharedKey: false }],
  });
  assert.deepEqual(diff(d, applyOperations(l, ops, d)), [], "no lasting change in the model");
});

test("a changed PSK gets no handshake step (it ends no session; the next handshake uses it); nothing else changes nothing", () => {
  const l = live(SELF, B_NEW, D_NEW);
  const same = desired();
  assert.deepEqual(withRekey(same, l, diff(same, l)), [], "converged: no operation, no handshake");
  const withPsk = desired({ peers: desired().peers.map((p) => (p.hostname === "c" ? { ...p, presharedKey: true } : p)) });
  assert.deepEqual(kinds(withRekey(withPsk, l, diff(withPsk, l))), ["peer-set c"]);
  // A PSK changed (the live entry has one) or removed: the operations as the diff gave them, nothing added.
  for (const presharedKey of [true, false]) {
    const ops: Operation[] = [{ kind: "peer-set", publicKey: C, hostname: "c", presharedKey }];
    assert.deepEqual(withRekey(withPsk, l, ops), ops);
  }
});

test("a peer new to the mesh (no entry replaced) gets no handshake: it may not be up yet", () => {
  const l = live(SELF, B_NEW, D_NEW);
  const E = K("G").replace(/^(.{42})./, "$1A");
  const grown = desired({ peers: [...desired().peers, { hostname: "e", publicKey: E, endpoint: "192.0.2.5:51820", allowedIps: ["10.9.0.5/32"], persistentKeepalive: null, presharedKey: true }] });
  assert.deepEqual(kinds(withRekey(grown, l, diff(grown, l))), ["peer-set e"]);
});

test("a first start (interface-up) gets no handshakes: the tunnels are new anyway", () => {
  const l: LiveState = { interface: null, peers: [], routes: [], forwarding: false };
  assert.deepEqual(kinds(withRekey(desired(), l, diff(desired(), l))), ["interface-up"]);
});

test("a handshake is rendered as keepalive switched on from off, then back to the peer's setting", () => {
  assert.equal(renderOperation({ kind: "handshake", publicKey: C, persistentKeepalive: null }, "wg0", {}), [
    `wg set wg0 peer ${C} persistent-keepalive 1`,
    `wg set wg0 peer ${C} persistent-keepalive 0`,
  ].join("\n"));
  assert.equal(renderOperation({ kind: "handshake", publicKey: C, persistentKeepalive: 25 }, "wg0", {}), [
    `wg set wg0 peer ${C} persistent-keepalive 0`,
    `wg set wg0 peer ${C} persistent-keepalive 25`,
  ].join("\n"));
});

test("property: with the rekey additions the result still converges; handshakes go only to desired peers, each once, last", () => {
  fc.assert(
    fc.property(arbUniverse.chain((u) => fc.tuple(arbDesired(u.keys), arbLive(u.keys))), ([d, l]) => {
      const base = diff(d, l);
      const ops = withRekey(d, l, base);
      assert.deepEqual(diff(d, applyOperations(l, ops, d)), []);
      const shakes = ops.filter((o) => o.kind === "handshake").map((o) => (o as { publicKey: string }).publicKey);
      assert.equal(new Set(shakes).size, shakes.length);
      const wanted = new Set(d.peers.map((p) => p.publicKey));
      for (const k of shakes) assert.ok(wanted.has(k));
      const isShake = (x: Operation) => x.kind === "handshake" || x.kind === "handshake-confirm";
      ops.forEach((o, i) => {
        if (isShake(o)) assert.ok(!ops.slice(i + 1).some((x) => !isShake(x)), "handshakes come last");
      });
      const confirms = ops.filter((o) => o.kind === "handshake-confirm");
      assert.ok(confirms.length <= 1 && (confirms.length === 0 || ops[ops.length - 1] === confirms[0]), "one confirm, at the very end");
      const confirmed = confirms.flatMap((o) => o.peers.map((p) => p.publicKey));
      assert.deepEqual(confirmed, shakes.filter((k) => d.interface.publicKey < k), "confirmed: exactly the kicked peers whose key sorts after ours");
      assert.equal(ops.filter((o) => !isShake(o)).length, base.length, "no operation added but handshakes");
      if (base.length === 0) assert.deepEqual(ops, []);
    }),
    { numRuns: 500 },
  );
});
