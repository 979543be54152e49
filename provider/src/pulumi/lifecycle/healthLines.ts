/**
 * A NodeConfig's `health` output as Pulumi carries it: `{ mode, checkedAt, peers }` where `peers` is ONE
 * string, one line per peer, sorted by hostname —
 *
 *   app2 key=q1c…= state=connected handshake=12s rx=10424 tx=9880 endpoint=172.31.1.12:51820
 *   db1 key=Zx0…= state=unreachable handshake=never rx=0 tx=148 endpoint=none waited=15s
 *
 * Why text (issue 12, like the `peers` input in peerLines.ts): in a converged full mesh the per-peer health
 * objects were the state's largest part by value count — seven values per peer entry, ≈ 69,000 at 100 nodes
 * against 200 for the peers texts — and Pulumi pays per value: every `preview` reads them from the state,
 * sends them to the provider with each Diff and back to the program with each registration. One string per
 * node costs one value and carries the same per-peer facts (issue 14: state, latest handshake age, rx/tx
 * bytes, the endpoint seen, the gate's wait). `parseHealthLines` turns it back into objects; the CLI
 * (`wgmesh deploy --json`, `wgmesh status`) keeps the object form.
 */
import type { HealthMode, NodeHealth, PeerHealth, PeerState } from "../../planner/health";
import { UNKNOWN } from "./types";

/** The health output of a NodeConfig: per-peer facts as lines (see above). */
export interface NodeHealthLines {
  mode: HealthMode;
  /** When the host was read (its own clock), ISO 8601. */
  checkedAt: string;
  /** One line per peer, hostname order, each ending in a newline. */
  peers: string;
}

const STATES: ReadonlySet<string> = new Set<PeerState>(["reachable", "unreachable", "connected", "stale", "never"]);

function token(what: string, hostname: string, v: string): string {
  if (!/^\S+$/.test(v)) throw new Error(`peer ${JSON.stringify(hostname)}: its ${what} ${JSON.stringify(v)} cannot be written in a health line`);
  return v;
}

/** One peer's health line (no newline). */
export function healthLine(hostname: string, h: PeerHealth): string {
  let line = `${token("hostname", hostname, hostname)} key=${token("key", hostname, h.publicKey)} state=${h.state}`;
  line += ` handshake=${h.latestHandshakeAgeSeconds === null ? "never" : `${h.latestHandshakeAgeSeconds}s`}`;
  line += ` rx=${h.rxBytes} tx=${h.txBytes} endpoint=${h.endpoint === null ? "none" : token("endpoint", hostname, h.endpoint)}`;
  if (h.waitedSeconds !== undefined) line += ` waited=${h.waitedSeconds}s`;
  return line;
}

/** A node's health with its peers as lines; an unknown (preview) or absent health stays as it is. */
export function healthLines<T extends NodeHealth | null | undefined>(h: T): NodeHealthLines | T {
  if (h === null || h === undefined || (h as unknown) === UNKNOWN || typeof h.peers === "string") return h;
  const names = Object.keys(h.peers).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let peers = "";
  for (const n of names) peers += healthLine(n, h.peers[n] as PeerHealth) + "\n";
  return { mode: h.mode, checkedAt: h.checkedAt, peers };
}

const seconds = (v: string | undefined): number | null => (v !== undefined && /^\d+(\.\d+)?s$/.test(v) ? Number(v.slice(0, -1)) : null);
const count = (v: string | undefined): number | null => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);

/**
 * The per-peer health of a `health.peers` text, by hostname (the objects `wgmesh deploy --json` prints).
 * Throws naming the line that does not read.
 */
export function parseHealthLines(text: string): Record<string, PeerHealth> {
  const out: Record<string, PeerHealth> = {};
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const [hostname, ...rest] = line.split(/\s+/);
    const kv = new Map(rest.map((t) => [t.slice(0, t.indexOf("=")), t.slice(t.indexOf("=") + 1)]));
    const bad = (why: string) => new Error(`health line ${i + 1} (${JSON.stringify(line)}): ${why}`);
    const key = kv.get("key");
    const state = kv.get("state");
    const hs = kv.get("handshake");
    const rx = count(kv.get("rx"));
    const tx = count(kv.get("tx"));
    const ep = kv.get("endpoint");
    if (!hostname || !key) throw bad("no hostname and key");
    if (state === undefined || !STATES.has(state)) throw bad(`state must be one of ${[...STATES].join(", ")}`);
    const age = hs === "never" ? null : seconds(hs);
    if (hs === undefined || (hs !== "never" && age === null)) throw bad('handshake must be "<seconds>s" or "never"');
    if (rx === null || tx === null) throw bad("rx and tx must be byte counts");
    if (ep === undefined) throw bad('endpoint must be "host:port" or "none"');
    const h: PeerHealth = { publicKey: key, state: state as PeerState, latestHandshakeAgeSeconds: age, rxBytes: rx, txBytes: tx, endpoint: ep === "none" ? null : ep };
    const waited = kv.get("waited");
    if (waited !== undefined) {
      const w = seconds(waited);
      if (w === null) throw bad('waited must be "<seconds>s"');
      h.waitedSeconds = w;
    }
    out[hostname] = h;
  });
  return out;
}
