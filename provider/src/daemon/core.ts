/**
 * DaemonCore: the protocol half of `wgmesh join`, assembled from the small modules — derived parameters,
 * peer store, exchange socket, RPC server, expiry and keep-alive loops — with every transport injectable.
 * Discovery layers (DHT, LAN multicast, gossip) and the WireGuard reconciler plug in through the
 * `DiscoveryLayer` and `PeerSink` interfaces; they are not part of this module.
 */
import { DropCounters } from "./counters";
import { deriveParams, MeshParams } from "./derive";
import { ExchangeEvent, LocalNode, LogFn, PeerExchange } from "./exchange";
import { joinHostPort, splitHostPort } from "./messages";
import { normalizeIp } from "./netaddr";
import { DaemonStatus, peerInfoFromRecord, RpcHandlers, RpcServer } from "./rpc";
import { PeerRecord, PeerStore, PeerUpdate, StoreEvent } from "./store";
import type { SocketFactory } from "./transport";

export const EXPIRY_INTERVAL_MS = 60_000;
/** How often the keep-alive round runs (§3.4: Go peers need direct contact at least every 5 min). */
export const KEEPALIVE_INTERVAL_MS = 45_000;
/**
 * The periodic round HELLOs only peers with no direct HELLO/REPLY (either way) for this long: one
 * exchange refreshes both sides, so a pair needs one exchange per period, not one from each side every
 * 45 s. Worst gap ≈ 100 + 45 s (+ 45 s per failed 4-s exchange), well inside the 5-min dead time. In a mesh
 * of N this keeps the control traffic at ≈ N/2 exchanges per node per 100–145 s instead of 2N per 45 s.
 */
export const KEEPALIVE_FRESH_MS = 100_000;

export interface DiscoveryLayer {
  readonly name: string;
  start(core: DaemonCore): Promise<void>;
  stop(): Promise<void>;
}

/** Receives store changes (the WireGuard reconciler, the greeter). */
export interface PeerSink {
  onStoreEvent(e: StoreEvent): void;
  /** Peers a message mentioned that the store refused at its maximum (ExchangeOptions.onRefused). */
  onRefused?(peers: readonly PeerUpdate[]): void;
}

export interface DaemonCoreOptions {
  /** Parsed secret text. */
  secret: string;
  interfaceName: string;
  publicKey: string;
  meshIp: string;
  meshIpv6?: string;
  hostname?: string;
  wgListenPort: number;
  advertiseRoutes?: string[];
  gossip?: boolean;
  introducer?: boolean;
  version: string;
  /** Exchange bind address (default: all, dual stack) and port (default: gossip_port). */
  exchangeHost?: string;
  exchangePort?: number;
  /** Port used to reach peers' exchange sockets (default: gossip_port; tests on one host override it). */
  peerControlPort?: number;
  /** RPC socket; none when undefined. */
  socketPath?: string;
  layers?: DiscoveryLayer[];
  sinks?: PeerSink[];
  nowMs?: () => number;
  log?: LogFn;
  onExchangeEvent?: (e: ExchangeEvent) => void;
  expiryIntervalMs?: number;
  keepaliveIntervalMs?: number;
  /** Source addresses inside the mesh (gossip through the tunnel); see ExchangeOptions.isTunnelSource. */
  isTunnelSource?: (ip: string) => boolean;
  /** Makes the exchange socket (default node:dgram). */
  socketFactory?: SocketFactory;
  /** The peer store's maximum (default MAX_PEERS, Go's 1000; the simulation lowers it to study a full store at small N). */
  maxPeers?: number;
}

export class DaemonCore {
  readonly params: MeshParams;
  readonly store: PeerStore;
  readonly exchange: PeerExchange;
  readonly counters = new DropCounters();
  private rpc: RpcServer | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private wgEndpoint: string;
  private startedAtMs = 0;
  private running = false;
  private readonly nowMs: () => number;
  private readonly log: LogFn;

  constructor(private readonly opts: DaemonCoreOptions) {
    this.params = deriveParams(opts.secret);
    this.nowMs = opts.nowMs ?? Date.now;
    this.log = opts.log ?? (() => undefined);
    this.store = new PeerStore(this.nowMs, opts.maxPeers);
    this.wgEndpoint = joinHostPort("0.0.0.0", opts.wgListenPort);
    for (const s of opts.sinks ?? []) this.store.onEvent((e) => s.onStoreEvent(e));
    this.exchange = new PeerExchange({
      gossipKey: this.params.gossipKey,
      local: () => this.localNode(),
      store: this.store,
      gossip: opts.gossip ?? false,
      nowMs: this.nowMs,
      counters: this.counters,
      log: this.log,
      onObservedEndpoint: (ip) => this.setPublicIp(ip),
      onRefused: (peers) => {
        for (const s of opts.sinks ?? []) s.onRefused?.(peers);
      },
      ...(opts.isTunnelSource ? { isTunnelSource: opts.isTunnelSource } : {}),
      ...(opts.socketFactory ? { socketFactory: opts.socketFactory } : {}),
      ...(opts.onExchangeEvent ? { onEvent: opts.onExchangeEvent } : {}),
    });
  }

