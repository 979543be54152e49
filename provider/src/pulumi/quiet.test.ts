// quiet.ts: our resources' SDK constructors run with V8's stack capture off (the promise-creation stacks
// Pulumi records per output property), the limit comes back afterwards — also when the constructor throws —
// and PULUMI_DEBUG_PROMISE_LEAKS keeps the stacks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";

pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: () => ({}) }, "wgmesh-quiet", "dev", true);
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { QuietDynamicResource, withoutPromiseStacks } = require("./quiet") as typeof import("./quiet");

const provider: pulumi.dynamic.ResourceProvider = { async create(inputs: unknown) { return { id: "x", outs: inputs }; } };

/** Props whose getter records the stack limit when the SDK reads them (synchronously, in the constructor). */
function spyProps(seen: number[]): pulumi.Inputs {
  const props: Record<string, unknown> = {};
  Object.defineProperty(props, "watched", { enumerable: true, get: () => { seen.push(Error.stackTraceLimit); return "v"; } });
  return props;
}

test("a quiet resource's SDK constructor sees stack capture off; the limit is restored after", () => {
  const before = Error.stackTraceLimit;
  const seen: number[] = [];
  new QuietDynamicResource(provider, "q1", spyProps(seen));
  assert.ok(seen.length > 0, "the SDK read the props in the constructor");
  assert.ok(seen.every((l) => l === 0), `limit while constructing: ${seen.join(",")}`);
  assert.equal(Error.stackTraceLimit, before);
});

test("the limit is restored when construction throws", () => {
  const before = Error.stackTraceLimit;
  // The SDK's constructor throws synchronously without a name.
  assert.throws(() => new QuietDynamicResource(provider, undefined as unknown as string, {}), /name/);
  assert.equal(Error.stackTraceLimit, before);
  assert.throws(() => withoutPromiseStacks(() => { throw new Error("x"); }), /x/);
  assert.equal(Error.stackTraceLimit, before);
});

test("with PULUMI_DEBUG_PROMISE_LEAKS set, stacks are kept", () => {
  process.env.PULUMI_DEBUG_PROMISE_LEAKS = "1";
  try {
    const before = Error.stackTraceLimit;
    const seen: number[] = [];
    new QuietDynamicResource(provider, "q3", spyProps(seen));
    assert.ok(seen.length > 0 && seen.every((l) => l === before));
    assert.equal(withoutPromiseStacks(() => Error.stackTraceLimit), before);
  } finally {
    delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
  }
});

test("the mesh resources are quiet resources", () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const r = require("./resources") as typeof import("./resources");
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const d = require("./decentralized") as typeof import("./decentralized");
  for (const C of [r.Node, r.Group, r.Policy, r.NodeConfig, r.Mesh, d.MeshSecret, d.DecentralizedNode]) {
    assert.ok(C.prototype instanceof QuietDynamicResource, C.name);
  }
});
