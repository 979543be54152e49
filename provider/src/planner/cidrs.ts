/**
 * Fast canonical sort of CIDR lists for the planner's hot paths (every peer of every node, on every plan).
 * Same result as core/cidr `sortCidrs` (canonical, de-duplicated, IPv4 before IPv6, then network address,
 * then prefix length), but IPv4 CIDRs are parsed with integer arithmetic once per element instead of
 * through ipaddr.js on every comparison. IPv6 and anything unusual go through core/cidr.
 */
import { canonicalCidr, compareCidrs } from "../core/cidr";

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

interface Keyed {
  text: string;
  /** IPv4: network as uint32 and prefix; IPv6: undefined (compared through core/cidr). */
  v4?: [number, number];
}

function keyed(cidr: string): Keyed {
  const m = V4.exec(cidr);
  if (m) {
    const o = [m[1], m[2], m[3], m[4]].map((x) => Number(x));
    const len = Number(m[5]);
    const canonicalDigits = [m[1], m[2], m[3], m[4]].every((x) => x === String(Number(x)));
    if (canonicalDigits && o.every((x) => x <= 255) && len <= 32) {
      const ip = (((o[0] as number) << 24) | ((o[1] as number) << 16) | ((o[2] as number) << 8) | (o[3] as number)) >>> 0;
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      const net = (ip & mask) >>> 0;
      const text = `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`;
      return { text, v4: [net, len] };
    }
  }
  return { text: canonicalCidr(cidr) };
}

function compareKeyed(a: Keyed, b: Keyed): number {
  if (a.v4 && b.v4) return a.v4[0] - b.v4[0] || a.v4[1] - b.v4[1];
  if (a.v4) return -1;
  if (b.v4) return 1;
  return compareCidrs(a.text, b.text);
}

/** Canonicalise, de-duplicate and sort (same order and output as core/cidr `sortCidrs`). */
export function sortCidrsFast(cidrs: Iterable<string>): string[] {
  const seen = new Map<string, Keyed>();
  for (const c of cidrs) {
    const k = keyed(c);
    if (!seen.has(k.text)) seen.set(k.text, k);
  }
  return [...seen.values()].sort(compareKeyed).map((k) => k.text);
}
