/**
 * Every parameter derived from the mesh secret (protocol §1.3) and the mesh addresses (§1.4).
 * Pure: HKDF-SHA256 with an empty salt (RFC 5869 → 32 zero bytes), SHA-256, HMAC-SHA256, FNV-1a-64.
 */
import { createHash, createHmac, hkdfSync } from "node:crypto";
import * as ipaddr from "ipaddr.js";

export interface MeshParams {
  /** The parsed secret text (derivation input). */
  secret: string;
  networkId: Buffer; // 20 B
  meshId: string; // 12 hex
  gossipKey: Buffer; // 32 B
  meshSubnet: Buffer; // 2 B (S0, S1)
  meshPrefixV6: Buffer; // 8 B, first byte 0xfd
  multicastId: Buffer; // 4 B
  psk: Buffer; // 32 B
  gossipPort: number;
  rendezvousId: Buffer; // 8 B
  membershipKey: Buffer; // 32 B
  epochSeed: Buffer; // 32 B
}

function sha256(...parts: (string | Buffer)[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hkdf(secret: string, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), Buffer.from(info, "utf8"), length));
}

export function deriveParams(secret: string): MeshParams {
  const networkId = sha256(secret).subarray(0, 20);
  const portBytes = hkdf(secret, "wgmesh-gossip-port-v1", 2);
  return {
    secret,
    networkId,
    meshId: networkId.subarray(0, 6).toString("hex"),
    gossipKey: hkdf(secret, "wgmesh-gossip-v1", 32),
    meshSubnet: hkdf(secret, "wgmesh-subnet-v1", 2),
    meshPrefixV6: Buffer.concat([Buffer.from([0xfd]), hkdf(secret, "wgmesh-ipv6-prefix-v1", 7)]),
    multicastId: hkdf(secret, "wgmesh-mcast-v1", 4),
    psk: hkdf(secret, "wgmesh-wg-psk-v1", 32),
    gossipPort: 51821 + (portBytes.readUInt16BE(0) % 1000),
    rendezvousId: sha256(secret, "rv").subarray(0, 8),
    membershipKey: hkdf(secret, "wgmesh-membership-v1", 32),
    epochSeed: hkdf(secret, "wgmesh-epoch-v1", 32),
  };
}

/** Network ID as printed by `status` and logs: first 8 bytes, hex. */
export function networkIdShort(p: MeshParams): string {
  return p.networkId.subarray(0, 8).toString("hex");
}

export function defaultSubnetCidr(p: MeshParams): string {
  return `10.${p.meshSubnet[0]}.0.0/16`;
}

export function ipv6PrefixText(p: MeshParams): string {
  const b = p.meshPrefixV6;
  const g = (i: number): string => b.subarray(i, i + 2).toString("hex");
  return `${g(0)}:${g(2)}:${g(4)}:${g(6)}::/64`;
}

export function multicastGroup(p: MeshParams): string {
  return `239.192.${p.multicastId[0]}.${p.multicastId[1]}`;
}

export function pskBase64(p: MeshParams): string {
  return p.psk.toString("base64");
}

/** Hour number used by the rotating infohash (UTC Unix seconds / 3600). */
export function hourOf(unixSeconds: number): number {
  return Math.floor(unixSeconds / 3600);
}

/** Hourly DHT infohash: SHA-256(secret ‖ "||" ‖ decimal(hour))[0:20]. */
export function infohashForHour(secret: string, hour: number): Buffer {
  return sha256(secret, "||", String(hour)).subarray(0, 20);
}

/** The current and the previous hour's infohash for a given time. */
export function infohashes(secret: string, unixSeconds: number): { current: Buffer; previous: Buffer } {
  const h = hourOf(unixSeconds);
  return { current: infohashForHour(secret, h), previous: infohashForHour(secret, h - 1) };
}

/** Membership token (derived but never on the wire, §2.9). */
export function membershipToken(p: MeshParams, pubkey: Buffer, hour: number): Buffer {
  return createHmac("sha256", p.membershipKey).update(Buffer.concat([pubkey, Buffer.from(`|${hour}`, "utf8")])).digest();
}

