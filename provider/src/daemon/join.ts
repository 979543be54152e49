/**
 * `wgmesh join`: the decentralized daemon in the foreground. Assembles the protocol core (`DaemonCore`),
 * the discovery layers (DHT, LAN, gossip — each switchable), the WireGuard interface and reconciler,
 * the TCP health probe, node state and peer cache under /var/lib/wgmesh, and clean shutdown on
 * SIGTERM/SIGINT (GOODBYE to every peer, RPC socket removed, interface and its routes deleted).
 *
 *   wgmesh join [--secret S] [--advertise-routes CIDRS] [--listen-port P] [--interface NAME]
 *               [--log-level L] [--gossip] [--no-lan-discovery] [--no-dht] [--socket-path F]
 *               [--dht-bootstrap HOST:PORT,…] [--mesh-subnet CIDR]
 *
 * The secret comes from --secret, else WGMESH_SECRET, else the 0600 file named by WGMESH_SECRET_FILE; it
 * is never logged. No STUN: offline it fails anyway, and it would leak the host's address to third parties
 * (weakness 7); a public endpoint is learned from peers' reflection (REPLY observed_endpoint) instead.
 */
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { CommandIO } from "./io";
import { cidrHasAddress } from "../core/cidr";
import { findCollisions, resolveLocalCollision } from "./collisions";
import { DaemonCore, DiscoveryLayer } from "./core";
import { CustomSubnet, defaultSubnetCidr, deriveParams, ipv6PrefixText, MeshParams, networkIdShort, parseMeshSubnet, pskBase64, SubnetError } from "./derive";
import { DEFAULT_DHT_BOOTSTRAP, DhtLayer, parseBootstrapList } from "./dht";
import { GossipLayer } from "./gossip";
import { Greeter } from "./greet";
import { FlagSpec, parseGoFlags } from "./goflags";
import { LanLayer } from "./lan";
import { isLevel, Level, Logger } from "./log";
import { parseAdvertiseRoutes, parseReloadFile } from "./reload";
import { PROBE_PORT_OFFSET, ProbeServer } from "./probe";
import { serverSocketPath } from "./rpc";
import { LOW_ENTROPY_WARNING, parseSecret, resolveSecretInput, SecretError } from "./secret";
import { encodeNodeState, loadOrCreateNodeState, NodeState, restorePeerCache, savePeerCache, STATE_DIR, writeSecretFile } from "./state";
import { interfaceExists, Reconciler, setupInterface, teardownInterface } from "./wireguard";
import { LocalWg } from "./wgdesired";
import type { StoreEvent } from "./store";

export const VERSION = "0.1.0-ts";
export const CACHE_SAVE_INTERVAL_MS = 5 * 60_000;
export { GREET_INTERVAL_MS } from "./greet";

export const JOIN_FLAGS: Record<string, FlagSpec> = {
  secret: { type: "string", usage: "Mesh secret (or env WGMESH_SECRET, or a 0600 file named by WGMESH_SECRET_FILE)" },
  "advertise-routes": { type: "string", usage: "Comma-separated CIDRs this node routes for the mesh" },
  "listen-port": { type: "int", usage: "WireGuard listen port (the first free port up to +100 is used)", default: 51820 },
  interface: { type: "string", usage: "WireGuard interface name", default: "wg0" },
  "log-level": { type: "string", usage: "Log level (debug, info, warn, error)", default: "info" },
  gossip: { type: "bool", usage: "Enable in-mesh gossip" },
  "no-lan-discovery": { type: "bool", usage: "Disable LAN multicast discovery" },
  "no-dht": { type: "bool", usage: "Disable BitTorrent DHT discovery" },
  "socket-path": { type: "string", usage: "RPC socket path (default: WGMESH_SOCKET, /var/run/wgmesh.sock, …)" },
  "dht-bootstrap": { type: "string", usage: "DHT bootstrap nodes HOST:PORT,… (default: the Go tool's four)" },
  "mesh-subnet": { type: "string", usage: "Custom mesh subnet CIDR (identical on all nodes)" },
};

