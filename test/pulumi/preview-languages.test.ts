// The same mesh in TypeScript (dynamic providers), YAML, Python and Go (the provider plugin), each brought up
// on the same 3 testbed hosts, then changed without `up`:
//   1. a node's own routableNetworks: `pulumi preview --diff` must show, in every language, the same per-node
//      peers/AllowedIPs/routes changes — exact, nothing unknown (the plugin previews a Node's update from its
//      state: its public key stays known);
//   2. a fourth node added: the other nodes' configs gain exactly that peer (its AllowedIPs known; only what
//      the new host decides — its key, its NAT-dependent endpoint — unknown), the same in every language.
// The `up` before shows each host's progress (connecting, installing, operations applied) on its NodeConfig's
// row, none at stack level.
// The previews are compared structurally (`pulumi preview --json`: each NodeConfig's inputs before and after,
// public keys replaced by their node's name) and as the `--diff` text of each NodeConfig (./previewdiff.ts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { down, up, type Testbed } from "../testbed";
import { Workspace, missing, repoRoot } from "./plugin/e2e";
import { linkNodeModules } from "./harness";
import { diagnosticsByResource, nodeConfigChanges, nodeConfigDiffs, type Change } from "./previewdiff";

const skip = missing(true);
const TESTBED = "qprev";
const NETWORK = "192.168.50.0/24";

type Lang = "typescript" | "yaml" | "python" | "go";
const EXAMPLES: Record<Lang, string> = { typescript: "full-mesh", yaml: "yaml-full-mesh", python: "python-full-mesh", go: "go-full-mesh" };

interface Host { name: string; address: string; sshPort: number; hostKey: string }

/** The YAML example with node 1's routable networks and a fourth node, as a scenario needs them. */
function yamlProgram(base: string, o: { routes: boolean; fourth: boolean }): string {
  let s = base;
  if (o.routes) s = s.replace("        hostKey: ${hosts[0].hostKey}\n", `        hostKey: \${hosts[0].hostKey}\n      routableNetworks:\n        - ${NETWORK}\n`);
  if (o.fourth) {
    const node4 = ["  node4:", "    type: wgmesh:Node", "    properties:", "      hostname: ${hosts[3].name}", "      connection:", "        host: ${hosts[3].host}",
      "        port: ${hosts[3].port}", "        user: root", "        privateKey: ${sshPrivateKey}", "        hostKey: ${hosts[3].hostKey}", ""].join("\n");
    s = s.replace("  mesh:\n    type: wgmesh:Mesh\n", `${node4}  mesh:\n    type: wgmesh:Mesh\n`).replace("        - ${node3}\n", "        - ${node3}\n        - ${node4}\n");
  }
  assert.notEqual(s === base, o.routes || o.fourth, "the YAML example has the shape the scenario edits");
  return s;
}

let tb: Testbed | undefined;
let hosts: Host[] = [];

before(async () => {
  if (skip) return;
  tb = await up(4, { name: TESTBED });
  hosts = tb.hosts.map((h) => ({ name: h.name, address: h.address, sshPort: h.sshPort, hostKey: h.hostPublicKey }));
});

after(async () => {
  if (tb) await down(TESTBED);
});

function setHost(ws: Workspace, dir: string, i: number, h: Host): void {
  for (const [k, v] of [["name", h.name], ["host", h.address], ["port", String(h.sshPort)], ["hostKey", h.hostKey]] as const) {
    ws.pulumiOk(dir, ["config", "set", "--path", `hosts[${i}].${k}`, v]);
  }
}

interface Previews {
  routes: { changes: Record<string, Change>; diffs: Record<string, string>; text: string };
  added: { changes: Record<string, Change>; diffs: Record<string, string>; text: string };
  ms: Record<string, number>;
}

