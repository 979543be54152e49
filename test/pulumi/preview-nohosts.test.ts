// The resources through the real Pulumi engine with NO host reachable: `pulumi preview` of
// examples/full-mesh plans every node (names, allocation) without opening a single TCP connection, and bad
// references between nodes, groups and policies fail the preview with the core's messages.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as path from "node:path";
import { Workspace, pulumiEnv, repoRoot, toolchainMissing } from "./harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv);

const FAKE_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

describe("pulumi preview without hosts (real engine)", { skip }, () => {
  let ws: Workspace;
  let listener: net.Server;
  let port = 0;
  let connections = 0;

  before(async () => {
    ws = new Workspace(baseEnv);
    // Every host points here: any SSH attempt during preview would show up as a connection.
    listener = net.createServer((s) => { connections++; s.destroy(); });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    port = (listener.address() as net.AddressInfo).port;
  });
  after(async () => {
    ws?.cleanup();
    await new Promise<void>((r) => listener.close(() => r()));
  });

  test("examples/full-mesh previews 3 nodes + mesh + 3 NodeConfigs named <mesh>-<node>, allocation shown, 0 connections", (t) => {
    const dir = ws.project("full-mesh", path.join(repoRoot, "examples/full-mesh"));
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    const hosts = ["app1", "app2", "app3"].map((name) => ({ name, host: "127.0.0.1", port }));
    ws.pulumiOk(dir, ["config", "set", "hosts", JSON.stringify(hosts)]);
    ws.pulumiOk(dir, ["config", "set", "--secret", "sshPrivateKey"], { input: FAKE_SSH_KEY });
    const r = ws.pulumiOk(dir, ["preview", "--diff"]);
    t.diagnostic(`pulumi preview (full-mesh, 3 nodes, no state): ${r.ms} ms wall`);
    for (const n of ["app1", "app2", "app3"]) {
      assert.match(r.stdout, new RegExp(`dynamic:Resource::${n}\\]`), `Node ${n} in the preview`);
      assert.match(r.stdout, new RegExp(`dynamic:Resource::demo-${n}\\]`), `NodeConfig demo-${n} in the preview`);
    }
    assert.match(r.stdout, /meshIps\s*: \{\s*app1: "10\.99\.0\.1"\s*app2: "10\.99\.0\.2"\s*app3: "10\.99\.0\.3"/, "allocation computed at preview");
    assert.match(r.stdout, /\+ 8 to create/);
    assert.doesNotMatch(r.stdout + r.stderr, /connecting to/);
    assert.equal(connections, 0, "preview opened no connection to any host");
    assert.ok(!(r.stdout + r.stderr).includes("not-a-real-key"), "the SSH key never shows");
  });

  const PROGRAM = (body: string) => `import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";
const c = (host: string) => ({ host, port: Number(process.env.WGMESH_TEST_PORT), user: "root", privateKey: "unused" });
const web1 = new wgmesh.Node("web1", { connection: c("127.0.0.1") });
const web2 = new wgmesh.Node("web2", { connection: c("127.0.0.1") });
const db1 = new wgmesh.Node("db1", { connection: c("127.0.0.1") });
${body}
`;

  function previewFails(name: string, body: string): string {
    const dir = ws.project(name, {
      "Pulumi.yaml": `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`,
      "package.json": JSON.stringify({ name, version: "0.0.0", private: true, main: "index.ts" }),
      "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] }),
      "index.ts": PROGRAM(body),
    });
    ws.env.WGMESH_TEST_PORT = String(port);
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    const r = ws.pulumi(dir, ["preview"]);
    assert.notEqual(r.status, 0, `preview must fail:\n${r.stdout}\n${r.stderr}`);
    return r.stdout + r.stderr;
  }

  test("a policy naming a group the mesh does not have, and a group member outside the mesh, fail the preview", () => {
    const out = previewFails("badrefs", `
const web = new wgmesh.Group("web", { members: [web1, web2] });
const db = new wgmesh.Group("db", { members: [db1] });
const pol = new wgmesh.Policy("web-to-db", { from: [web], to: [db], allowMeshIps: true });
new wgmesh.Mesh("prod", { nodes: [web1, db1], groups: [web], policies: [pol] });
`);
    assert.match(out, /group "web": member "web2" in members is not a node of the mesh; add the node or remove it from members/);
    assert.match(out, /policy "web-to-db": toGroups names unknown group "db"; define the group or fix the name/);
    assert.equal(connections, 0);
  });

  test("Group and Policy check their own fields at preview (duplicate member, empty group list)", () => {
    // The engine stops at the first failed check, so one bad resource per program.
    const group = previewFails("badgroup", `
const web = new wgmesh.Group("web", { members: [web1, web1] });
new wgmesh.Mesh("prod", { nodes: [web1, web2, db1], groups: [web] });
`);
    assert.match(group, /group "web": member "web1" is listed more than once in members; list each node once/);
    const policy = previewFails("badpolicy", `
const web = new wgmesh.Group("web", { members: [web1] });
const pol = new wgmesh.Policy("nothing", { from: [], to: [web] });
new wgmesh.Mesh("prod", { nodes: [web1, web2, db1], groups: [web], policies: [pol] });
`);
    assert.match(policy, /policy "nothing": fromGroups is empty; name at least one group/);
  });

  test("a keyOnHost node whose key file is for another interface than the mesh's fails with the fix", () => {
    const out = previewFails("keyifname", `
const k = new wgmesh.Node("k1", { connection: c("127.0.0.1"), keyOnHost: true });
new wgmesh.Mesh("prod", { interfaceName: "wg1", nodes: [web1, k] });
`);
    assert.match(out, /node "k1" keeps its key on the host for interface "wg0", but the mesh uses "wg1"; set interfaceName: "wg1" on the Node/);
  });

  test("a node's bad meshIp and routable network fail the Mesh's check naming node, field and fix", () => {
    const out = previewFails("badnode", `
const n4 = new wgmesh.Node("n4", { connection: c("127.0.0.1"), meshIp: "10.50.0.1", routableNetworks: ["192.168.7.1/24"] });
new wgmesh.Mesh("prod", { network: "10.99.0.0/16", nodes: [web1, n4] });
`);
    assert.match(out, /node "n4": meshIp "10\.50\.0\.1"[^\n]*10\.99\.0\.0\/16/);
    assert.match(out, /node "n4"[^\n]*routableNetworks[^\n]*"192\.168\.7\.0\/24"/);
  });
});
