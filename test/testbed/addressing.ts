// Pure address arithmetic for testbed segments (IPv4 only).
import * as crypto from "node:crypto";
import * as ipaddr from "ipaddr.js";

export interface Cidr {
  base: number; // network address as an unsigned 32-bit int
  len: number;
}

/** Any IPv4 CIDR (/0../32), normalised to its network address. */
export function parseAnyCidr(text: string): Cidr {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(text);
  } catch {
    throw new Error(`subnet '${text}' is not an IPv4 CIDR (e.g. 172.31.77.0/24)`);
  }
  const [addr, len] = parsed;
  if (addr.kind() !== "ipv4") throw new Error(`subnet '${text}' must be IPv4`);
  const b = (addr as ipaddr.IPv4).octets;
  const raw = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (raw & mask) >>> 0, len };
}

/** A testbed segment: IPv4, /8../28. */
export function parseCidr(text: string): Cidr {
  const c = parseAnyCidr(text);
  if (c.len < 8 || c.len > 28) throw new Error(`subnet '${text}': prefix length must be between /8 and /28`);
  return c;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function cidrText(c: Cidr): string {
  return `${intToIp(c.base)}/${c.len}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.len);
}

/** The address at offset n in the subnet (n ≥ 1, below the broadcast address). */
export function hostAddress(c: Cidr, n: number): string {
  if (n < 1 || n >= size(c) - 1) {
    throw new Error(`subnet ${cidrText(c)} has no room for host offset ${n}; use a larger subnet`);
  }
  return intToIp(c.base + n);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const aEnd = a.base + size(a) - 1;
  const bEnd = b.base + size(b) - 1;
  return a.base <= bEnd && b.base <= aEnd;
}

/** Offsets on a segment: .1 the machine, .2 the NAT router's public side, hosts from .11 on. */
export const MACHINE_OFFSET = 1;
export const ROUTER_OFFSET = 2;
export const HOST_OFFSET = 10;

/**
 * Default public segment of a testbed: a /24 of the benchmark range 198.18.0.0/15, starting at a slot
 * derived from the prefix and skipping /24s that overlap a route the machine already has.
 */
export function defaultSubnet(prefix: string, taken: Cidr[]): string {
  const start = crypto.createHash("sha256").update(prefix).digest().readUInt16BE(0) % 512;
  const range = parseCidr("198.18.0.0/15");
  for (let k = 0; k < 512; k++) {
    const slot = (start + k) % 512;
    const c: Cidr = { base: range.base + slot * 256, len: 24 };
    if (!taken.some((t) => overlaps(t, c))) return cidrText(c);
  }
  throw new Error("no free /24 left in 198.18.0.0/15 on this machine; pass --subnet");
}
