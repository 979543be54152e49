/**
 * One simulated member: the daemon's real DaemonCore (peer store, exchange, expiry and keep-alive loops),
 * its real DHT layer (bittorrent-dht over an in-memory socket), gossip layer and greeter, assembled as
 * MeshDaemon assembles them — minus what touches the host: no WireGuard interface, no RPC socket, no state
 * files, no health probe, no LAN multicast (members are spread over the internet). Mesh-IP collisions are
 * resolved with the daemon's own rule every 5 s, as MeshDaemon does (the move is not persisted here).
 */
import { publicKeyFromPrivate } from "../../provider/src/core/keys";
import { resolveLocalCollision } from "../../provider/src/daemon/collisions";
import { DaemonCore } from "../../provider/src/daemon/core";
import { meshIPv4, meshIPv6, MeshParams } from "../../provider/src/daemon/derive";
import { DhtLayer } from "../../provider/src/daemon/dht";
import { GossipLayer } from "../../provider/src/daemon/gossip";
import { Greeter } from "../../provider/src/daemon/greet";
import { Logger } from "../../provider/src/daemon/log";
import type { SimNetwork } from "./network";
import type { SimRandom } from "./random";

export const WG_PORT = 51820;
/** MeshDaemon's collision check period. */
const COLLISION_CHECK_MS = 5000;

export interface SimNodeOptions {
  name: string;
  ip: string;
  secret: string;
  params: MeshParams;
  privateKey: string;
  net: SimNetwork;
  rng: SimRandom;
  bootstrap: string;
  /** "10.S0." of the mesh's 10.S0.0.0/16. */
  meshPrefix: string;
  /** The peer store's maximum (default: the daemon's, 1000). */
  maxPeers?: number;
}

const quiet = new Logger("error", () => undefined);

export class SimNode {
  readonly pubkey: string;
  readonly core: DaemonCore;
  readonly dht: DhtLayer;
  running = false;
  private collisionTimer: NodeJS.Timeout | undefined;

  constructor(readonly o: SimNodeOptions) {
    this.pubkey = publicKeyFromPrivate(o.privateKey);
    const params = o.params;
    const own = new Set([o.ip]);
    this.dht = new DhtLayer({
      bootstrap: [o.bootstrap],
      log: quiet,
      socket: () => o.net.socket(o.ip, "dht"),
      nodeId: o.rng.bytes(20),
      localAddresses: () => own,
    });
    const gossip = new GossipLayer({ log: quiet, random: () => o.rng.float() });
    this.core = new DaemonCore({
      secret: o.secret,
      interfaceName: "wg0",
      publicKey: this.pubkey,
      meshIp: meshIPv4(params, this.pubkey),
      meshIpv6: meshIPv6(params, this.pubkey),
      hostname: o.name,
      wgListenPort: WG_PORT,
      gossip: true,
      version: "sim",
      exchangeHost: o.ip,
      layers: [this.dht, gossip],
      sinks: [new Greeter(() => this.core)],
      isTunnelSource: (ip) => ip.startsWith(o.meshPrefix), // = cidrHasAddress(meshCidr, ip) for the /16, without parsing
      socketFactory: () => o.net.socket(o.ip, "exchange"),
      ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
    });
  }

  get meshIp(): string {
    return this.core.localNode().meshIp;
  }

  async start(): Promise<void> {
    await this.core.start();
    this.running = true;
    this.collisionTimer = setInterval(() => {
      const next = resolveLocalCollision(this.o.params, { pubkey: this.pubkey, meshIp: this.meshIp }, this.core.store.activeRecords());
      if (next) this.core.setMeshIp(next);
    }, COLLISION_CHECK_MS);
  }

  /** Leave: gracefully (GOODBYE to every peer, as on SIGTERM) or by crashing (the caller cuts the host off first). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.collisionTimer) clearInterval(this.collisionTimer);
    await this.core.stop();
  }
}
