import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, URN_KEY, providerFor } from "./providers";
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
