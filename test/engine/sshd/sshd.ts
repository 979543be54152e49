/**
 * A real OpenSSH server for tests, on a free 127.0.0.1 port, with its own generated host key, config,
 * authorized_keys and pid file in a temp dir. Runs as the current user (root) in the foreground (-D -e);
 * `stop()` kills exactly that process.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after } from "node:test";

export interface SshdOptions {
  /** Lines for authorized_keys (public keys). */
  authorizedKeys?: string[];
  passwordAuthentication?: boolean;
  allowTcpForwarding?: boolean;
  /** Host key type (default ed25519). */
  hostKeyType?: "ed25519" | "ecdsa" | "rsa";
  /** Reuse an existing host key file (private key path); default: a fresh one. */
  hostKeyFile?: string;
  /** Extra sshd_config lines. */
  extra?: string[];
  /** Fixed port (default: a free one). */
  port?: number;
  /** Listen address (default 127.0.0.1). */
  listenAddress?: string;
  /** Run sshd inside this network namespace (`ip netns exec`). */
  netns?: string;
}

export interface Sshd {
  port: number;
  dir: string;
  /** The host public key line ("ssh-ed25519 AAAA… "). */
  hostKeyPub: string;
  hostKeyFile: string;
  authorizedKeysFile: string;
  /** sshd's log (stderr) so far. */
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** ssh-keygen a key pair (no passphrase unless given); returns paths and contents. */
export function genKey(dir: string, name: string, type: "ed25519" | "ecdsa" | "rsa" = "ed25519", passphrase = "") {
  const file = path.join(dir, name);
  const args = ["-q", "-t", type, "-N", passphrase, "-C", `wgmesh-test-${name}`, "-f", file];
  if (type === "rsa") args.splice(3, 0, "-b", "2048");
  execFileSync("ssh-keygen", args, { stdio: "ignore" });
  return { file, privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const dir = tempDir("wgmesh-sshd-");
  try {
    return await launch(dir, opts);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function launch(dir: string, opts: SshdOptions): Promise<Sshd> {
  let hostKeyFile: string;
  if (opts.hostKeyFile) {
    hostKeyFile = path.join(dir, "host_key");
    fs.copyFileSync(opts.hostKeyFile, hostKeyFile);
    fs.copyFileSync(`${opts.hostKeyFile}.pub`, `${hostKeyFile}.pub`);
    fs.chmodSync(hostKeyFile, 0o600);
  } else {
    hostKeyFile = genKey(dir, "host_key", opts.hostKeyType ?? "ed25519").file;
  }
  const authorizedKeysFile = path.join(dir, "authorized_keys");
  fs.writeFileSync(authorizedKeysFile, (opts.authorizedKeys ?? []).join("\n") + "\n", { mode: 0o600 });
  const port = opts.port ?? (await freePort());
  const config = [
    `Port ${port}`,
    `ListenAddress ${opts.listenAddress ?? "127.0.0.1"}`,
    `HostKey ${hostKeyFile}`,
    `PidFile ${path.join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    "UsePAM no",
    "StrictModes no",
    "PermitRootLogin yes",
    "PubkeyAuthentication yes",
    `PasswordAuthentication ${opts.passwordAuthentication ? "yes" : "no"}`,
    "KbdInteractiveAuthentication no",
    `AllowTcpForwarding ${opts.allowTcpForwarding ? "yes" : "no"}`,
    "LogLevel VERBOSE",
    "MaxStartups 100",
    "Subsystem sftp internal-sftp",
    ...(opts.extra ?? []),
  ];
  const cfgFile = path.join(dir, "sshd_config");
  fs.writeFileSync(cfgFile, config.join("\n") + "\n");
  const argv = ["/usr/sbin/sshd", "-D", "-e", "-f", cfgFile];
  const child: ChildProcess = opts.netns
    ? spawn("ip", ["netns", "exec", opts.netns, ...argv], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`sshd did not start on port ${port}: ${log}`)), 10000);
    const check = () => {
      if (log.includes(`Server listening on ${opts.listenAddress ?? "127.0.0.1"} port ${port}`)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stderr!.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`sshd exited (${code}) before listening: ${log}`));
    });
  }).catch(async (e) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    throw e;
  });
  return {
    port,
    dir,
    hostKeyPub: fs.readFileSync(`${hostKeyFile}.pub`, "utf8").trim(),
    hostKeyFile,
    authorizedKeysFile,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Start a real ssh-agent with its socket in a temp dir; `stop()` kills it by pid. */
export async function startAgent(): Promise<{ socket: string; add(keyFile: string): void; stop(): Promise<void> }> {
  const dir = tempDir("wgmesh-agent-");
  const socket = path.join(dir, "agent.sock");
  const child = spawn("ssh-agent", ["-D", "-a", socket], { stdio: ["ignore", "ignore", "ignore"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const t0 = Date.now();
  while (!fs.existsSync(socket)) {
    if (Date.now() - t0 > 5000) throw new Error("ssh-agent did not create its socket");
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    socket,
    add(keyFile: string) {
      execFileSync("ssh-add", ["-q", keyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: "ignore" });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A list of cleanups run (last first, each even when another fails) after all tests of the calling file:
 * push a closer for every sshd, agent or directory a test starts.
 */
export function fileCleanups(): Array<() => Promise<void> | void> {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        /* keep cleaning */
      }
    }
  });
  return cleanups;
}
