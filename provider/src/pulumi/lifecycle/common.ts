/** Helpers shared by the lifecycles: unknown values, deep equality, diffs, option defaults. Pure. */
import { SECRET_SIG, SIG, UNKNOWN, type CheckFailure, type DiffResult, type WireSecret } from "./types";
import type { Finding } from "../../core/validate";

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** Whether a value contains an unknown anywhere. */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/** A copy with every unknown replaced by null (objects/arrays copied). */
export function withoutUnknowns<T>(value: T): T {
  if (value === UNKNOWN) return null as T;
  if (Array.isArray(value)) return value.map(withoutUnknowns) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = withoutUnknowns(v);
    return out as T;
  }
  return value;
}

/**
 * `value` marked secret the way the engine's wire protocol does. A lifecycle's `check` returns it for a value
 * it makes (a generated key): both front doors hand check results to the engine as they are, and the engine
 * keeps a secret found there (the plugin's adapter does not wrap it twice).
 */
export function wireSecret<T>(value: T): WireSecret<T> {
  return { [SIG]: SECRET_SIG, value };
}

export function isWireSecret(value: unknown): value is WireSecret<unknown> {
  return value !== null && typeof value === "object" && (value as Record<string, unknown>)[SIG] === SECRET_SIG;
}

/** The value inside a wire secret (any other value as it is). */
export function unwrapSecret<T>(value: T | WireSecret<T>): T {
  return isWireSecret(value) ? (value.value as T) : (value as T);
}

/** undefined and null are the same "absent" (the engine drops nulls). */
export function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

/** Deep equality of JSON values, treating undefined and null alike; object key order is irrelevant. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (absent(a) && absent(b)) return true;
  if (absent(a) || absent(b)) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a === "object" && typeof b === "object") {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
    for (const k of keys) if (!deepEqual(ao[k], bo[k])) return false;
    return true;
  }
  return a === b;
}

/**
 * Compare the given top-level properties of old outputs and new inputs. An unknown new value counts as a
 * change. `replaceOn` lists the properties whose change means replacement.
 */
export function diffProps(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  props: readonly string[],
  replaceOn: readonly string[] = [],
  deleteBeforeReplace = false,
): DiffResult {
  const changed = props.filter((p) => containsUnknown(news[p]) || !deepEqual(olds[p], news[p]));
  const replaces = changed.filter((p) => replaceOn.includes(p));
  return { changes: changed.length > 0, changed, replaces, deleteBeforeReplace: replaces.length > 0 && deleteBeforeReplace };
}

/** Findings as check failures (property = the finding's field, else the fallback). */
export function failuresFrom(findings: readonly Finding[], fallback: string, fieldMap: Record<string, string> = {}): CheckFailure[] {
  return findings.map((f) => ({ property: (f.field && (fieldMap[f.field] ?? f.field)) || fallback, reason: f.message }));
}

/** The SSH options of a context, with the environment's defaults. */
export function sshOptions(ctx: { knownHostsPath?: string; trustOnFirstUse?: boolean; log: import("../../engine/ssh/log").Logger }) {
  const env = process.env;
  return {
    knownHostsPath: ctx.knownHostsPath ?? (env.WGMESH_KNOWN_HOSTS || undefined),
    trustOnFirstUse: ctx.trustOnFirstUse ?? env.WGMESH_TRUST_ON_FIRST_USE === "1",
    logger: ctx.log,
  };
}

/** Drop keys whose value is undefined (the engine cannot carry undefined). */
export function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) if (v !== undefined) out[k] = v;
  return out as T;
}
