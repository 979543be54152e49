/**
 * The mesh secret: parsing exactly as the Go daemon does (protocol §1.2), generation (§1.1) and the
 * join-time source order (flag → WGMESH_SECRET → 0600 file named by WGMESH_SECRET_FILE).
 * The secret never appears in an error message.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";

export const URI_PREFIX = "wgmesh://";
export const MIN_SECRET_BYTES = 16;

export class SecretError extends Error {}

export interface ParsedSecret {
  /** The derivation input (UTF-8 text, §1.1). */
  secret: string;
  /** True when the input did not use the wgmesh:// form (Go logs a low-entropy WARN). */
  lowEntropy: boolean;
}

/** Go's unicode.IsSpace set, used by strings.TrimSpace. (JS trim() also strips U+FEFF; Go does not.) */
const GO_SPACE = "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

export function goTrimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && GO_SPACE.includes(s[a] as string)) a++;
  while (b > a && GO_SPACE.includes(s[b - 1] as string)) b--;
  return s.slice(a, b);
}

/** Parse a secret input (§1.2). Throws SecretError when shorter than 16 bytes. */
export function parseSecret(input: string): ParsedSecret {
  const trimmed = goTrimSpace(input);
  let secret = trimmed;
  const isUri = trimmed.startsWith(URI_PREFIX);
  if (isUri) {
    const rest = trimmed.slice(URI_PREFIX.length);
    const slash = rest.indexOf("/");
    if (slash >= 0) {
      // version label before the first slash is not checked; secret is cut at the first '?'
      const after = rest.slice(slash + 1);
      const q = after.indexOf("?");
      secret = q >= 0 ? after.slice(0, q) : after;
    } else {
      secret = rest; // a ?query is kept in this form (Go behaviour)
    }
  }
  if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    throw new SecretError(`secret must be at least ${MIN_SECRET_BYTES} characters`);
  }
  return { secret, lowEntropy: !isUri };
}

export const LOW_ENTROPY_WARNING =
  "Secret does not use wgmesh:// format \u2014 it may have low entropy. Use 'wgmesh init --secret' to generate a cryptographically strong secret.";

/** 128 random bytes as base64url without padding (171 characters). */
export function generateSecret(random: (n: number) => Buffer = randomBytes): string {
  return random(128).toString("base64url");
}

export function formatSecretUri(secret: string): string {
  return `${URI_PREFIX}v1/${secret}`;
}

export interface SecretSources {
  flag?: string | undefined;
  env: NodeJS.ProcessEnv;
}

/**
 * Where `join` takes the secret from: --secret, else WGMESH_SECRET, else the file named by
 * WGMESH_SECRET_FILE (trimmed). Unlike Go, the file must not be readable by group or others
 * (it holds the mesh key material); returns undefined when no source is set.
 */
export function resolveSecretInput(src: SecretSources): string | undefined {
  if (src.flag) return src.flag;
  const env = src.env["WGMESH_SECRET"];
  if (env) return env;
  const file = src.env["WGMESH_SECRET_FILE"];
  if (!file) return undefined;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new SecretError(`cannot read secret file ${file} (WGMESH_SECRET_FILE): ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if (!st.isFile()) throw new SecretError(`secret file ${file} (WGMESH_SECRET_FILE) is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw new SecretError(`secret file ${file} has mode ${mode}; it must not be accessible by group or others (fix: chmod 600 ${file})`);
  }
  const text = goTrimSpace(fs.readFileSync(file, "utf8"));
  return text === "" ? undefined : text;
}
