/**
 * Mesh IP allocation: explicit addresses win; a node that already has an address (from a previous run)
 * keeps it; every other node gets the lowest free host address of the network (never the network or
 * broadcast address), handed out in hostname order so the result does not depend on declaration order.
 * Pure.
 */
import { intToIpv4, ipv4Range, ipv4ToInt } from "./cidr";

/**
 * The lowest host address of `network` not in `taken` (addresses as text), or null when the network is full.
 * For /31 and /32 there is no host address apart from network/broadcast, so the answer is null.
 */
export function lowestFreeAddress(network: string, taken: Iterable<string>): string | null {
  const { first, last } = ipv4Range(network);
  const used = new Set<number>();
  for (const t of taken) {
    try { used.add(ipv4ToInt(t)); } catch { /* not an IPv4 address: cannot collide */ }
  }
  for (let n = first + 1; n < last; n++) if (!used.has(n)) return intToIpv4(n);
  return null;
}

export interface AllocationRequest {
  hostname: string;
  /** Explicit address, or null to allocate. */
  meshIp: string | null;
}

export interface AllocationResult {
  /** hostname → mesh IP for every requested node that could be given one. */
  assigned: Map<string, string>;
  /** Hostnames that got nothing because the network is full. */
  unallocated: string[];
}

/**
 * Give every node a mesh IP. `previous` (hostname → address from an earlier allocation) makes the result
 * stable: such a node keeps its address as long as it is still a host address of the network and not
 * claimed by an explicit address or by another node with the same previous address (lower hostname wins).
 * Explicit addresses are taken as given (validation has checked them).
 */
export function assignMeshIps(
  network: string,
  nodes: readonly AllocationRequest[],
  previous?: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): AllocationResult {
  const { first, last } = ipv4Range(network);
  const prev = previous instanceof Map ? previous : new Map(Object.entries(previous ?? {}));
  const used = new Set<number>();
  const assigned = new Map<string, string>();
  const pending: string[] = [];
  for (const n of nodes) {
    if (n.meshIp !== null) {
      assigned.set(n.hostname, n.meshIp);
      try { used.add(ipv4ToInt(n.meshIp)); } catch { /* validation reports it */ }
    } else {
      pending.push(n.hostname);
    }
  }
  pending.sort(compareStrings);
  const fresh: string[] = [];
  for (const hostname of pending) {
    const before = prev.get(hostname);
    let n = -1;
    if (before !== undefined) {
      try { n = ipv4ToInt(before); } catch { n = -1; }
    }
    if (n > first && n < last && !used.has(n)) {
      used.add(n);
      assigned.set(hostname, intToIpv4(n));
    } else {
      fresh.push(hostname);
    }
  }
  const unallocated: string[] = [];
  let cursor = first + 1;
  for (const hostname of fresh) {
    while (cursor < last && used.has(cursor)) cursor++;
    if (cursor >= last) {
      unallocated.push(hostname);
      continue;
    }
    used.add(cursor);
    assigned.set(hostname, intToIpv4(cursor));
  }
  return { assigned, unallocated };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
