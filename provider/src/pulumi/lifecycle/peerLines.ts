/**
 * A NodeConfig's `peers` as Pulumi carries it: ONE string, one line per peer, sorted by hostname —
 *
 *   app2 key=q1c…= allowedIps=10.99.0.2/32,192.168.20.0/24 endpoint=172.31.1.12:51820 keepalive=25
 *
 * (`endpoint` absent when the peer is behind NAT and dials in; `keepalive` absent when off).
 *
 * Why one string (issue 12): Pulumi's cost of an input is per property value — the program serializes each
 * one through its own promise, the engine diffs and checkpoints each — so a map of peer objects (five values
 * per peer: the object, key, endpoint, keepalive, a list and its elements) made a full mesh's N·(N−1) peer
 * entries the largest cost of a preview, growing to ×2.3 of the whole trivial-resource floor at 200 nodes.
 * One string per node costs Pulumi one value. The preview stays exact per peer: Pulumi shows a change of a
 * multi-line string as a line diff (3 lines of context), so `pulumi preview --diff` prints `- app3 …` /
 * `+ app3 …` for exactly the peers that change, like a diff of a WireGuard config.
 *
 * A value not known in a preview (a new node's key, an endpoint computed from another resource) is written
 * `(unknown)`; decoding turns it back into the engine's unknown marker, so the lifecycle sees exactly that
 * field unknown, as with the object shape. The object shape (`Record<hostname, PeerInputs>`, the shape
 * before issue 12's compact input) is still accepted everywhere: old states diff against new inputs by
 * value, so an upgrade changes nothing on the hosts.
 */
import { UNKNOWN } from "./types";

export interface PeerInputs {
  publicKey: string;
  /** "host:port"; absent when the peer is behind NAT (it dials in). */
  endpoint?: string | null;
  allowedIps: string[];
  persistentKeepalive?: number | null;
}

/** How a value not known yet is written in a peer line. */
export const UNKNOWN_FIELD = "(unknown)";

const TOKEN = /^[^\s=]+$/;

function field(v: unknown): string {
  return v === UNKNOWN ? UNKNOWN_FIELD : String(v);
}

/** One peer's line (no newline). Throws on a value that would not read back (whitespace, "," in a CIDR). */
export function peerLine(hostname: string, p: PeerInputs): string {
  if (!TOKEN.test(hostname)) throw new Error(`peer ${JSON.stringify(hostname)}: a hostname in peers cannot contain spaces or "="`);
  const bad = (what: string, v: unknown, extra = false) => {
    const t = field(v);
    if (!/^\S+$/.test(t) || (extra && t.includes(","))) throw new Error(`peer ${JSON.stringify(hostname)}: its ${what} ${JSON.stringify(t)} cannot be written in a peer line (empty, whitespace${extra ? " or a comma" : ""})`);
    return t;
  };
  const ips = (p.allowedIps as unknown) === UNKNOWN ? UNKNOWN_FIELD : p.allowedIps.map((ip) => bad("allowedIps entry", ip, true)).join(",");
  let line = `${hostname} key=${bad("key", p.publicKey)} allowedIps=${ips}`;
  if (p.endpoint !== undefined && p.endpoint !== null) line += ` endpoint=${bad("endpoint", p.endpoint)}`;
  if (p.persistentKeepalive !== undefined && p.persistentKeepalive !== null) line += ` keepalive=${bad("keepalive", p.persistentKeepalive)}`;
  return line;
}

/** The `peers` text of a node: its peers' lines sorted by hostname, each ending in a newline ("" for none). */
export function formatPeerLines(peers: Readonly<Record<string, PeerInputs>>): string {
  const names = Object.keys(peers).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = "";
  for (const h of names) out += peerLine(h, peers[h] as PeerInputs) + "\n";
  return out;
}

export type DecodedPeers = { ok: true; peers: Record<string, PeerInputs> } | { ok: false; errors: string[] };

function value(v: string): string {
  return v === UNKNOWN_FIELD ? UNKNOWN : v;
}

/** The fields a peer line may carry after its hostname. */
const FIELDS: ReadonlySet<string> = new Set(["key", "allowedIps", "endpoint", "keepalive"]);

/**
 * Read a `peers` text back (the inverse of `formatPeerLines`). Errors name the line and what is wrong;
 * validating the values themselves (keys, CIDRs, endpoints) is the engine's, as for the object shape.
 */
export function parsePeerLines(text: string): DecodedPeers {
  const peers: Record<string, PeerInputs> = {};
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    // Where a line is named in an error (written only for a line that has one: a node has a line per peer).
    const fail = (why: string) => void errors.push(`line ${i + 1} (${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}): ${why}`);
    const [hostname, ...rest] = line.trim().split(/\s+/);
    if (!hostname || hostname.includes("=")) return fail("it must start with the peer's hostname");
    if (Object.prototype.hasOwnProperty.call(peers, hostname)) return fail(`peer ${JSON.stringify(hostname)} appears twice`);
    const kv = new Map<string, string>();
    for (const t of rest) {
      const eq = t.indexOf("=");
      const k = eq > 0 ? t.slice(0, eq) : "";
      if (!FIELDS.has(k)) return fail(`${JSON.stringify(t)} is not one of key=, allowedIps=, endpoint=, keepalive=`);
      if (kv.has(k)) return fail(`${k}= appears twice`);
      kv.set(k, t.slice(eq + 1));
    }
    const key = kv.get("key");
    const ips = kv.get("allowedIps");
    if (!key) return fail("key= (the peer's public key) is missing");
    if (ips === undefined) return fail("allowedIps= is missing (comma-separated CIDRs)");
    const p: PeerInputs = { publicKey: value(key), allowedIps: ips === UNKNOWN_FIELD ? (UNKNOWN as unknown as string[]) : ips === "" ? [] : ips.split(",").map(value) };
    const ep = kv.get("endpoint");
    if (ep !== undefined) p.endpoint = value(ep);
    const ka = kv.get("keepalive");
    if (ka !== undefined) {
      if (ka === UNKNOWN_FIELD) p.persistentKeepalive = UNKNOWN as unknown as number;
      else if (/^\d{1,5}$/.test(ka) && Number(ka) <= 65535) p.persistentKeepalive = Number(ka);
      else return fail(`keepalive=${ka} is not a number of seconds (0–65535)`);
    }
    peers[hostname] = p;
  });
  return errors.length ? { ok: false, errors } : { ok: true, peers };
}

/** Either shape of a `peers` input as the object map (the text decoded), or the decoding's errors. */
export function decodePeers(v: unknown): DecodedPeers {
  if (typeof v === "string") return v === UNKNOWN ? { ok: true, peers: UNKNOWN as never } : parsePeerLines(v);
  if (v === undefined || v === null) return { ok: true, peers: {} };
  if (typeof v === "object") return { ok: true, peers: v as Record<string, PeerInputs> };
  return { ok: false, errors: [`peers must be a text of peer lines, not ${typeof v}`] };
}
