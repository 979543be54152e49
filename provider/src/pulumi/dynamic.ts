/**
 * The dynamic providers' runtime half: loaded (by absolute path) inside the provider process by the tiny
 * serialized provider objects of providers.ts, it runs a resource kind's lifecycle and converts results to
 * the shapes `pulumi.dynamic.ResourceProvider` expects.
 */
import { engineLogger, flushEngineLog } from "./enginelog";
import { lifecycles, type ResourceKind } from "./lifecycle/index";
import type { LifecycleContext } from "./lifecycle/types";

const PROVIDER_KEY = "__provider";

function strip<T>(props: T): T {
  if (props === null || typeof props !== "object") return props;
  const { [PROVIDER_KEY]: _p, ...rest } = props as Record<string, unknown>;
  return rest as T;
}

/** Plain JSON (drops undefined anywhere; the engine's Struct conversion refuses it). */
function json<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

function context(): LifecycleContext {
  return { log: engineLogger() };
}

export type Method = "check" | "diff" | "create" | "read" | "update" | "delete";

/** Run `method` of `kind`'s lifecycle with the dynamic provider's arguments. */
export async function run(kind: ResourceKind, method: Method, args: unknown[]): Promise<unknown> {
  const lc = lifecycles[kind] as (typeof lifecycles)[ResourceKind] & Record<string, any>;
  if (!lc) throw new Error(`wgmesh: unknown resource kind ${JSON.stringify(kind)}`);
  const ctx = context();
  try {
    switch (method) {
      case "check": {
        const [olds, news] = args as [Record<string, unknown> | undefined, Record<string, unknown>];
        const r = await lc.check(olds ? strip(olds) : undefined, strip(news) as never, ctx);
        return { inputs: json(r.inputs), failures: r.failures };
      }
      case "diff": {
        const [id, olds, news] = args as [string, Record<string, unknown>, Record<string, unknown>];
        const r = await lc.diff(id, strip(olds) as never, strip(news) as never, ctx);
        return { changes: r.changes, replaces: r.replaces, deleteBeforeReplace: r.deleteBeforeReplace };
      }
      case "create": {
        const [inputs] = args as [Record<string, unknown>];
        const r = await lc.create(strip(inputs) as never, ctx);
        return { id: r.id, outs: json(r.outs) };
      }
      case "read": {
        const [id, props] = args as [string, Record<string, unknown>];
        const r = await lc.read(id, strip(props) as never, ctx);
        return { id: r.id, props: json(r.props) };
      }
      case "update": {
        const [id, olds, news] = args as [string, Record<string, unknown>, Record<string, unknown>];
        const r = await lc.update(id, strip(olds) as never, strip(news) as never, ctx);
        return { outs: json(r.outs) };
      }
      case "delete": {
        const [id, props] = args as [string, Record<string, unknown>];
        await lc.delete(id, strip(props) as never, ctx);
        return undefined;
      }
    }
  } finally {
    await flushEngineLog();
  }
}
