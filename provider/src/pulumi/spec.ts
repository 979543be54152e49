/**
 * A dynamic resource's inputs registered as ONE object property (issue 12): Pulumi's Node.js SDK pays per
 * top-level property of a resource — an Output with its resolvers and promises, a serialization pass, a
 * property-dependencies entry — ≈ 0.5 ms each on this machine, whatever the value's size (a trivial
 * resource with 19 top-level properties previews ×1.4 the CPU of one with 1; the same 19 values nested in
 * one property ×1.08). So the resource classes (./resources.ts) register the inputs nobody reads back as
 * outputs in one object under SPEC_KEY, and the provider's check (./dynamic.ts) puts them back at the top
 * level: the checked inputs — what the state records, what `preview --diff` compares and what the
 * lifecycles see — are exactly the flat inputs of before, so existing stacks preview no change.
 *
 * Secrets: a provider that does not take secrets (a dynamic provider) gets them as plain values, and the
 * engine marks a checked input secret only where the program's input under the same NAME was secret. A
 * value moved from inside SPEC_KEY to the top level would lose that mark, so the program side lists the
 * names of the secret values in the object under SECRET_MARK, and check returns those values as secrets
 * (the engine keeps the secrets a check returns).
 */
export const SPEC_KEY = "__spec";
/** Inside the SPEC_KEY object: the names of its secret values (absent: none). */
export const SECRET_MARK = "__secret";

type Props = Record<string, unknown>;

export interface Unpacked {
  /** The inputs with the SPEC_KEY object's values at the top level. */
  props: Props;
  /** The unpacked keys whose values were secrets (to be returned as secrets). */
  secretKeys: string[];
}

/**
 * `props` with its SPEC_KEY object unpacked. A key also at the top level keeps its top-level value: that is
 * where the engine writes the old value of an input named in `ignoreChanges` (it knows the flat names of the
 * state). `unknown` is the wire's unknown value: a wholly unknown object (not written by our resource
 * classes, which keep it known) leaves its keys out — the lifecycles then see them absent.
 */
export function unpackSpec(props: Props, unknown: string): Unpacked {
  if (!Object.prototype.hasOwnProperty.call(props, SPEC_KEY)) return { props, secretKeys: [] };
  const { [SPEC_KEY]: spec, ...rest } = props;
  if (spec === null || spec === undefined || spec === unknown || typeof spec !== "object" || Array.isArray(spec)) return { props: rest, secretKeys: [] };
  const { [SECRET_MARK]: secret, ...packed } = spec as Props;
  const fields: Props = {};
  for (const [k, v] of Object.entries(packed)) if (!Object.prototype.hasOwnProperty.call(rest, k)) fields[k] = v;
  // A mark that is not a list of names (not written by our resource classes): every value taken as secret.
  const secretKeys = Array.isArray(secret) ? secret.filter((k): k is string => typeof k === "string" && Object.prototype.hasOwnProperty.call(fields, k)) : secret !== undefined ? Object.keys(fields) : [];
  return { props: { ...rest, ...fields }, secretKeys };
}
