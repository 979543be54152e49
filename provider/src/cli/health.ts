/**
 * How the CLI shows health (planner/health.ts NodeHealth): a one-line summary per node (deploy) and a table
 * of every node's peers (status).
 */
import type { NodeHealth, PeerHealth, PeerState } from "../planner/health";

const ORDER: PeerState[] = ["reachable", "connected", "unreachable", "stale", "never"];

/** "3 reachable, 1 unreachable" (states in a fixed order); "no peers" for none. */
export function healthSummary(h: NodeHealth): string {
  const counts = new Map<PeerState, number>();
  for (const p of Object.values(h.peers)) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
  const parts = ORDER.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`);
  return parts.length ? parts.join(", ") : "no peers";
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** 75 → "1m15s ago"; null → "never". */
export function age(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

export interface StatusRow {
  node: string;
  peer?: { name: string; health: PeerHealth };
  /** The host could not be read. */
  error?: string;
}

/** The rows of one node (one per peer, sorted by peer name; one row for a node without peers or unread). */
export function rowsOf(node: string, h: NodeHealth | null, error?: string): StatusRow[] {
  if (!h) return [{ node, error: error ?? "not read" }];
  const names = Object.keys(h.peers).sort();
  if (names.length === 0) return [{ node }];
  return names.map((name) => ({ node, peer: { name, health: h.peers[name] as PeerHealth } }));
}

/** A plain-text table (columns padded, two spaces apart). */
export function healthTable(rows: readonly StatusRow[]): string {
  const head = ["NODE", "PEER", "STATE", "HANDSHAKE", "RX", "TX", "ENDPOINT"];
  const body = rows.map((r) => {
    if (r.error !== undefined) return [r.node, "-", "unread", "-", "-", "-", r.error];
    if (!r.peer) return [r.node, "-", "no peers", "-", "-", "-", "-"];
    const p = r.peer.health;
    return [r.node, r.peer.name, p.state, age(p.latestHandshakeAgeSeconds), bytes(p.rxBytes), bytes(p.txBytes), p.endpoint ?? "-"];
  });
  const all = [head, ...body];
  // The last column (endpoint or an error text) is not padded.
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join("  ").trimEnd()).join("\n") + "\n";
}