export const JOIN_USAGE = "Usage: wgmesh join [--secret S] [--advertise-routes CIDRS] [--listen-port P] [--interface NAME] [--log-level L] [--gossip] [--no-lan-discovery] [--no-dht] [--socket-path F] [--dht-bootstrap HOST:PORT,...] [--mesh-subnet CIDR]\n";

export interface JoinConfig {
  /** The secret as given (trimmed): what install-service stores, so a later parse gives the same secret. */
  secretInput: string;
  secret: string;
  lowEntropy: boolean;
  iface: string;
  listenPort: number;
  advertiseRoutes: string[];
  logLevel: Level;
  gossip: boolean;
  lan: boolean;
  dht: boolean;
  socketPath: string;
  dhtBootstrap: string[];
  subnet?: CustomSubnet;
  stateDir: string;
}

export class JoinConfigError extends Error {}

/** Flags + environment → config. Errors name the flag and the fix; the secret never appears in them. */
export function parseJoinConfig(values: Record<string, string | number | boolean>, env: NodeJS.ProcessEnv): JoinConfig {
  let input: string | undefined;
  try {
    input = resolveSecretInput({ flag: values["secret"] as string, env });
  } catch (e) {
    throw new JoinConfigError((e as SecretError).message);
  }
  if (!input) throw new JoinConfigError("no mesh secret: pass --secret, set WGMESH_SECRET, or name a 0600 file in WGMESH_SECRET_FILE (create one with 'wgmesh init --secret')");
  let parsed;
  try {
    parsed = parseSecret(input);
  } catch (e) {
    throw new JoinConfigError((e as SecretError).message);
  }
  const iface = values["interface"] as string;
  if (iface.length > 15 || !/^[a-zA-Z][a-zA-Z0-9_-]*$/.test(iface)) throw new JoinConfigError(`--interface ${JSON.stringify(iface)}: use a letter then letters, digits, '_' or '-', at most 15 characters (e.g. wg0)`);
  const port = values["listen-port"] as number;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new JoinConfigError(`--listen-port ${port}: must be 1-65535`);
  const level = values["log-level"] as string;
  if (!isLevel(level)) throw new JoinConfigError(`--log-level ${JSON.stringify(level)}: one of debug, info, warn, error`);
  let routes: string[];
  try {
    routes = parseAdvertiseRoutes(String(values["advertise-routes"] ?? ""));
  } catch (e) {
    throw new JoinConfigError((e as Error).message);
  }
  let subnet: CustomSubnet | undefined;
  if (values["mesh-subnet"]) {
    try {
      subnet = parseMeshSubnet(values["mesh-subnet"] as string);
    } catch (e) {
      throw new JoinConfigError(`--mesh-subnet: ${(e as SubnetError).message}`);
    }
  }
  let bootstrap = DEFAULT_DHT_BOOTSTRAP;
  if (values["dht-bootstrap"]) {
    try {
      bootstrap = parseBootstrapList(values["dht-bootstrap"] as string);
    } catch (e) {
      throw new JoinConfigError((e as Error).message);
    }
  }
  return {
    secretInput: input.trim(),
    secret: parsed.secret,
    lowEntropy: parsed.lowEntropy,
    iface,
    listenPort: port,
    advertiseRoutes: routes,
    logLevel: level,
    gossip: values["gossip"] === true,
    lan: values["no-lan-discovery"] !== true,
    dht: values["no-dht"] !== true,
    socketPath: serverSocketPath((values["socket-path"] as string) || undefined, env),
    dhtBootstrap: bootstrap,
    ...(subnet ? { subnet } : {}),
    stateDir: STATE_DIR,
  };
}

