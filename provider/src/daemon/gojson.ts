/**
 * JSON text as Go's encoding/json writes it, so that what we seal is byte-identical to what a Go node
 * would seal: struct field order is given by the caller, strings are HTML-escaped (<, >, & → \u003c…),
 * U+2028/U+2029 are escaped and lone surrogates become U+FFFD (Go replaces invalid UTF-8).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Characters for which Go's encoding differs from JSON.stringify's (HTML, line/paragraph separators, surrogates). */
const GO_SPECIAL = /[<>&\u2028\u2029\ud800-\udfff]/;

export function goString(s: string): string {
  if (!GO_SPECIAL.test(s)) return JSON.stringify(s); // the common case (keys, addresses, base64): one pass
  return JSON.stringify(s.replace(LONE_SURROGATE, "\ufffd"))
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function goStringArray(a: readonly string[]): string {
  return `[${a.map(goString).join(",")}]`;
}

/** An integer as Go writes int64 (callers pass safe integers). */
export function goInt(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`);
  return String(n);
}

/** Object from already-encoded members, in the given order. */
export function goObject(members: readonly (readonly [string, string])[]): string {
  return `{${members.map(([k, v]) => `${goString(k)}:${v}`).join(",")}}`;
}

/**
 * Go's json.Encoder with SetIndent("", "  ") for a flat object of encoded scalar members
 * (used by `status --json`): one member per line, two-space indent, trailing newline.
 */
export function goIndentedFlatObject(members: readonly (readonly [string, string])[]): string {
  if (members.length === 0) return "{}\n";
  return `{\n${members.map(([k, v]) => `  ${goString(k)}: ${v}`).join(",\n")}\n}\n`;
}

/** Any decoded JSON value re-encoded as Go re-marshals an interface{} (object keys sorted). */
export function goJsonValue(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return goString(v);
  if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : "null";
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(goJsonValue).join(",")}]`;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    return goObject(Object.keys(o).sort().map((k) => [k, goJsonValue(o[k])]));
  }
  return "null";
}
