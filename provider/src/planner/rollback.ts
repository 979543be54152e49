/**
 * Rolling an interface back after a change that broke it: the WireGuard part (keys, listen port, peers)
 * is restored on the host from `wg showconf` taken before the change (`wg addconf`, online: sessions of
 * untouched peers go on); what `wg` does not hold — the interface's addresses, MTU and routes — is put back
 * by these operations, computed from the live state before and after. Pure.
 */
import { sortCidrs } from "../core/cidr";
import type { LiveState, Operation } from "./types";

function family(a: string): "4" | "6" {
  return a.includes(":") ? "6" : "4";
}

/**
 * The operations that return `after`'s addresses, MTU and routes to `before`'s (empty when they agree, or
 * when there is nothing to return to). Forwarding is left alone (the engine only ever turns it on).
 */
export function rollbackOperations(before: LiveState, after: LiveState): Operation[] {
  const b = before.interface;
  const a = after.interface;
  if (b === null || a === null) return [];
  const ops: Operation[] = [];
  const extra = a.addresses.filter((x) => !b.addresses.includes(x));
  const missing = b.addresses.filter((x) => !a.addresses.includes(x));
  const flushed = new Set(extra.map(family));
  if (extra.length > 0 || missing.length > 0) {
    const [first = b.addresses[0], ...rest] = missing;
    if (first !== undefined) ops.push({ kind: "address-set", remove: extra, add: first });
    for (const m of rest) ops.push({ kind: "address-set", remove: [], add: m });
  }
  if (b.mtu !== null && a.mtu !== b.mtu) ops.push({ kind: "mtu", mtu: b.mtu });
  const had = new Set(before.routes);
  const has = new Set(after.routes);
  for (const r of sortCidrs(after.routes)) if (!had.has(r)) ops.push({ kind: "route-del", cidr: r });
  // An address removal can flush the family's routes: re-add all of them (idempotent `ip route replace`).
  for (const r of sortCidrs(before.routes)) if (!has.has(r) || flushed.has(family(r))) ops.push({ kind: "route-add", cidr: r });
  return ops;
}
