/**
 * Payloads of the exchange protocol (§2.5): encoding in Go struct order with Go's omitempty rules, and
 * decoding with validation. Validation is the §2.5 set, applied on every path (Go applies it only on the
 * LAN and test-peer paths), plus stricter rules that keep bad data out of WireGuard and routes:
 *  - mesh_ip must be IPv4, mesh_ipv6 (if present) IPv6;
 *  - endpoint hosts must be IP literals (Go would hand a hostname to `wg set`);
 *  - routable_networks may not contain a default route (/0), the weakness-1 hijack;
 *  - nat_type is one of "", cone, symmetric, unknown; pair ids are 16 hex digits.
 * JSON null is treated as "absent", like Go's decoder. Member names are matched exactly (Go also
 * matches case-insensitively; Go never sends other spellings).
 */
import * as ipaddr from "ipaddr.js";
import { decodeStdBase64, maxPlaintextFor, PROTOCOL_VERSION, SEND_DATAGRAM_BYTES } from "./envelope";
import { goInt, goObject, goString, goStringArray } from "./gojson";
import { canonical } from "./memo";

export interface KnownPeer {
  wg_pubkey: string;
  hostname?: string;
  mesh_ip: string;
  mesh_ipv6?: string;
  wg_endpoint: string;
  introducer?: boolean;
  nat_type?: string;
}

export interface PeerAnnouncement {
  protocol: string;
  wg_pubkey: string;
  hostname?: string;
  mesh_ip: string;
  mesh_ipv6?: string;
  wg_endpoint: string;
  introducer?: boolean;
  routable_networks?: string[];
  timestamp: number;
  known_peers?: KnownPeer[];
  observed_endpoint?: string;
  nat_type?: string;
}

export interface Goodbye {
  protocol: string;
  timestamp: number;
  wg_pubkey: string;
}

export interface RendezvousOffer {
  protocol: string;
  timestamp: number;
  from_pubkey: string;
  target_pubkey: string;
  pair_id: string;
  candidates?: string[];
  observed_addr?: string;
  introducer_key?: string;
}

export interface RendezvousStart {
  protocol: string;
  timestamp: number;
  pair_id: string;
  peer_pubkey: string;
  peer_candidates?: string[];
  start_at_unix_ms: number;
  introducer_key?: string;
}

export const LIMITS = {
  hostnameBytes: 253,
  routableNetworks: 100,
  knownPeers: 1000,
  candidates: 64,
  /**
   * Our own sends: known_peers are cut so the payload stays within this many bytes, which keeps the sealed
   * datagram (base64 adds a third) within 8 IPv4 fragments (SEND_DATAGRAM_BYTES; weakness 12):
   * 8,805 bytes, ≈ 40 known peers.
   */
  sendBudgetBytes: maxPlaintextFor(SEND_DATAGRAM_BYTES),
};

// ----------------------------------------------------------------------------------------------
// Encoding (Go field order, omitempty)

type Members = [string, string][];

function optStr(m: Members, k: string, v: string | undefined): void {
  if (v) m.push([k, goString(v)]);
}

export function encodeKnownPeerMembers(p: KnownPeer): Members {
  const m: Members = [["wg_pubkey", goString(p.wg_pubkey)]];
  optStr(m, "hostname", p.hostname);
  m.push(["mesh_ip", goString(p.mesh_ip)]);
  optStr(m, "mesh_ipv6", p.mesh_ipv6);
  m.push(["wg_endpoint", goString(p.wg_endpoint)]);
  if (p.introducer) m.push(["introducer", "true"]);
  optStr(m, "nat_type", p.nat_type);
  return m;
}

/** One known peer as Go encodes it (an element of `known_peers`). */
export function encodeKnownPeer(p: KnownPeer): string {
  return goObject(encodeKnownPeerMembers(p));
}

/**
 * The announcement as Go encodes it. `encodedKnown`, when given, are the already-encoded `known_peers`
 * elements (see `encodeKnownPeer`) and replace `a.known_peers`.
 */