/** Up on hosts 1–3, then the two previews (state unchanged by them), then destroy. */
function previews(t: { diagnostic(m: string): void }, lang: Lang): Previews {
  const ws = new Workspace();
  try {
    const dir = ws.project(path.join(repoRoot, "examples", EXAMPLES[lang]));
    if (lang === "typescript") linkNodeModules(dir);
    else ws.usePluginFromPath();
    if (lang === "python") {
      const pylib = path.join(ws.root, "pylib");
      fs.cpSync(path.join(repoRoot, "sdk/python"), path.join(ws.root, "sdk-python"), { recursive: true });
      ws.ok("python3", ["-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation", "--target", pylib, path.join(ws.root, "sdk-python")], ws.root);
      ws.env.PYTHONPATH = pylib;
    }
    if (lang === "go") {
      const mod = path.join(dir, "go.mod");
      fs.writeFileSync(mod, fs.readFileSync(mod, "utf8").replace("=> ../../sdk", `=> ${path.join(repoRoot, "sdk")}`));
    }
    const yamlBase = lang === "yaml" ? fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8") : "";
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    hosts.slice(0, 3).forEach((h, i) => setHost(ws, dir, i, h));
    ws.pulumiOk(dir, ["config", "set", "--secret", "sshPrivateKey"], fs.readFileSync((tb as Testbed).privateKeyPath, "utf8"));
    const ms: Record<string, number> = {};
    const upRun = ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
    ms.up = upRun.ms;
    // Progress on each resource's row, none at stack level.
    const diags = diagnosticsByResource(upRun.stdout);
    for (const h of hosts.slice(0, 3)) {
      const row = [...diags].find(([k]) => k.endsWith(`-${h.name})`))?.[1] ?? [];
      assert.ok(row.some((l) => l === `[${h.name}] connecting to root@${h.address}:${h.sshPort}`), `${lang}: ${h.name}'s NodeConfig row shows the connection:\n${upRun.stdout}`);
      assert.ok(row.some((l) => /^\[\S+\] \d+ operation\(s\) applied$/.test(l)), `${lang}: ${h.name}'s NodeConfig row shows the operations applied:\n${upRun.stdout}`);
    }
    const stackRow = [...diags].filter(([k]) => k.startsWith("pulumi:pulumi:Stack")).flatMap(([, v]) => v);
    assert.deepEqual(stackRow.filter((l) => /\[qprev-h\d\]/.test(l)), [], `${lang}: no progress at stack level`);
    const keys = JSON.parse(ws.pulumiOk(dir, ["stack", "output", "publicKeys", "--json"]).stdout) as Record<string, string>;
    const names = new Map(Object.entries(keys).map(([h, k]) => [k, h]));
    assert.equal(names.size, 3);

    const run = (label: string) => {
      const json = ws.pulumiOk(dir, ["preview", "--json"]);
      const diff = ws.pulumiOk(dir, ["preview", "--diff"]);
      ms[label] = diff.ms;
      return { changes: nodeConfigChanges(json.stdout, names), diffs: nodeConfigDiffs(diff.stdout, names), text: diff.stdout };
    };
    // 1. node 1 gets a routable network.
    if (lang === "yaml") fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yamlProgram(yamlBase, { routes: true, fourth: false }));
    else ws.pulumiOk(dir, ["config", "set", "--path", "hosts[0].routableNetworks[0]", NETWORK]);
    const routes = run("routes");
    // 2. instead, a fourth node.
    if (lang === "yaml") fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yamlProgram(yamlBase, { routes: false, fourth: true }));
    else ws.pulumiOk(dir, ["config", "rm", "--path", "hosts[0].routableNetworks"]);
    setHost(ws, dir, 3, hosts[3] as Host);
    const added = run("added");
    ws.pulumiOk(dir, ["destroy", "--yes", "--skip-preview"]);
    t.diagnostic(`${lang}: up ${ms.up} ms, preview --diff (routableNetworks) ${ms.routes} ms, preview --diff (node added) ${ms.added} ms`);
    return { routes, added, ms };
  } finally {
    ws.cleanup();
  }
}

const results: Partial<Record<Lang, Previews>> = {};
const LANGS: Lang[] = ["typescript", "yaml", "python", "go"];

test("each language: up on 3 hosts, preview a routableNetworks change and an added node, destroy", { skip, timeout: 1_800_000 }, (t) => {
  for (const lang of LANGS) results[lang] = previews(t, lang);
});

