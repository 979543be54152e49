/**
 * Engine property values ↔ the lifecycles' plain JSON. The plugin accepts secrets and resource references
 * (Configure says so), so a property value from the engine may be a secret wrapper, a resource reference or
 * the unknown sentinel. Pure.
 */
import { SECRET_SIG, SIG, UNKNOWN } from "../pulumi/lifecycle/types";

/** The engine's signature key and values (the same in every Pulumi SDK). */
export { SIG, SECRET_SIG };
export const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
export const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

type Json = unknown;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function isSecret(v: unknown): v is { value: unknown } {
  return isObject(v) && v[SIG] === SECRET_SIG;
}

export interface ResourceRef {
  urn: string;
  id?: string;
}

export function isResourceRef(v: unknown): v is ResourceRef {
  return isObject(v) && v[SIG] === RESOURCE_SIG;
}

/** The resource name in a URN (`urn:pulumi:stack::project::type::name`). */
export function urnName(urn: string): string {
  const i = urn.lastIndexOf("::");
  return i < 0 ? urn : urn.slice(i + 2);
}

/** The id a reference carries (the lifecycles use names as ids); unknown while the resource is new in a preview. */
export function refId(v: unknown): string {
  if (isResourceRef(v)) return typeof v.id === "string" && v.id !== "" ? v.id : UNKNOWN;
  if (typeof v === "string") return v;
  return UNKNOWN;
}

/** Plain JSON: secrets unwrapped, output values replaced by their value (or the unknown sentinel). */
export function plain(v: Json): Json {
  if (Array.isArray(v)) return v.map(plain);
  if (isSecret(v)) return plain(v.value);
  if (isObject(v)) {
    if (v[SIG] === OUTPUT_SIG) return "value" in v ? plain(v.value) : UNKNOWN;
    if (v[SIG] === RESOURCE_SIG) return v;
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

/** Whether a value contains a secret anywhere. */
export function containsSecret(v: Json): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (isObject(v) && v[SIG] !== RESOURCE_SIG) return Object.values(v).some(containsSecret);
  return false;
}

/** A value marked secret (once: a value that already is one, e.g. a lifecycle's generated key, is kept). */
export function secret(value: Json): Json {
  return isSecret(value) ? value : { [SIG]: SECRET_SIG, value };
}

/**
 * Plain JSON back to engine values: the named top-level properties wrapped as secrets, undefined dropped
 * (the engine's Struct conversion refuses it). `complete` lists properties to emit as null when absent:
 * outputs always carry every schema property, so a program reading them (the Mesh component) sees a known
 * "none" rather than an unknown during a preview. `incoming` (the engine values the props came from): its
 * secrets are put back where they were, as the engine itself does for providers that do not take secrets —
 * inside objects per key (a map with one secret entry per peer stays readable in a diff), anything else whole.
 */
export function toEngine(props: Record<string, Json>, secrets: Iterable<string>, complete: readonly string[] = [], incoming?: Record<string, Json>): Record<string, Json> {
  const s = new Set(secrets);
  const out: Record<string, Json> = {};
  for (const k of complete) out[k] = null;
  for (const [k, v] of Object.entries(JSON.parse(JSON.stringify(props)) as Record<string, Json>)) {
    if (v === undefined) continue;
    out[k] = s.has(k) && v !== null ? secret(v) : incoming && k in incoming ? annotate(v, incoming[k]) : v;
  }
  return out;
}

/** `value` with the secrets of `like` (the value it came from) put back at the same places. */
function annotate(value: Json, like: Json): Json {
  if (value === null || !containsSecret(like)) return value;
  if (isSecret(like) || !isObject(value) || !isObject(like)) return secret(value);
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) out[k] = k in like ? annotate(v, like[k]) : v;
  return out;
}