  localNode(): LocalNode {
    const o = this.opts;
    const n: LocalNode = { pubkey: o.publicKey, meshIp: o.meshIp, wgEndpoint: this.wgEndpoint };
    if (o.meshIpv6) n.meshIpv6 = o.meshIpv6;
    if (o.hostname) n.hostname = o.hostname;
    if (o.introducer) n.introducer = true;
    if (o.advertiseRoutes?.length) n.routableNetworks = [...o.advertiseRoutes];
    return n;
  }

  /** Reflection/STUN result: our public IP plus our own WG port (a public IPv6 is never downgraded). */
  setPublicIp(ip: string): void {
    const cur = splitHostPort(this.wgEndpoint);
    if (cur && cur.host.includes(":") && cur.host !== "::" && !ip.includes(":")) return;
    this.wgEndpoint = joinHostPort(ip, this.opts.wgListenPort);
  }

  /** Networks this node advertises from now on (SIGHUP reload); the next HELLO/ANNOUNCE carries them. */
  setAdvertiseRoutes(routes: readonly string[]): void {
    this.opts.advertiseRoutes = [...routes];
  }

  /** Move to another mesh IPv4 (local collision lost); the caller persists it and updates the interface. */
  setMeshIp(ip: string): void {
    this.opts.meshIp = ip;
  }

  /** Port of peers' exchange sockets (gossip_port, unless a test overrides it). */
  peerControlPortFor(): number {
    return this.opts.peerControlPort ?? this.params.gossipPort;
  }

  get announcedEndpoint(): string {
    return this.wgEndpoint;
  }

  /**
   * A peer's exchange endpoint: where its last direct HELLO/REPLY came from (right behind NAT), else the
   * host of its WG endpoint + gossip_port (Go's convention).
   */
  controlEndpoint(p: Pick<PeerRecord, "wg_pubkey" | "endpoint">): { ip: string; port: number } | undefined {
    const seen = this.exchange.observedControl(p.wg_pubkey);
    if (seen) return seen;
    const hp = splitHostPort(p.endpoint);
    const ip = hp ? normalizeIp(hp.host) : undefined;
    if (!ip) return undefined;
    return { ip, port: this.peerControlPortFor() };
  }

  rpcHandlers(): RpcHandlers {
    return {
      listPeers: () => this.store.active().filter((p) => p.wg_pubkey !== this.opts.publicKey).map(peerInfoFromRecord),
      getPeer: (k) => {
        const p = this.store.get(k);
        return p ? peerInfoFromRecord(p) : undefined;
      },
      counts: () => this.store.counts(),
      drops: () => this.counters.snapshot() as Record<string, number>,
      status: (): DaemonStatus | undefined =>
        this.running
          ? { mesh_ip: this.opts.meshIp, pubkey: this.opts.publicKey, uptime_ns: (this.nowMs() - this.startedAtMs) * 1e6, interface: this.opts.interfaceName }
          : undefined,
    };
  }

  async start(): Promise<void> {
    this.startedAtMs = this.nowMs();
    await this.exchange.start(this.opts.exchangePort ?? this.params.gossipPort, this.opts.exchangeHost);
    try {
      for (const l of this.opts.layers ?? []) await l.start(this);
      if (this.opts.socketPath) {
        this.rpc = new RpcServer(this.opts.socketPath, this.rpcHandlers(), this.opts.version);
        await this.rpc.start();
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.running = true;
    const every = (ms: number, f: () => void): void => {
      const t = setInterval(() => {
        try {
          f();
        } catch (err) {
          this.log("warn", `loop error: ${(err as Error).message}`);
        }
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.expiryIntervalMs ?? EXPIRY_INTERVAL_MS, () => this.store.expire());
    every(this.opts.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS, () => void this.keepalive({ staleOnly: true }));
  }

  /**
   * HELLO every active peer's control endpoint once; with `staleOnly`, only those without a direct
   * exchange in the last KEEPALIVE_FRESH_MS (the periodic round). Resolves to the number of REPLYs.
   */
  async keepalive(opts: { staleOnly?: boolean } = {}): Promise<number> {
    const now = this.nowMs();
    const stale = (p: PeerRecord): boolean => {
      const at = this.exchange.lastExchange(p.wg_pubkey);
      return at === undefined || now - at >= KEEPALIVE_FRESH_MS;
    };
    const targets = this.store.active().filter((p) => !opts.staleOnly || stale(p)).map((p) => this.controlEndpoint(p)).filter((t): t is { ip: string; port: number } => t !== undefined);
    const results = await Promise.all(targets.map((t) => this.exchange.exchange(t.ip, t.port)));
    return results.filter((r) => r !== undefined).length;
  }

  /** Clean shutdown: RPC socket removed, GOODBYE to every peer's control endpoint, layers stopped. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.rpc) await this.rpc.stop();
    this.rpc = undefined;
    const targets: { ip: string; port: number }[] = [];
    for (const p of this.store.all()) {
      const c = this.controlEndpoint(p);
      if (c) targets.push(c);
    }
    // the GOODBYE is the exchange socket's last word: nothing after it may re-add us at a peer
    await this.exchange.leave(targets);
    for (const l of [...(this.opts.layers ?? [])].reverse()) {
      try {
        await l.stop();
      } catch (e) {
        this.log("warn", `stopping ${l.name}: ${(e as Error).message}`);
      }
    }
  }
}
