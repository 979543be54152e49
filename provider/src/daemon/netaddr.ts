/** Small address helpers for the UDP side: canonical IP text, IPv4-mapped unwrapping, "public" test. */
import * as ipaddr from "ipaddr.js";
import { memoize } from "./memo";

/** Canonical text of an IP (IPv4-mapped IPv6 → IPv4); undefined if not an IP. Remembered (memo.ts). */
export const normalizeIp: (text: string) => string | undefined = memoize(parseIp);

function parseIp(text: string): string | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (bare.includes("%")) return undefined;
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare).toString();
  if (!bare.includes(":") || !ipaddr.IPv6.isValid(bare)) return undefined;
  const v6 = ipaddr.IPv6.parse(bare);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString();
}

const NOT_PUBLIC_V4 = new Set(["unspecified", "broadcast", "multicast", "linkLocal", "loopback", "private"]);
const NOT_PUBLIC_V6 = new Set(["unspecified", "linkLocal", "multicast", "loopback", "uniqueLocal", "ipv4Mapped"]);

/** Public for peer reflection: not loopback, RFC 1918/ULA, link-local, unspecified or multicast. */
export function isPublicIp(text: string): boolean {
  const ip = normalizeIp(text);
  if (!ip) return false;
  const a = ipaddr.parse(ip);
  return a.kind() === "ipv4" ? !NOT_PUBLIC_V4.has(a.range()) : !NOT_PUBLIC_V6.has(a.range());
}