export function encodeAnnouncement(a: PeerAnnouncement, encodedKnown?: readonly string[]): string {
  const m: Members = [
    ["protocol", goString(a.protocol)],
    ["wg_pubkey", goString(a.wg_pubkey)],
  ];
  optStr(m, "hostname", a.hostname);
  m.push(["mesh_ip", goString(a.mesh_ip)]);
  optStr(m, "mesh_ipv6", a.mesh_ipv6);
  m.push(["wg_endpoint", goString(a.wg_endpoint)]);
  if (a.introducer) m.push(["introducer", "true"]);
  if (a.routable_networks && a.routable_networks.length) m.push(["routable_networks", goStringArray(a.routable_networks)]);
  m.push(["timestamp", goInt(a.timestamp)]);
  const known = encodedKnown ?? (a.known_peers ?? []).map(encodeKnownPeer);
  if (known.length) m.push(["known_peers", `[${known.join(",")}]`]);
  optStr(m, "observed_endpoint", a.observed_endpoint);
  optStr(m, "nat_type", a.nat_type);
  return goObject(m);
}

export function encodeGoodbye(g: Goodbye): string {
  return goObject([["protocol", goString(g.protocol)], ["timestamp", goInt(g.timestamp)], ["wg_pubkey", goString(g.wg_pubkey)]]);
}

export function encodeRendezvousOffer(o: RendezvousOffer): string {
  const m: Members = [
    ["protocol", goString(o.protocol)], ["timestamp", goInt(o.timestamp)], ["from_pubkey", goString(o.from_pubkey)],
    ["target_pubkey", goString(o.target_pubkey)], ["pair_id", goString(o.pair_id)],
  ];
  if (o.candidates && o.candidates.length) m.push(["candidates", goStringArray(o.candidates)]);
  optStr(m, "observed_addr", o.observed_addr);
  optStr(m, "introducer_key", o.introducer_key);
  return goObject(m);
}

export function encodeRendezvousStart(s: RendezvousStart): string {
  const m: Members = [
    ["protocol", goString(s.protocol)], ["timestamp", goInt(s.timestamp)], ["pair_id", goString(s.pair_id)],
    ["peer_pubkey", goString(s.peer_pubkey)],
  ];
  if (s.peer_candidates && s.peer_candidates.length) m.push(["peer_candidates", goStringArray(s.peer_candidates)]);
  m.push(["start_at_unix_ms", goInt(s.start_at_unix_ms)]);
  optStr(m, "introducer_key", s.introducer_key);
  return goObject(m);
}

/**
 * How many of the encoded known peers (in order) fit: the announcement without known_peers takes
 * `baseBytes`, the member adds `,"known_peers":[` … `]` and a comma between entries. Linear, one pass.
 */
export function knownPeersThatFit(baseBytes: number, encodedKnown: readonly string[], budget = LIMITS.sendBudgetBytes): number {
  let size = baseBytes + Buffer.byteLength(',"known_peers":[]');
  const max = Math.min(encodedKnown.length, LIMITS.knownPeers);
  for (let n = 0; n < max; n++) {
    size += Buffer.byteLength(encodedKnown[n] as string) + (n > 0 ? 1 : 0);
    if (size > budget) return n;
  }
  return max;
}

/** Cut known_peers (keeping order) so the encoded announcement fits `budget` bytes. */
export function fitKnownPeers(a: PeerAnnouncement, budget = LIMITS.sendBudgetBytes): PeerAnnouncement {
  const all = a.known_peers ?? [];
  if (all.length === 0) return a;
  const base = Buffer.byteLength(encodeAnnouncement({ ...a, known_peers: [] }));
  const n = knownPeersThatFit(base, all.map(encodeKnownPeer), budget);
  return n === all.length ? a : { ...a, known_peers: all.slice(0, n) };
}

// ----------------------------------------------------------------------------------------------
// Field rules

export class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

/** Each valid key text, once (see memo.ts). */
const validKeyText = canonical((s) => {
  if (s.length !== 44) return false;
  const b = decodeStdBase64(s);
  return b !== undefined && b.length === 32;
});

export function isValidPubkey(s: unknown): s is string {
  return typeof s === "string" && s.length === 44 && validKeyText(s) !== undefined;
}

const ipv4Text = canonical((s) => ipaddr.IPv4.isValidFourPartDecimal(s));
const ipv6Text = canonical((s) => s.includes(":") && !s.includes("%") && ipaddr.IPv6.isValid(s));

export function isIPv4(s: string): boolean {
  return ipv4Text(s) !== undefined;
}

export function isIPv6(s: string): boolean {
  return ipv6Text(s) !== undefined;
}

export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

export interface HostPort {
  host: string;
  port: number;
}

