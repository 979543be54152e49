/**
 * A parser with the semantics of Go's `flag` package (ContinueOnError), so our daemon commands accept
 * and reject exactly what the Go tool does: `-x` or `--x`, values as `=v` or the next word (bool flags
 * only `=v`), parsing stops at the first non-flag argument or `--`.
 */
export type FlagType = "string" | "bool" | "int";

export interface FlagSpec {
  type: FlagType;
  usage: string;
  default?: string | number | boolean;
}

export type FlagValues = Record<string, string | number | boolean>;

export type ParseOutcome =
  | { ok: true; values: FlagValues; rest: string[] }
  | { ok: false; help: boolean; message: string; usage: string };

/** Go's PrintDefaults output for a flag set (sorted by name). */
export function flagUsage(cmd: string, specs: Record<string, FlagSpec>): string {
  let out = `Usage of ${cmd}:\n`;
  for (const name of Object.keys(specs).sort()) {
    const s = specs[name] as FlagSpec;
    const typeName = s.type === "bool" ? "" : ` ${s.type}`;
    let line = `  -${name}${typeName}`;
    line += name.length === 1 && typeName === "" ? "\t" : "\n    \t";
    line += s.usage.replace(/\n/g, "\n    \t");
    const d = s.default;
    if (d !== undefined && d !== "" && d !== 0 && d !== false) line += ` (default ${typeof d === "string" ? JSON.stringify(d) : String(d)})`;
    out += `${line}\n`;
  }
  return out;
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

export function parseGoFlags(cmd: string, args: readonly string[], specs: Record<string, FlagSpec>): ParseOutcome {
  const values: FlagValues = {};
  for (const [k, s] of Object.entries(specs)) values[k] = s.default ?? (s.type === "bool" ? false : s.type === "int" ? 0 : "");
  const usage = flagUsage(cmd, specs);
  const fail = (message: string, help = false): ParseOutcome => ({ ok: false, help, message, usage });
  let i = 0;
  while (i < args.length) {
    const a = args[i] as string;
    if (a.length < 2 || a[0] !== "-") break;
    let numMinuses = 1;
    if (a[1] === "-") {
      numMinuses = 2;
      if (a.length === 2) {
        i++;
        break; // "--" terminates the flags
      }
    }
    let name = a.slice(numMinuses);
    if (name.length === 0 || name[0] === "-" || name[0] === "=") return fail(`bad flag syntax: ${a}`);
    i++;
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = specs[name];
    if (!spec) {
      if (name === "help" || name === "h") return fail("", true);
      return fail(`flag provided but not defined: -${name}`);
    }
    if (spec.type === "bool") {
      if (value === undefined) values[name] = true;
      else if (TRUE.has(value)) values[name] = true;
      else if (FALSE.has(value)) values[name] = false;
      else return fail(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`);
      continue;
    }
    if (value === undefined) {
      if (i >= args.length) return fail(`flag needs an argument: -${name}`);
      value = args[i] as string;
      i++;
    }
    if (spec.type === "int") {
      if (!/^[+-]?(0|[1-9][0-9]*)$/.test(value) || !Number.isSafeInteger(Number(value))) {
        return fail(`invalid value ${JSON.stringify(value)} for flag -${name}: parse error`);
      }
      values[name] = Number(value);
    } else {
      values[name] = value;
    }
  }
  return { ok: true, values, rest: args.slice(i) };
}