function udpPortFree(port: number): Promise<boolean> {
  const one = (type: "udp4" | "udp6", addr: string): Promise<boolean> =>
    new Promise((resolve) => {
      const s = dgram.createSocket(type === "udp6" ? { type, ipv6Only: true } : { type });
      s.once("error", (e) => {
        s.close();
        resolve((e as NodeJS.ErrnoException).code === "EAFNOSUPPORT" || (e as NodeJS.ErrnoException).code === "EADDRNOTAVAIL");
      });
      s.bind(port, addr, () => s.close(() => resolve(true)));
    });
  return one("udp4", "0.0.0.0").then((a) => (a ? one("udp6", "::") : false));
}

/** The configured port, or the first free one among +1 … +100 (as Go, but logged). */
export async function pickListenPort(port: number): Promise<number> {
  for (let p = port; p <= Math.min(65535, port + 100); p++) if (await udpPortFree(p)) return p;
  throw new JoinConfigError(`UDP ports ${port}-${port + 100} are all in use; choose another --listen-port`);
}

export class MeshDaemon {
  core: DaemonCore | undefined;
  reconciler: Reconciler | undefined;
  readonly layers: DiscoveryLayer[] = [];
  private readonly params: MeshParams;
  private state: NodeState | undefined;
  private probe: ProbeServer | undefined;
  private listenPort = 0;
  private timers: NodeJS.Timeout[] = [];
  private lastCollisionLog = "";
  private readonly greeter = new Greeter(() => this.core);

  constructor(readonly cfg: JoinConfig, readonly log: Logger) {
    this.params = deriveParams(cfg.secret);
  }

  get meshPrefix(): number {
    return this.cfg.subnet ? this.cfg.subnet.prefix : 16;
  }

  get meshCidr(): string {
    return this.cfg.subnet ? this.cfg.subnet.cidr : defaultSubnetCidr(this.params);
  }

