/**
 * Does a value conform to the package schema? Used by the tests to hold the provider to its schema: what
 * the adapters return, and what the engine stored (`pulumi stack export --show-secrets`), must match the
 * property types, carry every required property and no property the schema does not describe. Pure.
 */
import { SIG, SECRET_SIG, RESOURCE_SIG } from "./values";
import type { PropertySpec } from "./schema";

export interface SchemaDoc {
  types: Record<string, { properties: Record<string, PropertySpec>; required?: string[] }>;
  resources: Record<string, { properties: Record<string, PropertySpec>; required?: string[]; inputProperties: Record<string, PropertySpec>; requiredInputs?: string[] }>;
}

type Secrets = "unwrap" | "forbid";

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Decode an exported secret (`{sig, plaintext}`) or an in-process one (`{sig, value}`). */
function unwrap(v: Record<string, unknown>): unknown {
  if ("plaintext" in v) return JSON.parse(String(v.plaintext));
  return v.value;
}

function checkValue(doc: SchemaDoc, spec: PropertySpec, v: unknown, at: string, errs: string[], secrets: Secrets): void {
  if (v === null || v === undefined) return;
  if (isObj(v) && v[SIG] === SECRET_SIG) {
    if (secrets === "forbid") errs.push(`${at}: a secret where plain values are expected`);
    return checkValue(doc, spec, unwrap(v), at, errs, secrets);
  }
  if (spec.$ref?.startsWith("#/types/")) {
    const t = doc.types[spec.$ref.slice("#/types/".length)];
    if (!t) return void errs.push(`${at}: schema type ${spec.$ref} missing`);
    return checkObject(doc, t.properties, t.required ?? [], v, at, errs, secrets);
  }
  if (spec.$ref?.startsWith("#/resources/")) {
    if (!(isObj(v) && v[SIG] === RESOURCE_SIG)) errs.push(`${at}: expected a resource reference, got ${JSON.stringify(v)}`);
    return;
  }
  switch (spec.type) {
    case "string": if (typeof v !== "string") errs.push(`${at}: expected string, got ${JSON.stringify(v)}`); return;
    case "boolean": if (typeof v !== "boolean") errs.push(`${at}: expected boolean, got ${JSON.stringify(v)}`); return;
    case "integer": if (!Number.isInteger(v)) errs.push(`${at}: expected integer, got ${JSON.stringify(v)}`); return;
    case "number": if (typeof v !== "number") errs.push(`${at}: expected number, got ${JSON.stringify(v)}`); return;
    case "array":
      if (!Array.isArray(v)) return void errs.push(`${at}: expected array, got ${JSON.stringify(v)}`);
      v.forEach((x, i) => checkValue(doc, spec.items ?? {}, x, `${at}[${i}]`, errs, secrets));
      return;
    case "object":
      if (!isObj(v)) return void errs.push(`${at}: expected object, got ${JSON.stringify(v)}`);
      for (const [k, x] of Object.entries(v)) checkValue(doc, spec.additionalProperties ?? {}, x, `${at}.${k}`, errs, secrets);
      return;
  }
}

function checkObject(doc: SchemaDoc, props: Record<string, PropertySpec>, required: string[], v: unknown, at: string, errs: string[], secrets: Secrets): void {
  if (!isObj(v)) return void errs.push(`${at}: expected object, got ${JSON.stringify(v)}`);
  for (const r of required) if (v[r] === undefined || v[r] === null) errs.push(`${at}: required property ${r} missing`);
  for (const [k, x] of Object.entries(v)) {
    const spec = props[k];
    if (!spec) errs.push(`${at}: property ${k} is not in the schema`);
    else checkValue(doc, spec, x, `${at}.${k}`, errs, secrets);
  }
}

/** Violations of a resource's output properties (state outputs) against the schema; [] when it conforms. */
export function outputViolations(doc: SchemaDoc, token: string, outputs: unknown): string[] {
  const r = doc.resources[token];
  if (!r) return [`${token}: not in the schema`];
  const errs: string[] = [];
  checkObject(doc, r.properties, r.required ?? [], outputs, token, errs, "unwrap");
  return errs;
}

/** Violations of a resource's inputs (as a program passes them) against the schema's inputProperties. */
export function inputViolations(doc: SchemaDoc, token: string, inputs: unknown): string[] {
  const r = doc.resources[token];
  if (!r) return [`${token}: not in the schema`];
  const errs: string[] = [];
  checkObject(doc, r.inputProperties, r.requiredInputs ?? [], inputs, `${token} inputs`, errs, "unwrap");
  return errs;
}

/** Schema-secret output properties whose stored value is not a secret (non-null, not wrapped). */
export function unwrappedSecrets(doc: SchemaDoc, token: string, outputs: Record<string, unknown>): string[] {
  const r = doc.resources[token];
  return Object.entries(r?.properties ?? {})
    .filter(([k, p]) => p.secret === true && outputs[k] !== null && outputs[k] !== undefined && !(isObj(outputs[k]) && (outputs[k] as Record<string, unknown>)[SIG] === SECRET_SIG))
    .map(([k]) => k);
}
