/**
 * Per-pair preshared keys (issue 16): one WireGuard PSK per peered pair of nodes, kept in a table that is
 * stable across runs — a pair keeps its key until it stops peering or every key is rotated; a new pair gets a
 * new key. Pure except for the key source (`generatePresharedKey` by default, injectable for tests).
 *
 * Layout: `table[a][b]` for the pair {a, b} with a < b (code-unit order, as `compareHostnames`), so each pair
 * is stored once and node x finds its key for peer y in O(1): `presharedKeyOf(table, x, y)`. Cost: one
 * pass over the pairs, O(pairs) time and memory (a 500-node full mesh: 124 750 pairs).
 *
 * Each key comes with an id: 8 random hex digits made with it, unrelated to the key (not derived from it),
 * that is NOT secret — a preview can show which pairs' keys change while the keys themselves stay secrets
 * (Pulumi shows every secret as the same "[secret]", so a changed secret alone is invisible in a diff).
 */
import { randomBytes } from "node:crypto";
import { isValidKey } from "./keys";
import { compareHostnames } from "./policy";

/** One pair's preshared key and its (public) id. */
export interface PairKey {
  /** 8 hex digits, random, new with every key: shows in previews which pairs' keys change. */
  id: string;
  /** The PSK (base64, as `wg genpsk`): a secret. */
  key: string;
}

/** hostname → hostname → the pair's key, each pair once under its lower hostname. */
export type PairKeyTable = Record<string, Record<string, PairKey>>;

const ID = /^[0-9a-f]{8}$/;

/**
 * New keys with their ids, drawn from the system CSPRNG in blocks of 1 024 (one call per block instead of
 * two per key: at 124 750 pairs the calls were two thirds of the time). Same distribution as `wg genpsk`.
 */
export function pairKeySource(): () => PairKey {
  const PER = 36;
  let pool = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + PER > pool.length) {
      pool.fill(0);
      pool = randomBytes(PER * 1024);
      at = 0;
    }
    const k = { key: pool.toString("base64", at, at + 32), id: pool.toString("hex", at + 32, at + PER) };
    at += PER;
    return k;
  };
}

/** The key of the pair {x, y} in a table (undefined when the pair has none). */
export function presharedKeyOf(table: PairKeyTable | null | undefined, x: string, y: string): PairKey | undefined {
  if (!table) return undefined;
  const [a, b] = compareHostnames(x, y) < 0 ? [x, y] : [y, x];
  const row = table[a];
  return row && Object.prototype.hasOwnProperty.call(row, b) ? row[b] : undefined;
}

/** Node `x`'s keys for the peers `peers` (peer hostname → key); peers without one are left out. */
export function presharedKeysFor(table: PairKeyTable | null | undefined, x: string, peers: readonly string[]): Record<string, PairKey> {
  const out: Record<string, PairKey> = {};
  for (const y of peers) {
    const k = presharedKeyOf(table, x, y);
    if (k !== undefined) out[y] = k;
  }
  return out;
}

export interface PairKeyOptions {
  /** Every pair gets a new key (the rotation trigger changed). */
  rotateAll?: boolean;
  /** The key source (default: `pairKeySource()`, the system CSPRNG). */
  generate?: () => PairKey;
}

/** What `planPairKeys` did, for logs and tests (counts only: never a key). */
export interface PairKeyChanges {
  kept: number;
  created: number;
  removed: number;
}

/**
 * The table for the pairs given by `peersOf` (hostname → its peers; symmetric), keeping every pair's key
 * from `previous` unless `rotateAll`. Pairs absent from `peersOf` are dropped.
 */
export function planPairKeys(peersOf: Record<string, readonly string[]>, previous: PairKeyTable | null | undefined, options: PairKeyOptions = {}): { table: PairKeyTable; changes: PairKeyChanges } {
  const generate = options.generate ?? pairKeySource();
  const table: PairKeyTable = {};
  const changes: PairKeyChanges = { kept: 0, created: 0, removed: 0 };
  const hosts = Object.keys(peersOf).sort(compareHostnames);
  for (const a of hosts) {
    const row: Record<string, PairKey> = {};
    let any = false;
    for (const b of [...(peersOf[a] ?? [])].sort(compareHostnames)) {
      if (compareHostnames(a, b) >= 0) continue;
      const kept = options.rotateAll ? undefined : presharedKeyOf(previous, a, b);
      const old = kept && isValidKey(kept.key) && typeof kept.id === "string" && ID.test(kept.id) ? { id: kept.id, key: kept.key } : undefined;
      if (old !== undefined) changes.kept++;
      else changes.created++;
      row[b] = old ?? generate();
      any = true;
    }
    if (any) table[a] = row;
  }
  let before = 0;
  for (const row of Object.values(previous ?? {})) before += Object.keys(row ?? {}).length;
  changes.removed = before - changes.kept;
  return { table, changes };
}
