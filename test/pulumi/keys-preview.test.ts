// Key lifecycle inputs through the real Pulumi engine with NO host reachable (issue 16): a rotation trigger on a
// node whose privateKey is imported fails the preview with the fix (rotate the imported key itself), naming the
// node — before anything touches a host, the key never echoed; a mesh with presharedKeys previews each
// NodeConfig's pairs' keys as secrets with their ids in the clear and the Mesh's key table as one secret.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Workspace, pulumiEnv, toolchainMissing } from "./harness";
import { generatePrivateKey } from "../../provider/src/core/keys";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv);

describe("key lifecycle at preview without hosts (real engine)", { skip }, () => {
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
    ws.env.WGMESH_TEST_PORT = String(port);
  });
  after(async () => {
    ws?.cleanup();
    await new Promise<void>((r) => listener.close(() => r()));
  });

  function project(name: string, body: string): string {
    const dir = ws.project(name, {
      "Pulumi.yaml": `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`,
      "package.json": JSON.stringify({ name, version: "0.0.0", private: true, main: "index.ts" }),
      "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] }),
      "index.ts": `import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";
const config = new pulumi.Config();
const c = () => ({ host: "127.0.0.1", port: Number(process.env.WGMESH_TEST_PORT), user: "root", privateKey: "unused" });
${body}
`,
    });
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    return dir;
  }

  test("a rotationTrigger on a node with an imported privateKey fails the preview naming the node and the fix; 0 connections", () => {
    const dir = project("imported", `
const web1 = new wgmesh.Node("web1", { connection: c(), privateKey: config.requireSecret("web1Key"), rotationTrigger: "2025-06" });
const web2 = new wgmesh.Node("web2", { connection: c() });
new wgmesh.Mesh("prod", { nodes: [web1, web2] });`);
    const key = generatePrivateKey();
    ws.pulumiOk(dir, ["config", "set", "--secret", "web1Key"], { input: key });
    const r = ws.pulumi(dir, ["preview"]);
    const out = r.stdout + r.stderr;
    assert.notEqual(r.status, 0, out);
    assert.match(out, /node "web1": rotationTrigger is set, but the node uses an imported privateKey[^\n]*rotate it by changing privateKey/);
    assert.ok(!out.includes(key), "the imported key is never shown");
    assert.equal(connections, 0);
  });

  test("presharedKeys: each NodeConfig previews its pairs' keys as secrets (ids in the clear), the Mesh's table as one secret; 0 connections", () => {
    const dir = project("psks", `
const nodes = ["web1", "web2", "db1"].map((n) => new wgmesh.Node(n, { connection: c() }));
const web = new wgmesh.Group("web", { members: [nodes[0]!, nodes[1]!] });
const db = new wgmesh.Group("db", { members: [nodes[2]!] });
const pol = new wgmesh.Policy("web-to-db", { from: [web], to: [db] });
new wgmesh.Mesh("prod", { nodes, groups: [web, db], policies: [pol], presharedKeys: true });`);
    const r = ws.pulumiOk(dir, ["preview", "--diff"]);
    const section = (name: string) => {
      const i = r.stdout.indexOf(`::${name}]`);
      const rest = r.stdout.slice(i);
      return rest.slice(0, rest.search(/\n\s*[+~-]?\s*pulumi-nodejs:dynamic:Resource|$/));
    };
    assert.match(section("prod"), /presharedKeyTable\s*: \[secret\]/, "the Mesh's table: one secret");
    // web1 and web2 do not peer (the policy relates web to db only): web1 has one key, for db1.
    const web1 = section("prod-web1");
    assert.match(web1, /presharedKeys\s*: \{\s*\n\s*\+?\s*db1\s*: \{\s*\n\s*\+?\s*id\s*: "[0-9a-f]{8}"\s*\n\s*\+?\s*key\s*: \[secret\]/, web1);
    assert.doesNotMatch(web1.slice(web1.indexOf("presharedKeys"), web1.indexOf("privateKey")), /web2/);
    const db1 = section("prod-db1");
    assert.match(db1, /\+?\s*web1\s*: \{[\s\S]*?key\s*: \[secret\][\s\S]*?\+?\s*web2\s*: \{[\s\S]*?key\s*: \[secret\]/, db1);
    assert.equal(connections, 0);
  });
});
