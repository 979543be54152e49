// The Mesh composition draws `Mesh.diagram` from what it has: the Mesh's checked inputs (with their stable
// allocation) and each node's effective NAT status. The planner's meshDiagram takes them as they are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { meshDiagram } from "../planner/diagram";
import { checkMesh, type MeshInputs } from "./lifecycle/mesh";

test("a Mesh's checked inputs + effective NAT draw as the diagram", () => {
  const declared: MeshInputs = {
    name: "prod",
    nodes: [{ hostname: "web1", sshHost: "192.0.2.1" }, { hostname: "app1", sshHost: "192.0.2.2", routableNetworks: ["192.168.10.0/24"] }],
    groups: [{ name: "web", members: ["web1"] }, { name: "app", members: ["app1"] }],
    policies: [{ name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], allowRoutableNetworks: true }],
  };
  const { inputs, failures } = checkMesh(undefined, declared);
  assert.deepEqual(failures, []);
  const d = meshDiagram(inputs, { meshIps: inputs.meshIps, behindNat: { web1: true, app1: false } });
  assert.match(d, /n_web1\["web1<br\/>10\.99\.0\.2<br\/>behind NAT"\]:::nat/);
  assert.match(d, /n_app1\["app1<br\/>10\.99\.0\.1"\]/);
  assert.match(d, /n_web1 -->\|"web-to-app, \+ networks"\| n_app1/);
});
