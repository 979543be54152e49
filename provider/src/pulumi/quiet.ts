/**
 * Resource construction without V8's promise-creation stacks (issue 12).
 *
 * For every output property of a resource, Pulumi's SDK (`transferProperties`) makes four promises and
 * records on each the stack of its creation, `new Error().stack` read at once — in a TypeScript program
 * source-mapped frame by frame by ts-node's source-map-support. Those stacks are read only by
 * PULUMI_DEBUG_PROMISE_LEAKS reports. A Node has twelve properties: at 100 nodes its constructors were
 * ≈ 14 % of the program's CPU in a profile of a fresh preview (NodeConfigs, 19 properties each, were
 * already built this way). With the stack limit at 0 while the SDK's constructor runs they cost nothing.
 * The resource's source position and stack trace that Pulumi records are kept: the SDK captures those
 * with the limit raised itself (`Resource.callsites`). With PULUMI_DEBUG_PROMISE_LEAKS set, nothing changes.
 */
import * as pulumi from "@pulumi/pulumi";

/** Run `construct` with stack capture off (unless PULUMI_DEBUG_PROMISE_LEAKS is set). */
export function withoutPromiseStacks<T>(construct: () => T): T {
  if (process.env.PULUMI_DEBUG_PROMISE_LEAKS) return construct();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return construct();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A dynamic resource whose SDK constructor runs without promise-creation stacks (see above). */
export class QuietDynamicResource extends pulumi.dynamic.Resource {
  constructor(provider: pulumi.dynamic.ResourceProvider, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    const debug = Boolean(process.env.PULUMI_DEBUG_PROMISE_LEAKS);
    const limit = Error.stackTraceLimit;
    if (!debug) Error.stackTraceLimit = 0;
    try {
      super(provider, name, props, opts);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}
