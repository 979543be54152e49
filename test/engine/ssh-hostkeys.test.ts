/**
 * Host key verification against a REAL sshd on 127.0.0.1: pinned hostKey, known_hosts (plain, lists,
 * hashed by `ssh-keygen -H`), unknown host (fingerprint = `ssh-keygen -lf`), trust-on-first-use, a CHANGED
 * key refused before any command runs, @revoked, @cert-authority, hosts with several host keys.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, SshError, type Connection, type ConnectOptions } from "../../provider/src/engine/ssh";
import { fileCleanups, genKey, type Sshd, startSshd, tempDir } from "./sshd/sshd";

const cleanups = fileCleanups();

function sshKeygenFingerprint(pubFile: string): string {
  return execFileSync("ssh-keygen", ["-lf", pubFile]).toString().split(" ")[1]!;
}

describe("host key verification against a real sshd", () => {
  let work: string;
  let sshd: Sshd;
  let key: ReturnType<typeof genKey>;
  let base: Connection;

  before(async () => {
    work = tempDir("wgmesh-hostkey-test-");
    cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
    key = genKey(work, "id_test");
    sshd = await startSshd({ authorizedKeys: [key.publicKey] });
    cleanups.push(() => sshd.stop());
    base = { host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey, dialErrorLimit: 1 };
  });

  const kh = (name: string, text: string) => {
    const f = path.join(work, name);
    fs.writeFileSync(f, text);
    return f;
  };

  async function runsOk(conn: Connection, opts: ConnectOptions): Promise<string> {
    const s = await connect(conn, opts);
    try {
      return (await s.run("echo verified")).stdout + s.info.hostKeyVerifiedBy;
    } finally {
      await s.close();
    }
  }

  it("accepts a pinned hostKey given as a public key line or as the base64 blob only", async () => {
    const empty = kh("kh_empty", "");
    assert.equal(await runsOk({ ...base, hostKey: sshd.hostKeyPub }, { knownHostsPath: empty }), "verified\nhostKey");
    const blob = sshd.hostKeyPub.split(" ")[1]!;
    assert.equal(await runsOk({ ...base, hostKey: blob }, { knownHostsPath: empty }), "verified\nhostKey");
  });

  it("refuses a pinned hostKey that does not match, even with trust-on-first-use", async () => {
    const other = genKey(work, "other_host_key");
    await assert.rejects(connect({ ...base, hostKey: other.publicKey }, { trustOnFirstUse: true, knownHostsPath: kh("kh_x", "") }),
      (e: unknown) => e instanceof SshError && e.code === "host-key-changed" && e.message.includes(sshKeygenFingerprint(`${other.file}.pub`)));
    // A pinned key of another type than the host has: also a changed key (not a negotiation failure).
    const rsa = genKey(work, "other_host_key_rsa", "rsa");
    await assert.rejects(connect({ ...base, hostKey: rsa.publicKey }, { knownHostsPath: kh("kh_y", "") }),
      (e: unknown) => e instanceof SshError && e.code === "host-key-changed" && /presented ssh-ed25519 .* expected ssh-rsa/.test(e.message));
  });

  it("verifies against known_hosts: [host]:port in a comma-separated list, and hashed entries from ssh-keygen -H", async () => {
    const plain = kh("kh_plain", `# comment\nexample.org,[127.0.0.1]:${sshd.port},10.1.2.3 ${sshd.hostKeyPub}\n`);
    assert.equal(await runsOk(base, { knownHostsPath: plain }), `verified\n${plain}:2`);
    const hashed = kh("kh_hashed", `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", hashed], { stdio: "ignore" });
    const text = fs.readFileSync(hashed, "utf8");
    assert.match(text, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /m);
    assert.ok(!text.includes("127.0.0.1"), "ssh-keygen -H hashed the name");
    assert.equal(await runsOk(base, { knownHostsPath: hashed }), `verified\n${hashed}:1`);
    // A wildcard pattern with a negation that excludes this host does not match it.
    const negated = kh("kh_neg", `[127.0.0.*]:*,![127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    await assert.rejects(connect(base, { knownHostsPath: negated }), (e: unknown) => e instanceof SshError && e.code === "host-key-unknown");
    const wildcard = kh("kh_wild", `[127.0.0.?]:${sshd.port} ${sshd.hostKeyPub}\n`);
    assert.equal(await runsOk(base, { knownHostsPath: wildcard }), `verified\n${wildcard}:1`);
  });

  it("names an unknown host with its SHA256 fingerprint (as ssh-keygen -lf prints it) and the fix", async () => {
    const empty = kh("kh_unknown", "");
    const fp = sshKeygenFingerprint(`${sshd.hostKeyFile}.pub`);
    const acceptedBefore = sshd.log().split("Accepted publickey").length;
    assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
    await assert.rejects(connect(base, { knownHostsPath: empty }), (e: unknown) => {
      assert.ok(e instanceof SshError);
      assert.equal(e.code, "host-key-unknown");
      assert.ok(e.message.includes(`unknown host [127.0.0.1]:${sshd.port}: its ssh-ed25519 host key ${fp} is not in ${empty}`), e.message);
      assert.ok(e.message.includes("Fix: verify the fingerprint out of band"), e.message);
      assert.ok(e.message.includes(`hostKey to "${sshd.hostKeyPub.split(" ").slice(0, 2).join(" ")}"`), e.message);
      return true;
    });
    assert.equal(fs.readFileSync(empty, "utf8"), "", "nothing recorded without trust-on-first-use");
    // No authentication was even attempted: the handshake stopped at the host key.
    assert.equal(sshd.log().split("Accepted publickey").length, acceptedBefore);
  });

  it("trust-on-first-use records the unknown key, and the next connection verifies against it", async () => {
    const dir = path.join(work, "tofu", ".ssh");
    const file = path.join(dir, "known_hosts"); // directory does not exist yet
    assert.equal(await runsOk(base, { knownHostsPath: file, trustOnFirstUse: true }), "verified\ntrust-on-first-use");
    const text = fs.readFileSync(file, "utf8");
    assert.equal(text, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub.split(" ").slice(0, 2).join(" ")}\n`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    // ssh-keygen reads what we wrote.
    assert.match(execFileSync("ssh-keygen", ["-F", `[127.0.0.1]:${sshd.port}`, "-f", file]).toString(), /ssh-ed25519/);
    assert.equal(await runsOk(base, { knownHostsPath: file }), `verified\n${file}:1`);
  });

  it("refuses a CHANGED host key before any command runs (trust-on-first-use or not)", async () => {
    const file = kh("kh_changed", `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    // Same port, new host key: a reinstalled host or a man in the middle.
    const port = sshd.port;
    const savedKey = path.join(work, "saved_host_key");
    fs.copyFileSync(sshd.hostKeyFile, savedKey);
    fs.copyFileSync(`${sshd.hostKeyFile}.pub`, `${savedKey}.pub`);
    fs.chmodSync(savedKey, 0o600);
    await sshd.stop();
    const impostor = await startSshd({ authorizedKeys: [key.publicKey], port });
    cleanups.push(() => impostor.stop());
    const marker = path.join(work, "command-ran");
    for (const trustOnFirstUse of [false, true]) {
      await assert.rejects(
        connect({ ...base, port }, { knownHostsPath: file, trustOnFirstUse }).then((s) => s.run(`touch ${marker}`)),
        (e: unknown) => {
          assert.ok(e instanceof SshError);
          assert.equal(e.code, "host-key-changed");
          assert.ok(e.message.includes(`HOST KEY CHANGED for host [127.0.0.1]:${port}`), e.message);
          assert.ok(e.message.includes(sshKeygenFingerprint(`${impostor.hostKeyFile}.pub`)), "names the presented key");
          assert.ok(e.message.includes(`${file}:1`), "names the known_hosts line");
          assert.ok(e.message.includes("ssh-keygen -R"), e.message);
          return true;
        },
      );
    }
    assert.equal(fs.existsSync(marker), false, "no command ran");
    assert.ok(!impostor.log().includes("Accepted publickey"), "we never even authenticated to the impostor");
    assert.equal(fs.readFileSync(file, "utf8"), `[127.0.0.1]:${port} ${sshd.hostKeyPub}\n`, "known_hosts untouched");
    // Restore the original server for the following tests.
    await impostor.stop();
    sshd = await startSshd({ authorizedKeys: [key.publicKey], port, hostKeyFile: savedKey });
    cleanups.push(() => sshd.stop());
  });

  it("@revoked refuses the key; @cert-authority is ignored (reported as unknown, with a note)", async () => {
    const revoked = kh("kh_revoked", `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n@revoked * ${sshd.hostKeyPub}\n`);
    await assert.rejects(connect(base, { knownHostsPath: revoked, trustOnFirstUse: true }),
      (e: unknown) => e instanceof SshError && e.code === "host-key-revoked" && e.message.includes(`${revoked}:2`));
    const ca = genKey(work, "ca_key");
    const caOnly = kh("kh_ca", `@cert-authority [127.0.0.1]:${sshd.port} ${ca.publicKey}\n`);
    await assert.rejects(connect(base, { knownHostsPath: caOnly }),
      (e: unknown) => e instanceof SshError && e.code === "host-key-unknown" && /host certificates are not supported/.test(e.message));
  });

  it("with several host keys, the type known_hosts holds is negotiated; a different type only is a changed key", async () => {
    const rsa = genKey(work, "second_host_key_rsa", "rsa");
    const multi = await startSshd({ authorizedKeys: [key.publicKey], extra: [`HostKey ${rsa.file}`] });
    cleanups.push(() => multi.stop());
    const conn = { ...base, port: multi.port };
    const onlyRsa = kh("kh_rsa", `[127.0.0.1]:${multi.port} ${rsa.publicKey}\n`);
    assert.equal(await runsOk(conn, { knownHostsPath: onlyRsa }), `verified\n${onlyRsa}:1`);
    const onlyEd = kh("kh_ed", `[127.0.0.1]:${multi.port} ${multi.hostKeyPub}\n`);
    assert.equal(await runsOk(conn, { knownHostsPath: onlyEd }), `verified\n${onlyEd}:1`);
    // The single-key server (ed25519 only) with only an RSA entry for it: refused as changed.
    const wrongType = kh("kh_wrongtype", `[127.0.0.1]:${sshd.port} ${rsa.publicKey}\n`);
    await assert.rejects(connect(base, { knownHostsPath: wrongType, trustOnFirstUse: true }),
      (e: unknown) => e instanceof SshError && e.code === "host-key-changed" && /presented ssh-ed25519 .* expected ssh-rsa/.test(e.message));
  });
});
