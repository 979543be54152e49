import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DYNAMIC_MODULE, DYNAMIC_SPECIFIER, URN_KEY, makeProvider, providerFor } from "./providers";
import { generateKeyPair } from "../core/keys";

// Pulumi stores each dynamic provider as serialized JavaScript (the `__provider` input) and evaluates it in
// a separate process. Serialize it exactly as pulumi.dynamic.Resource does and evaluate the text in a
// fresh module, with nothing else loaded, then run a lifecycle through it.
test("dynamic providers survive closure serialization and run from the serialized text alone", async () => {
  for (const kind of ["node", "group", "policy", "mesh", "nodeConfig"] as const) {
    const provider = providerFor(kind);
    const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
    assert.ok(sf.text.length < 4000, `${kind}: serialized provider is small (${sf.text.length} bytes)`);
    assert.ok(sf.text.includes(JSON.stringify(DYNAMIC_MODULE)), "captures the runtime module's absolute path");
    assert.ok(sf.text.includes(JSON.stringify(DYNAMIC_SPECIFIER)), "and its name in the package, tried first");
    assert.doesNotMatch(sf.text, /ssh2|Client|BEGIN OPENSSH/, "captures no ssh2 or credentials");
  }
  const meshProvider = providerFor("mesh");
  const sf = await pulumi.runtime.serializeFunction(() => meshProvider, { allowSecrets: false });
  const m = { exports: {} as any };
  new Function("exports", "module", "require", sf.text)(m.exports, m, require);
  const deserialized = m.exports.handler() as pulumi.dynamic.ResourceProvider;
  const urn = "urn:pulumi:dev::p::pulumi-nodejs:dynamic:Resource::prod";
  const r = await deserialized.check!({}, { name: "prod", network: "10.9.0.0/24", nodes: [{ hostname: "a", sshHost: "192.0.2.1" }], groups: [], policies: [], __provider: sf.text, [URN_KEY]: urn });
  assert.deepEqual(r.failures, []);
  assert.deepEqual(r.inputs.meshIps, { a: "10.9.0.1" });
  assert.equal(r.inputs.__provider, undefined, "the adapter hands the lifecycle no __provider");
  assert.equal(r.inputs[URN_KEY], urn, "the URN stays in the checked inputs (for the later operations' logs)");
  const d = await deserialized.diff!("prod", { ...r.inputs, [URN_KEY]: "urn:pulumi:old::p::pulumi-nodejs:dynamic:Resource::prod" }, r.inputs);
  assert.equal(d.changes, false, "the URN is no property of the lifecycle: a different one is no change");

  const nodeProvider = providerFor("node");
  const node = await pulumi.runtime.serializeFunction(() => nodeProvider, { allowSecrets: false });
  const n = { exports: {} as any };
  new Function("exports", "module", "require", node.text)(n.exports, n, require);
  const bad = await n.exports.handler().check({}, { hostname: "a b", connection: { host: "192.0.2.1" }, privateKey: generateKeyPair().privateKey });
  assert.ok(bad.failures.some((f: { property: string }) => f.property === "hostname"));
});

test("one provider object per kind (identical serialized text for every resource of a kind)", () => {
  assert.equal(providerFor("node"), providerFor("node"));
  assert.notEqual(providerFor("node"), providerFor("mesh"));
});

test("the runtime half is found by package name first, else by absolute path; a missing one is an actionable error", async () => {
  assert.equal(DYNAMIC_SPECIFIER, "@wgmesh/pulumi/dist/provider/src/pulumi/dynamic.js");
  const inputs = { hostname: "a b", connection: { host: "192.0.2.1" }, privateKey: generateKeyPair().privateKey };
  const evaluated = async (specifier: string | undefined, modulePath: string) => {
    const provider = makeProvider("node", specifier, modulePath);
    const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
    const m = { exports: {} as any };
    new Function("exports", "module", "require", sf.text)(m.exports, m, require);
    return m.exports.handler() as pulumi.dynamic.ResourceProvider;
  };
  const gone = path.join(os.tmpdir(), "wgmesh-moved-away", "dist/provider/src/pulumi/dynamic.js");
  // the name resolves (here: an absolute module id standing in for it), the recorded path is gone — another checkout
  const moved = await (await evaluated(DYNAMIC_MODULE, gone)).check!({}, inputs);
  assert.ok(moved.failures!.some((f) => f.property === "hostname"), "the lifecycle ran");
  // no package by that name here (an old state's text had only the path): the path
  const old = await (await evaluated("@wgmesh-not-installed/pulumi/dynamic.js", DYNAMIC_MODULE)).check!({}, inputs);
  assert.ok(old.failures!.some((f) => f.property === "hostname"));
  // neither: the error names both and the fix
  await assert.rejects((await evaluated("@wgmesh-not-installed/pulumi/dynamic.js", gone)).delete!("id", {}), (e: Error) => {
    assert.match(e.message, /cannot load the provider's runtime to delete this node: not found from .*@wgmesh-not-installed\/pulumi\/dynamic\.js, .*wgmesh-moved-away/);
    assert.match(e.message, /npm install @wgmesh\/pulumi/);
    return true;
  });
  // a runtime that is there but fails to load is not hidden behind the fallback
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-broken-"));
  const broken = path.join(dir, "dynamic.js");
  fs.writeFileSync(broken, "throw new Error('broken runtime');\n");
  try {
    await assert.rejects((await evaluated(broken, DYNAMIC_MODULE)).check!({}, inputs), /broken runtime/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
