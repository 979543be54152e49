// The plugin's functions: the schema declares them, invoke serves them over the shared implementation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { invoke } from "./functions";
import { packageVersion } from "./files";
import { FUNCTIONS, buildSchema } from "./schema";
import { SECRET_SIG, SIG, secret } from "./values";
import { generateKeyPair, isValidKey, publicKeyFromPrivate } from "../core/keys";
import { silentLogger } from "../engine/ssh/log";
import { encryptState } from "../core/statecrypt";
import { formatStateFile, meshToState } from "../core/statefile";
import { compileMesh } from "../core/compile";

type FnSpec = { description: string; inputs?: { properties: Record<string, { secret?: boolean }>; required?: string[] }; outputs: { properties: Record<string, { secret?: boolean }>; required: string[] } };
const fns = buildSchema(packageVersion()).functions as unknown as Record<string, FnSpec>;

test("the schema declares the three functions; the private key and the state password are secrets", () => {
  assert.deepEqual(Object.keys(fns).sort(), Object.values(FUNCTIONS).sort());
  assert.equal(fns[FUNCTIONS.generateKeyPair]?.outputs.properties.privateKey?.secret, true);
  assert.equal(fns[FUNCTIONS.getMeshPlan]?.inputs?.properties.statePassword?.secret, true);
  assert.equal(fns[FUNCTIONS.getNodeStatus]?.inputs?.properties.connection?.secret, true);
  assert.deepEqual(fns[FUNCTIONS.getNodeStatus]?.inputs?.required, ["connection"]);
  for (const [t, f] of Object.entries(fns)) {
    assert.ok(f.description.length > 40, `${t} has a description`);
    for (const r of f.outputs.required) assert.ok(f.outputs.properties[r], `${t}: required output ${r} is described`);
  }
});

test("generateKeyPair: a valid pair, the private key wrapped as a secret, a new pair each time", async () => {
  const a = await invoke(FUNCTIONS.generateKeyPair, {}, silentLogger);
  const b = await invoke(FUNCTIONS.generateKeyPair, {}, silentLogger);
  const priv = a.outputs.privateKey as { [k: string]: unknown; value: string };
  assert.equal(priv[SIG], SECRET_SIG);
  assert.ok(isValidKey(priv.value));
  assert.equal(publicKeyFromPrivate(priv.value), a.outputs.publicKey);
  assert.notEqual(a.outputs.publicKey, b.outputs.publicKey);
});

test("getMeshPlan: a declaration or an encrypted state file (password arriving as a secret); failures name the argument", async () => {
  const decl = { nodes: [{ hostname: "a", sshHost: "192.0.2.1" }, { hostname: "b", sshHost: "192.0.2.2", routableNetworks: ["192.168.9.0/24"] }] };
  const r = await invoke(FUNCTIONS.getMeshPlan, decl, silentLogger);
  assert.equal(r.failures, undefined);
  const nodes = r.outputs.nodes as Record<string, { peers: Record<string, { allowedIps: string[] }>; routes: string[] }>;
  assert.deepEqual(nodes.a?.peers.b?.allowedIps, ["10.99.0.2/32", "192.168.9.0/24"]);
  assert.deepEqual(nodes.a?.routes, ["192.168.9.0/24"]);
  assert.match(String(r.outputs.diagram), /^flowchart LR\n/);
  const c = compileMesh({ nodes: decl.nodes.map((n) => ({ ...n, privateKey: generateKeyPair().privateKey })) });
  assert.ok(c.ok);
  const enc = encryptState(formatStateFile(meshToState(c.mesh)), "s3cret");
  const fromState = await invoke(FUNCTIONS.getMeshPlan, { stateFile: enc, statePassword: secret("s3cret") }, silentLogger);
  assert.deepEqual(fromState.failures, undefined);
  assert.deepEqual(Object.keys(fromState.outputs.nodes as object).sort(), ["a", "b"]);
  const bad = await invoke(FUNCTIONS.getMeshPlan, { nodes: [{ hostname: "a", sshHost: "192.0.2.1", meshIp: "10.1.0.1" }] }, silentLogger);
  assert.equal(bad.failures?.[0]?.property, "nodes");
  assert.match(bad.failures?.[0]?.reason ?? "", /node "a": meshIp "10\.1\.0\.1"/);
});

test("getNodeStatus refuses a missing connection before any SSH; an unknown function is an error", async () => {
  const r = await invoke(FUNCTIONS.getNodeStatus, {}, silentLogger);
  assert.deepEqual(r.failures?.map((f) => f.property), ["connection"]);
  await assert.rejects(invoke("wgmesh:index:nope", {}, silentLogger), /unknown function "wgmesh:index:nope"/);
});
