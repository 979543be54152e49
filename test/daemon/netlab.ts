/**
 * A throw-away network of namespaces on this machine for daemon tests and the join benchmark:
 * one bridge namespace (multicast snooping off), a DHT bootstrap namespace running a storing
 * bittorrent-dht node (`{bootstrap:false}`, UDP 6881, started first), and node namespaces on
 * 172.31.<subnet>.0/24 with a route for 224/4. Each node has a long-lived "holder" process owning a
 * private mount + UTS namespace: its own /etc/hosts (the Go tool's four DHT names → the bootstrap),
 * tmpfs on /run (wireguard-go sockets) and /var/lib (daemon state, kept across daemon restarts), and
 * its own hostname. Everything is torn down by `cleanup()` — processes first (by recorded PID and by
 * `ip netns pids` of our own namespaces), then the namespaces and the lab directory.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RpcClient } from "../../provider/src/daemon/rpc";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
export const WGMESH_BIN = path.join(REPO_ROOT, "bin/wgmesh");
export const GO_BINARY = process.env["WGMESH_GO_BINARY"] || path.resolve(REPO_ROOT, "../shared/peers/wgmesh-go");
const DHT_NAMES = "router.bittorrent.com router.utorrent.com dht.transmissionbt.com dht.libtorrent.org";

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Skip reason for namespace tests, or undefined. */
export function labSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network and mount namespaces)";
  for (const tool of ["ip", "unshare", "nsenter", "wg", "wireguard-go", "ping"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `needs ${tool}`;
  }
  return undefined;
}

export function goSkipReason(): string | undefined {
  try {
    fs.accessSync(GO_BINARY, fs.constants.X_OK);
    return undefined;
  } catch {
    return `Go reference binary not found at ${GO_BINARY}`;
  }
}

let counter = 0;

export interface LabNode {
  name: string;
  ns: string;
  ip: string;
  holder: number;
  /** RPC socket path of the daemon on this node (host-visible). */
  socket: string;
}

export interface Proc {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

export class NetLab {
  readonly prefix: string;
  readonly dir: string;
  readonly bootstrapIp: string;
  readonly nodes = new Map<string, LabNode>();
  private readonly namespaces: string[] = [];
  private readonly procs: Proc[] = [];
  private readonly logs = new Map<string, string>();
  private hostIndex = 10;