/** Go's net.SplitHostPort subset: "h:p" or "[v6]:p"; port decimal 0–65535. */
export function splitHostPort(s: string): HostPort | undefined {
  let host: string;
  let portText: string;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0 || s[end + 1] !== ":") return undefined;
    host = s.slice(1, end);
    portText = s.slice(end + 2);
  } else {
    const i = s.lastIndexOf(":");
    if (i < 0) return undefined;
    host = s.slice(0, i);
    if (host.includes(":")) return undefined; // bare IPv6 without brackets
    portText = s.slice(i + 1);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  return { host, port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Endpoint rule: empty, or IP-literal host with port 1–65535. */
const endpointText = canonical((s) => {
  if (s === "") return true;
  const hp = splitHostPort(s);
  return hp !== undefined && hp.port >= 1 && isIP(hp.host);
});

export function isValidEndpoint(s: string): boolean {
  return endpointText(s) !== undefined;
}

function validHostname(s: string): boolean {
  return s.length <= LIMITS.hostnameBytes && /^[\x20-\x7e]*$/.test(s);
}

const hostnameText = canonical(validHostname);

export function isValidHostname(s: string): boolean {
  return s.length <= LIMITS.hostnameBytes && hostnameText(s) !== undefined;
}

export function isValidRoute(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return false;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(len)) return false;
  const n = Number(len);
  if (isIPv4(addr)) return n >= 1 && n <= 32;
  if (isIPv6(addr)) return n >= 1 && n <= 128;
  return false;
}

const NAT_TYPES = new Set(["", "cone", "symmetric", "unknown"]);

// ----------------------------------------------------------------------------------------------
// Decoding helpers: each returns the value or throws FieldError

function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

function str(o: Record<string, unknown>, k: string, required: boolean): string {
  const v = o[k];
  if (absent(v)) {
    if (required) throw new FieldError(k, "missing");
    return "";
  }
  if (typeof v !== "string") throw new FieldError(k, "not a string");
  return v;
}

function bool(o: Record<string, unknown>, k: string): boolean {
  const v = o[k];
  if (absent(v)) return false;
  if (typeof v !== "boolean") throw new FieldError(k, "not a boolean");
  return v;
}

function int(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (absent(v)) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new FieldError(k, "not an integer");
  return v;
}

function strArray(o: Record<string, unknown>, k: string, max: number): string[] {
  const v = o[k];
  if (absent(v)) return [];
  if (!Array.isArray(v)) throw new FieldError(k, "not an array");
  if (v.length > max) throw new FieldError(k, `more than ${max} entries`);
  return v.map((x, i) => {
    if (typeof x !== "string") throw new FieldError(`${k}[${i}]`, "not a string");
    return x;
  });
}

function checkPubkey(field: string, v: string): void {
  if (!isValidPubkey(v)) throw new FieldError(field, "not a 32-byte standard base64 key");
}

/**
 * The last valid peer fields seen under each key (bounded and forgotten at once when full, like memo.ts).
 * In a large mesh nearly every entry of every datagram repeats, field for field, one the receiver has
 * validated before: comparing with it costs one table look-up instead of one per field.
 */
const lastValid = new Map<string, Readonly<KnownPeer>>();
const MAX_LAST_VALID = 16384;

/** Whether `o` has exactly the fields of the validated `v` (absent, null and "" / false read alike, as below). */
function sameFields(o: Record<string, unknown>, v: Readonly<KnownPeer>): boolean {
  return o["mesh_ip"] === v.mesh_ip && (o["wg_endpoint"] ?? "") === v.wg_endpoint && (o["hostname"] ?? "") === (v.hostname ?? "") &&
    (o["mesh_ipv6"] ?? "") === (v.mesh_ipv6 ?? "") && (o["introducer"] ?? false) === (v.introducer ?? false) && (o["nat_type"] ?? "") === (v.nat_type ?? "");
}

/**
 * The fields a sender and a known peer share, validated; the strings returned are the memos' shared
 * copies (memo.ts). `prefix` names the entry in errors ("" for the sender, "known_peers[i]." for entries).
 */
function checkCommonPeerFields(o: Record<string, unknown>, prefix: string | (() => string)): KnownPeer {
  const rawKey = o["wg_pubkey"];
  const seen = typeof rawKey === "string" ? lastValid.get(rawKey) : undefined;
  if (seen && sameFields(o, seen)) return { ...seen };
  const kp = validatePeerFields(o, prefix);
  if (lastValid.size >= MAX_LAST_VALID) lastValid.clear();
  lastValid.set(kp.wg_pubkey, { ...kp });
  return kp;
}

function validatePeerFields(o: Record<string, unknown>, prefix: string | (() => string)): KnownPeer {
  const fail = (field: string, message: string): never => {
    throw new FieldError(`${typeof prefix === "string" ? prefix : prefix()}${field}`, message);
  };
  const wg_pubkey = str(o, "wg_pubkey", true);
  const key = wg_pubkey.length === 44 ? validKeyText(wg_pubkey) : undefined;
  if (key === undefined) return fail("wg_pubkey", "not a 32-byte standard base64 key");
  const hostnameRaw = str(o, "hostname", false);
  const hostname = hostnameRaw.length <= LIMITS.hostnameBytes ? hostnameText(hostnameRaw) : undefined;
  if (hostname === undefined) return fail("hostname", "longer than 253 bytes or not printable ASCII");
  const mesh_ip = ipv4Text(str(o, "mesh_ip", true));
  if (mesh_ip === undefined) return fail("mesh_ip", "not an IPv4 address");
  const meshIpv6Raw = str(o, "mesh_ipv6", false);
  const mesh_ipv6 = meshIpv6Raw ? ipv6Text(meshIpv6Raw) : "";
  if (mesh_ipv6 === undefined) return fail("mesh_ipv6", "not an IPv6 address");
  const wg_endpoint = endpointText(str(o, "wg_endpoint", false));
  if (wg_endpoint === undefined) return fail("wg_endpoint", "not IP:port");
  const introducer = bool(o, "introducer");
  const nat_type = str(o, "nat_type", false);
  if (!NAT_TYPES.has(nat_type)) return fail("nat_type", "unknown NAT type");
  const kp: KnownPeer = { wg_pubkey: key, mesh_ip, wg_endpoint };
  if (hostname) kp.hostname = hostname;
  if (mesh_ipv6) kp.mesh_ipv6 = mesh_ipv6;
  if (introducer) kp.introducer = true;
  if (nat_type) kp.nat_type = nat_type;
  return kp;
}

export type Decoded<T> = { ok: true; value: T; discarded: string[] } | { ok: false; field: string; message: string };

function wrap<T>(f: (discard: (why: string) => void) => T): Decoded<T> {
  const discarded: string[] = [];
  try {
    return { ok: true, value: f((why) => discarded.push(why)), discarded };
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, field: e.field, message: e.message };
    return { ok: false, field: "?", message: String(e) };
  }
}

