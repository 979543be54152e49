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

test("enforced by default with policies: each node's firewall and its policy tests come with its topology", () => {
  const acl = {
    groups: [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }],
    policies: [{ name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], ports: ["tcp/8080"], allowRoutableNetworks: true }],
    policyTests: [{ from: "web1", to: "app1", port: "tcp/8080", expect: "allow" as const }, { from: "app1", to: "web1", port: "tcp/80", expect: "deny" as const }],
  };
  const checked = checkMesh(undefined, declared(acl));
  assert.deepEqual(checked.failures, []);
  const topo = planTopology(checked.inputs);
  const app = topo.nodes.app1!;
  assert.deepEqual(app.firewall!.rules, {
    "forward web-to-app from web tcp": "ip saddr @src_web ip daddr @routed tcp dport 8080 accept",
    "input web-to-app from web tcp": "ip saddr @src_web tcp dport 8080 accept",
  });
  assert.deepEqual(app.firewall!.sets.routed, ["192.168.10.0/24"]);
  assert.deepEqual(topo.nodes.web1!.firewall!.rules, {}, "web accepts no NEW connection from the mesh");
  assert.deepEqual(topo.nodes.web1!.policyTests, { "app1 tcp/8080": { address: checked.inputs.meshIps!.app1, port: "tcp/8080", expect: "allow", result: "pass" } });
  assert.equal(planTopology(checkMesh(undefined, declared({ ...acl, enforcement: "none", policyTests: [] })).inputs).nodes.app1!.firewall, undefined, "enforcement none: no firewall");
  assert.equal(planTopology(checkMesh(undefined, declared()).inputs).nodes.app1!.firewall, undefined, "full mesh: nothing to enforce");
});

test("a failing policy test fails the Mesh's check, naming the test and the policy (property policyTests)", () => {
  const r = checkMesh(undefined, declared({
    groups: [{ name: "web", members: ["web1"] }, { name: "app", members: ["app1"] }],
    policies: [{ name: "web-to-app", fromGroups: ["web"], toGroups: ["app"] }],
    policyTests: [{ from: "web1", to: "app1", port: "tcp/5432", expect: "deny" }, { from: "app1", to: "web1", port: "icmp", expect: "allow" }],
  }));
  assert.deepEqual(r.failures.map((f) => f.property), ["policyTests", "policyTests"]);
  assert.match(r.failures[0]!.reason, /^mesh "prod": policy test #1 \(web1 → app1 tcp\/5432, expect deny\) fails: web1 → app1 tcp\/5432 is allowed by policy "web-to-app"/);
  assert.match(r.failures[1]!.reason, /policy test #2 \(app1 → web1 icmp, expect allow\) fails: app1 → web1 icmp is denied: no policy lets app1's groups \[app\] reach web1's groups \[web\]; "web-to-app" relates them only from web1 to app1/);
  const bad = checkMesh(undefined, declared({ groups: [{ name: "web", members: ["web1"] }], policies: [{ name: "w", fromGroups: ["web"], toGroups: ["web"], ports: ["tcp/99999"] }], policyTests: [{ from: "nobody", to: "web1", port: "tcp/1", expect: "deny" }] }));
  assert.deepEqual(bad.failures.map((f) => f.property).sort(), ["policies", "policyTests"]);
  assert.match(bad.failures.map((f) => f.reason).join("\n"), /policy "w": ports entry "tcp\/99999" has port 99999, out of range/);
});
