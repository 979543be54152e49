/**
 * In-mesh gossip (§4.2, `--gossip`): every 10 s one random active peer with a mesh IP gets an ANNOUNCE
 * (with known_peers) through the tunnel, to <mesh IPv4>:gossip_port, from the exchange socket. The
 * receiving side is the exchange socket itself (ANNOUNCE is processed only with gossip on); ANNOUNCEs
 * arriving from mesh addresses never set an endpoint inside the tunnel (see exchange.ts).
 */
import type { DaemonCore, DiscoveryLayer } from "./core";
import type { Logger } from "./log";
import type { PeerRecord } from "./store";

export const GOSSIP_INTERVAL_MS = 10_000;

export class GossipLayer implements DiscoveryLayer {
  readonly name = "gossip";
  readonly stats = { sent: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: { log: Logger; intervalMs?: number; random?: () => number }) {}

  async start(core: DaemonCore): Promise<void> {
    this.timer = setInterval(() => this.round(core), this.o.intervalMs ?? GOSSIP_INTERVAL_MS);
    this.timer.unref();
    this.o.log.info("In-mesh gossip enabled", { interval_s: (this.o.intervalMs ?? GOSSIP_INTERVAL_MS) / 1000 });
  }

  /** One gossip round; returns the mesh IP gossiped to, if any. */
  round(core: DaemonCore): string | undefined {
    const self = core.localNode().pubkey;
    const peers: Readonly<PeerRecord>[] = []; // the store's own records (no copies), read before it changes
    for (const p of core.store.activeRecords()) if (p.mesh_ip && p.wg_pubkey !== self) peers.push(p);
    if (peers.length === 0) return undefined;
    const p = peers[Math.floor((this.o.random ?? Math.random)() * peers.length)] ?? peers[0];
    if (!p) return undefined;
    core.exchange.sendAnnounce(p.mesh_ip, core.peerControlPortFor());
    this.stats.sent++;
    this.o.log.debug("[Gossip] ANNOUNCE sent", { peer: p.wg_pubkey.slice(0, 16), to: p.mesh_ip });
    return p.mesh_ip;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
