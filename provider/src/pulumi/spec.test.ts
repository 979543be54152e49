// The packed inputs of a dynamic resource (spec.ts): unpacked by the provider's check so the checked inputs
// (the state, `preview --diff`) are the flat inputs, with secrets kept where the packed object held one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SECRET_MARK, SPEC_KEY, unpackSpec } from "./spec";
import { run } from "./dynamic";
import { UNKNOWN } from "./lifecycle/types";
import { isWireSecret, unwrapSecret } from "./lifecycle/common";

test("inputs without a packed object are returned as they are", () => {
  const props = { name: "web", members: ["a"] };
  assert.equal(unpackSpec(props, UNKNOWN).props, props);
  assert.deepEqual(unpackSpec(props, UNKNOWN).secretKeys, []);
});

test("the packed object's values go back to the top level, its key gone", () => {
  const u = unpackSpec({ peers: "p", [SPEC_KEY]: { hostname: "web1", listenPort: 51820, firewall: null } }, UNKNOWN);
  assert.deepEqual(u.props, { peers: "p", hostname: "web1", listenPort: 51820, firewall: null });
  assert.deepEqual(u.secretKeys, []);
});

test("a packed object that held secrets: exactly the marked keys are reported, the mark dropped", () => {
  const u = unpackSpec({ peers: "p", [SPEC_KEY]: { hostname: "web1", firewall: "x", healthCheck: { mode: "ping" }, [SECRET_MARK]: ["healthCheck", "firewall", "nosuchkey"] } }, UNKNOWN);
  assert.deepEqual(u.props, { peers: "p", hostname: "web1", firewall: "x", healthCheck: { mode: "ping" } });
  assert.deepEqual(u.secretKeys.sort(), ["firewall", "healthCheck"]);
  // A mark that is not a list of names: every value is taken as secret (never fewer).
  assert.deepEqual(unpackSpec({ [SPEC_KEY]: { a: 1, b: 2, [SECRET_MARK]: true } }, UNKNOWN).secretKeys.sort(), ["a", "b"]);
});

test("a key both packed and at the top level keeps its top-level value (where ignoreChanges puts the old one)", () => {
  const u = unpackSpec({ listenPort: 51820, [SPEC_KEY]: { listenPort: 51999, mtu: 1420, [SECRET_MARK]: ["listenPort"] } }, UNKNOWN);
  assert.deepEqual(u.props, { listenPort: 51820, mtu: 1420 });
  assert.deepEqual(u.secretKeys, [], "the top-level value's secrecy is the engine's");
});

test("a wholly unknown or absent packed object leaves its keys out", () => {
  assert.deepEqual(unpackSpec({ peers: "p", [SPEC_KEY]: UNKNOWN }, UNKNOWN).props, { peers: "p" });
  assert.deepEqual(unpackSpec({ peers: "p", [SPEC_KEY]: null }, UNKNOWN).props, { peers: "p" });
});

test("the provider's check returns flat inputs; values from a secret-holding packed object come back as secrets", async () => {
  const plain = (await run("group", "check", [undefined, { [SPEC_KEY]: { name: "web", members: ["web1"] }, description: "d" }])) as { inputs: Record<string, unknown> };
  assert.deepEqual(plain.inputs, { name: "web", members: ["web1"], description: "d" });
  const secret = (await run("group", "check", [undefined, { [SPEC_KEY]: { name: "web", members: ["web1"], [SECRET_MARK]: ["members"] }, description: "d" }])) as { inputs: Record<string, unknown> };
  assert.ok(isWireSecret(secret.inputs.members), "the marked value is a secret");
  assert.deepEqual(unwrapSecret(secret.inputs.members), ["web1"]);
  assert.equal(secret.inputs.name, "web", "an unmarked value stays plain");
  assert.equal(secret.inputs.description, "d", "a top-level input keeps its own (engine-kept) secrecy");
  assert.ok(!(SPEC_KEY in secret.inputs) && !(SECRET_MARK in secret.inputs));
});