/** FNV-1a-64 over min(a,b) ‖ 0x00 ‖ max(a,b) (string order of the base64 keys). */
export function pairSeed(a: string, b: string): bigint {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  const bytes = Buffer.concat([Buffer.from(lo, "utf8"), Buffer.from([0]), Buffer.from(hi, "utf8")]);
  let h = 0xcbf29ce484222325n;
  for (const byte of bytes) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

export function pairId(a: string, b: string): string {
  return pairSeed(a, b).toString(16).padStart(16, "0");
}

// ---------------------------------------------------------------------------------------------
// Mesh addresses (§1.4)

export interface CustomSubnet {
  /** Canonical network text, e.g. "192.168.100.0/24". */
  cidr: string;
  network: number; // uint32
  prefix: number;
}

export class SubnetError extends Error {}

/** Parse a --mesh-subnet value with the Go daemon's rules and messages. */
export function parseMeshSubnet(text: string): CustomSubnet {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    const slash = text.indexOf("/");
    const addrText = slash >= 0 ? text.slice(0, slash) : text;
    const lenText = slash >= 0 ? text.slice(slash + 1) : "";
    const isV4 = ipaddr.IPv4.isValidFourPartDecimal(addrText);
    const isV6 = !isV4 && addrText.includes(":") && ipaddr.IPv6.isValid(addrText);
    if (!(isV4 || isV6) || !/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > (isV4 ? 32 : 128)) throw new Error("bad");
    parsed = ipaddr.parseCIDR(text);
  } catch {
    throw new SubnetError(`invalid mesh subnet: invalid subnet CIDR ${JSON.stringify(text)}: invalid CIDR address: ${text}`);
  }
  const [addr, prefix] = parsed;
  if (addr.kind() !== "ipv4") throw new SubnetError(`mesh subnet must be an IPv4 CIDR, got ${JSON.stringify(text)}`);
  if (32 - prefix < 2) {
    throw new SubnetError(`mesh subnet /${prefix} is too small (need at least /30 for 2 host addresses)`);
  }
  const raw = Buffer.from((addr as ipaddr.IPv4).toByteArray()).readUInt32BE(0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (raw & mask) >>> 0;
  return { cidr: `${uint32ToIp(network)}/${prefix}`, network, prefix };
}

export function uint32ToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function hostInSubnet(hash: Buffer, subnet: CustomSubnet): string {
  const hostBits = 32 - subnet.prefix;
  const modulus = (1n << BigInt(hostBits)) - 2n;
  const host = (hash.readBigUInt64BE(0) % modulus) + 1n;
  return uint32ToIp((subnet.network + Number(host)) >>> 0);
}

/** This node's mesh IPv4 (default /16 rule, or the custom subnet rule). */
export function meshIPv4(p: MeshParams, pubkeyB64: string, subnet?: CustomSubnet): string {
  const h = sha256(pubkeyB64, p.secret);
  if (subnet) return hostInSubnet(h, subnet);
  let last = h[1] as number;
  if (last === 0) last = 1;
  if (last === 255) last = 254;
  return `10.${p.meshSubnet[0]}.${((h[0] as number) ^ (p.meshSubnet[1] as number)) & 255}.${last}`;
}

/** Collision re-derivation with a nonce (a different scheme from the normal one, as in Go). */
export function meshIPv4WithNonce(p: MeshParams, pubkeyB64: string, nonce: number, subnet?: CustomSubnet): string {
  const text = `${Buffer.byteLength(pubkeyB64)}:${pubkeyB64}|${Buffer.byteLength(p.secret)}:${p.secret}|nonce=${nonce}`;
  const k = sha256(text);
  if (subnet) return hostInSubnet(k, subnet);
  let v = k.readUInt16BE(0);
  if (v === 0) v = 1;
  if (v === 65535) v = 65534;
  return `10.${p.meshSubnet[0]}.${v >> 8}.${v & 255}`;
}

/** This node's mesh IPv6: prefix ‖ IID (§1.4), in canonical (RFC 5952) text. */
export function meshIPv6(p: MeshParams, pubkeyB64: string): string {
  const g = sha256(pubkeyB64, "|", p.secret, "|ipv6");
  const iid = Buffer.from(g.subarray(0, 8));
  iid[0] = ((iid[0] as number) | 0x02) & 0xfe;
  if (iid.every((x) => x === 0)) iid[7] = 1;
  const bytes = [...p.meshPrefixV6, ...iid];
  return ipaddr.fromByteArray(bytes).toString();
}

/** Whether a saved mesh IP may be kept (§1.4): inside 10.S0.0.0/16, or inside the custom CIDR. */
export function meshIpStillValid(p: MeshParams, ip: string, subnet?: CustomSubnet): boolean {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return false;
  const n = Buffer.from(ipaddr.IPv4.parse(ip).toByteArray()).readUInt32BE(0);
  if (subnet) {
    const mask = subnet.prefix === 0 ? 0 : (0xffffffff << (32 - subnet.prefix)) >>> 0;
    return ((n & mask) >>> 0) === subnet.network;
  }
  return n >>> 24 === 10 && ((n >>> 16) & 255) === p.meshSubnet[0];
}
