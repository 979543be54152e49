// One host = systemd-nspawn booting real systemd on the host's own root view, in the host's network
// namespace, detached from the caller (the CLI's `up` returns while hosts keep running).
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { NETNS_DIR, REPO_MOUNT, SUDO_UID, SUDO_USER } from "./naming";
import { CgroupPlan } from "./cgroups";
import { nsPids } from "./network";
import { run, RunResult, sleep } from "./proc";

export const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ContainerSpec {
  name: string;
  root: string;
  dir: string; // per-host state dir (logs, pid file)
  ns: string;
  repo: string;
  /** extra bind mounts (host path → path in the container) */
  binds?: Bind[];
  /** the host's own cgroups (see cgroupPlan) */
  cgroup?: CgroupPlan;
}

export interface Bind {
  source: string;
  /** path inside the host (default: same as source) */
  target?: string;
  readOnly?: boolean;
}

/** Writes the per-host identity into the host's root view (goes to the overlay's upper dir). */
export function personalize(
  root: string,
  opts: { name: string; hostKeyFile: string; clientPublicKey: string; aptLists: string },
): void {
  const w = (rel: string, data: string | Buffer, mode = 0o644) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data, { mode });
    fs.chmodSync(p, mode);
  };
  w("etc/hostname", `${opts.name}\n`);
  w("etc/hosts", `127.0.0.1\tlocalhost\n127.0.1.1\t${opts.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  w("etc/resolv.conf", "# testbed hosts have no DNS server (no network beyond this machine)\n");
  w("etc/machine-id", `${crypto.randomBytes(16).toString("hex")}\n`, 0o444);
  w("etc/ssh/ssh_host_ed25519_key", fs.readFileSync(opts.hostKeyFile), 0o600);
  w("etc/ssh/ssh_host_ed25519_key.pub", fs.readFileSync(`${opts.hostKeyFile}.pub`), 0o644);
  w("root/.ssh/authorized_keys", `${opts.clientPublicKey}\n`, 0o600);
  w(`home/${SUDO_USER}/.ssh/authorized_keys`, `${opts.clientPublicKey}\n`, 0o600);
  fs.chownSync(path.join(root, `home/${SUDO_USER}/.ssh/authorized_keys`), SUDO_UID, SUDO_UID);
  const lists = path.join(root, "var/lib/apt/lists");
  fs.mkdirSync(path.join(lists, "partial"), { recursive: true });
  for (const f of fs.readdirSync(opts.aptLists)) fs.copyFileSync(path.join(opts.aptLists, f), path.join(lists, f));
}

export function nspawnArgs(c: ContainerSpec): string[] {
  return [
    "systemd-nspawn",
    "-b",
    "-q",
    "--register=no",
    "--keep-unit",
    "--console=passive",
    "--resolv-conf=off",
    "--capability=CAP_NET_ADMIN",
    "--bind=/dev/net/tun",
    `--bind-ro=${c.repo}:${REPO_MOUNT}`,
    `--network-namespace-path=${path.join(NETNS_DIR, c.ns)}`,
    ...(c.binds ?? []).map((b) => `--bind${b.readOnly ? "-ro" : ""}=${b.source}:${b.target ?? b.source}`),
    "-D",
    c.root,
    "-M",
    c.name,
  ];
}

/** $1: cgroup.procs files to join; $2: group in the (unmounted) cgroup2 tree, $3: where to mount it briefly. */
const BOOT_WRAPPER = `set -e
for f in $1; do echo $$ > "$f"; done
if [ -n "$2" ]; then
  mkdir -p "$3"; mount -t cgroup2 none "$3"
  mkdir -p "$3$2"; echo $$ > "$3$2/cgroup.procs"
  umount "$3"; rmdir "$3"
fi
shift 3
exec "$@"`;

/** Starts the container detached; returns the systemd-nspawn pid. */
export function boot(c: ContainerSpec): number {
  const logFile = path.join(c.dir, "console.log");
  const fd = fs.openSync(logFile, "a");
  let argv = nspawnArgs(c);
  if (c.cgroup) {
    // join the host's own cgroups, then become systemd-nspawn (same pid)
    for (const d of c.cgroup.dirs) fs.mkdirSync(d, { recursive: true });
    const procs = c.cgroup.dirs.map((d) => path.join(d, "cgroup.procs")).join(" ");
    const mnt = path.join(c.dir, "cgroup2");
    argv = ["/bin/sh", "-c", BOOT_WRAPPER, "boot-wrapper", procs, c.cgroup.v2rel ?? "", mnt, ...argv];
  }
  // /proc/sys/net stays writable (sysctl net.ipv4.ip_forward etc. inside the host's own network namespace);
  // nspawn only does that by itself for --private-network, which cannot be combined with a namespace path.
  const env = { ...process.env, SYSTEMD_NSPAWN_API_VFS_WRITABLE: "network" };
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ["ignore", fd, fd], env });
  fs.closeSync(fd);
  if (!child.pid) throw new Error(`host ${c.name}: systemd-nspawn did not start (see ${logFile})`);
  child.unref();
  fs.writeFileSync(path.join(c.dir, "nspawn.pid"), `${child.pid}\n`);
  return child.pid;
}

/** Is pid a live (non-zombie) process? */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** argv of a process, or undefined when it is gone. */
export function cmdline(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return undefined;
  }
}

/** systemd-nspawn processes running a machine whose name satisfies the predicate. */
export function findNspawn(match: (machine: string) => boolean): Array<{ pid: number; machine: string }> {
  const out: Array<{ pid: number; machine: string }> = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const argv = cmdline(Number(e));
    if (!argv || !argv[0]?.endsWith("systemd-nspawn")) continue;
    const i = argv.indexOf("-M");
    const machine = i >= 0 ? argv[i + 1] : undefined;
    if (machine && match(machine) && alive(Number(e))) out.push({ pid: Number(e), machine });
  }
  return out;
}

/** The container's PID 1 (systemd), found as the process in the host's namespace whose innermost pid is 1. */
export async function containerInit(ns: string): Promise<number | undefined> {
  for (const pid of await nsPids(ns)) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      const ids = /^NSpid:\s*(.*)$/m.exec(status)?.[1].trim().split(/\s+/) ?? [];
      if (ids.length > 1 && ids[ids.length - 1] === "1") return pid;
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined;
}

export interface ExecOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  check?: boolean;
}

/** argv prefix that runs a command inside the container's namespaces with a clean root environment. */
export function execPrefix(init: number): string[] {
  return [
    "nsenter",
    "-t",
    String(init),
    "-a",
    "--",
    "/usr/bin/env",
    "-i",
    `PATH=${HOST_PATH}`,
    "HOME=/root",
    "USER=root",
    "LANG=C.UTF-8",
    "TERM=dumb",
  ];
}

/** Runs a command inside a running host: a string goes through /bin/sh -c, an array is exec'd as is. */
export async function execIn(name: string, ns: string, cmd: string | string[], opts: ExecOptions = {}): Promise<RunResult> {
  const init = await containerInit(ns);
  if (!init) throw new Error(`host ${name} is not running (no systemd in namespace ${ns}); boot it first`);
  const argv = [...execPrefix(init), ...(typeof cmd === "string" ? ["/bin/sh", "-c", cmd] : cmd)];
  return run(argv, { input: opts.input, timeoutMs: opts.timeoutMs ?? 120_000, check: opts.check ?? false });
}

/**
 * Why a booted host is gone (its systemd-nspawn exited), with the end of its console log; null while it runs.
 * Lets a wait fail at once with the host's own words instead of timing out.
 */
export function bootFailure(name: string, pid: number | undefined, dir: string): string | null {
  if (pid === undefined || alive(pid)) return null;
  let tail = "";
  try {
    tail = fs.readFileSync(path.join(dir, "console.log"), "utf8")
      .replace(/\x1b\[[0-9;]*m/g, "")
      .split("\n").map((l) => l.trim()).filter((l) => l !== "").slice(-6).join(" | ");
  } catch {
    /* no log */
  }
  return `host ${name}: systemd-nspawn exited during boot (console: ${tail || "empty"})`;
}

/**
 * Resolves once an SSH server answers with its banner on address:port. `gone` (optional) is asked on every
 * try and ends the wait at once with its message (e.g. the host's container exited).
 */
export async function waitForSsh(name: string, address: string, port: number, timeoutMs: number, gone?: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const why = gone?.();
    if (why) throw new Error(why);
    const banner = await new Promise<string>((resolve) => {
      const s = net.connect({ host: address, port });
      let data = "";
      const done = (v: string) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(2000, () => done(""));
      s.on("data", (b) => {
        data += b.toString("latin1");
        if (data.includes("\n")) done(data);
      });
      s.on("error", (e) => done(`error: ${e.message}`));
      s.on("end", () => done(data));
    });
    if (banner.startsWith("SSH-")) return;
    last = banner;
    await sleep(250);
  }
  throw new Error(`host ${name}: sshd at ${address}:${port} did not answer within ${timeoutMs / 1000} s (last: ${last || "no banner"})`);
}

/**
 * Resolves once the host's systemd finished booting (so /run/nologin is gone and every user may log in);
 * returns the final state ("running", or "degraded" with the failed units).
 */
export async function waitForBoot(name: string, ns: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let state = "";
  while (Date.now() < deadline) {
    const init = await containerInit(ns);
    if (init) {
      const left = Math.max(1, Math.round((deadline - Date.now()) / 1000));
      const r = await run([...execPrefix(init), "timeout", String(left), "systemctl", "is-system-running", "--wait"], {
        check: false,
        timeoutMs: (left + 5) * 1000,
      });
      state = r.stdout.trim();
      if (state === "running") return state;
      if (state === "degraded") {
        const failed = await run([...execPrefix(init), "systemctl", "--failed", "--no-legend", "--plain"], { check: false });
        return `degraded: ${failed.stdout.trim().replace(/\s+/g, " ")}`;
      }
    }
    await sleep(200);
  }
  throw new Error(`host ${name}: systemd did not finish booting within ${timeoutMs / 1000} s (state: ${state || "no init"})`);
}

/** Orderly stop (SIGTERM → nspawn asks systemd to power off), SIGKILL after the grace period. */
export async function stopContainer(pid: number | undefined, ns: string, graceMs = 15_000): Promise<void> {
  if (alive(pid)) {
    process.kill(pid!, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (alive(pid) && Date.now() < deadline) await sleep(100);
    if (alive(pid)) process.kill(pid!, "SIGKILL");
    while (alive(pid)) await sleep(50);
  }
  // Anything still in the host's namespace (only when nspawn itself was killed) goes too.
  for (let i = 0; i < 20; i++) {
    const left = await nsPids(ns);
    if (left.length === 0) return;
    for (const p of left) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(100);
  }
}
