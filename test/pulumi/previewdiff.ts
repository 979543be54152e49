/**
 * Reading `pulumi preview` output for the comparison of previews across languages: each NodeConfig's change
 * (from `--json`) and its `--diff` text, with public keys replaced by their node's name (each stack has its
 * own keys) and the engine's unknown sentinel as "<unknown>".
 */
import { parsePeerLines } from "../../provider/src/pulumi/lifecycle/peerLines";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** The NodeConfig inputs a reviewer reads (the plan); secrets and bookkeeping left out. */
const COMPARED = ["address", "listenPort", "mtu", "publicKey", "peers", "routes", "forwarding"] as const;

/** One NodeConfig's change, comparable across languages: keys by node name, unknowns marked. */
export type Change = { op: string; before?: Record<string, unknown>; after: Record<string, unknown> };

function normalize(v: unknown, names: Map<string, string>): unknown {
  if (v === UNKNOWN) return "<unknown>";
  if (typeof v === "string") return names.has(v) ? `<key of ${names.get(v)}>` : v;
  if (Array.isArray(v)) return v.map((x) => normalize(x, names));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, normalize(x, names)]));
  return v;
}

/** A NodeConfig's `peers` (the text of peer lines, issue 12) as the object map, so changes compare per peer. */
function peersOf(v: unknown): unknown {
  if (typeof v !== "string" || v === UNKNOWN) return v;
  const d = parsePeerLines(v);
  if (!d.ok) throw new Error(`peers do not read: ${d.errors.join("; ")}`);
  return d.peers;
}

function pick(inputs: Record<string, unknown> | undefined, names: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of COMPARED) if (inputs?.[k] !== undefined && inputs[k] !== null) out[k] = normalize(k === "peers" ? peersOf(inputs[k]) : inputs[k], names);
  return out;
}

/**
 * "config <host>" for a NodeConfig's URN (named `<mesh resource>-<host>`: "demo-…" in the TypeScript, Python
 * and Go examples, "mesh-…" in YAML's), else null.
 */
export function nodeConfigName(urn: string): string | null {
  const m = /::(?:demo|mesh)-([a-z0-9]+-h\d+)$/.exec(urn);
  return m && /NodeConfig|dynamic:Resource/.test(urn) ? `config ${m[1]}` : null;
}

/** NodeConfig ("config <host>") → its change, from `pulumi preview --json`. */
export function nodeConfigChanges(json: string, names: Map<string, string>): Record<string, Change> {
  const doc = JSON.parse(json) as { steps: Array<{ op: string; urn: string; oldState?: { inputs?: Record<string, unknown> }; newState?: { inputs?: Record<string, unknown> } }> };
  const out: Record<string, Change> = {};
  for (const s of doc.steps) {
    const name = nodeConfigName(s.urn);
    if (name === null || s.op === "same") continue;
    out[name] = { op: s.op, ...(s.op === "create" ? {} : { before: pick(s.oldState?.inputs, names) }), after: pick(s.newState?.inputs, names) };
  }
  return out;
}

/**
 * The `--diff` text of each NodeConfig ("config <host>"): its property lines, keys by node name. A resource's
 * block starts at its "<op> <type>: (<op>)" line, then [id=…]/[urn=…]/[provider=…] (dropped here).
 */
export function nodeConfigDiffs(text: string, names: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  const header = /^( *)[-+~ ] \S+: \(/;
  for (let i = 0; i < lines.length; i++) {
    const h = header.exec(lines[i] as string);
    if (!h) continue;
    // A child's block is indented under its parent's: take the lines indented deeper than the header.
    const indent = (h[1] as string).length;
    let j = i + 1;
    while (j < lines.length && !header.test(lines[j] as string) && (lines[j] as string).startsWith(" ".repeat(indent + 2))) j++;
    const block = lines.slice(i + 1, j);
    const urn = block.map((l) => /\[urn=([^\]]+)\]/.exec(l)?.[1]).find((u) => u !== undefined);
    const name = urn ? nodeConfigName(urn) : null;
    if (name === null) continue;
    // Two display details of a created NodeConfig are no plan content: an optional input passed as null
    // ("<null>", the plugin's composition) is absent in TypeScript, and a new node's private key shows as
    // [unknown] or [secret] depending on whether its secretness is known yet.
    let t = block
      .filter((l) => !/^\s*\[(urn|id|provider)=/.test(l) && !/^\s*[+]?\s*\w+\s*: <null>$/.test(l) && !/^\s*privateKey\s*: \[(unknown|secret)\]$/.test(l))
      .map((l) => l.slice(indent).replace(/ +$/, ""))
      .join("\n");
    for (const [k, host] of names) t = t.split(k).join(`<key of ${host}>`);
    out[name] = t;
  }
  return out;
}


/** The "Diagnostics:" section of `pulumi up` output: "<type> (<name>)" → its message lines. */
export function diagnosticsByResource(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const at = stdout.indexOf("\nDiagnostics:\n");
  if (at < 0) return out;
  let current: string[] | null = null;
  for (const line of stdout.slice(at + "\nDiagnostics:\n".length).split("\n")) {
    const head = /^ {2}(\S+ \(.+\)):$/.exec(line);
    if (head) out.set(head[1] as string, (current = []));
    else if (/^ {4}\S/.test(line) && current) current.push(line.trim());
    else if (/^\S/.test(line)) break;
  }
  return out;
}
