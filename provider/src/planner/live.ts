/**
 * Parsers for the live state of one WireGuard interface, from the text the host's own tools print:
 * `wg show <if> dump`, `ip -j addr show dev <if>`, `ip -j [-6] route show dev <if>` and
 * `/proc/sys/net/ipv4/ip_forward`. Pure: the engine runs the commands, these functions read their output.
 *
 * Secrets: the dump's first field (the interface private key) is never kept; a peer's preshared key is
 * reduced to "set or not" plus a one-way fingerprint (see `presharedKeyFingerprint`).
 */
import { createHmac, randomBytes } from "node:crypto";
import * as ipaddr from "ipaddr.js";
import { canonicalCidr } from "../core/cidr";
import { isValidKey } from "../core/keys";
import { sortCidrs } from "../core/cidr";
import type { LivePeer, LiveState } from "./types";

/** The interface line of a dump, without its private key. */
export interface LiveWgInterface {
  /** null when the interface has no private key ("(none)"). */
  publicKey: string | null;
  listenPort: number;
  /** "off" or the mark as printed. */
  fwmark: string;
}

export interface LiveWgDump {
  interface: LiveWgInterface;
  peers: LivePeer[];
}

/** Per-process salt: fingerprints compare within one run and are useless anywhere else (no offline oracle). */
const FINGERPRINT_SALT = randomBytes(32);

/**
 * One-way fingerprint of a preshared key (HMAC-SHA-256 under a per-process random salt, 16 hex digits),
 * so a PSK change can be detected without the key leaving the parser. Only comparable within one process,
 * so even a PSK derived from a weak secret cannot be guessed from a logged fingerprint.
 */
export function presharedKeyFingerprint(base64Key: string): string {
  return createHmac("sha256", FINGERPRINT_SALT).update(Buffer.from(base64Key.trim(), "base64")).digest("hex").slice(0, 16);
}

function int(field: string, what: string, line: number): number {
  if (!/^\d+$/.test(field)) throw new Error(`wg dump line ${line}: ${what} '${field}' is not a number`);
  return Number(field);
}

function key(field: string, what: string, line: number): string {
  if (!isValidKey(field)) throw new Error(`wg dump line ${line}: ${what} is not a WireGuard key`);
  return field;
}

/** Normalise an endpoint as WireGuard prints it ("1.2.3.4:51820", "[fd00::1]:51820"). Non-literals are returned unchanged. */
export function normalizeEndpoint(endpoint: string): string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(endpoint) ?? /^([^:]+):(\d+)$/.exec(endpoint);
  if (!m) return endpoint;
  const host = m[1] as string;
  const port = Number(m[2]);
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return `${ipaddr.IPv4.parse(host).toString()}:${port}`;
  if (host.includes(":") && ipaddr.IPv6.isValid(host)) return `[${ipaddr.IPv6.parse(host).toString()}]:${port}`;
  return `${host}:${port}`;
}

/** Whether an endpoint is an IP literal with port (as opposed to a DNS name). */
export function isLiteralEndpoint(endpoint: string): boolean {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(endpoint) ?? /^([^:]+):(\d+)$/.exec(endpoint);
  if (!m) return false;
  const host = m[1] as string;
  return ipaddr.IPv4.isValidFourPartDecimal(host) || (host.includes(":") && ipaddr.IPv6.isValid(host));
}

/**
 * Parse `wg show <if> dump`. Interface line: private-key, public-key, listen-port, fwmark. Peer lines:
 * public-key, preshared-key, endpoint, allowed-ips, latest-handshake, rx, tx, persistent-keepalive.
 * The private key is dropped without being validated, copied or echoed in errors.
 */
export function parseWgDump(text: string): LiveWgDump {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new Error("wg dump is empty (expected an interface line)");
  const head = (lines[0] as string).split("\t");
  if (head.length !== 4) throw new Error(`wg dump line 1: expected 4 tab-separated fields on the interface line, got ${head.length}`);
  const [, pub, port, fwmark] = head as [string, string, string, string];
  const iface: LiveWgInterface = {
    publicKey: pub === "(none)" ? null : key(pub, "interface public key", 1),
    listenPort: int(port, "listen port", 1),
    fwmark,
  };
  const peers: LivePeer[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = (lines[i] as string).split("\t");
    const n = i + 1;
    if (f.length !== 8) throw new Error(`wg dump line ${n}: expected 8 tab-separated peer fields, got ${f.length}`);
    const [pk, psk, endpoint, allowed, handshake, rx, tx, keepalive] = f as [string, string, string, string, string, string, string, string];
    const peer: LivePeer = {
      publicKey: key(pk, "peer public key", n),
      presharedKey: psk !== "(none)",
      endpoint: endpoint === "(none)" ? null : normalizeEndpoint(endpoint),
      allowedIps: allowed === "(none)" || allowed === "" ? [] : sortCidrs(allowed.split(",")),
      latestHandshake: int(handshake, "latest handshake", n),
      rxBytes: int(rx, "rx bytes", n),
      txBytes: int(tx, "tx bytes", n),
      persistentKeepalive: keepalive === "off" || keepalive === "0" ? null : int(keepalive, "persistent keepalive", n),
    };
    if (peer.presharedKey) {
      if (!isValidKey(psk)) throw new Error(`wg dump line ${n}: preshared key field is not a WireGuard key`);
      peer.presharedKeyFingerprint = presharedKeyFingerprint(psk);
    }
    peers.push(peer);
  }
  // wireguard-go lists peers in Go map order (differs between two reads): sort for a stable result.
  peers.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  return { interface: iface, peers };
}

interface IpAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
}
interface IpLink {
  ifname?: string;
  mtu?: number;
  addr_info?: IpAddrInfo[];
}
interface IpRoute {
  dst?: string;
  protocol?: string;
  type?: string;
  table?: string;
}

