// quiet.ts: loading the package wraps Pulumi's debuggablePromise so that its creation stacks are empty; the
// bookkeeping (leak candidates, their report) is Pulumi's own and unchanged; the stack limit is restored;
// PULUMI_DEBUG_PROMISE_LEAKS keeps the stacks. Fails when an SDK upgrade moves the function.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import "./resources";

type Debuggable = {
  debuggablePromise(p: Promise<unknown>, ctx: string): Promise<unknown>;
  leakedPromises(): [Set<Promise<unknown>>, string];
};
// eslint-disable-next-line @typescript-eslint/no-var-requires
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as Debuggable;

test("loading the package wraps debuggablePromise: empty creation stacks, the limit restored", () => {
  assert.equal((debuggable.debuggablePromise as unknown as Record<symbol, unknown>)[Symbol.for("wgmesh.quietPromiseStacks")], true, "wrapped (if this fails after an SDK upgrade: see quiet.ts)");
  const limit = Error.stackTraceLimit;
  const p = Promise.resolve(1);
  void debuggable.debuggablePromise(p, "quiet-test");
  assert.equal((p as unknown as { _debugStackTrace: string })._debugStackTrace, "Error", "no frames recorded");
  assert.equal((p as unknown as { _debugCtx: string })._debugCtx, "quiet-test", "the context is kept");
  assert.equal(Error.stackTraceLimit, limit);
  assert.throws(() => debuggable.debuggablePromise(null as unknown as Promise<unknown>, "x"));
  assert.equal(Error.stackTraceLimit, limit, "restored when the SDK's function throws");
});

test("leak detection is Pulumi's own and still works", async () => {
  debuggable.leakedPromises(); // start from none
  const pending = new Promise<never>(() => {});
  void debuggable.debuggablePromise(pending, "never settles");
  await debuggable.debuggablePromise(Promise.resolve(2), "settles");
  const [leaked] = debuggable.leakedPromises();
  assert.deepEqual([...leaked], [pending], "the pending promise is a leak candidate, the settled one is not");
});

test("with PULUMI_DEBUG_PROMISE_LEAKS set, nothing is wrapped", () => {
  const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(path.join(__dirname, "quiet.js"))}); console.log(!!require("@pulumi/pulumi/runtime/debuggable").debuggablePromise[Symbol.for("wgmesh.quietPromiseStacks")])`], {
    env: { ...process.env, PULUMI_DEBUG_PROMISE_LEAKS: "1" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "false");
});
