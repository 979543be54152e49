/**
 * Host key verification: a pinned `hostKey`, else an OpenSSH known_hosts file (plain and hashed entries,
 * `[host]:port` names, comma-separated patterns with `*`/`?` wildcards and `!` negation, `@revoked`).
 * `@cert-authority` lines are not supported: they are ignored (a host known only through one is reported
 * as unknown, with a note saying so).
 *
 * The decision is pure (`checkHostKey`); `HostKeyVerifier` wires it to ssh2's `hostVerifier`, so a rejected
 * key aborts the handshake before authentication and before any command can run.
 */
import { createHash, createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SshError } from "./errors";

/** The key type string embedded at the start of an SSH public key blob ("ssh-ed25519", "ssh-rsa", …). */
export function keyTypeOfBlob(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len <= 0 || len > 64 || 4 + len > blob.length) return null;
  const type = blob.subarray(4, 4 + len).toString("latin1");
  return /^[a-z0-9@.-]+$/.test(type) ? type : null;
}

/** OpenSSH's `SHA256:<base64 without padding>` fingerprint of a public key blob (as `ssh-keygen -lf`). */
export function fingerprintSha256(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The known_hosts name OpenSSH uses for a host: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Parse a pinned host key: an OpenSSH public key line ("ssh-ed25519 AAAA… comment"), a known_hosts line
 * ("host ssh-ed25519 AAAA…"), or only the base64 blob. Returns the blob, or throws SshError.
 */
export function parsePinnedHostKey(text: string): Buffer {
  const tokens = text.trim().split(/\s+/).filter((t) => t !== "");
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(tok) || tok.length < 40) continue;
    const blob = Buffer.from(tok, "base64");
    const type = keyTypeOfBlob(blob);
    if (type === null) continue;
    // When a type word precedes the blob it must agree with the blob's embedded type.
    const prev = i > 0 ? tokens[i - 1]! : null;
    if (prev !== null && /^(ssh-|ecdsa-|sk-)/.test(prev) && prev !== type) {
      throw new SshError("config", `hostKey says '${prev}' but its key data is a '${type}' key`,
        "give the host's public key exactly as in /etc/ssh/ssh_host_*_key.pub (e.g. \"ssh-ed25519 AAAA…\")");
    }
    return blob;
  }
  throw new SshError("config", "hostKey is not an SSH public key",
    "give the host's public key as \"ssh-ed25519 AAAA…\" (a line of /etc/ssh/ssh_host_*_key.pub) or just its base64 part");
}

export type KnownHostsMarker = "revoked" | "cert-authority" | null;

export interface KnownHostsEntry {
  marker: KnownHostsMarker;
  /** The host pattern field as written (comma-separated list, or one `|1|salt|hash`). */
  hosts: string;
  keyType: string;
  key: Buffer;
  /** 1-based line number (for messages). */
  line: number;
}

/** Parse known_hosts text; malformed lines and comments are skipped (as OpenSSH does). */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const out: KnownHostsEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const f = raw.split(/\s+/);
    let marker: KnownHostsMarker = null;
    if (f[0] === "@revoked") marker = "revoked";
    else if (f[0] === "@cert-authority") marker = "cert-authority";
    else if (f[0]!.startsWith("@")) continue; // unknown marker: ignore the line
    if (marker !== null) f.shift();
    if (f.length < 3) continue;
    const [hosts, keyType, b64] = f as [string, string, string];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const key = Buffer.from(b64, "base64");
    if (keyTypeOfBlob(key) === null) continue;
    out.push({ marker, hosts, keyType, key, line: i + 1 });
  }
  return out;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$";
  return new RegExp(re, "i").test(name);
}

/** Whether a known_hosts host field matches the (already `[host]:port`-formatted) name. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const parts = field.split("|"); // ["", "1", salt, hash]
    if (parts.length !== 4) return false;
    const salt = Buffer.from(parts[2]!, "base64");
    const want = Buffer.from(parts[3]!, "base64");
    const got = createHmac("sha1", salt).update(name).digest();
    return got.length === want.length && got.equals(want);
  }
  let matched = false;
  for (const pat of field.split(",")) {
    if (pat === "") continue;
    if (pat.startsWith("!")) {
      if (wildcardMatch(pat.slice(1), name)) return false; // a negated match wins
    } else if (wildcardMatch(pat, name)) matched = true;
  }
  return matched;
}

/** A hashed known_hosts host field for a name (`|1|salt|hash`), as `ssh-keygen -H` writes it. */
export function hashHostName(name: string, salt: Buffer): string {
  const h = createHmac("sha1", salt).update(name).digest("base64");
  return `|1|${salt.toString("base64")}|${h}`;
}

