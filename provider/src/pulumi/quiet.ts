/**
 * Pulumi's promise bookkeeping without creation stacks (issue 12).
 *
 * Pulumi's Node.js SDK wraps most promises it makes in `debuggablePromise` (runtime/debuggable.js), which
 * records on each the stack of its creation — `new Error().stack`, read at once, and in a TypeScript
 * program source-mapped frame by frame by ts-node's source-map-support — for one purpose: the report that
 * PULUMI_DEBUG_PROMISE_LEAKS prints about promises still pending at exit. It makes four per output property
 * of every resource (`transferProperties`) and one per Output- or Promise-valued input it serializes. A
 * mesh has many of both (a Node has twelve properties, a NodeConfig nineteen, eleven of its inputs are
 * Outputs): in profiles of a 100-node preview these stacks were 14–20 % of the program's CPU.
 *
 * `quietPromiseStacks` wraps the SDK's `debuggablePromise` so that it runs with V8's stack limit at 0: the
 * same bookkeeping (ids, contexts, the leak candidates and their report), only the stack text is empty.
 * It is installed when this package is loaded, for the whole program; not when PULUMI_DEBUG_PROMISE_LEAKS
 * is set (then the stacks are what the user asked for). The resources' own source positions and stack
 * traces, which Pulumi records in the state, are untouched: the SDK captures those with its own limit
 * (`Resource.callsites`). If a future SDK moves or freezes the function, nothing is wrapped (quiet.test.ts
 * fails so that it is noticed) and everything works as without it.
 */

const QUIET = Symbol.for("wgmesh.quietPromiseStacks");

type Debuggable = { debuggablePromise?: unknown };

/** Wrap the SDK's `debuggablePromise` (once per process); true when it is wrapped now. */
export function quietPromiseStacks(): boolean {
  if (process.env.PULUMI_DEBUG_PROMISE_LEAKS) return false;
  let mod: Debuggable;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require("@pulumi/pulumi/runtime/debuggable") as Debuggable;
  } catch {
    return false;
  }
  const original = mod.debuggablePromise;
  if (typeof original !== "function") return false;
  if ((original as unknown as Record<symbol, unknown>)[QUIET]) return true;
  const quiet = function (this: unknown, ...args: unknown[]): unknown {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  Object.defineProperty(quiet, QUIET, { value: true });
  try {
    mod.debuggablePromise = quiet;
  } catch {
    return false;
  }
  return mod.debuggablePromise === quiet;
}

quietPromiseStacks();