  /**
   * SIGHUP: re-read `<state dir>/<iface>.reload` (Go's file: advertise-routes, log-level) and apply it, then
   * reconcile and HELLO every peer at once, so they learn added or withdrawn routes now (a withdrawn route
   * leaves their AllowedIPs and routing tables on that announcement). No file: just reconcile. An invalid
   * file changes nothing (logged with the line at fault).
   */
  async reload(): Promise<void> {
    const file = path.join(this.cfg.stateDir, `${this.cfg.iface}.reload`);
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") this.log.warn("reload file unreadable; keeping the running settings", { file, error: (e as Error).message });
    }
    if (text !== undefined) {
      try {
        const r = parseReloadFile(text);
        if (r.unknownKeys.length) this.log.warn("reload file: unknown keys ignored", { file, keys: r.unknownKeys.join(",") });
        if (r.logLevel) this.log.setLevel(r.logLevel);
        if (r.advertiseRoutes) {
          this.cfg.advertiseRoutes = r.advertiseRoutes;
          this.core?.setAdvertiseRoutes(r.advertiseRoutes);
        }
        this.log.info("reloaded", { file, advertise_routes: (r.advertiseRoutes ?? this.cfg.advertiseRoutes).join(",") || "(none)", log_level: r.logLevel ?? "(unchanged)" });
      } catch (e) {
        this.log.warn("reload file rejected; keeping the running settings", { file, error: (e as Error).message });
      }
    }
    await this.reconciler?.trigger();
    await this.core?.keepalive();
  }

  private localWg(): LocalWg {
    const st = this.state as NodeState;
    return {
      iface: this.cfg.iface,
      publicKey: st.wg_pubkey,
      meshIp: st.mesh_ip as string,
      meshPrefix: this.meshPrefix,
      meshCidr: this.meshCidr,
      meshV6Cidr: ipv6PrefixText(this.params),
      listenPort: this.listenPort,
      advertiseRoutes: this.cfg.advertiseRoutes,
      hostname: os.hostname(),
    };
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    const log = this.log;
    const { state, created } = loadOrCreateNodeState(cfg.stateDir, cfg.iface, this.params, cfg.subnet);
    this.state = state;
    log.info(created ? "generated node identity" : "loaded node identity", { file: path.join(cfg.stateDir, `${cfg.iface}.json`), pubkey: state.wg_pubkey, mesh_ip: state.mesh_ip, mesh_ipv6: state.mesh_ipv6 });
    log.info("mesh parameters", { network_id: networkIdShort(this.params), mesh_subnet: this.meshCidr, gossip_port: this.params.gossipPort });
    this.listenPort = interfaceExists(cfg.iface) ? cfg.listenPort : await pickListenPort(cfg.listenPort);
    if (this.listenPort !== cfg.listenPort) log.warn("WireGuard port busy; using another", { wanted: cfg.listenPort, port: this.listenPort });
    const how = await setupInterface({ iface: cfg.iface, privateKey: state.wg_private_key, listenPort: this.listenPort, meshIp: state.mesh_ip as string, meshPrefix: this.meshPrefix, ...(state.mesh_ipv6 ? { meshIpv6: state.mesh_ipv6 } : {}) }, log);
    log.info("WireGuard interface ready", { interface: cfg.iface, port: this.listenPort, via: how });
    try {
      await this.startProbe();
      if (cfg.dht) this.layers.push(new DhtLayer({ bootstrap: cfg.dhtBootstrap, log }));
      if (cfg.lan) this.layers.push(new LanLayer({ log }));
      if (cfg.gossip) this.layers.push(new GossipLayer({ log }));
      const v6cidr = ipv6PrefixText(this.params);
      const reconciler = new Reconciler({ local: () => this.localWg(), peers: () => this.core?.store.active() ?? [], psk: pskBase64(this.params), log });
      this.reconciler = reconciler;
      const core = new DaemonCore({
        secret: cfg.secret,
        interfaceName: cfg.iface,
        publicKey: state.wg_pubkey,
        meshIp: state.mesh_ip as string,
        ...(state.mesh_ipv6 ? { meshIpv6: state.mesh_ipv6 } : {}),
        hostname: os.hostname(),
        wgListenPort: this.listenPort,
        advertiseRoutes: cfg.advertiseRoutes,
        gossip: cfg.gossip,
        version: VERSION,
        socketPath: cfg.socketPath,
        layers: this.layers,
        sinks: [reconciler, { onStoreEvent: (e) => this.onStoreEvent(e), onRefused: (peers) => this.greeter.onRefused(peers) }],
        log: log.fn(),
        isTunnelSource: (ip) => (ip.includes(":") ? cidrHasAddress(v6cidr, ip) : cidrHasAddress(this.meshCidr, ip)),
      });
      this.core = core;
      const cacheFile = path.join(cfg.stateDir, `${cfg.iface}-peers.json`);
      if (fs.existsSync(cacheFile)) {
        const r = restorePeerCache(fs.readFileSync(cacheFile, "utf8"), core.store, Math.floor(Date.now() / 1000), state.wg_pubkey);
        log.info("restored peer cache", { restored: r.restored, skipped: r.skipped });
      }
      await core.start();
      reconciler.start();
      const every = (ms: number, f: () => void): void => {
        const t = setInterval(f, ms);
        t.unref();
        this.timers.push(t);
      };
      every(CACHE_SAVE_INTERVAL_MS, () => this.saveCache());
      every(5000, () => void this.checkCollisions());
      void core.keepalive(); // contact cached peers at once
      log.info("daemon running", { interface: cfg.iface, mesh_ip: state.mesh_ip, pubkey: state.wg_pubkey, gossip_port: this.params.gossipPort, socket: cfg.socketPath, layers: this.layers.map((l) => l.name).join(",") || "none" });
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private onStoreEvent(e: StoreEvent): void {
    if (e.kind === "removed") {
      this.log.info("peer removed", { pubkey: e.pubkey.slice(0, 16), reason: e.reason });
      return;
    }
    if (e.kind === "new") this.log.info("peer added", { pubkey: e.peer.wg_pubkey.slice(0, 16), mesh_ip: e.peer.mesh_ip, endpoint: e.peer.endpoint, via: e.method });
    this.greeter.onStoreEvent(e);
  }

  private async startProbe(): Promise<void> {
    await this.probe?.stop();
    const st = this.state as NodeState;
    const probe = new ProbeServer();
    const port = this.params.gossipPort + PROBE_PORT_OFFSET;
    for (const addr of [st.mesh_ip, st.mesh_ipv6].filter((a): a is string => !!a)) {
      try {
        await probe.start([addr], port);
      } catch (e) {
        this.log.warn("health probe not listening", { address: addr, port, error: (e as Error).message });
      }
    }
    this.probe = probe;
  }

  /** Collisions (§5.8): remote pairs are logged; when we lose one, we move and persist (Go never does). */
  async checkCollisions(): Promise<void> {
    const core = this.core;
    const st = this.state;
    if (!core || !st?.mesh_ip) return;
    const peers = core.store.active();
    const all = [...peers, { wg_pubkey: st.wg_pubkey, mesh_ip: st.mesh_ip }];
    const c = JSON.stringify(findCollisions(all));
    if (c !== "[]" && c !== this.lastCollisionLog) this.log.warn("mesh IP collision", { collisions: c });
    this.lastCollisionLog = c;
    const next = resolveLocalCollision(this.params, { pubkey: st.wg_pubkey, meshIp: st.mesh_ip }, peers, this.cfg.subnet);
    if (!next) return;
    this.log.warn("our mesh IP collides with a peer holding a lower key; moving", { old: st.mesh_ip, new: next });
    st.mesh_ip = next;
    writeSecretFile(path.join(this.cfg.stateDir, `${this.cfg.iface}.json`), encodeNodeState(st));
    core.setMeshIp(next);
    await this.reconciler?.trigger(); // address-set through the planner
    await this.startProbe();
  }

  saveCache(): void {
    if (!this.core) return;
    try {
      savePeerCache(this.cfg.stateDir, this.cfg.iface, this.core.store, Math.floor(Date.now() / 1000));
    } catch (e) {
      this.log.warn("saving peer cache failed", { error: (e as Error).message });
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.core) {
      await this.core.stop(); // RPC socket removed, GOODBYE to every peer, layers stopped
      this.saveCache();
    }
    await this.reconciler?.stop();
    await this.probe?.stop();
    await teardownInterface(this.cfg.iface);
    this.log.info("stopped; interface removed", { interface: this.cfg.iface });
  }
}

export async function runJoin(args: string[], io: CommandIO, signals: NodeJS.Process = process): Promise<number> {
  const f = parseGoFlags("join", args, JOIN_FLAGS);
  if (!f.ok) {
    if (!f.help) io.stderr.write(`${f.message}\n`);
    io.stderr.write(JOIN_USAGE + f.usage);
    return f.help ? 0 : 2;
  }
  let cfg: JoinConfig;
  try {
    cfg = parseJoinConfig(f.values, io.env);
  } catch (e) {
    io.stderr.write(`Failed to create config: ${(e as Error).message}\n`);
    return 1;
  }
  const log = new Logger(cfg.logLevel, (l) => io.stderr.write(l));
  if (cfg.lowEntropy) log.warn(LOW_ENTROPY_WARNING);
  io.stdout.write(`RPC socket configured: ${cfg.socketPath}\nInitializing mesh node with ${cfg.dht ? "DHT" : "no DHT"} discovery...\n`);
  if (cfg.gossip) io.stdout.write("In-mesh gossip enabled\n");
  if (!cfg.lan) io.stdout.write("LAN discovery disabled\n");
  const d = new MeshDaemon(cfg, log);
  let stopping: Promise<void> | undefined;
  const done = new Promise<string>((resolve) => {
    const on = (sig: string): void => resolve(sig);
    signals.once("SIGTERM", () => on("SIGTERM"));
    signals.once("SIGINT", () => on("SIGINT"));
  });
  signals.on("SIGHUP", () => void d.reload().catch((e: Error) => log.warn("reload failed", { error: e.message })));
  try {
    await d.start();
  } catch (e) {
    log.error("daemon failed to start", { error: (e as Error).message });
    return 1;
  }
  const sig = await done;
  log.info("shutting down", { signal: sig });
  stopping = d.stop();
  await stopping;
  return 0;
}
