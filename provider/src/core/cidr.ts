/**
 * CIDR and address helpers over ipaddr.js (parsing, canonical form, containment, overlap, order).
 * Pure; IPv4 and IPv6.
 */
import * as ipaddr from "ipaddr.js";

export type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Parse "a.b.c.d/n" (or an IPv6 CIDR); throws on anything else. Host bits may be set. */
export function parseCidr(text: string): [Address, number] {
  if (typeof text !== "string" || !text.includes("/")) throw new Error(`'${text}' is not a CIDR (expected address/prefix)`);
  try {
    return ipaddr.parseCIDR(text);
  } catch {
    throw new Error(`'${text}' is not a valid CIDR`);
  }
}

/** Strict IPv4/IPv6 address parse (no shorthand forms like "10.1"). */
export function parseAddress(text: string): Address {
  if (typeof text !== "string") throw new Error(`'${String(text)}' is not an IP address`);
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(":") && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  throw new Error(`'${text}' is not a valid IP address`);
}

/** Canonical text of a CIDR with host bits cleared: "10.1.2.3/16" → "10.1.0.0/16". */
export function canonicalCidr(text: string): string {
  const [addr, len] = parseCidr(text);
  const network = addr.kind() === "ipv4"
    ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${len}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${len}`);
  return `${network.toString()}/${len}`;
}

/** True when the CIDR text has no host bits set. */
export function isNetworkCidr(text: string): boolean {
  const [addr, len] = parseCidr(text);
  return canonicalCidr(text) === `${addr.toString()}/${len}`;
}

function bytesOf(a: Address): number[] {
  return a.kind() === "ipv4" ? (a as ipaddr.IPv4).toByteArray() : (a as ipaddr.IPv6).toByteArray();
}

/** Compare two CIDRs: IPv4 before IPv6, then by network address bytes, then by prefix length. */
export function compareCidrs(x: string, y: string): number {
  const [ax, lx] = parseCidr(x);
  const [ay, ly] = parseCidr(y);
  const bx = bytesOf(ax);
  const by = bytesOf(ay);
  if (bx.length !== by.length) return bx.length - by.length;
  for (let i = 0; i < bx.length; i++) if (bx[i] !== by[i]) return (bx[i] as number) - (by[i] as number);
  return lx - ly;
}

/** Reference sort (ipaddr.js on every comparison); `sortCidrs` must agree with it. */
export function sortCidrsReference(cidrs: Iterable<string>): string[] {
  return [...new Set([...cidrs].map(canonicalCidr))].sort(compareCidrs);
}

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

/**
 * Canonicalise, de-duplicate and sort CIDRs: IPv4 before IPv6, then network address, then prefix length.
 * Hot path of the planner (every peer of every node): IPv4 CIDRs are parsed once per element with integer
 * arithmetic; IPv6 and unusual spellings go through ipaddr.js (`canonicalCidr`/`compareCidrs`).
 */
export function sortCidrs(cidrs: Iterable<string>): string[] {
  const seen = new Map<string, Keyed>();
  for (const c of cidrs) {
    const k = keyed(c);
    if (!seen.has(k.text)) seen.set(k.text, k);
  }
  return [...seen.values()].sort(compareKeyed).map((k) => k.text);
}

/** Whether CIDR `inner` lies entirely within CIDR `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const [ao, lo] = parseCidr(outer);
  const [ai, li] = parseCidr(inner);
  if (ao.kind() !== ai.kind() || li < lo) return false;
  return ai.match(ao, lo);
}

/** Whether two CIDRs share any address. */
export function cidrsOverlap(a: string, b: string): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** Whether address `ip` lies within CIDR `cidr`. */
export function cidrHasAddress(cidr: string, ip: string): boolean {
  const [net, len] = parseCidr(cidr);
  const a = parseAddress(ip);
  return a.kind() === net.kind() && a.match(net, len);
}

/** IPv4 dotted quad → unsigned 32-bit integer; throws on anything else. */
export function ipv4ToInt(text: string): number {
  if (typeof text !== "string" || !ipaddr.IPv4.isValidFourPartDecimal(text)) throw new Error(`'${String(text)}' is not a valid IPv4 address`);
  const b = ipaddr.IPv4.parse(text).octets;
  return (((b[0] as number) << 24) >>> 0) + ((b[1] as number) << 16) + ((b[2] as number) << 8) + (b[3] as number);
}

/** Unsigned 32-bit integer → IPv4 dotted quad. */
export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** An IPv4 CIDR as an inclusive integer range: network address, broadcast address, prefix length. */
export interface Ipv4Range { first: number; last: number; prefix: number }

/** Integer range of an IPv4 CIDR (host bits ignored); throws for non-IPv4 or malformed CIDRs. */
export function ipv4Range(cidr: string): Ipv4Range {
  const [addr, prefix] = parseCidr(cidr);
  if (addr.kind() !== "ipv4") throw new Error(`'${cidr}' is not an IPv4 CIDR`);
  const size = 2 ** (32 - prefix);
  const first = Math.floor(ipv4ToInt(addr.toString()) / size) * size;
  return { first, last: first + size - 1, prefix };
}

/** Any CIDR (IPv4 or IPv6) as an inclusive bigint range over one address space, plus its family. */
export function cidrRange(cidr: string): { family: 4 | 6; first: bigint; last: bigint } {
  const [addr, prefix] = parseCidr(cidr);
  const bytes = bytesOf(addr);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  const bits = BigInt(bytes.length * 8);
  const hostBits = bits - BigInt(prefix);
  const first = (value >> hostBits) << hostBits;
  return { family: bytes.length === 4 ? 4 : 6, first, last: first + (1n << hostBits) - 1n };
}
