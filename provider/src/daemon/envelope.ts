/**
 * AES-256-GCM JSON envelopes (protocol §2.2–2.4): {"type","nonce","ciphertext"} with padded standard
 * base64, 12-byte random nonce, no AAD, tag appended. `openEnvelope` runs the acceptance checks of §2.3
 * in Go's order and reports a drop reason instead of throwing.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { DropReason } from "./counters";
import { goString } from "./gojson";

export const PROTOCOL_VERSION = "wgmesh-v1";
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
export const MAX_MESSAGE_AGE_S = 600;
/** Go's receive buffer: anything larger cannot have come from a Go node. */
export const MAX_DATAGRAM_BYTES = 65536;
/** The largest UDP payload over IPv4 (65535 − 20 IP − 8 UDP header bytes): a larger send fails (EMSGSIZE). */
export const MAX_UDP_PAYLOAD = 65507;
/** IPv4 fragments of a UDP payload on a 1500-byte MTU (1480 bytes of IP payload each, the first carries the UDP header). */
export function ipv4Fragments(udpPayloadBytes: number): number {
  return Math.max(1, Math.ceil((udpPayloadBytes + 8) / 1480));
}
/**
 * Our sends stay within 8 fragments (11,832 bytes). A datagram is lost when any fragment is: at 1 % packet
 * loss 8 fragments arrive 92 % of the time, 45 (a full 64 KiB datagram) 64 %; at 10 % loss 43 % vs 0.9 %.
 * Go fills datagrams to the UDP maximum and beyond (weakness 12).
 */
export const SEND_DATAGRAM_BYTES = 8 * 1480 - 8;

/** Bytes of the envelope `sealEnvelope(type, plaintext)` produces for a plaintext of `plaintextBytes`. */
export function sealedSize(type: string, plaintextBytes: number): number {
  // {"type":"T","nonce":"<16>","ciphertext":"<base64 of plaintext + tag>"}
  return 54 + Buffer.byteLength(type) + 4 * Math.ceil((plaintextBytes + TAG_SIZE) / 3);
}

/** The largest plaintext whose envelope (of any message type) still fits in `datagramBytes`. */
export function maxPlaintextFor(datagramBytes: number): number {
  const longestType = Math.max(...MESSAGE_TYPES.map((t) => Buffer.byteLength(t)));
  return Math.floor((datagramBytes - 54 - longestType) / 4) * 3 - TAG_SIZE;
}

