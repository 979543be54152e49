import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair } from "../core/keys";
import { checkMesh, type MeshInputs } from "./lifecycle/mesh";
import { planMeshConfigs, planTopology, peerEntry, peerSets } from "./plan";

const keys = { web1: generateKeyPair(), web2: generateKeyPair(), app1: generateKeyPair() };
const ids = Object.entries(keys).map(([hostname, k]) => ({ hostname, publicKey: k.publicKey }));

function declared(extra: Partial<MeshInputs> = {}): MeshInputs {
  return {
    name: "prod",
    network: "10.99.0.0/16",
    nodes: [
      { hostname: "web1", sshHost: "192.0.2.1" },
      { hostname: "web2", sshHost: "192.0.2.2" },
      { hostname: "app1", sshHost: "192.0.2.3", routableNetworks: ["192.168.10.0/24"] },
    ],
    ...extra,
  };
}

test("NodeConfig inputs: peers keyed by hostname with key, endpoint, AllowedIPs; routes; no secrets", () => {
  const checked = checkMesh(undefined, declared()).inputs;
  const p = planMeshConfigs(checked, ids);
  const web1 = p.nodes.web1!;
  assert.deepEqual(Object.keys(web1.peers).sort(), ["app1", "web2"]);
  assert.deepEqual(web1.peers.app1, { publicKey: keys.app1.publicKey, endpoint: "192.0.2.3:51820", allowedIps: ["10.99.0.1/32", "192.168.10.0/24"] });
  assert.deepEqual(web1.routes, ["192.168.10.0/24"]);
  assert.equal(web1.address, `${checked.meshIps!.web1}/16`);
  assert.equal(p.nodes.app1!.forwarding, true);
  assert.deepEqual(p.meshIps, checked.meshIps);
  assert.equal(p.endpoints.web2, "192.0.2.2:51820");
  const text = JSON.stringify(p);
  for (const k of Object.values(keys)) assert.ok(!text.includes(k.privateKey));
});

test("a node behind NAT: no endpoint for it, keepalive on its own peers", () => {
  const checked = checkMesh(undefined, declared()).inputs;
  const p = planMeshConfigs(checked, ids.map((i) => (i.hostname === "web2" ? { ...i, behindNat: true } : i)));
  assert.equal(p.nodes.web1!.peers.web2!.endpoint, undefined);
  assert.equal(p.nodes.web2!.peers.web1!.persistentKeepalive, 25);
  assert.equal(p.endpoints.web2, null);
  assert.equal(p.behindNat.web2, true);
});

test("policies restrict peers; dropping the policy changes exactly the affected peers", () => {
  const withPolicy = declared({
    groups: [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }],
    policies: [{ name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], allowRoutableNetworks: true }],
  });
  const c1 = checkMesh(undefined, withPolicy).inputs;
  const p1 = planMeshConfigs(c1, ids);
  assert.deepEqual(Object.keys(p1.nodes.web1!.peers), ["app1"]);
  assert.deepEqual(Object.keys(p1.nodes.app1!.peers).sort(), ["web1", "web2"]);
  assert.deepEqual(p1.nodes.app1!.routes, []);
  const c2 = checkMesh(c1, { ...withPolicy, policies: [] }).inputs;
  const p2 = planMeshConfigs(c2, ids);
  assert.deepEqual(p2.nodes.web1!.peers, {});
  assert.deepEqual(c2.meshIps, c1.meshIps, "allocation unchanged");
});

test("an invalid mesh throws with every core message", () => {
  const bad = { ...declared(), meshIps: {}, groups: [{ name: "web", members: ["nope"] }] };
  assert.throws(() => planMeshConfigs(bad, ids), /mesh "prod" is invalid:[\s\S]*member "nope"/);
});

test("topology + peerEntry assemble exactly the full plan (reachable and NAT nodes, policies)", () => {
  const d = declared({
    nodes: [
      { hostname: "web1", sshHost: "192.0.2.1" },
      { hostname: "web2", sshHost: "192.0.2.2", publicEndpoint: "198.51.100.2:40000" },
      { hostname: "app1", sshHost: "192.0.2.3", routableNetworks: ["192.168.10.0/24"] },
    ],
    groups: [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }],
    policies: [{ name: "w2a", fromGroups: ["web"], toGroups: ["app"], allowRoutableNetworks: true }],
  });
  const checked = checkMesh(undefined, d).inputs;
  for (const natCase of [{}, { web2: true }, { web1: true, app1: true }] as Record<string, boolean>[]) {
    const full = planMeshConfigs(checked, ids.map((i) => ({ ...i, behindNat: natCase[i.hostname] ?? false })));
    const topo = planTopology(checked);
    for (const [x, cfg] of Object.entries(full.nodes)) {
      const { peers, publicKey: _pk, ...rest } = cfg;
      const { peers: tpeers, ...trest } = topo.nodes[x]!;
      assert.deepEqual(trest, rest);
      assert.deepEqual(Object.keys(tpeers), Object.keys(peers));
      for (const y of Object.keys(peers)) {
        const k = keys[y as keyof typeof keys].publicKey;
        assert.deepEqual(peerEntry(topo, x, y, k, natCase[x] ?? false, natCase[y] ?? false), peers[y], `${x} → ${y} ${JSON.stringify(natCase)}`);
      }
    }
  }
});

test("peerSets from names alone: full mesh without groups; policies in either direction; bad references ignored", () => {
  assert.deepEqual(peerSets(["b", "a", "c"], [], []), { a: ["b", "c"], b: ["a", "c"], c: ["a", "b"] });
  const sets = peerSets(
    ["web1", "web2", "app1", "db1"],
    [{ name: "web", members: ["web1", "web2", "ghost"] }, { name: "app", members: ["app1"] }, { name: "db", members: ["db1"] }],
    [{ name: "w2a", fromGroups: ["web"], toGroups: ["app"] }, { name: "a2d", fromGroups: ["app"], toGroups: ["db", "nope"] }],
  );
  assert.deepEqual(sets, { app1: ["db1", "web1", "web2"], db1: ["app1"], web1: ["app1"], web2: ["app1"] });
  // The same sets as the compiled plan's.
  const checked = checkMesh(undefined, declared({
    groups: [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }],
    policies: [{ name: "w2a", fromGroups: ["web"], toGroups: ["app"] }],
  })).inputs;
  const full = planMeshConfigs(checked, ids);
  const names = peerSets(["web1", "web2", "app1"], [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }], [{ name: "w2a", fromGroups: ["web"], toGroups: ["app"] }]);
  for (const [h, c] of Object.entries(full.nodes)) assert.deepEqual(Object.keys(c.peers).sort(), [...names[h]!].sort());
});
