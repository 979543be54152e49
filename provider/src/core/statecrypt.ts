/**
 * The Go wgmesh tool's encrypted state file (`-encrypt`): standard padded base64 (no newline) of
 * salt(32) ‖ nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16); key = PBKDF2-HMAC-SHA256(password, salt,
 * 100 000 iterations, 32 bytes); no AAD. Nothing marks a file as encrypted: the caller decides.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from "node:crypto";

export const SALT_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const PBKDF2_ITERATIONS = 100_000;

/** The AES key for a password and salt. */
export function deriveStateKey(password: string | Uint8Array, salt: Uint8Array): Buffer {
  return pbkdf2Sync(password, salt, PBKDF2_ITERATIONS, 32, "sha256");
}

/** Encrypt state-file plaintext (salt and nonce random unless given, e.g. for test vectors). */
export function encryptState(
  plaintext: string | Uint8Array,
  password: string | Uint8Array,
  fixed: { salt?: Uint8Array; nonce?: Uint8Array } = {},
): string {
  const salt = fixed.salt ?? randomBytes(SALT_BYTES);
  const nonce = fixed.nonce ?? randomBytes(NONCE_BYTES);
  if (salt.length !== SALT_BYTES || nonce.length !== NONCE_BYTES) throw new Error("salt must be 32 bytes and nonce 12 bytes");
  const cipher = createCipheriv("aes-256-gcm", deriveStateKey(password, salt), nonce);
  const body = Buffer.concat([cipher.update(typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext), cipher.final()]);
  return Buffer.concat([salt, nonce, body, cipher.getAuthTag()]).toString("base64");
}

/** Decrypt an encrypted state file's text to its JSON plaintext; throws a message that reveals nothing. */
export function decryptState(fileText: string, password: string | Uint8Array): string {
  const text = fileText.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error("the state file is not an encrypted wgmesh state (expected base64 text)");
  }
  const raw = Buffer.from(text, "base64");
  if (raw.length < SALT_BYTES + NONCE_BYTES + TAG_BYTES) {
    throw new Error("the state file is too short to be an encrypted wgmesh state");
  }
  const salt = raw.subarray(0, SALT_BYTES);
  const nonce = raw.subarray(SALT_BYTES, SALT_BYTES + NONCE_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  const body = raw.subarray(SALT_BYTES + NONCE_BYTES, raw.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", deriveStateKey(password, salt), nonce);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    throw new Error("cannot decrypt the state file: wrong password, or the file was modified");
  }
}