export type HostKeyVerdict =
  | { kind: "ok"; source: string }
  | { kind: "unknown"; certAuthorityOnly: boolean }
  | { kind: "changed"; expected: Array<{ keyType: string; fingerprint: string; where: string }> }
  | { kind: "revoked"; where: string };

/** The pure decision for a presented key against a pinned key or known_hosts entries. */
export function checkHostKey(
  presented: Buffer,
  name: string,
  source: { pinned: Buffer } | { entries: KnownHostsEntry[]; file: string },
): HostKeyVerdict {
  if ("pinned" in source) {
    if (source.pinned.equals(presented)) return { kind: "ok", source: "hostKey" };
    return {
      kind: "changed",
      expected: [{ keyType: keyTypeOfBlob(source.pinned) ?? "?", fingerprint: fingerprintSha256(source.pinned), where: "hostKey" }],
    };
  }
  const mine = source.entries.filter((e) => hostFieldMatches(e.hosts, name));
  const revoked = mine.find((e) => e.marker === "revoked" && e.key.equals(presented));
  if (revoked) return { kind: "revoked", where: `${source.file}:${revoked.line}` };
  // A key revoked for any host pattern is revoked (OpenSSH also treats `@revoked *` this way).
  const revokedAny = source.entries.find((e) => e.marker === "revoked" && e.key.equals(presented));
  if (revokedAny) return { kind: "revoked", where: `${source.file}:${revokedAny.line}` };
  const plain = mine.filter((e) => e.marker === null);
  const hit = plain.find((e) => e.key.equals(presented));
  if (hit) return { kind: "ok", source: `${source.file}:${hit.line}` };
  if (plain.length === 0) {
    return { kind: "unknown", certAuthorityOnly: mine.some((e) => e.marker === "cert-authority") };
  }
  return {
    kind: "changed",
    expected: plain.map((e) => ({ keyType: e.keyType, fingerprint: fingerprintSha256(e.key), where: `${source.file}:${e.line}` })),
  };
}

/** ssh2 server-host-key algorithm names for a key type, strongest first. */
export function algorithmsForKeyType(keyType: string): string[] {
  if (keyType === "ssh-rsa") return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
  return [keyType];
}

const ALL_HOST_KEY_ALGORITHMS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

export interface HostKeyPolicy {
  /** The pinned key (`Connection.hostKey`). When set, known_hosts is not consulted. */
  hostKey?: string;
  /** known_hosts file; default `~/.ssh/known_hosts` (HOME read at call time). */
  knownHostsPath?: string;
  /**
   * Trust-on-first-use: accept an UNKNOWN host's key and append it to `knownHostsPath`. Never accepts a
   * changed or revoked key. Off unless set explicitly.
   */
  trustOnFirstUse?: boolean;
}

export function defaultKnownHostsPath(): string {
  return path.join(process.env.HOME || os.homedir(), ".ssh", "known_hosts");
}

/**
 * One connection's host key check: `algorithms()` orders the key types we already know for the host first
 * (so a host with several host keys presents the one we can verify, as OpenSSH does), and `verify(blob)`
 * decides; after a rejection, `error` holds the user-facing SshError.
 */