test("a node's routableNetworks change previews exactly, the same per node in all four languages", { skip }, () => {
  const [h1, h2, h3] = hosts.map((h) => h.name) as [string, string, string];
  const ts = results.typescript?.routes;
  assert.ok(ts, "the TypeScript previews ran");
  // The exact expectation, in TypeScript first: h1 forwards, h2/h3 route the network to h1.
  assert.deepEqual(Object.keys(ts.changes).sort(), [`config ${h1}`, `config ${h2}`, `config ${h3}`].sort());
  const c1 = ts.changes[`config ${h1}`] as Change;
  assert.deepEqual([c1.before?.forwarding, c1.after.forwarding], [false, true]);
  for (const h of [h2, h3]) {
    const c = ts.changes[`config ${h}`] as Change;
    assert.equal(c.op, "update");
    assert.deepEqual((c.after.peers as Record<string, { allowedIps: string[] }>)[h1]?.allowedIps, ["10.99.0.1/32", NETWORK]);
    assert.deepEqual(c.after.routes, [NETWORK]);
    assert.deepEqual({ ...c.after, peers: undefined, routes: undefined }, { ...c.before, peers: undefined, routes: undefined }, `${h}: nothing else changes`);
  }
  assert.doesNotMatch(JSON.stringify(ts.changes), /<unknown>/);
  for (const lang of LANGS) {
    const r = results[lang]?.routes;
    assert.ok(r, `${lang} previews ran`);
    assert.deepEqual(r.changes, ts.changes, `${lang}: the NodeConfig changes equal TypeScript's`);
    assert.doesNotMatch(JSON.stringify(r.changes), /<unknown>/, `${lang}: nothing unknown`);
    assert.deepEqual(r.diffs, ts.diffs, `${lang}: the --diff text of every NodeConfig equals TypeScript's`);
    for (const d of Object.values(r.diffs)) assert.doesNotMatch(d, /output<|\[unknown\]/, `${lang}: no unknown in the --diff`);
    // The peers' line diff: h1's line on h2 gains the network.
    assert.match(r.diffs[`config ${h2}`] ?? "", new RegExp(`\\+ ${h1} key=<key of ${h1}> allowedIps=10\\.99\\.0\\.1/32,${NETWORK.replace(/\./g, "\\.")}( |$)`, "m"), `${lang}: h2's diff adds the AllowedIP`);
  }
});

test("an added node previews as exactly one new peer on every other node, the same in all four languages", { skip }, () => {
  const [h1, h2, h3, h4] = hosts.map((h) => h.name) as [string, string, string, string];
  const ts = results.typescript?.added;
  assert.ok(ts, "the TypeScript previews ran");
  assert.deepEqual(Object.keys(ts.changes).sort(), [h1, h2, h3, h4].map((h) => `config ${h}`).sort());
  for (const h of [h1, h2, h3]) {
    const c = ts.changes[`config ${h}`] as Change;
    const before = c.before?.peers as Record<string, unknown>;
    const afterPeers = c.after.peers as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(afterPeers).sort(), [...Object.keys(before), h4].sort(), `${h}: one peer more`);
    for (const k of Object.keys(before)) assert.deepEqual(afterPeers[k], before[k], `${h}: peer ${k} unchanged`);
    assert.deepEqual(afterPeers[h4]?.allowedIps, ["10.99.0.4/32"], `${h}: the new peer's AllowedIPs are known`);
    assert.equal(afterPeers[h4]?.publicKey, "<unknown>", `${h}: the new node's key is made at its create`);
    assert.deepEqual({ ...c.after, peers: undefined }, { ...c.before, peers: undefined }, `${h}: nothing else changes`);
  }
  const created = ts.changes[`config ${h4}`] as Change;
  assert.equal(created.op, "create");
  assert.equal(created.after.address, "10.99.0.4/16");
  for (const h of [h1, h2, h3]) assert.equal((created.after.peers as Record<string, { publicKey: string }>)[h]?.publicKey, `<key of ${h}>`);
  for (const lang of LANGS) {
    const r = results[lang]?.added;
    assert.ok(r, `${lang} previews ran`);
    assert.deepEqual(r.changes, ts.changes, `${lang}: the NodeConfig changes equal TypeScript's`);
    assert.deepEqual(r.diffs, ts.diffs, `${lang}: the --diff text of every NodeConfig equals TypeScript's`);
  }
});
