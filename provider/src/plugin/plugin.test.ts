import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ADAPTERS, CustomResourceOps, adapterFor } from "./adapters";
import { inputViolations, outputViolations, unwrappedSecrets, type SchemaDoc } from "./conform";
import { findUp, packageVersion } from "./files";
import { TOKENS, buildSchema, schemaText } from "./schema";
import { RESOURCE_SIG, SECRET_SIG, SIG, plain, secret, toEngine } from "./values";
import { UNKNOWN } from "../pulumi/lifecycle/types";
import { silentLogger } from "../engine/ssh/log";
import { PLANNED_DAEMON_STATE } from "../engine/daemonstate";

const ctx = { log: silentLogger };
const doc = buildSchema(packageVersion()) as unknown as SchemaDoc;
const urn = (token: string, name: string) => `urn:pulumi:dev::proj::${token}::${name}`;
const ref = (token: string, name: string, id: string) => ({ [SIG]: RESOURCE_SIG, urn: urn(token, name), id, packageVersion: "0.1.0" });
const ops = (token: string) => new CustomResourceOps(adapterFor(token));

describe("schema.json", () => {
  test("is generated from provider/src/plugin/schema.ts with package.json's version (run scripts/plugin-build.sh after a change)", () => {
    const file = fs.readFileSync(path.join(path.dirname(findUp("package.json")), "schema.json"), "utf8");
    assert.equal(file, schemaText(packageVersion()));
  });

  test("describes every token the plugin serves, secrets marked, descriptions on every resource", () => {
    const resources = Object.keys(doc.resources).sort();
    assert.deepEqual(resources, Object.values(TOKENS).sort());
    for (const t of Object.keys(ADAPTERS)) assert.ok(doc.resources[t], t);
    const r = doc.resources as Record<string, any>;
    assert.equal(r[TOKENS.node].properties.privateKey.secret, true);
    assert.equal(r[TOKENS.node].properties.connection.secret, true);
    assert.equal(r[TOKENS.node].inputProperties.privateKey.secret, true);
    assert.equal(r[TOKENS.nodeConfig].properties.privateKey.secret, true);
    assert.equal(r[TOKENS.mesh].isComponent, true);
    assert.equal(r[TOKENS.meshSecret].properties.secret.secret, true);
    assert.equal(r[TOKENS.meshSecret].inputProperties.secret.secret, true);
    assert.equal(r[TOKENS.meshSecret].requiredInputs, undefined, "no required input (absent, as get-schema normalises an empty list)");
    for (const k of ["secret", "connection"]) {
      assert.equal(r[TOKENS.decentralizedNode].properties[k].secret, true, `DecentralizedNode output ${k} is secret`);
      assert.equal(r[TOKENS.decentralizedNode].inputProperties[k].secret, true, `DecentralizedNode input ${k} is secret`);
    }
    assert.equal(r[TOKENS.decentralizedNode].inputProperties.connection.$ref, "#/types/wgmesh:index:Connection");
    assert.equal(r[TOKENS.decentralizedNode].properties.hostState.$ref, "#/types/wgmesh:index:DaemonHostState");
    assert.ok(!("hostState" in r[TOKENS.decentralizedNode].inputProperties), "hostState is an output only (the plugin plans it)");
    assert.equal((doc.types as any)["wgmesh:index:Connection"].properties.password.secret, true);
    for (const [t, res] of Object.entries(r)) assert.ok(typeof res.description === "string" && res.description.length > 20, `${t} has a description`);
  });
});

describe("values", () => {
  test("plain unwraps secrets deeply and keeps resource references; toEngine wraps the named properties", () => {
    const v = { a: secret({ b: secret("x") }), r: ref(TOKENS.node, "n", "n"), u: UNKNOWN };
    assert.deepEqual(plain(v), { a: { b: "x" }, r: v.r, u: UNKNOWN });
    assert.deepEqual(toEngine({ k: "s", n: null, p: 1, gone: undefined }, ["k", "n"], ["extra"]), { extra: null, k: { [SIG]: SECRET_SIG, value: "s" }, n: null, p: 1 });
  });
});

