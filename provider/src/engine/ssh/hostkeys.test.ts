import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { utils } from "ssh2";
import {
  HostKeyVerifier,
  checkHostKey,
  fingerprintSha256,
  hashHostName,
  hostFieldMatches,
  keyTypeOfBlob,
  knownHostsName,
  parseKnownHosts,
  parsePinnedHostKey,
} from "./hostkeys";
import { SshError } from "./errors";

/** A fresh ed25519 public key as an OpenSSH line and its blob (string "ssh-ed25519" + string(raw key)). */
function newKey(): { line: string; blob: Buffer } {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]);
  const parsed = utils.parseKey(`ssh-ed25519 ${blob.toString("base64")}`);
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.type !== "ssh-ed25519") throw new Error("ssh2 rejects the built key");
  return { line: `ssh-ed25519 ${blob.toString("base64")} test@example`, blob };
}

describe("hostkeys", () => {
  it("reads the key type from a blob and fingerprints like OpenSSH (SHA256:, no padding)", () => {
    const k = newKey();
    assert.equal(keyTypeOfBlob(k.blob), "ssh-ed25519");
    const fp = fingerprintSha256(k.blob);
    assert.equal(fp, "SHA256:" + createHash("sha256").update(k.blob).digest("base64").replace(/=+$/, ""));
    assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(keyTypeOfBlob(Buffer.from("junk")), null);
  });

  it("names hosts as OpenSSH does", () => {
    assert.equal(knownHostsName("h1.example", 22), "h1.example");
    assert.equal(knownHostsName("10.0.0.1", 2222), "[10.0.0.1]:2222");
  });

  it("parses a pinned key from a public key line, a known_hosts line or the bare blob", () => {
    const k = newKey();
    const b64 = k.blob.toString("base64");
    assert.ok(parsePinnedHostKey(k.line).equals(k.blob));
    assert.ok(parsePinnedHostKey(b64).equals(k.blob));
    assert.ok(parsePinnedHostKey(`  [h]:2222 ssh-ed25519 ${b64}\n`).equals(k.blob));
    assert.throws(() => parsePinnedHostKey(`ssh-rsa ${b64}`), (e: unknown) => e instanceof SshError && /says 'ssh-rsa' but its key data is a 'ssh-ed25519'/.test(e.message));
    assert.throws(() => parsePinnedHostKey("not a key"), /hostKey is not an SSH public key/);
  });

  it("matches host fields: lists, wildcards, negation, [host]:port, hashed", () => {
    assert.ok(hostFieldMatches("a,b,c", "b"));
    assert.ok(!hostFieldMatches("a,b,c", "d"));
    assert.ok(hostFieldMatches("*.example.org", "h1.example.org"));
    assert.ok(!hostFieldMatches("*.example.org,!h1.example.org", "h1.example.org"));
    assert.ok(hostFieldMatches("[10.0.0.?]:2222", "[10.0.0.7]:2222"));
    assert.ok(!hostFieldMatches("10.0.0.7", "[10.0.0.7]:2222"));
    assert.ok(hostFieldMatches("H1.Example.ORG", "h1.example.org"), "case-insensitive");
    const salt = randomBytes(20);
    const hashed = hashHostName("[10.0.0.7]:2222", salt);
    assert.match(hashed, /^\|1\|[A-Za-z0-9+/]+=*\|[A-Za-z0-9+/]+=*$/);
    assert.ok(hostFieldMatches(hashed, "[10.0.0.7]:2222"));
    assert.ok(!hostFieldMatches(hashed, "10.0.0.7"));
    assert.ok(!hostFieldMatches("|1|bad", "x"));
  });

  it("parses known_hosts, skipping comments, blank and malformed lines", () => {
    const k = newKey();
    const b64 = k.blob.toString("base64");
    const entries = parseKnownHosts(`# c\n\nh1 ${k.line}\nbroken\nh2 ssh-ed25519 !!!\n@revoked * ssh-ed25519 ${b64}\n@cert-authority *.x ssh-ed25519 ${b64}\n@weird h ssh-ed25519 ${b64}\n`);
    assert.deepEqual(entries.map((e) => [e.marker, e.hosts, e.keyType, e.line]), [
      [null, "h1", "ssh-ed25519", 3],
      ["revoked", "*", "ssh-ed25519", 6],
      ["cert-authority", "*.x", "ssh-ed25519", 7],
    ]);
  });

  it("decides ok / unknown / changed / revoked", () => {
    const a = newKey();
    const b = newKey();
    const c = newKey();
    const file = "/kh";
    const entries = parseKnownHosts(`h1 ${a.line}\n@cert-authority h3 ${a.line}\n@revoked h4 ${c.line}\nh4 ${c.line}\n`);
    assert.deepEqual(checkHostKey(a.blob, "h1", { entries, file }), { kind: "ok", source: "/kh:1" });
    assert.equal(checkHostKey(b.blob, "h1", { entries, file }).kind, "changed");
    assert.deepEqual(checkHostKey(a.blob, "h2", { entries, file }), { kind: "unknown", certAuthorityOnly: false });
    assert.deepEqual(checkHostKey(a.blob, "h3", { entries, file }), { kind: "unknown", certAuthorityOnly: true });
    assert.deepEqual(checkHostKey(c.blob, "h4", { entries, file }), { kind: "revoked", where: "/kh:3" });
    assert.deepEqual(checkHostKey(c.blob, "h1", { entries, file }), { kind: "revoked", where: "/kh:3" }, "a revoked key is revoked for every host");
    assert.deepEqual(checkHostKey(a.blob, "x", { pinned: a.blob }), { kind: "ok", source: "hostKey" });
    assert.equal(checkHostKey(b.blob, "x", { pinned: a.blob }).kind, "changed");
  });

  it("verifier: offers known key types first; records TOFU only for unknown hosts", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-kh-"));
    try {
      const a = newKey();
      const file = path.join(dir, "sub", "known_hosts");
      const v = new HostKeyVerifier("10.0.0.9", 2200, { knownHostsPath: file, trustOnFirstUse: true });
      assert.equal(v.algorithms()[0], "ssh-ed25519");
      assert.equal(v.verify(a.blob), true);
      assert.equal(v.acceptedBy, "trust-on-first-use");
      assert.equal(fs.readFileSync(file, "utf8"), `[10.0.0.9]:2200 ssh-ed25519 ${a.blob.toString("base64")}\n`);
      const b = newKey();
      const v2 = new HostKeyVerifier("10.0.0.9", 2200, { knownHostsPath: file, trustOnFirstUse: true });
      assert.equal(v2.verify(b.blob), false);
      assert.equal(v2.error?.code, "host-key-changed");
      assert.equal(fs.readFileSync(file, "utf8").split("\n").length, 2, "nothing appended for a changed key");
      const rsaPinned = new HostKeyVerifier("h", 22, { hostKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7" + "A".repeat(40) });
      assert.deepEqual(rsaPinned.algorithms().slice(0, 3), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
      const unknown = new HostKeyVerifier("h", 22, { knownHostsPath: path.join(dir, "none") });
      assert.equal(unknown.verify(a.blob), false);
      assert.equal(unknown.error?.code, "host-key-unknown");
      assert.ok(unknown.error?.message.includes(fingerprintSha256(a.blob)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