  /** `prefix`: start of every namespace name (default `wgj`; a benchmark may want its own). */
  constructor(private readonly subnet = 77, opts: { prefix?: string } = {}) {
    this.prefix = `${opts.prefix ?? "wgj"}${process.pid % 100000}${counter++}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgm-lab-"));
    this.bootstrapIp = `172.31.${subnet}.2`;
  }

  private ip(args: string[]): void {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
  }

  private addNs(short: string): string {
    const ns = `${this.prefix}-${short}`;
    this.ip(["netns", "add", ns]);
    this.namespaces.push(ns);
    this.ip(["-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /** Bridge + DHT bootstrap node (listening before this resolves). */
  async setup(withBootstrap = true): Promise<void> {
    const br = this.addNs("br");
    this.ip(["-n", br, "link", "add", "br0", "type", "bridge"]);
    this.ip(["-n", br, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0"]);
    this.ip(["-n", br, "link", "set", "br0", "up"]);
    if (!withBootstrap) return;
    const ns = this.attach("dht", this.bootstrapIp);
    const p = this.spawn("bootstrap", "ip", ["netns", "exec", ns, process.execPath, "-e",
      `import('bittorrent-dht').then(({default: DHT}) => { const d = new DHT({ bootstrap: false }); d.on('announce', (p, ih) => console.log('announce', ih.toString('hex'), p.host + ':' + p.port)); d.listen(6881, '${this.bootstrapIp}', () => console.log('listening')); })`]);
    await this.waitFor("DHT bootstrap node", () => p.log().includes("listening"), 10_000);
  }

  private attach(short: string, addr: string): string {
    const ns = this.addNs(short);
    const veth = `${this.prefix.slice(-6)}${short}`.slice(0, 15);
    this.ip(["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    this.ip(["link", "set", veth, "netns", `${this.prefix}-br`]);
    this.ip(["-n", `${this.prefix}-br`, "link", "set", veth, "master", "br0", "up"]);
    this.ip(["-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0"]);
    this.ip(["-n", ns, "link", "set", "eth0", "up"]);
    this.ip(["-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    return ns;
  }

  /** A node namespace with its holder (private /etc/hosts, /run, /var/lib, hostname). */
  async addNode(name: string): Promise<LabNode> {
    const ip = `172.31.${this.subnet}.${this.hostIndex++}`;
    const ns = this.attach(name, ip);
    const nd = path.join(this.dir, name);
    fs.mkdirSync(nd, { recursive: true });
    fs.writeFileSync(path.join(nd, "hosts"), `127.0.0.1 localhost\n${this.bootstrapIp} ${DHT_NAMES}\n`);
    const ready = path.join(nd, "ready");
    const h = this.spawn(`holder-${name}`, "ip", ["netns", "exec", ns, "unshare", "-m", "-u", "--propagation", "private", "sh", "-c",
      `mount --bind ${path.join(nd, "hosts")} /etc/hosts && mount -t tmpfs tmpfs /run && mkdir -p /run/wireguard && mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/wgmesh && hostname ${name} && touch ${ready} && exec sleep 100000`]);
    await this.waitFor(`holder of ${name}`, () => fs.existsSync(ready), 5000);
    const holder = h.child.pid as number;
    await this.waitFor(`holder of ${name} exec`, () => {
      try {
        return fs.readFileSync(`/proc/${holder}/cmdline`, "utf8").startsWith("sleep");
      } catch {
        return false;
      }
    }, 5000);
    const node: LabNode = { name, ns, ip, holder, socket: path.join(nd, "wgmesh.sock") };
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): LabNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  spawn(label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: REPO_ROOT, env });
    this.logs.set(label, "");
    const add = (d: Buffer): void => {
      this.logs.set(label, (this.logs.get(label) ?? "") + d.toString());
    };
    child.stdout?.on("data", add);
    child.stderr?.on("data", add);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const p: Proc = { child, log: () => this.logs.get(label) ?? "", exited };
    this.procs.push(p);
    return p;
  }

  enterArgs(n: LabNode): string[] {
    return ["-t", String(n.holder), "-m", "-u", "-n"];
  }

  /** Run a command inside the node (synchronously). */
  exec(name: string, args: string[], timeoutMs = 10_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("nsenter", [...this.enterArgs(this.node(name)), ...args], { encoding: "utf8", timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Write a file inside the node's private mounts (e.g. /var/lib/wgmesh/…), mode 0600. */
  writeFile(name: string, file: string, content: string): void {
    const r = spawnSync("nsenter", [...this.enterArgs(this.node(name)), "sh", "-c", 'umask 077 && cat > "$1"', "sh", file], { input: content, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`writing ${file} on ${name}: ${r.stderr}`);
  }

  /** Start our daemon on a node; the secret travels in the environment, never on argv. */
  startTs(name: string, secret: string, flags: string[] = [], label = `ts-${name}`): Proc {
    const n = this.node(name);
    const args = [...this.enterArgs(n), process.execPath, WGMESH_BIN, "join", "--interface", "wg0", "--socket-path", n.socket, "--log-level", "debug", ...flags];
    if (!flags.some((f) => f.startsWith("--dht-bootstrap")) && !flags.includes("--no-dht")) args.push("--dht-bootstrap", `${this.bootstrapIp}:6881`);
    return this.spawn(label, "nsenter", args, { ...process.env, WGMESH_SECRET: secret });
  }

  /** Start a Go daemon on a node (wireguard-go first, as the Go daemon cannot create the interface here). */
  async startGo(name: string, secret: string, flags: string[] = [], label = `go-${name}`): Promise<Proc> {
    const n = this.node(name);
    this.spawn(`wggo-${name}-${Date.now()}`, "nsenter", [...this.enterArgs(n), "wireguard-go", "-f", "wg0"]);
    await this.waitFor(`wireguard-go on ${name}`, () => this.exec(name, ["test", "-S", "/run/wireguard/wg0.sock"]).status === 0, 10_000);
    return this.spawn(label, "nsenter", [...this.enterArgs(n), GO_BINARY, "join", "--secret", secret, "--interface", "wg0", "--socket-path", n.socket, "--log-level", "debug", ...flags]);
  }

  async stop(p: Proc, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 15_000): Promise<void> {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    const t = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
    await p.exited;
    clearTimeout(t);
  }

  async rpc(name: string, method: string, params?: Record<string, unknown>): Promise<unknown> {
    const c = await RpcClient.connect(this.node(name).socket);
    try {
      return await c.call(method, params);
    } finally {
      c.close();
    }
  }

  async activePeers(name: string): Promise<{ pubkey: string; mesh_ip: string; endpoint: string; discovered_via: string[] }[]> {
    try {
      const r = (await this.rpc(name, "peers.list")) as { peers: { pubkey: string; mesh_ip: string; endpoint: string; discovered_via: string[] }[] };
      return r.peers;
    } catch {
      return [];
    }
  }

  /** Mesh IPv4 of the daemon on a node (daemon.status). */
  async meshIp(name: string): Promise<string> {
    return ((await this.rpc(name, "daemon.status")) as { mesh_ip: string }).mesh_ip;
  }

  /**
   * An echo reply from `ip` within `deadlineS`, requests re-sent every 0.5 s: a first packet may wait for a
   * WireGuard handshake, and a lost handshake message is retried only after 5 s (REKEY_TIMEOUT).
   */
  ping(from: string, ip: string, deadlineS = 20): boolean {
    return this.exec(from, ["ping", "-c", "1", "-i", "0.5", "-w", String(deadlineS), ip], (deadlineS + 10) * 1000).status === 0;
  }

  /** Public keys configured on the node's wg0. */
  wgPeers(name: string): string[] {
    return this.exec(name, ["wg", "show", "wg0", "peers"]).stdout.split("\n").filter(Boolean);
  }

  async waitFor(what: string, f: () => boolean | Promise<boolean>, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await f()) return;
      await sleep(250);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}\n${this.tails()}`);
  }

  tails(chars = 2500): string {
    return [...this.logs.entries()].filter(([k]) => !k.startsWith("holder")).map(([k, v]) => `--- ${k}\n${v.slice(-chars)}`).join("\n");
  }

  /** Full mesh among `names`: each lists all others as active peers and pings every other mesh IP. */
  async fullMesh(names: string[]): Promise<boolean> {
    const ips = new Map<string, string>();
    for (const n of names) {
      try {
        ips.set(n, await this.meshIp(n));
      } catch {
        return false;
      }
    }
    for (const n of names) {
      const peers = new Set((await this.activePeers(n)).map((p) => p.mesh_ip));
      for (const o of names) if (o !== n && !peers.has(ips.get(o) as string)) return false;
    }
    for (const n of names) for (const o of names) if (o !== n && !this.ping(n, ips.get(o) as string, 2)) return false; // polled: a short bound
    return true;
  }

  async cleanup(): Promise<void> {
    for (const p of [...this.procs].reverse()) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        try {
          p.child.kill("SIGTERM");
        } catch {
          /* gone */
        }
      }
    }
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), sleep(5000)]);
    for (const ns of this.namespaces) {
      const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.trim().split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
    await sleep(200);
    for (const ns of [...this.namespaces].reverse()) spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