/**
 * Decode and validate a HELLO/REPLY/ANNOUNCE payload. The sender's own fields must all be valid, else
 * the message is refused. Invalid entries of `known_peers` and `routable_networks` are dropped one by one
 * (reported in `discarded`), so a Go peer whose store holds junk (e.g. Go test-peer's "test-pubkey",
 * weakness 2) or that advertises a default route still peers with us — without the junk.
 */
export function decodeAnnouncement(payload: Record<string, unknown>): Decoded<PeerAnnouncement> {
  return wrap((discard) => {
    const base = checkCommonPeerFields(payload, "");
    const routes = strArray(payload, "routable_networks", LIMITS.routableNetworks).filter((r, i) => {
      if (isValidRoute(r)) return true;
      discard(`routable_networks[${i}]: not a CIDR (or a default route)`);
      return false;
    });
    const kpsRaw = payload["known_peers"];
    const known: KnownPeer[] = [];
    if (!absent(kpsRaw)) {
      if (!Array.isArray(kpsRaw)) throw new FieldError("known_peers", "not an array");
      if (kpsRaw.length > LIMITS.knownPeers) throw new FieldError("known_peers", `more than ${LIMITS.knownPeers} entries`);
      kpsRaw.forEach((k, i) => {
        try {
          if (typeof k !== "object" || k === null || Array.isArray(k)) throw new FieldError(`known_peers[${i}]`, "not an object");
          known.push(checkCommonPeerFields(k as Record<string, unknown>, () => `known_peers[${i}].`));
        } catch (e) {
          if (!(e instanceof FieldError)) throw e;
          discard(e.message);
        }
      });
    }
    const observed = str(payload, "observed_endpoint", false);
    if (observed) {
      const hp = splitHostPort(observed);
      if (!hp || !isIP(hp.host) || hp.port < 1) throw new FieldError("observed_endpoint", "not IP:port");
    }
    const a: PeerAnnouncement = {
      protocol: str(payload, "protocol", true),
      wg_pubkey: base.wg_pubkey,
      mesh_ip: base.mesh_ip,
      wg_endpoint: base.wg_endpoint,
      timestamp: int(payload, "timestamp"),
    };
    if (base.hostname) a.hostname = base.hostname;
    if (base.mesh_ipv6) a.mesh_ipv6 = base.mesh_ipv6;
    if (base.introducer) a.introducer = true;
    if (routes.length) a.routable_networks = routes;
    if (known.length) a.known_peers = known;
    if (observed) a.observed_endpoint = observed;
    if (base.nat_type) a.nat_type = base.nat_type;
    return a;
  });
}