describe("adapters over the shared lifecycles", () => {
  test("Group: resource references to Nodes become hostnames (the Node id); name defaults to the resource name; outputs conform", async () => {
    const o = ops(TOKENS.group);
    const news = { members: [ref(TOKENS.node, "web1", "web-1"), ref(TOKENS.node, "web2", "web2")], description: "front" };
    assert.deepEqual(inputViolations(doc, TOKENS.group, news), []);
    const c = await o.check(urn(TOKENS.group, "web"), undefined, news, ctx);
    assert.deepEqual(c.failures, []);
    assert.deepEqual(c.inputs, { members: ["web-1", "web2"], description: "front", name: "web", memberUrns: [urn(TOKENS.node, "web1"), urn(TOKENS.node, "web2")] });
    const created = await o.create(urn(TOKENS.group, "web"), c.inputs, ctx);
    assert.equal(created.id, "web");
    assert.deepEqual(outputViolations(doc, TOKENS.group, created.outs), []);
    const same = await o.diff(created.id, created.outs, c.inputs, ctx);
    assert.equal(same.changes, false);
  });

  test("Group: a new Node (unknown id in a preview) passes check; a duplicate member fails with the core's message", async () => {
    const o = ops(TOKENS.group);
    const pending = await o.check(urn(TOKENS.group, "g"), undefined, { members: [ref(TOKENS.node, "a", "")] }, ctx);
    assert.deepEqual(pending.failures, []);
    assert.deepEqual(pending.inputs.members, [UNKNOWN]);
    assert.deepEqual(pending.inputs.memberUrns, [urn(TOKENS.node, "a")], "the URN is known although the id is not");
    const dup = await o.check(urn(TOKENS.group, "g"), undefined, { members: [ref(TOKENS.node, "a", "a"), ref(TOKENS.node, "a", "a")] }, ctx);
    assert.equal(dup.failures.length, 1);
    assert.match(dup.failures[0]!.reason, /"g"[\s\S]*a/);
  });

  test("Policy: from/to Group references become fromGroups/toGroups; outputs conform; a change is an update", async () => {
    const o = ops(TOKENS.policy);
    const news = { from: [ref(TOKENS.group, "web", "web")], to: [ref(TOKENS.group, "app", "app")], allowMeshIps: true };
    assert.deepEqual(inputViolations(doc, TOKENS.policy, news), []);
    const c = await o.check(urn(TOKENS.policy, "web-to-app"), undefined, news, ctx);
    assert.deepEqual(c.failures, []);
    // Optional settings absent from the program are recorded as null (known "not set" during a preview).
    assert.deepEqual(c.inputs, {
      name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], allowMeshIps: true, allowRoutableNetworks: null, description: null, ports: null,
      fromUrns: [urn(TOKENS.group, "web")], toUrns: [urn(TOKENS.group, "app")],
    });
    const created = await o.create(urn(TOKENS.policy, "web-to-app"), c.inputs, ctx);
    assert.deepEqual(outputViolations(doc, TOKENS.policy, created.outs), []);
    const c2 = await o.check(urn(TOKENS.policy, "web-to-app"), c.inputs, { ...news, allowRoutableNetworks: true }, ctx);
    const d = await o.diff(created.id, created.outs, c2.inputs, ctx);
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
  });

  test("MeshDeclaration: validation with the core's messages, stable allocation from the previous check", async () => {
    const o = ops(TOKENS.meshDeclaration);
    const u = urn(TOKENS.meshDeclaration, "prod");
    const nodes = [{ hostname: "b", sshHost: "192.0.2.2" }, { hostname: "a", sshHost: "192.0.2.1" }];
    const c = await o.check(u, undefined, { name: "prod", network: "10.99.0.0/24", nodes }, ctx);
    assert.deepEqual(c.failures, []);
    const created = await o.create(u, c.inputs, ctx);
    assert.deepEqual(outputViolations(doc, TOKENS.meshDeclaration, created.outs), []);
    const ips = (created.outs as any).meshIps as Record<string, string>;
    assert.equal(Object.keys(ips).length, 2);
    // A third node joins: the first two keep their addresses.
    const c2 = await o.check(u, created.outs, { name: "prod", network: "10.99.0.0/24", nodes: [...nodes, { hostname: "0first", sshHost: "192.0.2.3" }] }, ctx);
    assert.equal((c2.inputs as any).meshIps.a, ips.a);
    assert.equal((c2.inputs as any).meshIps.b, ips.b);
    const bad = await o.check(u, undefined, { name: "prod", nodes, groups: [{ name: "g", members: ["nope"] }] }, ctx);
    assert.ok(bad.failures.some((f) => f.property === "groups" && /nope/.test(f.reason)), JSON.stringify(bad.failures));
  });

  test("MeshDeclaration with presharedKeys (issue 16): the pairs' key table is one secret in check and outputs, kept from the previous state", async () => {
    const o = ops(TOKENS.meshDeclaration);
    const u = urn(TOKENS.meshDeclaration, "prod");
    const nodes = [{ hostname: "b", sshHost: "192.0.2.2" }, { hostname: "a", sshHost: "192.0.2.1" }];
    const c = await o.check(u, undefined, { name: "prod", network: "10.99.0.0/24", nodes, presharedKeys: true }, ctx);
    assert.deepEqual(c.failures, []);
    const table = (c.inputs as any).presharedKeyTable;
    assert.equal(table[SIG], SECRET_SIG, "a secret, wrapped once");
    assert.ok(typeof table.value.a.b.key === "string" && !(SIG in table.value.a.b));
    const created = await o.create(u, c.inputs, ctx);
    assert.deepEqual(outputViolations(doc, TOKENS.meshDeclaration, created.outs), []);
    assert.deepEqual((created.outs as any).presharedKeyTable, table);
    const again = await o.check(u, created.outs, { name: "prod", network: "10.99.0.0/24", nodes, presharedKeys: true }, ctx);
    assert.deepEqual((again.inputs as any).presharedKeyTable, table, "the same pairs keep their keys");
  });

  test("NodeConfig with presharedKeys: each pair's key stays its own secret (the id in the clear) in check and outputs", async () => {
    const o = ops(TOKENS.nodeConfig);
    const key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const news = { presharedKeys: { web2: { id: "0000abcd", key: secret(key) } }, peers: { web2: { publicKey: key, allowedIps: ["10.99.0.2/32"] } }, hostname: "web1" };
    const c = await o.check(urn(TOKENS.nodeConfig, "prod-web1"), undefined, news as never, ctx);
    const psk = (c.inputs as any).presharedKeys.web2;
    assert.equal(psk.id, "0000abcd");
    assert.deepEqual(psk.key, { [SIG]: SECRET_SIG, value: key });
    assert.deepEqual(toEngine({ presharedKeys: { web2: { id: "0000abcd", key } }, peers: {} }, [], [], news as never), { presharedKeys: { web2: { id: "0000abcd", key: { [SIG]: SECRET_SIG, value: key } } }, peers: {} });
  });

  test("Node: secret inputs stay secret in the checked inputs; hostname defaults to the resource name; a bad hostname fails check", async () => {
    const o = ops(TOKENS.node);
    const connection = secret({ host: "127.0.0.1", port: 1, user: "root", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----x" });
    const news = { connection, meshIp: "10.99.0.7", routableNetworks: ["192.168.10.0/24"] };
    assert.deepEqual(inputViolations(doc, TOKENS.node, news), []);
    const c = await o.check(urn(TOKENS.node, "web1"), undefined, news, ctx);
    assert.deepEqual(c.failures, []);
    assert.equal((c.inputs as any).hostname, "web1");
    assert.equal((c.inputs as any).connection[SIG], SECRET_SIG, "connection is still a secret");
    assert.equal((c.inputs as any).meshIp, "10.99.0.7", "topology settings pass through");
    assert.equal((c.inputs as any).listenPort, null, "an absent optional setting is a known null");
    assert.ok(!("privateKey" in c.inputs), "an absent privateKey stays absent (a key is generated at create)");
    assert.ok(!("publicKey" in c.inputs), "output-only properties are not inputs");
    const bad = await o.check(urn(TOKENS.node, "web1"), undefined, { ...news, hostname: "Not_A_Label!" }, ctx);
    assert.ok(bad.failures.some((f) => f.property === "hostname"), JSON.stringify(bad.failures));
  });

  test("Node: a topology-only change is an in-place update that keeps the key and opens no SSH connection", async () => {
    const o = ops(TOKENS.node);
    const olds = {
      hostname: "web1", connection: secret({ host: "127.0.0.1", port: 1, dialErrorLimit: 0 }), keyOnHost: false, interfaceName: "wg0",
      publicKey: "pub", privateKey: secret("priv"), privateKeyImported: false, natDetected: false, remoteHostname: "web1", os: "Debian",
      meshIp: "10.99.0.7", listenPort: null, publicEndpoint: null, behindNat: null, routableNetworks: null,
    };
    assert.deepEqual(outputViolations(doc, TOKENS.node, olds), []);
    assert.deepEqual(unwrappedSecrets(doc, TOKENS.node, olds), []);
    const news = { hostname: "web1", connection: secret({ host: "127.0.0.1", port: 1, dialErrorLimit: 0 }), keyOnHost: false, interfaceName: "wg0", meshIp: "10.99.0.8" };
    const d = await o.diff("web1", olds, news, ctx);
    assert.deepEqual(d, { changes: true, changed: ["meshIp"], replaces: [], deleteBeforeReplace: false });
    // The connection points at a closed loopback port: an SSH attempt would fail the update, so success proves none was made.
    const u = await o.update("web1", olds, news, ctx);
    assert.equal((u.outs as any).meshIp, "10.99.0.8");
    assert.deepEqual((u.outs as any).privateKey, secret("priv"));
    assert.deepEqual(outputViolations(doc, TOKENS.node, u.outs), []);
    assert.deepEqual(unwrappedSecrets(doc, TOKENS.node, u.outs), []);
  });

  test("MeshSecret: generated at create as a secret output conforming to the schema; kept on the next check/diff; a bad given secret fails check without echoing it", async () => {
    const o = ops(TOKENS.meshSecret);
    const u = urn(TOKENS.meshSecret, "mesh");
    assert.deepEqual(inputViolations(doc, TOKENS.meshSecret, {}), []);
    const c = await o.check(u, undefined, {}, ctx);
    assert.deepEqual(c.failures, []);
    assert.deepEqual(c.inputs, {}, "no secret given: nothing to wrap, nothing nulled (absent = generate)");
    const created = await o.create(u, c.inputs, ctx);
    assert.deepEqual(outputViolations(doc, TOKENS.meshSecret, created.outs), []);
    assert.deepEqual(unwrappedSecrets(doc, TOKENS.meshSecret, created.outs), []);
    const value = (plain(created.outs) as any).secret as string;
    assert.match(value, /^wgmesh:\/\/v1\/[A-Za-z0-9_-]{171}$/);
    assert.ok(!JSON.stringify({ ...created.outs, secret: null }).includes(value.slice(12)), "the secret is only in the secret-wrapped property");
    assert.equal((await o.diff(created.id, created.outs, (await o.check(u, created.outs, {}, ctx)).inputs, ctx)).changes, false);
    const given = "wgmesh://v1/plugin-test-secret-0123456789abcdefghijklmnop";
    const g = await o.check(u, undefined, { secret: given }, ctx);
    assert.deepEqual(g.inputs, { secret: secret(given) }, "a given secret is a secret in the checked inputs even if it came in plain");
    assert.deepEqual((await o.diff(created.id, created.outs, g.inputs, ctx)).replaces, ["secret"], "adopting another secret makes a new mesh");
    const bad = await o.check(u, undefined, { secret: secret("short-secret") }, ctx);
    assert.equal(bad.failures[0]?.property, "secret");
    assert.ok(!bad.failures[0]!.reason.includes("short-secret"));
  });

  test("DecentralizedNode: check defaults hostname, plans hostState, keeps connection/secret secret and nulls absent options; bad options fail naming node and property", async () => {
    const o = ops(TOKENS.decentralizedNode);
    const u = urn(TOKENS.decentralizedNode, "edge1");
    const news = { connection: secret({ host: "192.0.2.10", port: 22, user: "root" }), secret: "wgmesh://v1/plugin-test-secret-0123456789abcdefghijklmnop", lanDiscovery: true, dht: false };
    assert.deepEqual(inputViolations(doc, TOKENS.decentralizedNode, news), []);
    const c = await o.check(u, undefined, news, ctx);
    assert.deepEqual(c.failures, []);
    assert.deepEqual(c.inputs, {
      hostname: "edge1", connection: news.connection, secret: secret(news.secret), lanDiscovery: true, dht: false,
      hostState: { ...PLANNED_DAEMON_STATE },
      interfaceName: null, listenPort: null, advertiseRoutes: null, gossip: null, dhtBootstrap: null, meshSubnet: null, logLevel: null,
    });
    const bad = await o.check(u, undefined, { ...news, advertiseRoutes: ["0.0.0.0/0"] }, ctx);
    assert.equal(bad.failures[0]?.property, "advertiseRoutes");
    assert.match(bad.failures[0]!.reason, /^decentralized node "edge1": advertiseRoutes: /);
    const pending = await o.check(u, undefined, { ...news, secret: UNKNOWN }, ctx);
    assert.deepEqual(pending.failures, [], "a secret not known yet (a new MeshSecret in a preview) passes check");
  });

  test("DecentralizedNode: diff against state — no change, an option change in place, drift read by a refresh, another daemon artifact; outputs conform", async () => {
    // A small artifact directory (the lifecycle reads only its manifest and sizes in a diff).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-plugin-artifact-"));
    const prev = process.env.WGMESH_DAEMON_ARTIFACT_DIR;
    try {
      const bin = Buffer.from("#!/bin/sh\necho not the daemon\n");
      fs.writeFileSync(path.join(dir, "wgmesh-linux-x64"), bin);
      fs.writeFileSync(path.join(dir, "wgmesh-linux-x64.gz"), Buffer.from("gz"));
      const sha = createHash("sha256").update(bin).digest("hex");
      fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ sha256: sha, bytes: bin.length, gzBytes: 2, nodeVersion: "v20.0.0" }));
      process.env.WGMESH_DAEMON_ARTIFACT_DIR = dir;
      const o = ops(TOKENS.decentralizedNode);
      const u = urn(TOKENS.decentralizedNode, "edge1");
      const news = { connection: secret({ host: "192.0.2.10", port: 22, user: "root" }), secret: secret("wgmesh://v1/plugin-test-secret-0123456789abcdefghijklmnop") };
      const inputs = (await o.check(u, undefined, news, ctx)).inputs;
      const state = toEngine({ ...(plain(inputs) as object), publicKey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=", meshIp: "10.53.46.186", meshIpv6: null, daemonSha256: sha, hostState: { ...PLANNED_DAEMON_STATE } }, ["connection", "secret"]);
      assert.deepEqual(outputViolations(doc, TOKENS.decentralizedNode, state), []);
      assert.deepEqual(unwrappedSecrets(doc, TOKENS.decentralizedNode, state), []);
      assert.deepEqual(await o.diff("edge1", state, (await o.check(u, state, news, ctx)).inputs, ctx), { changes: false, changed: [], replaces: [], deleteBeforeReplace: false });
      const gossip = await o.diff("edge1", state, (await o.check(u, state, { ...news, gossip: true }, ctx)).inputs, ctx);
      assert.deepEqual([gossip.changed, gossip.replaces], [["gossip"], []]);
      const stopped = { ...state, hostState: { ...PLANNED_DAEMON_STATE, service: "not running (inactive)" } };
      assert.deepEqual((await o.diff("edge1", stopped, inputs, ctx)).changed, ["hostState"], "a stopped daemon found by refresh is a change to the planned state");
      const moved = await o.diff("edge1", state, (await o.check(u, state, { ...news, connection: secret({ host: "192.0.2.11" }) }, ctx)).inputs, ctx);
      assert.deepEqual([moved.replaces, moved.deleteBeforeReplace], [["connection"], true], "another host: replace, the old host cleaned first");
      assert.deepEqual((await o.diff("edge1", { ...state, daemonSha256: "0".repeat(64) }, inputs, ctx)).changed, ["daemonSha256"], "another daemon artifact updates the host");
    } finally {
      if (prev === undefined) delete process.env.WGMESH_DAEMON_ARTIFACT_DIR;
      else process.env.WGMESH_DAEMON_ARTIFACT_DIR = prev;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("conformance checks can fail: wrong types, unknown and missing properties, unwrapped secrets", () => {
    assert.ok(outputViolations(doc, TOKENS.group, { name: "g", members: "a" }).some((e) => /expected array/.test(e)));
    assert.ok(outputViolations(doc, TOKENS.group, { name: "g", members: [], extra: 1 }).some((e) => /extra is not in the schema/.test(e)));
    assert.ok(outputViolations(doc, TOKENS.group, { name: "g" }).some((e) => /members missing/.test(e)));
    assert.deepEqual(unwrappedSecrets(doc, TOKENS.node, { privateKey: "plain" }), ["privateKey"]);
    assert.throws(() => adapterFor("wgmesh:index:Nope"), /unknown resource type/);
  });
});