export class HostKeyVerifier {
  error: SshError | null = null;
  /** How the accepted key was verified ("hostKey", "<file>:<line>", "trust-on-first-use"). */
  acceptedBy: string | null = null;
  private readonly name: string;
  private readonly pinned: Buffer | null;
  private readonly file: string;
  private readonly entries: KnownHostsEntry[];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly policy: HostKeyPolicy,
  ) {
    this.name = knownHostsName(host, port);
    this.pinned = policy.hostKey !== undefined && policy.hostKey !== "" ? parsePinnedHostKey(policy.hostKey) : null;
    this.file = policy.knownHostsPath ?? defaultKnownHostsPath();
    this.entries = [];
    if (this.pinned === null) {
      let text = "";
      try {
        text = fs.readFileSync(this.file, "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
          throw new SshError("config", `cannot read known_hosts file ${this.file}: ${(e as Error).message}`,
            "fix the file's permissions or pass another known_hosts path");
        }
      }
      this.entries = parseKnownHosts(text);
    }
  }

  /** Server host key algorithms to offer, known types first. */
  algorithms(): string[] {
    const known: string[] = [];
    if (this.pinned !== null) {
      // Its type first; any other type the host presents is then refused as a changed key (not a dial error).
      known.push(...algorithmsForKeyType(keyTypeOfBlob(this.pinned) ?? ""));
    } else {
      for (const e of this.entries) {
        if (e.marker === null && hostFieldMatches(e.hosts, this.name)) known.push(...algorithmsForKeyType(e.keyType));
      }
    }
    const ordered = [...new Set([...known.filter((a) => ALL_HOST_KEY_ALGORITHMS.includes(a)), ...ALL_HOST_KEY_ALGORITHMS])];
    return ordered;
  }

  /** ssh2 hostVerifier: returns false (and sets `error`) to abort the handshake. */
  verify(presented: Buffer): boolean {
    const verdict = checkHostKey(
      presented,
      this.name,
      this.pinned !== null ? { pinned: this.pinned } : { entries: this.entries, file: this.file },
    );
    const type = keyTypeOfBlob(presented) ?? "unknown-type";
    const fp = fingerprintSha256(presented);
    const who = `host ${this.name}`;
    switch (verdict.kind) {
      case "ok":
        this.acceptedBy = verdict.source;
        return true;
      case "revoked":
        this.error = new SshError("host-key-revoked",
          `${who} presented a REVOKED ${type} host key ${fp} (marked @revoked at ${verdict.where}); connection refused`,
          "the host must get a new host key; then update known_hosts or hostKey");
        return false;
      case "changed": {
        const exp = verdict.expected.map((x) => `${x.keyType} ${x.fingerprint} (${x.where})`).join(", ");
        this.error = new SshError("host-key-changed",
          `HOST KEY CHANGED for ${who}: it presented ${type} ${fp}, expected ${exp}. ` +
            "Someone could be intercepting the connection (or the host was reinstalled); nothing was run",
          this.pinned !== null
            ? "verify the new key out of band, then update the connection's hostKey"
            : `verify the new key out of band, then remove the old entry (ssh-keygen -R '${this.name}' -f ${this.file}) and add the new one`);
        return false;
      }
      case "unknown": {
        if (this.policy.trustOnFirstUse === true) {
          try {
            appendKnownHost(this.file, this.name, presented);
          } catch (e) {
            this.error = new SshError("config",
              `${who}: trust-on-first-use could not record its key in ${this.file}: ${(e as Error).message}`,
              "make the known_hosts file writable or pass another path");
            return false;
          }
          this.acceptedBy = "trust-on-first-use";
          return true;
        }
        const note = verdict.certAuthorityOnly
          ? " (known_hosts has only a @cert-authority entry for it; host certificates are not supported)"
          : "";
        this.error = new SshError("host-key-unknown",
          `unknown ${who}: its ${type} host key ${fp} is not in ${this.file}${note}`,
          `verify the fingerprint out of band (on the host: ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-/, "").replace(/-sha2-nistp\d+$/, "")}_key.pub), ` +
            `then set the connection's hostKey to "${type} ${presented.toString("base64")}", or add it to known_hosts ` +
            `(ssh-keyscan -p ${this.port} ${this.host} >> ${this.file}), or opt into trust-on-first-use`);
        return false;
      }
    }
  }
}

/** Append `<name> <type> <base64>` to a known_hosts file (creating it 0600 and its directory 0700). */
export function appendKnownHost(file: string, name: string, blob: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const type = keyTypeOfBlob(blob);
  if (type === null) throw new Error("not an SSH public key blob");
  let prefix = "";
  try {
    const cur = fs.readFileSync(file);
    if (cur.length > 0 && cur[cur.length - 1] !== 0x0a) prefix = "\n";
  } catch {
    /* new file */
  }
  fs.appendFileSync(file, `${prefix}${name} ${type} ${blob.toString("base64")}\n`, { mode: 0o600 });
}
