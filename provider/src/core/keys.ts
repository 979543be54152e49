/**
 * WireGuard keys: X25519 (RFC 7748) with @noble/curves, in the exact text form of wireguard-tools
 * (`wg genkey`, `wg pubkey`): standard, padded base64 of 32 bytes (44 characters ending in "=").
 * Pure except `generatePrivateKey`, which draws from the system CSPRNG.
 */
import { randomBytes } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519";

export const KEY_BYTES = 32;
export const KEY_BASE64_LENGTH = 44;

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/**
 * Whether `text` is a WireGuard key exactly as wg accepts it: 44 characters of standard base64, the
 * last one "=", decoding to 32 bytes, in canonical form (the unused low bits of the last character are
 * zero — wg's `key_from_base64` rejects anything else).
 */
export function isValidKey(text: unknown): text is string {
  return typeof text === "string" && text.length === KEY_BASE64_LENGTH && BASE64_KEY.test(text);
}

/** Decode a key to its 32 bytes; throws (without echoing the value, it may be a secret) when malformed. */
export function decodeKey(text: string, what = "key"): Uint8Array {
  if (!isValidKey(text)) {
    throw new Error(`${what} is not a valid WireGuard key (expected 44 characters of base64 encoding 32 bytes, as printed by 'wg genkey')`);
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Encode 32 bytes as a key. */
export function encodeKey(bytes: Uint8Array): string {
  if (bytes.length !== KEY_BYTES) throw new Error(`a WireGuard key has ${KEY_BYTES} bytes, got ${bytes.length}`);
  return Buffer.from(bytes).toString("base64");
}

/** Clamp a Curve25519 secret in place, as wg's `curve25519_clamp_secret` does. */
export function clampPrivateKey(bytes: Uint8Array): Uint8Array {
  bytes[0] = (bytes[0] as number) & 248;
  bytes[31] = ((bytes[31] as number) & 127) | 64;
  return bytes;
}

/** A new private key exactly like `wg genkey`: 32 random bytes, clamped, base64. */
export function generatePrivateKey(): string {
  return encodeKey(clampPrivateKey(new Uint8Array(randomBytes(KEY_BYTES))));
}

/** The public key of a private key, exactly like `wg pubkey` (the scalar is clamped by X25519 itself). */
export function publicKeyFromPrivate(privateKey: string): string {
  return encodeKey(x25519.getPublicKey(decodeKey(privateKey, "private key")));
}

/** A new preshared key exactly like `wg genpsk`: 32 random bytes, base64 (no clamping). */
export function generatePresharedKey(): string {
  return encodeKey(new Uint8Array(randomBytes(KEY_BYTES)));
}

/** A fresh key pair. */
export function generateKeyPair(): { privateKey: string; publicKey: string } {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
}

/**
 * Read a key from the bytes `wg pubkey` would get on stdin, with wg's own rules: the first 44 bytes are
 * the key (no leading whitespace); after them only whitespace or NUL bytes may follow.
 * Returns the key text, or throws with a message that never contains the input.
 */
export function keyFromStdin(input: Uint8Array): string {
  if (input.length < KEY_BASE64_LENGTH) {
    throw new Error("key is not the correct length or format (expected 44 characters of base64, as printed by 'wg genkey')");
  }
  for (let i = KEY_BASE64_LENGTH; i < input.length; i++) {
    const c = input[i] as number;
    // wg's char_is_space: ' ', '\t', '\n', '\v', '\f', '\r'; NUL is skipped too.
    if (!(c === 0 || c === 0x20 || (c >= 0x09 && c <= 0x0d))) {
      throw new Error("trailing characters found after the key (only whitespace may follow the 44-character key)");
    }
  }
  const text = Buffer.from(input.subarray(0, KEY_BASE64_LENGTH)).toString("latin1");
  if (!isValidKey(text)) {
    throw new Error("key is not the correct length or format (expected 44 characters of base64 encoding 32 bytes, as printed by 'wg genkey')");
  }
  return text;
}
