/**
 * The SSH connection layer against a REAL OpenSSH server on 127.0.0.1: authentication (key, encrypted key,
 * password refused/accepted, agent, default identity files in the Go tool's order), dial retries, proxy hop,
 * counters.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, SshError, type Logger } from "../../provider/src/engine/ssh";
import { fileCleanups, freePort, genKey, type Sshd, startAgent, startSshd, tempDir } from "./sshd/sshd";

const cleanups = fileCleanups();

/** A temporary local user with a password (for password auth); removed in after(). */
function makeUser(home: string): { name: string; password: string } {
  const name = `wgmt${process.pid % 100000}`;
  const password = `pw-${Math.random().toString(36).slice(2)}-Aa1`;
  try {
    execFileSync("userdel", [name], { stdio: "ignore" });
  } catch {
    /* not there */
  }
  execFileSync("useradd", ["-M", "-d", home, "-s", "/bin/sh", name], { stdio: "ignore" });
  cleanups.push(() => {
    execFileSync("userdel", [name], { stdio: "ignore" });
  });
  execFileSync("chpasswd", [], { input: `${name}:${password}\n`, stdio: ["pipe", "ignore", "ignore"] });
  return { name, password };
}

describe("ssh connect against a real sshd", () => {
  let work: string;
  let sshd: Sshd;
  let key: ReturnType<typeof genKey>;
  let encKey: ReturnType<typeof genKey>;
  let agentKey: ReturnType<typeof genKey>;
  let knownHosts: string;

  before(async () => {
    work = tempDir("wgmesh-ssh-test-");
    cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
    key = genKey(work, "id_test");
    encKey = genKey(work, "id_enc", "ecdsa", "s3cret-pass");
    agentKey = genKey(work, "id_agent");
    sshd = await startSshd({ authorizedKeys: [key.publicKey, encKey.publicKey, agentKey.publicKey] });
    cleanups.push(() => sshd.stop());
    knownHosts = path.join(work, "known_hosts");
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
  });

  it("authenticates with privateKey and runs a script as root", async () => {
    const s = await connect({ host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey }, { knownHostsPath: knownHosts });
    try {
      const r = await s.run("id -u; echo hello");
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, "0\nhello\n");
      assert.equal(s.info.reachedAddress, "127.0.0.1");
      assert.equal(s.info.hostKeyVerifiedBy, `${knownHosts}:1`);
      assert.deepEqual(s.counters, { sshConnections: 1, execRoundTrips: 1, dialAttempts: 1 });
    } finally {
      await s.close();
    }
  });

  it("uses an encrypted privateKey with privateKeyPassword, and says what is wrong without it", async () => {
    const s = await connect({ host: "127.0.0.1", port: sshd.port, privateKey: encKey.privateKey, privateKeyPassword: "s3cret-pass" },
      { knownHostsPath: knownHosts });
    assert.equal((await s.run("echo ok")).stdout, "ok\n");
    await s.close();
    await assert.rejects(
      connect({ host: "127.0.0.1", port: sshd.port, privateKey: encKey.privateKey }, { knownHostsPath: knownHosts }),
      (e: unknown) => e instanceof SshError && e.code === "config" && /privateKeyPassword/.test(e.message) && !e.message.includes("BEGIN"),
    );
  });

  it("authenticates through a real ssh-agent (agentSocketPath, and $SSH_AUTH_SOCK when nothing else is given)", async () => {
    const agent = await startAgent();
    cleanups.push(() => agent.stop());
    agent.add(agentKey.file);
    const s1 = await connect({ host: "127.0.0.1", port: sshd.port, agentSocketPath: agent.socket }, { knownHostsPath: knownHosts });
    assert.equal((await s1.run("echo via-agent")).stdout, "via-agent\n");
    await s1.close();
    const emptyHome = tempDir("wgmesh-home-");
    cleanups.push(() => fs.rmSync(emptyHome, { recursive: true, force: true }));
    const s2 = await connect({ host: "127.0.0.1", port: sshd.port },
      { knownHostsPath: knownHosts, env: { home: emptyHome, sshAuthSock: agent.socket } });
    assert.equal((await s2.run("echo default-agent")).stdout, "default-agent\n");
    await s2.close();
  });

  it("falls back to ~/.ssh/id_rsa, id_ed25519, id_ecdsa in that order", async () => {
    const home = tempDir("wgmesh-home-");
    cleanups.push(() => fs.rmSync(home, { recursive: true, force: true }));
    fs.mkdirSync(path.join(home, ".ssh"), { mode: 0o700 });
    // id_rsa exists but is not authorized; id_ed25519 is authorized; id_ecdsa is authorized too.
    const rsa = genKey(path.join(home, ".ssh"), "id_rsa", "rsa");
    const ed = genKey(path.join(home, ".ssh"), "id_ed25519", "ed25519");
    const ec = genKey(path.join(home, ".ssh"), "id_ecdsa", "ecdsa");
    fs.appendFileSync(sshd.authorizedKeysFile, `${ed.publicKey}\n${ec.publicKey}\n`);
    const logs: string[] = [];
    const logger: Logger = (_l, m) => logs.push(m);
    const s = await connect({ host: "127.0.0.1", port: sshd.port },
      { knownHostsPath: knownHosts, env: { home, sshAuthSock: "" }, logger });
    await s.close();
    // The server's log tells which key it accepted: the ed25519 one (id_rsa was offered first and refused).
    const accepted = sshd.log().split("\n").filter((l) => l.includes("Accepted publickey"));
    const edFp = execFileSync("ssh-keygen", ["-lf", `${ed.file}.pub`]).toString().split(" ")[1]!;
    const rsaFp = execFileSync("ssh-keygen", ["-lf", `${rsa.file}.pub`]).toString().split(" ")[1]!;
    assert.ok(accepted.at(-1)!.includes(edFp), accepted.at(-1));
    assert.ok(sshd.log().includes(rsaFp), "id_rsa must have been offered first");
    assert.ok(!fs.readFileSync(sshd.authorizedKeysFile, "utf8").includes(rsa.publicKey));
    // Without any credential at all: a clear config error naming the files.
    const empty = tempDir("wgmesh-home-");
    cleanups.push(() => fs.rmSync(empty, { recursive: true, force: true }));
    await assert.rejects(connect({ host: "127.0.0.1", port: sshd.port }, { knownHostsPath: knownHosts, env: { home: empty, sshAuthSock: "" } }),
      /no SSH credentials for root@127\.0\.0\.1.*id_rsa, ~\/\.ssh\/id_ed25519, ~\/\.ssh\/id_ecdsa/s);
  });

  it("password auth: refused when sshd disallows it, accepted when allowed", async () => {
    const home = tempDir("wgmesh-uhome-");
    cleanups.push(() => fs.rmSync(home, { recursive: true, force: true }));
    const u = makeUser(home);
    await assert.rejects(
      connect({ host: "127.0.0.1", port: sshd.port, user: u.name, password: u.password, dialErrorLimit: 1 }, { knownHostsPath: knownHosts, env: { sshAuthSock: "" } }),
      (e: unknown) => e instanceof SshError && e.code === "auth" && e.message.includes(`${u.name}@127.0.0.1:${sshd.port}`) &&
        e.message.includes("tried: password") && !e.message.includes(u.password),
    );
    const pw = await startSshd({ passwordAuthentication: true, hostKeyFile: sshd.hostKeyFile });
    cleanups.push(() => pw.stop());
    fs.appendFileSync(knownHosts, `[127.0.0.1]:${pw.port} ${pw.hostKeyPub}\n`);
    const s = await connect({ host: "127.0.0.1", port: pw.port, user: u.name, password: u.password }, { knownHostsPath: knownHosts });
    const r = await s.run("id -un", { sudo: false });
    assert.equal(r.stdout.trim(), u.name);
    // A non-root user's privileged run goes through sudo -n; without sudo on the host: the clear error.
    const hasSudo = (() => {
      try {
        execFileSync("sh", ["-c", "command -v sudo"], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    })();
    if (!hasSudo) {
      await assert.rejects(s.run("touch /should-not-exist"), (e: unknown) =>
        e instanceof SshError && e.code === "sudo" &&
        e.message.includes(`user ${u.name} on host 127.0.0.1 needs passwordless sudo (sudo -n failed: sudo is not installed)`) &&
        e.message.includes(`'${u.name} ALL=(ALL) NOPASSWD:ALL'`));
    }
    await s.close();
  });

  it("a wrong key is refused with the methods tried, and auth failures are retried up to dialErrorLimit", async () => {
    const other = genKey(work, "id_other");
    const t0 = Date.now();
    await assert.rejects(
      connect({ host: "127.0.0.1", port: sshd.port, privateKey: other.privateKey, dialErrorLimit: 2 },
        { knownHostsPath: knownHosts, retryDelayMs: () => 50, env: { sshAuthSock: "" } }),
      (e: unknown) => e instanceof SshError && e.code === "auth" && /authentication refused \(tried: publickey \(privateKey, ssh-ed25519\)\) \(2 attempts/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 15000);
  });

  it("dial retries against a closed port stop after dialErrorLimit attempts with a clear error", async () => {
    const closed = await freePort();
    const logs: string[] = [];
    const counters = { sshConnections: 0, execRoundTrips: 0, dialAttempts: 0 };
    await assert.rejects(
      connect({ host: "127.0.0.1", port: closed, privateKey: key.privateKey, dialErrorLimit: 3, perDialTimeout: 2 },
        { knownHostsPath: knownHosts, retryDelayMs: () => 20, counters, logger: (_l, m) => logs.push(m) }),
      (e: unknown) => {
        assert.ok(e instanceof SshError);
        assert.equal(e.code, "dial");
        assert.match(e.message, new RegExp(`could not connect to root@127\\.0\\.0\\.1:${closed} after 3 attempts \\(connection\\.dialErrorLimit 3, perDialTimeout 2s\\): .*ECONNREFUSED`));
        assert.match(e.message, /Fix: check that 127\.0\.0\.1 is up and sshd listens on port/);
        return true;
      },
    );
    assert.equal(counters.dialAttempts, 3);
    assert.equal(counters.sshConnections, 0);
    assert.equal(logs.filter((l) => l.includes("retrying")).length, 2);
  });

  it("perDialTimeout bounds a dial that never completes the handshake", async () => {
    // A TCP listener that accepts and says nothing (a half-dead host).
    const net = await import("node:net");
    const socks: import("node:net").Socket[] = [];
    const srv = net.createServer((c) => socks.push(c));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => {
      socks.forEach((c) => c.destroy());
      srv.close(() => r());
    }));
    const port = (srv.address() as import("node:net").AddressInfo).port;
    await assert.rejects(
      connect({ host: "127.0.0.1", port, privateKey: key.privateKey, dialErrorLimit: 2, perDialTimeout: 1 }, { knownHostsPath: knownHosts, retryDelayMs: () => 10 }),
      /after 2 attempts .*timed out after 1s/,
    );
  });

  it("hops through a bastion (proxy) with AllowTcpForwarding, verifying both host keys", async () => {
    const bastion = await startSshd({ authorizedKeys: [key.publicKey], allowTcpForwarding: true });
    cleanups.push(() => bastion.stop());
    const noFwd = await startSshd({ authorizedKeys: [key.publicKey], allowTcpForwarding: false });
    cleanups.push(() => noFwd.stop());
    const kh = path.join(work, "known_hosts_proxy");
    fs.writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n[127.0.0.1]:${bastion.port} ${bastion.hostKeyPub}\n`);
    const s = await connect({
      host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey,
      proxy: { host: "127.0.0.1", port: bastion.port, privateKey: key.privateKey },
    }, { knownHostsPath: kh });
    try {
      assert.equal((await s.run("echo through-bastion")).stdout, "through-bastion\n");
      assert.equal(s.info.viaProxy, true);
      assert.equal(s.counters.sshConnections, 2);
      assert.ok(bastion.log().includes("Accepted publickey"), "the bastion authenticated us");
      assert.match(sshd.log(), /Connection from 127\.0\.0\.1/);
    } finally {
      await s.close();
    }
    // The bastion's host key is verified too: with only the target in known_hosts, the bastion is unknown.
    const onlyTarget = path.join(work, "known_hosts_target_only");
    fs.writeFileSync(onlyTarget, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    await assert.rejects(connect({
      host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey,
      proxy: { host: "127.0.0.1", port: bastion.port, privateKey: key.privateKey },
    }, { knownHostsPath: onlyTarget }), (e: unknown) => e instanceof SshError && e.code === "host-key-unknown" && e.message.includes(`[127.0.0.1]:${bastion.port}`));
    // A bastion that forbids forwarding: a proxy error after the target's dialErrorLimit.
    fs.appendFileSync(kh, `[127.0.0.1]:${noFwd.port} ${noFwd.hostKeyPub}\n`);
    await assert.rejects(connect({
      host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey, dialErrorLimit: 2,
      proxy: { host: "127.0.0.1", port: noFwd.port, privateKey: key.privateKey },
    }, { knownHostsPath: kh, retryDelayMs: () => 10 }), (e: unknown) => e instanceof SshError && e.code === "proxy" && /AllowTcpForwarding yes/.test(e.message));
  });

  it("counts one connection and one round trip per run across a session", async () => {
    const counters = { sshConnections: 0, execRoundTrips: 0, dialAttempts: 0 };
    const s = await connect({ host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey }, { knownHostsPath: knownHosts, counters });
    for (let i = 0; i < 3; i++) assert.equal((await s.run(`echo ${i}`)).stdout, `${i}\n`);
    await s.close();
    assert.deepEqual(counters, { sshConnections: 1, execRoundTrips: 3, dialAttempts: 1 });
    await assert.rejects(s.run("true"), (e: unknown) => e instanceof SshError && e.code === "closed");
  });
});
