// SSH material of a testbed: the client key (ed25519, per testbed), one host key per host generated at
// `up`, and the known_hosts file written from those host keys (never trust-on-first-use).
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "./proc";

export interface KeyPair {
  privateKeyPath: string;
  publicKey: string; // "ssh-ed25519 AAAA… comment"
}

export async function generateKey(file: string, comment: string): Promise<KeyPair> {
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  fs.chmodSync(file, 0o600);
  return { privateKeyPath: file, publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

/** "ssh-ed25519 AAAA…" without the comment. */
export function keyBody(publicKey: string): string {
  return publicKey.split(/\s+/).slice(0, 2).join(" ");
}

/** The known_hosts host pattern ssh uses for address:port. */
export function knownHostsPattern(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

export function writeKnownHosts(
  file: string,
  entries: Array<{ address: string; port: number; publicKey: string }>,
): void {
  const text = entries.map((e) => `${knownHostsPattern(e.address, e.port)} ${keyBody(e.publicKey)}\n`).join("");
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

/** SHA256 fingerprint as ssh prints it (SHA256:…). */
export async function fingerprint(publicKey: string): Promise<string> {
  const r = await run(["ssh-keygen", "-l", "-E", "sha256", "-f", "-"], { input: publicKey + "\n" });
  return r.stdout.split(/\s+/)[1];
}