const ANNOUNCEMENT_ONLY = ["mesh_ip", "wg_endpoint", "known_peers", "routable_networks", "hostname", "mesh_ipv6", "observed_endpoint"];

/** Decode a GOODBYE; refuses payloads that carry announcement members (a re-labelled HELLO). */
export function decodeGoodbye(payload: Record<string, unknown>): Decoded<Goodbye> {
  return wrap(() => {
    for (const k of ANNOUNCEMENT_ONLY) if (k in payload) throw new FieldError(k, "not part of a GOODBYE");
    const wg_pubkey = str(payload, "wg_pubkey", true);
    checkPubkey("wg_pubkey", wg_pubkey);
    return { protocol: str(payload, "protocol", true), timestamp: int(payload, "timestamp"), wg_pubkey };
  });
}

function checkCandidates(field: string, list: string[]): void {
  list.forEach((c, i) => {
    const hp = splitHostPort(c);
    if (!hp || !isIP(hp.host) || hp.port < 1) throw new FieldError(`${field}[${i}]`, "not IP:port");
  });
}

function checkPairId(v: string): void {
  if (!/^[0-9a-f]{16}$/.test(v)) throw new FieldError("pair_id", "not 16 lowercase hex digits");
}

export function decodeRendezvousOffer(payload: Record<string, unknown>): Decoded<RendezvousOffer> {
  return wrap(() => {
    const from_pubkey = str(payload, "from_pubkey", true);
    checkPubkey("from_pubkey", from_pubkey);
    const target_pubkey = str(payload, "target_pubkey", true);
    checkPubkey("target_pubkey", target_pubkey);
    const pair_id = str(payload, "pair_id", false);
    if (pair_id) checkPairId(pair_id);
    const candidates = strArray(payload, "candidates", LIMITS.candidates);
    checkCandidates("candidates", candidates);
    const observed_addr = str(payload, "observed_addr", false);
    if (observed_addr) checkCandidates("observed_addr", [observed_addr]);
    const introducer_key = str(payload, "introducer_key", false);
    if (introducer_key) checkPubkey("introducer_key", introducer_key);
    const o: RendezvousOffer = { protocol: str(payload, "protocol", true), timestamp: int(payload, "timestamp"), from_pubkey, target_pubkey, pair_id };
    if (candidates.length) o.candidates = candidates;
    if (observed_addr) o.observed_addr = observed_addr;
    if (introducer_key) o.introducer_key = introducer_key;
    return o;
  });
}

export function decodeRendezvousStart(payload: Record<string, unknown>): Decoded<RendezvousStart> {
  return wrap(() => {
    const pair_id = str(payload, "pair_id", true);
    checkPairId(pair_id);
    const peer_pubkey = str(payload, "peer_pubkey", true);
    checkPubkey("peer_pubkey", peer_pubkey);
    const peer_candidates = strArray(payload, "peer_candidates", LIMITS.candidates);
    checkCandidates("peer_candidates", peer_candidates);
    const introducer_key = str(payload, "introducer_key", false);
    if (introducer_key) checkPubkey("introducer_key", introducer_key);
    const s: RendezvousStart = {
      protocol: str(payload, "protocol", true), timestamp: int(payload, "timestamp"), pair_id, peer_pubkey,
      start_at_unix_ms: int(payload, "start_at_unix_ms"),
    };
    if (peer_candidates.length) s.peer_candidates = peer_candidates;
    if (introducer_key) s.introducer_key = introducer_key;
    return s;
  });
}

export function newAnnouncement(fields: Omit<PeerAnnouncement, "protocol" | "timestamp">, nowS: number): PeerAnnouncement {
  return { protocol: PROTOCOL_VERSION, ...fields, timestamp: nowS };
}
