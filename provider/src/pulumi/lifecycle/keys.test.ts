// Key lifecycle (issue 16) in the lifecycles: the Node's rotation trigger, the Mesh's per-pair PSK table,
// the NodeConfig's presharedKeys. Pure parts (no host).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair, generatePresharedKey, isValidKey } from "../../core/keys";
import { presharedKeyFingerprint } from "../../planner/live";
import { renderConf } from "../../engine/changes";
import type { LiveState } from "../../planner/types";
import { presharedKeyOf, type PairKeyTable } from "../../core/psk";
import { checkMesh, desiredState, lifecycles, liveToInputs, UNKNOWN, type MeshInputs, type NodeConfigInputs } from "./index";
import { isWireSecret, unwrapSecret } from "./common";
import { PSK_DIFFERS, PSK_UNPLANNED, presharedKeysByPublicKey } from "./nodeConfig";
import { rotationRequested } from "./node";

const ctx = { log: () => undefined };
const conn = { host: "192.0.2.1", user: "root" };

describe("Node: rotationTrigger", () => {
  const kp = generateKeyPair();
  const olds = { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0", publicKey: kp.publicKey, privateKey: kp.privateKey, privateKeyImported: false, natDetected: false, remoteHostname: "h", os: null };

  test("any change of the trigger is a rotation (set, changed, removed); the same value or none is not", () => {
    assert.equal(rotationRequested({}, {}), false);
    assert.equal(rotationRequested({ rotationTrigger: "2025-06" }, { rotationTrigger: "2025-06" }), false);
    assert.equal(rotationRequested({}, { rotationTrigger: "2025-06" }), true);
    assert.equal(rotationRequested({ rotationTrigger: "2025-06" }, { rotationTrigger: "2025-07" }), true);
    assert.equal(rotationRequested({ rotationTrigger: "2025-06" }, { rotationTrigger: null }), true);
    assert.equal(rotationRequested({ rotationTrigger: "2025-06" }, { rotationTrigger: UNKNOWN }), true, "unknown at preview: a change");
  });

  test("diff: a changed trigger is an update (never a replacement: the node keeps its resource and host)", async () => {
    const d = await lifecycles.node.diff("web1", { ...olds, rotationTrigger: "a" }, { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0", rotationTrigger: "b" }, ctx);
    assert.deepEqual([d.changes, d.changed, d.replaces], [true, ["rotationTrigger"], []]);
  });

  test("update with a changed trigger: a new key pair (made here, no host access) and the trigger recorded", async () => {
    const r = await lifecycles.node.update("web1", { ...olds, rotationTrigger: "a" }, { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0", rotationTrigger: "b" }, ctx);
    assert.notEqual(r.outs.privateKey, kp.privateKey);
    assert.notEqual(r.outs.publicKey, kp.publicKey);
    assert.equal(r.outs.rotationTrigger, "b");
    const same = await lifecycles.node.update("web1", { ...olds, rotationTrigger: "b" }, { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0", rotationTrigger: "b" }, ctx);
    assert.equal(same.outs.privateKey, kp.privateKey, "an unchanged trigger keeps the key");
  });

  test("a trigger on a node with an imported privateKey is refused at check, naming the fix; the key is never echoed", async () => {
    const key = generateKeyPair().privateKey;
    const r = await lifecycles.node.check(undefined, { hostname: "web1", connection: conn, privateKey: key, rotationTrigger: "2025-06" }, ctx);
    const f = r.failures.find((x) => x.property === "rotationTrigger");
    assert.ok(f, JSON.stringify(r.failures));
    assert.match(f.reason, /node "web1".*imported privateKey.*rotate it by changing privateKey/);
    assert.ok(!f.reason.includes(key));
    assert.deepEqual((await lifecycles.node.check(undefined, { hostname: "web1", connection: conn, rotationTrigger: "2025-06" }, ctx)).failures, []);
    assert.deepEqual((await lifecycles.node.check(undefined, { hostname: "web1", connection: conn, keyOnHost: true, rotationTrigger: "2025-06" }, ctx)).failures, []);
  });
});

function mesh(extra: Partial<MeshInputs> = {}): MeshInputs {
  return {
    name: "prod",
    network: "10.99.0.0/24",
    nodes: [{ hostname: "web1", sshHost: "192.0.2.1" }, { hostname: "web2", sshHost: "192.0.2.2" }, { hostname: "app1", sshHost: "192.0.2.3" }],
    presharedKeys: true,
    ...extra,
  };
}

const table = (inputs: MeshInputs): PairKeyTable => {
  assert.ok(isWireSecret(inputs.presharedKeyTable), "the table is a wire secret");
  return unwrapSecret(inputs.presharedKeyTable as never) as PairKeyTable;
};
const pairs = (t: PairKeyTable) => Object.entries(t).flatMap(([a, row]) => Object.keys(row).map((b) => `${a}–${b}`)).sort();

describe("Mesh: per-pair PSK table", () => {
  test("made at check, as a secret: one key per peered pair; none without presharedKeys", () => {
    const t = table(checkMesh(undefined, mesh()).inputs);
    assert.deepEqual(pairs(t), ["app1–web1", "app1–web2", "web1–web2"]);
    assert.ok(Object.values(t).flatMap((r) => Object.values(r)).every((k) => isValidKey(k.key) && /^[0-9a-f]{8}$/.test(k.id)));
    assert.equal(checkMesh(undefined, mesh({ presharedKeys: false })).inputs.presharedKeyTable, undefined);
    assert.equal(checkMesh(undefined, mesh({ presharedKeys: undefined })).inputs.presharedKeyTable, undefined);
  });

  test("kept across checks (olds as the engine hands them back: plain); a node added gets only its pairs; a node removed takes its pairs", async () => {
    const first = checkMesh(undefined, mesh()).inputs;
    const plainOlds = { ...first, presharedKeyTable: table(first) };
    const again = checkMesh(plainOlds, mesh()).inputs;
    assert.deepEqual(table(again), table(first));
    assert.equal((await lifecycles.mesh.diff("prod", plainOlds, { ...again, presharedKeyTable: table(again) }, ctx)).changes, false, "no change, no update");
    const grown = checkMesh(plainOlds, mesh({ nodes: [...mesh().nodes, { hostname: "db1", sshHost: "192.0.2.4" }] })).inputs;
    const g = table(grown);
    for (const p of pairs(table(first))) {
      const [a, b] = p.split("–") as [string, string];
      assert.deepEqual(presharedKeyOf(g, a, b), presharedKeyOf(table(first), a, b), `${p} kept`);
    }
    assert.equal(pairs(g).filter((p) => p.includes("db1")).length, 3);
    const shrunk = checkMesh({ ...grown, presharedKeyTable: g }, mesh({ nodes: mesh().nodes.filter((n) => n.hostname !== "web2") })).inputs;
    assert.deepEqual(pairs(table(shrunk)), ["app1–web1"]);
  });

  test("only peered pairs get a key (policies); a changed pskRotationTrigger renews every key", () => {
    const segmented = mesh({
      groups: [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }],
      policies: [{ name: "web-to-app", fromGroups: ["web"], toGroups: ["app"] }],
    });
    const first = checkMesh(undefined, segmented).inputs;
    assert.deepEqual(pairs(table(first)), ["app1–web1", "app1–web2"], "web1 and web2 do not peer");
    const rotated = checkMesh({ ...first, presharedKeyTable: table(first) }, { ...segmented, pskRotationTrigger: "r1" }).inputs;
    const before = new Set(Object.values(table(first)).flatMap((r) => Object.values(r).map((k) => k.key)));
    assert.ok(Object.values(table(rotated)).flatMap((r) => Object.values(r)).every((k) => !before.has(k.key)));
    const kept = checkMesh({ ...rotated, presharedKeyTable: table(rotated) }, { ...segmented, pskRotationTrigger: "r1" }).inputs;
    assert.deepEqual(table(kept), table(rotated), "the same trigger again changes nothing");
  });

  test("unknown at preview while who peers with whom is not known", () => {
    const r = checkMesh(undefined, mesh({ presharedKeys: UNKNOWN as never }));
    assert.equal(r.inputs.presharedKeyTable, UNKNOWN);
  });
});

describe("NodeConfig: presharedKeys", () => {
  const [a, b, c] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const [pb, pc] = [{ id: "0000000b", key: generatePresharedKey() }, { id: "0000000c", key: generatePresharedKey() }];
  const planned: NodeConfigInputs = {
    mesh: "prod", hostname: "web1", interfaceName: "wg0", address: "10.99.0.1/24", listenPort: 51820, publicKey: a.publicKey,
    peers: {
      web2: { publicKey: b.publicKey, endpoint: "192.0.2.2:51820", allowedIps: ["10.99.0.2/32"] },
      app1: { publicKey: c.publicKey, endpoint: "192.0.2.3:51820", allowedIps: ["10.99.0.3/32"] },
    },
    presharedKeys: { web2: pb, app1: pc },
    routes: [], forwarding: false, keyOnHost: false, privateKey: a.privateKey, connection: { host: "192.0.2.1" },
  };

  test("desired state flags exactly the peers with a key; the engine gets them by public key; the conf carries each", () => {
    assert.deepEqual(desiredState({ ...planned, presharedKeys: { web2: pb } }).peers.map((p) => [p.hostname, p.presharedKey]), [["app1", false], ["web2", true]]);
    assert.deepEqual(presharedKeysByPublicKey(planned), { [b.publicKey]: pb.key, [c.publicKey]: pc.key });
    assert.equal(presharedKeysByPublicKey({ ...planned, presharedKeys: undefined }), undefined);
    const conf = renderConf(desiredState(planned), { privateKey: a.privateKey }, presharedKeysByPublicKey(planned));
    assert.ok(conf.includes(`PresharedKey = ${pb.key}`) && conf.includes(`PresharedKey = ${pc.key}`));
    assert.ok(!conf.includes(pb.id), "the id is no part of the host's file");
  });

  test("check: a bad key or a key for a non-peer is refused naming the peer, never the value", async () => {
    const r = await lifecycles.nodeConfig.check(undefined, { ...planned, presharedKeys: { web2: { id: "00000001", key: "secret-but-bad" }, db9: pb } }, ctx);
    const reasons = r.failures.filter((f) => f.property === "presharedKeys").map((f) => f.reason);
    assert.equal(reasons.length, 2);
    assert.match(reasons[0]!, /peer "web2" is not a WireGuard key/);
    assert.match(reasons[1]!, /"db9", which is not one of its peers/);
    assert.ok(reasons.every((x) => !x.includes("secret-but-bad") && !x.includes(pb.key)));
    assert.deepEqual((await lifecycles.nodeConfig.check(undefined, planned, ctx)).failures, []);
  });

  test("refresh: keys found on the host (by fingerprint) read back as planned; a different or missing one shows as drift", async () => {
    const live = (fb: string | null, fc: string | null, extra: string | null = null): LiveState => ({
      interface: { name: "wg0", publicKey: a.publicKey, listenPort: 51820, addresses: ["10.99.0.1/24"], mtu: 1420 },
      peers: [
        { publicKey: b.publicKey, presharedKey: fb !== null, ...(fb ? { presharedKeyFingerprint: fb } : {}), endpoint: "192.0.2.2:51820", allowedIps: ["10.99.0.2/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null },
        { publicKey: c.publicKey, presharedKey: fc !== null, ...(fc ? { presharedKeyFingerprint: fc } : {}), endpoint: "192.0.2.3:51820", allowedIps: ["10.99.0.3/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null },
        ...(extra ? [{ publicKey: generateKeyPair().publicKey, presharedKey: true, presharedKeyFingerprint: extra, endpoint: null, allowedIps: ["10.99.0.9/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null }] : []),
      ],
      routes: [], forwarding: false,
    });
    const same = liveToInputs(planned, live(presharedKeyFingerprint(pb.key), presharedKeyFingerprint(pc.key)));
    assert.deepEqual(same.presharedKeys, planned.presharedKeys);
    assert.equal((await lifecycles.nodeConfig.diff("prod/web1", same, planned, ctx)).changes, false);
    const drift = liveToInputs(planned, live(presharedKeyFingerprint(generatePresharedKey()), null, "ff"));
    assert.deepEqual(drift.presharedKeys?.web2, { id: PSK_DIFFERS, key: pb.key });
    assert.equal(drift.presharedKeys?.app1, undefined, "missing on the host");
    assert.ok(Object.values(drift.presharedKeys ?? {}).some((k) => k.id === PSK_UNPLANNED && k.key === ""), "a PSK on a foreign peer");
    assert.deepEqual((await lifecycles.nodeConfig.diff("prod/web1", drift, planned, ctx)).changed, ["peers", "presharedKeys"]);
    const none = liveToInputs({ ...planned, presharedKeys: undefined }, live(null, null));
    assert.equal(none.presharedKeys, undefined);
  });
});