function parseJsonArray<T>(text: string, what: string): T[] {
  let v: unknown;
  try {
    v = JSON.parse(text.trim() === "" ? "[]" : text);
  } catch {
    throw new Error(`${what}: output is not JSON (was it run with ip -j?)`);
  }
  if (!Array.isArray(v)) throw new Error(`${what}: expected a JSON array`);
  return v as T[];
}

/**
 * Parse `ip -j addr show dev <if>`: the interface's MTU and its addresses with prefix ("10.99.0.1/16").
 * Link-scope addresses (the IPv6 link-local address the kernel gives a TUN device) are not ours and are
 * left out. Returns null when the interface is not in the output.
 */
export function parseIpAddr(json: string, ifname: string): { mtu: number | null; addresses: string[] } | null {
  const links = parseJsonArray<IpLink>(json, "ip -j addr show");
  const link = links.find((l) => l.ifname === ifname);
  if (!link) return null;
  const addresses: string[] = [];
  for (const a of link.addr_info ?? []) {
    if (a.scope === "link" || a.local === undefined || a.prefixlen === undefined) continue;
    if (a.family !== "inet" && a.family !== "inet6") continue;
    addresses.push(`${ipaddr.parse(a.local).toString()}/${a.prefixlen}`);
  }
  addresses.sort();
  return { mtu: typeof link.mtu === "number" ? link.mtu : null, addresses };
}

/**
 * Parse `ip -j route show dev <if>` (family 4) or `ip -j -6 route show dev <if>` (family 6): the CIDRs
 * routed into the interface. Kernel routes (the connected route of the interface's own address, IPv6
 * fe80::/64) are excluded; "default" becomes 0.0.0.0/0 or ::/0; a bare address becomes a host route.
 */
export function parseIpRoutes(json: string, family: 4 | 6 = 4): string[] {
  const out: string[] = [];
  for (const r of parseJsonArray<IpRoute>(json, `ip -j ${family === 6 ? "-6 " : ""}route show`)) {
    if (r.protocol === "kernel" || r.dst === undefined) continue;
    if (r.type !== undefined && r.type !== "unicast") continue;
    let dst = r.dst;
    if (dst === "default") dst = family === 6 ? "::/0" : "0.0.0.0/0";
    if (!dst.includes("/")) dst = `${dst}/${family === 6 ? 128 : 32}`;
    out.push(canonicalCidr(dst));
  }
  return sortCidrs(out);
}

/** A desired route whose exact prefix the host already routes through another device. */
export interface RouteConflict {
  cidr: string;
  dev: string;
}

/**
 * Conflicts between desired routes and the host's main table (`ip -j -4 route show table main`, and the
 * `-6` one): the same exact prefix through another device. Applying the plan would take that route over
 * (`ip route replace`, online and at boot alike), e.g. hijack a LAN; the caller should refuse and name it.
 */
export function findRouteConflicts(desiredRoutes: string[], ifname: string, ...mainTableJsons: string[]): RouteConflict[] {
  const wanted = new Set(sortCidrs(desiredRoutes));
  const out: RouteConflict[] = [];
  for (const json of mainTableJsons) {
    for (const r of parseJsonArray<IpRoute & { dev?: string }>(json, "ip -j route show table main")) {
      if (r.dst === undefined || r.dst === "default" || r.dev === undefined || r.dev === ifname) continue;
      if (r.type !== undefined && r.type !== "unicast") continue;
      const dst = canonicalCidr(r.dst.includes("/") ? r.dst : `${r.dst}/${r.dst.includes(":") ? 128 : 32}`);
      if (wanted.has(dst)) out.push({ cidr: dst, dev: r.dev });
    }
  }
  return out;
}

/** Parse the content of /proc/sys/net/ipv4/ip_forward (or `sysctl -n net.ipv4.ip_forward`). */
export function parseIpForward(text: string): boolean {
  const t = text.trim();
  if (t !== "0" && t !== "1") throw new Error(`ip_forward: expected 0 or 1, got '${t.slice(0, 20)}'`);
  return t === "1";
}

/** The raw outputs the engine collects on a host for one interface. */
export interface LiveInputs {
  ifname: string;
  /** `wg show <if> dump`; null or "" when the interface does not exist. */
  wgDump: string | null;
  /** `ip -j addr show dev <if>` ("" or "[]" when missing). */
  ipAddr: string;
  /** `ip -j route show dev <if>` (IPv4). */
  ipRoute: string;
  /** `ip -j -6 route show dev <if>`, when IPv6 routes matter. */
  ipRoute6?: string;
  /** Content of /proc/sys/net/ipv4/ip_forward. */
  ipForward: string;
}

/** Assemble a `LiveState` from the raw outputs. A missing interface gives `interface: null` and no peers/routes. */
export function parseLiveState(inputs: LiveInputs): LiveState {
  const forwarding = parseIpForward(inputs.ipForward);
  const addr = parseIpAddr(inputs.ipAddr, inputs.ifname);
  if (inputs.wgDump === null || inputs.wgDump.trim() === "" || addr === null) {
    return { interface: null, peers: [], routes: [], forwarding };
  }
  const dump = parseWgDump(inputs.wgDump);
  const routes = sortCidrs([...parseIpRoutes(inputs.ipRoute, 4), ...(inputs.ipRoute6 === undefined ? [] : parseIpRoutes(inputs.ipRoute6, 6))]);
  return {
    interface: {
      name: inputs.ifname,
      publicKey: dump.interface.publicKey,
      listenPort: dump.interface.listenPort,
      addresses: addr.addresses,
      mtu: addr.mtu,
    },
    peers: dump.peers,
    routes,
    forwarding,
  };
}