export const MESSAGE_TYPES = ["HELLO", "REPLY", "ANNOUNCE", "GOODBYE", "RENDEZVOUS_OFFER", "RENDEZVOUS_START"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export function isMessageType(t: string): t is MessageType {
  return (MESSAGE_TYPES as readonly string[]).includes(t);
}

/**
 * Strict padded standard base64 (what Go writes); returns undefined for anything else. Node's decoder is
 * lenient: it skips characters outside the alphabet, stops at the first "=", takes base64url's "-" and "_",
 * and drops the unused low bits of a last partial group. So the input is canonical exactly when it decodes
 * to the length its size and padding imply (nothing skipped or cut short), holds no base64url letter, and
 * its last group is the re-encoding of the bytes it decoded to — the same answer as re-encoding the whole
 * buffer and comparing, without a second pass and a copy the size of a datagram.
 */
export function decodeStdBase64(s: string): Buffer | undefined {
  const n = s.length;
  if (n % 4 !== 0) return undefined;
  const b = Buffer.from(s, "base64");
  if (n === 0) return b;
  const pad = s.charCodeAt(n - 1) !== 61 ? 0 : s.charCodeAt(n - 2) !== 61 ? 1 : 2; // "="
  if (b.length !== (n / 4) * 3 - pad || s.includes("-") || s.includes("_")) return undefined;
  const lastGroupBytes = 3 - pad;
  return b.toString("base64", b.length - lastGroupBytes) === s.slice(n - 4) ? b : undefined;
}

/** Seal a payload (already Go-ordered JSON text) into an envelope datagram. */
export function sealEnvelope(type: string, plaintext: string | Buffer, key: Buffer, nonce: Buffer = randomBytes(NONCE_SIZE)): Buffer {
  if (key.length !== 32) throw new RangeError("gossip key must be 32 bytes");
  if (nonce.length !== NONCE_SIZE) throw new RangeError("nonce must be 12 bytes");
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const ct = typeof plaintext === "string" ? cipher.update(plaintext, "utf8") : cipher.update(plaintext);
  const fin = cipher.final(); // empty for GCM
  const tag = cipher.getAuthTag();
  const body = Buffer.allocUnsafe(ct.length + fin.length + tag.length);
  ct.copy(body, 0);
  fin.copy(body, ct.length);
  tag.copy(body, ct.length + fin.length);
  // {"type":…,"nonce":"…","ciphertext":"…"} as goObject writes it; base64 text needs no JSON escaping:
  // quoted as is (goString would scan the whole ciphertext), and written straight into the datagram
  const head = `{"type":${goString(type)},"nonce":"${nonce.toString("base64")}","ciphertext":"`;
  const headBytes = Buffer.byteLength(head);
  const b64Bytes = 4 * Math.ceil(body.length / 3);
  const out = Buffer.allocUnsafe(headBytes + b64Bytes + 2);
  out.write(head, 0, "utf8");
  out.write(body.toString("base64"), headBytes, "latin1");
  out.write('"}', headBytes + b64Bytes, "latin1");
  return out;
}

export interface Opened {
  ok: true;
  type: string;
  /** The nonce as sent (base64), the replay-cache key. */
  nonce: string;
  payload: Record<string, unknown>;
  timestamp: number;
  plaintext: Buffer;
}

export interface Rejected {
  ok: false;
  reason: DropReason;
  detail: string;
}

export type OpenResult = Opened | Rejected;

function reject(reason: DropReason, detail: string): Rejected {
  return { ok: false, reason, detail };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export interface OpenOptions {
  maxBytes?: number;
  windowS?: number;
}

/**
 * Open and check a datagram (§2.3): JSON → nonce → GCM → protocol → timestamp window (inclusive).
 * `nowS` is integer Unix seconds. Never throws.
 */
export function openEnvelope(data: Buffer, key: Buffer, nowS: number, opts: OpenOptions = {}): OpenResult {
  const maxBytes = opts.maxBytes ?? MAX_DATAGRAM_BYTES;
  const windowS = opts.windowS ?? MAX_MESSAGE_AGE_S;
  if (data.length > maxBytes) return reject("oversize", `${data.length} bytes > ${maxBytes}`);
  let env: unknown;
  try {
    env = JSON.parse(data.toString("utf8"));
  } catch {
    return reject("malformed-json", "envelope is not JSON");
  }
  if (!isPlainObject(env)) return reject("malformed-json", "envelope is not a JSON object");
  const { type, nonce, ciphertext } = env;
  if (type !== undefined && type !== null && typeof type !== "string") return reject("malformed-json", "type is not a string");
  if (typeof nonce !== "string") return reject("bad-nonce", "nonce missing");
  const nonceBytes = decodeStdBase64(nonce);
  if (!nonceBytes || nonceBytes.length !== NONCE_SIZE) return reject("bad-nonce", "nonce is not 12 bytes of padded base64");
  if (typeof ciphertext !== "string") return reject("auth-failed", "ciphertext missing");
  const ct = decodeStdBase64(ciphertext);
  if (!ct || ct.length < TAG_SIZE) return reject("auth-failed", "ciphertext is not padded base64 with a tag");
  let plaintext: Buffer;
  try {
    const d = createDecipheriv("aes-256-gcm", key, nonceBytes);
    d.setAuthTag(ct.subarray(ct.length - TAG_SIZE));
    const head = d.update(ct.subarray(0, ct.length - TAG_SIZE));
    const fin = d.final(); // empty for GCM: no copy then
    plaintext = fin.length ? Buffer.concat([head, fin]) : head;
  } catch {
    return reject("auth-failed", "decryption failed (wrong key?)");
  }
  let payload: unknown;
  try {
    payload = JSON.parse(plaintext.toString("utf8"));
  } catch {
    return reject("malformed-payload", "payload is not JSON");
  }
  if (!isPlainObject(payload)) return reject("malformed-payload", "payload is not a JSON object");
  if (payload["protocol"] !== PROTOCOL_VERSION) return reject("wrong-protocol", "unsupported protocol version");
  const ts = payload["timestamp"] ?? 0;
  if (typeof ts !== "number" || !Number.isSafeInteger(ts)) return reject("malformed-payload", "timestamp is not an integer");
  if (nowS - ts > windowS) return reject("too-old", `message too old: ${nowS - ts}s`);
  if (ts - nowS > windowS) return reject("in-future", "message timestamp in future");
  return { ok: true, type: typeof type === "string" ? type : "", nonce, payload, timestamp: ts, plaintext };
}
