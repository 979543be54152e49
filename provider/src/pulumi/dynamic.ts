/**
 * The dynamic providers' runtime half: loaded (by absolute path) inside the provider process by the tiny
 * serialized provider objects of providers.ts, it runs a resource kind's lifecycle and converts results to
 * the shapes `pulumi.dynamic.ResourceProvider` expects.
 *
 * Pulumi's dynamic-provider host passes a resource's properties but not its URN; the resource classes pass
 * it as the internal input `__urn` (providers.ts `dynamicUrn`), kept in the checked inputs and the outputs,
 * so every operation — read and delete included — logs its progress on the resource's row.
 */
import { EngineLog, dynamicProviderEngineAddress } from "./enginelog";
import { lifecycles, type ResourceKind } from "./lifecycle/index";
import type { LifecycleContext } from "./lifecycle/types";
import { URN_KEY } from "./urnkey";
import { unpackSpec } from "./spec";
import { UNKNOWN } from "./lifecycle/types";
import { isWireSecret, wireSecret } from "./lifecycle/common";

const PROVIDER_KEY = "__provider";

let engineLog: EngineLog | undefined;
function log(): EngineLog {
  return (engineLog ??= new EngineLog(dynamicProviderEngineAddress()));
}

type Props = Record<string, unknown>;

/**
 * The lifecycle's properties — without the dynamic provider's own internal keys, the packed inputs back at
 * the top level (./spec.ts) — and which unpacked keys held secrets.
 */
function unpacked<T>(props: T): { props: T; secretKeys: string[] } {
  if (props === null || typeof props !== "object") return { props, secretKeys: [] };
  const { [PROVIDER_KEY]: _p, [URN_KEY]: _u, ...rest } = props as Props;
  const u = unpackSpec(rest, UNKNOWN);
  return { props: u.props as T, secretKeys: u.secretKeys };
}

/** The lifecycle's properties (see `unpacked`). */
function strip<T>(props: T): T {
  return unpacked(props).props;
}

/** Check's inputs with the values unpacked from a packed object's secrets returned as secrets. */
function resecret(inputs: unknown, secretKeys: string[]): unknown {
  if (secretKeys.length === 0 || inputs === null || typeof inputs !== "object") return inputs;
  const out = { ...(inputs as Props) };
  for (const k of secretKeys) if (out[k] !== undefined && !isWireSecret(out[k])) out[k] = wireSecret(out[k]);
  return out;
}

function urnOf(props: unknown): string | undefined {
  const u = props !== null && typeof props === "object" ? (props as Props)[URN_KEY] : undefined;
  return typeof u === "string" && u.startsWith("urn:") ? u : undefined;
}

/** Plain JSON (drops undefined anywhere; the engine's Struct conversion refuses it), the URN kept beside. */
function json<T>(value: T, urn?: string): T {
  if (value === undefined) return value;
  const out = JSON.parse(JSON.stringify(value)) as T;
  return urn && out !== null && typeof out === "object" ? ({ ...out, [URN_KEY]: urn } as T) : out;
}

function context(urn: string | undefined): LifecycleContext {
  return { log: log().forResource(urn) };
}

export type Method = "check" | "diff" | "create" | "read" | "update" | "delete";

/** Run `method` of `kind`'s lifecycle with the dynamic provider's arguments. */
export async function run(kind: ResourceKind, method: Method, args: unknown[]): Promise<unknown> {
  const lc = lifecycles[kind] as (typeof lifecycles)[ResourceKind] & Record<string, any>;
  if (!lc) throw new Error(`wgmesh: unknown resource kind ${JSON.stringify(kind)}`);
  // The properties that carry the resource's URN: the new inputs, else the current state.
  const props = method === "create" || method === "read" || method === "delete" ? args[method === "create" ? 0 : 1] : args[method === "check" ? 1 : 2];
  const urn = urnOf(props);
  const ctx = context(urn);
  try {
    switch (method) {
      case "check": {
        const [olds, news] = args as [Props | undefined, Props];
        const n = unpacked(news);
        const r = await lc.check(olds ? strip(olds) : undefined, n.props as never, ctx);
        return { inputs: json(resecret(r.inputs, n.secretKeys), urn), failures: r.failures };
      }
      case "diff": {
        const [id, olds, news] = args as [string, Props, Props];
        const r = await lc.diff(id, strip(olds) as never, strip(news) as never, ctx);
        return { changes: r.changes, replaces: r.replaces, deleteBeforeReplace: r.deleteBeforeReplace };
      }
      case "create": {
        const [inputs] = args as [Props];
        const r = await lc.create(strip(inputs) as never, ctx);
        return { id: r.id, outs: json(r.outs, urn) };
      }
      case "read": {
        const [id, props] = args as [string, Props];
        const r = await lc.read(id, strip(props) as never, ctx);
        return { id: r.id, props: json(r.props, urn) };
      }
      case "update": {
        const [id, olds, news] = args as [string, Props, Props];
        const r = await lc.update(id, strip(olds) as never, strip(news) as never, ctx);
        return { outs: json(r.outs, urn) };
      }
      case "delete": {
        const [id, props] = args as [string, Props];
        await lc.delete(id, strip(props) as never, ctx);
        return undefined;
      }
    }
  } finally {
    await log().flush();
  }
}
