// [issue 13] Policies at preview through the real Pulumi engine with NO host reachable: the preview shows each
// node's firewall rules; bad ports, a port on a policy without sources, an unknown node or a bad `expect` in a
// policy test, and a failing policy test fail the preview naming the policy/test, the field and the fix —
// all with 0 connections to any host.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Workspace, pulumiEnv, toolchainMissing } from "./harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv);

describe("[issue 13] policies at preview, without hosts (real engine)", { skip }, () => {
  let ws: Workspace;
  let listener: net.Server;
  let port = 0;
  let connections = 0;

  before(async () => {
    ws = new Workspace(baseEnv);
    listener = net.createServer((s) => { connections++; s.destroy(); });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    port = (listener.address() as net.AddressInfo).port;
    ws.env.WGMESH_TEST_PORT = String(port);
  });
  after(async () => {
    ws?.cleanup();
    await new Promise<void>((r) => listener.close(() => r()));
    assert.equal(connections, 0, "no preview opened a connection to any host");
  });

  const PROGRAM = (body: string) => `import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";
const c = () => ({ host: "127.0.0.1", port: Number(process.env.WGMESH_TEST_PORT), user: "root", privateKey: "unused" });
const web1 = new wgmesh.Node("web1", { connection: c() });
const app1 = new wgmesh.Node("app1", { connection: c() });
const db1 = new wgmesh.Node("db1", { connection: c() });
const web = new wgmesh.Group("web", { members: [web1] });
const app = new wgmesh.Group("app", { members: [app1] });
const db = new wgmesh.Group("db", { members: [db1] });
${body}
`;
  let n = 0;
  function preview(body: string): { status: number | null; out: string } {
    const name = `p${++n}`;
    const dir = ws.project(name, {
      "Pulumi.yaml": `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`,
      "package.json": JSON.stringify({ name, version: "0.0.0", private: true, main: "index.ts" }),
      "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] }),
      "index.ts": PROGRAM(body),
    });
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    const r = ws.pulumi(dir, ["preview", "--diff"]);
    const out = r.stdout + r.stderr;
    assert.doesNotMatch(out, /connecting to/);
    return { status: r.status, out };
  }
  const fails = (body: string) => {
    const r = preview(body);
    assert.notEqual(r.status, 0, `preview must fail:\n${r.out}`);
    return r.out;
  };

  test("the preview shows each node's firewall: table, source sets and rules by label", () => {
    const r = preview(`
const p1 = new wgmesh.Policy("web-to-app", { from: [web], to: [app], ports: ["tcp/8080", "icmp"] });
const p2 = new wgmesh.Policy("app-to-db", { from: [app], to: [db], ports: ["tcp/5432"] });
new wgmesh.Mesh("prod", { nodes: [web1, app1, db1], groups: [web, app, db], policies: [p1, p2],
  policyTests: [{ from: "web1", to: "app1", port: "tcp/8080", expect: "allow" }, { from: "app1", to: "web1", port: "tcp/80", expect: "deny" }] });
`);
    assert.equal(r.status, 0, r.out);
    const app1 = r.out.slice(r.out.indexOf("::prod-app1]"));
    assert.match(app1, /firewall\s*: \{\s*rules: \{\s*input web-to-app from web icmp: "ip saddr @src_web meta l4proto icmp accept"\s*input web-to-app from web tcp\s*: "ip saddr @src_web tcp dport 8080 accept"/, r.out);
    // A set is one string, one member per line (lifecycle/firewallText.ts): a create shows it escaped.
    assert.match(app1, /sets\s*: \{\s*src_web: "10\.99\.0\.\d+\\n"/);
    assert.match(app1, /table\s*: "inet wgmesh_wg0"/);
    const web1 = r.out.slice(r.out.indexOf("::prod-web1]"));
    assert.match(web1, /policyTests\s*: \{\s*app1 tcp\/8080: \{[\s\S]*?expect\s*: "allow"/);
    assert.match(web1, /firewall\s*: \{\s*rules: \{\s*\}/, "web1 accepts no NEW connection from the mesh");
  });

  test("a failing policy test fails the preview, naming the test and the policy that allows (or the absence that denies)", () => {
    const out = fails(`
const p1 = new wgmesh.Policy("web-to-app", { from: [web], to: [app] });
new wgmesh.Mesh("prod", { nodes: [web1, app1, db1], groups: [web, app, db], policies: [p1],
  policyTests: [{ from: "web1", to: "app1", port: "tcp/5432", expect: "deny" }, { from: "app1", to: "web1", port: "tcp/80", expect: "allow" }] });
`);
    assert.match(out, /policy test #1 \(web1 → app1 tcp\/5432, expect deny\) fails: web1 → app1 tcp\/5432 is allowed by policy "web-to-app"/);
    assert.match(out, /policy test #2 \(app1 → web1 tcp\/80, expect allow\) fails: app1 → web1 tcp\/80 is denied: no policy lets app1's groups \[app\] reach web1's groups \[web\]; "web-to-app" relates them only from web1 to app1/);
  });

  test("bad input: port syntax, reversed range, port on a policy with an empty from, unknown node and bad expect in a test", () => {
    const syntax = fails(`new wgmesh.Policy("web-to-app", { from: [web], to: [app], ports: ["8080/tcp"] });`);
    assert.match(syntax, /policy "web-to-app": ports entry "8080\/tcp" is not a port; write "tcp\/5432", "udp\/53", "tcp\/8000-8100" or "icmp"/);
    const reversed = fails(`new wgmesh.Policy("web-to-app", { from: [web], to: [app], ports: ["tcp/8100-8000"] });`);
    assert.match(reversed, /policy "web-to-app": ports entry "tcp\/8100-8000" is a reversed range; write the lower port first: "tcp\/8000-8100"/);
    const noFrom = fails(`new wgmesh.Policy("web-to-app", { from: [], to: [app], ports: ["tcp/8080"] });`);
    assert.match(noFrom, /policy "web-to-app": ports \["tcp\/8080"\] are given but fromGroups is empty/);
    const tests = fails(`
const p1 = new wgmesh.Policy("web-to-app", { from: [web], to: [app] });
new wgmesh.Mesh("prod", { nodes: [web1, app1, db1], groups: [web, app, db], policies: [p1],
  policyTests: [{ from: "web9", to: "app1", port: "tcp/8080", expect: "allow" }, { from: "web1", to: "app1", port: "tcp/8080", expect: "yes" as any }] });
`);
    assert.match(tests, /policy test #1 \(web9 → app1 tcp\/8080\): from "web9" is not a node of the mesh; name a node's hostname/);
    assert.match(tests, /policy test #2 \(web1 → app1 tcp\/8080\): expect "yes" must be "allow" or "deny"/);
    const enforcement = fails(`new wgmesh.Mesh("prod", { nodes: [web1], enforcement: "iptables" as any });`);
    assert.match(enforcement, /mesh "prod": mesh: enforcement "iptables" is not known; use "nftables"/);
  });
});
