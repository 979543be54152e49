/**
 * A network namespace of the test's own, with a real sshd serving it: the test listens on a free
 * 127.0.0.1 port in the root namespace and, per TCP connection, runs `ip netns exec NS /usr/sbin/sshd -i`
 * (sshd's inetd mode) with the socket as its stdin/stdout. So the remote shell lives inside the namespace
 * (its interfaces, routes, sysctls, and /etc/netns/NS/* bind-mounted over /etc) while nothing is added to
 * the root namespace but a loopback listener.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { genKey, tempDir } from "./sshd";

export interface NetnsSshd {
  ns: string;
  port: number;
  hostKeyPub: string;
  /** Run a command inside the namespace (argv, no shell). */
  exec(argv: string[], input?: string): string;
  /** Start a long-running process inside the namespace; killed by stop(). */
  spawnIn(argv: string[], env?: Record<string, string>): ChildProcess;
  /** /etc/netns/NS: files here appear over /etc inside the namespace's processes. */
  etcDir: string;
  log(): string;
  stop(): Promise<void>;
}

export async function startNetnsSshd(authorizedKeys: string[]): Promise<NetnsSshd> {
  const ns = `wgmt-facts-${process.pid}`;
  const dir = tempDir("wgmesh-nssshd-");
  const etcDir = path.join("/etc/netns", ns);
  const children: ChildProcess[] = [];
  let log = "";
  let server: net.Server | null = null;
  const stop = async () => {
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGTERM");
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            c.kill("SIGKILL");
            r();
          }, 3000);
          c.once("exit", () => {
            clearTimeout(t);
            r();
          });
        });
      }
    }
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {
      /* not created */
    }
    fs.rmSync(etcDir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync("ip", ["netns", "add", ns], { stdio: "ignore" });
    execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"], { stdio: "ignore" });
    fs.mkdirSync(etcDir, { recursive: true });
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const hostKey = genKey(dir, "host_key");
    const ak = path.join(dir, "authorized_keys");
    fs.writeFileSync(ak, authorizedKeys.join("\n") + "\n", { mode: 0o600 });
    const cfg = path.join(dir, "sshd_config");
    fs.writeFileSync(cfg, [
      `HostKey ${hostKey.file}`,
      `AuthorizedKeysFile ${ak}`,
      "UsePAM no",
      "StrictModes no",
      "PermitRootLogin yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "LogLevel VERBOSE",
    ].join("\n") + "\n");
    server = net.createServer((sock) => {
      const child = spawn("ip", ["netns", "exec", ns, "/usr/sbin/sshd", "-i", "-e", "-f", cfg], { stdio: ["pipe", "pipe", "pipe"] });
      children.push(child);
      child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
      sock.pipe(child.stdin!);
      child.stdout!.pipe(sock);
      sock.on("error", () => child.kill("SIGTERM"));
      sock.on("close", () => child.kill("SIGTERM"));
      child.on("exit", () => sock.destroy());
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    return {
      ns,
      port,
      hostKeyPub: hostKey.publicKey,
      etcDir,
      exec: (argv, input) => execFileSync("ip", ["netns", "exec", ns, ...argv], { input, stdio: ["pipe", "pipe", "pipe"] }).toString(),
      spawnIn: (argv, env) => {
        const c = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: "ignore", env: { ...process.env, ...env } });
        children.push(c);
        return c;
      },
      log: () => log,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
