/**
 * The decentralized mode's Pulumi resources: a secret-based mesh with no central state (the daemons find
 * each other through the DHT, LAN multicast and gossip), installed over SSH.
 *
 *   const secret = new wgmesh.MeshSecret("mesh");
 *   const a = new wgmesh.DecentralizedNode("a", { connection: { host, user, privateKey, hostKey }, secret: secret.secret });
 *   export const meshIp = a.meshIp;   // "10.x.y.z"
 */
import * as pulumi from "@pulumi/pulumi";
import "./quiet";
import { dynamicUrn, providerFor, URN_KEY } from "./providers";
import { PLANNED_DAEMON_STATE } from "../engine/daemonstate";
import type { ConnectionArgs } from "./resources";

export interface MeshSecretArgs {
  /** An existing secret to adopt (e.g. a Go wgmesh mesh's `wgmesh://v1/…` URI); default: a new random one. */
  secret?: pulumi.Input<string>;
}

/** The shared secret of a decentralized mesh, as a Pulumi secret, plus the non-secret parameters derived from it. */
export class MeshSecret extends pulumi.dynamic.Resource {
  /** The secret URI (a Pulumi secret). */
  declare public readonly secret: pulumi.Output<string>;
  /** The IPv4 mesh subnet every node derives (e.g. "10.42.0.0/16"). */
  declare public readonly meshSubnet: pulumi.Output<string>;
  declare public readonly meshIpv6Prefix: pulumi.Output<string>;
  /** UDP port of the encrypted peer exchange; open it between nodes together with the WireGuard port. */
  declare public readonly gossipPort: pulumi.Output<number>;

  constructor(name: string, args: MeshSecretArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(
      providerFor("meshSecret"),
      name,
      { secret: args.secret === undefined ? undefined : pulumi.secret(args.secret), imported: undefined, meshSubnet: undefined, meshIpv6Prefix: undefined, gossipPort: undefined, [URN_KEY]: dynamicUrn(name, opts) },
      { ...opts, additionalSecretOutputs: ["secret"] },
    );
  }
}

export interface DecentralizedNodeArgs {
  /** How to reach the host over SSH (as @pulumi/command's remote.ConnectionArgs). Stored as a secret. */
  connection: pulumi.Input<ConnectionArgs>;
  /** The mesh secret, e.g. `meshSecret.secret`. Stored as a secret; on the host only in a 0600 file. */
  secret: pulumi.Input<string>;
  /** Node name in logs and errors; default: the resource name. */
  hostname?: string;
  /** WireGuard interface (default "wg0"). */
  interfaceName?: pulumi.Input<string>;
  /** WireGuard listen port (default 51820). */
  listenPort?: pulumi.Input<number>;
  /** Networks behind this host that the other nodes may reach through it. */
  advertiseRoutes?: pulumi.Input<pulumi.Input<string>[]>;
  /** In-mesh gossip (default off). */
  gossip?: pulumi.Input<boolean>;
  /** LAN multicast discovery (default on). */
  lanDiscovery?: pulumi.Input<boolean>;
  /** BitTorrent DHT discovery (default on). */
  dht?: pulumi.Input<boolean>;
  /** DHT bootstrap nodes "host:port" (default: the public ones the Go tool uses). */
  dhtBootstrap?: pulumi.Input<pulumi.Input<string>[]>;
  /** A custom mesh subnet, identical on every node (default: derived from the secret). */
  meshSubnet?: pulumi.Input<string>;
  /** Daemon log level: debug, info, warn, error (default info). */
  logLevel?: pulumi.Input<string>;
}

/** A host running the wgmesh daemon (wgmesh.service), which keys, addresses and peers it from the secret. */
export class DecentralizedNode extends pulumi.dynamic.Resource {
  /** WireGuard public key (the private key is made on the host and never leaves it). */
  declare public readonly publicKey: pulumi.Output<string>;
  declare public readonly meshIp: pulumi.Output<string>;
  declare public readonly meshIpv6: pulumi.Output<string | undefined>;
  /** SHA-256 of the installed daemon executable. */
  declare public readonly daemonSha256: pulumi.Output<string>;
  /** The node name (plain). */
  public readonly nodeName: string;

  constructor(name: string, args: DecentralizedNodeArgs, opts?: pulumi.CustomResourceOptions) {
    const hostname = args.hostname ?? name;
    super(
      providerFor("decentralizedNode"),
      name,
      {
        hostname,
        connection: pulumi.secret(args.connection),
        secret: pulumi.secret(args.secret),
        interfaceName: args.interfaceName,
        listenPort: args.listenPort,
        advertiseRoutes: args.advertiseRoutes,
        gossip: args.gossip,
        lanDiscovery: args.lanDiscovery,
        dht: args.dht,
        dhtBootstrap: args.dhtBootstrap,
        meshSubnet: args.meshSubnet,
        logLevel: args.logLevel,
        hostState: { ...PLANNED_DAEMON_STATE },
        publicKey: undefined,
        meshIp: undefined,
        meshIpv6: undefined,
        daemonSha256: undefined,
        [URN_KEY]: dynamicUrn(name, opts),
      },
      { ...opts, additionalSecretOutputs: ["secret", "connection"] },
    );
    this.nodeName = hostname;
  }
}
