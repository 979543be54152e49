import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { meshPlan, type MeshPlanDoc } from "./meshplan";
import { compileMesh } from "../core/compile";
import { generateKeyPair } from "../core/keys";
import type { MeshInput } from "../core/model";
import { encryptState } from "../core/statecrypt";
import { formatStateFile, meshToState } from "../core/statefile";

const keys = { web1: generateKeyPair(), web2: generateKeyPair(), app1: generateKeyPair() };
const DECLARED: MeshInput = {
  network: "10.50.0.0/24",
  nodes: [
    { hostname: "web1", sshHost: "192.0.2.1", publicKey: keys.web1.publicKey },
    { hostname: "web2", sshHost: "192.0.2.2", publicKey: keys.web2.publicKey, behindNat: true },
    { hostname: "app1", sshHost: "192.0.2.3", publicKey: keys.app1.publicKey, routableNetworks: ["192.168.10.0/24"], listenPort: 51821 },
  ],
  groups: [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }],
  policies: [{ name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], allowRoutableNetworks: true }],
};

function plan(args: Parameters<typeof meshPlan>[0]): MeshPlanDoc {
  const r = meshPlan(args);
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.failures));
  return r.plan;
}

describe("meshPlan", () => {
  test("a declaration: per node mesh IP, peers keyed by hostname with AllowedIPs/endpoint/keepalive, routes, forwarding, diagram", () => {
    const p = plan(DECLARED);
    assert.deepEqual(p.meshIps, { app1: "10.50.0.1", web1: "10.50.0.2", web2: "10.50.0.3" }, "allocated in hostname order");
    assert.deepEqual(p.nodes.web1, {
      meshIp: "10.50.0.2", address: "10.50.0.2/24", listenPort: 51820, publicKey: keys.web1.publicKey, endpoint: "192.0.2.1:51820", behindNat: false,
      peers: { app1: { publicKey: keys.app1.publicKey, endpoint: "192.0.2.3:51821", allowedIps: ["10.50.0.1/32", "192.168.10.0/24"] } },
      routes: ["192.168.10.0/24"], forwarding: false,
    });
    assert.deepEqual(p.nodes.web2?.peers.app1?.persistentKeepalive, 25, "a node behind NAT keeps its tunnels open");
    assert.equal(p.nodes.web2?.endpoint, undefined, "behind NAT: no endpoint");
    assert.deepEqual(p.nodes.app1?.peers.web2, { publicKey: keys.web2.publicKey, allowedIps: ["10.50.0.3/32"] });
    assert.equal(p.nodes.app1?.forwarding, true);
    assert.match(p.diagram, /n_web1 -->\|"web-to-app, \+ networks"\| n_app1/);
    // The same as the core's compile, which `pulumi up` applies.
    const c = compileMesh(DECLARED);
    assert.ok(c.ok);
    for (const d of c.plan.nodes) {
      assert.deepEqual(Object.keys(p.nodes[d.hostname]?.peers ?? {}), d.peers.map((x) => x.hostname));
      assert.deepEqual(p.nodes[d.hostname]?.routes, d.routes);
    }
  });

  test("without public keys the topology is planned the same and no key appears", () => {
    const withKeys = plan(DECLARED);
    const keyless = plan({ ...DECLARED, nodes: DECLARED.nodes.map(({ publicKey: _k, ...n }) => n) });
    const strip = (d: MeshPlanDoc) => JSON.parse(JSON.stringify(d, (k, v) => (k === "publicKey" ? undefined : v)));
    assert.deepEqual(keyless, strip(withKeys));
    assert.doesNotMatch(JSON.stringify(keyless), /publicKey/);
  });

  test("a Go state file (plain or encrypted) plans like its declaration; its private keys never reach the result", () => {
    const c = compileMesh({ ...DECLARED, nodes: DECLARED.nodes.map((n) => ({ ...n, publicKey: null, privateKey: keys[n.hostname as keyof typeof keys].privateKey })) });
    assert.ok(c.ok);
    const text = formatStateFile(meshToState(c.mesh));
    const fromFile = plan({ stateFile: text });
    assert.deepEqual(fromFile.nodes, plan(DECLARED).nodes);
    const encrypted = encryptState(text, "pw");
    assert.deepEqual(plan({ stateFile: encrypted, statePassword: "pw" }).nodes, fromFile.nodes);
    for (const k of Object.values(keys)) {
      assert.ok(text.includes(k.privateKey), "positive control: the state file holds the private keys");
      assert.ok(!JSON.stringify(fromFile).includes(k.privateKey), "a private key in the plan");
    }
    const wrong = meshPlan({ stateFile: encrypted, statePassword: "pw-Zq81x" });
    assert.deepEqual(wrong.ok ? [] : wrong.failures.map((f) => f.property), ["statePassword"]);
    assert.ok(!JSON.stringify(wrong).includes("pw-Zq81x"), "the password is not echoed");
    assert.match(JSON.stringify(meshPlan({ stateFile: encrypted })), /looks encrypted.*statePassword/);
    assert.match(JSON.stringify(meshPlan({ stateFile: "{" })), /"property":"stateFile"/);
  });

  test("refusals name the argument, the culprit and the fix", () => {
    const bad = meshPlan({ nodes: [{ hostname: "a", sshHost: "192.0.2.1" }], groups: [{ name: "g", members: ["nope"] }] });
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.failures.map((f) => f.property), ["groups"]);
    assert.match(!bad.ok ? bad.failures[0]?.reason ?? "" : "", /group "g": member "nope" in members is not a node of the mesh; add the node or remove it from members/);
    assert.match(JSON.stringify(meshPlan({})), /no mesh to plan: give nodes/);
    assert.match(JSON.stringify(meshPlan({ nodes: DECLARED.nodes, stateFile: "{}" })), /either stateFile or nodes/);
  });
});
