/**
 * The Pulumi resources: Node, Group, Policy, Mesh (and the Mesh's per-node NodeConfig children), as
 * `pulumi.dynamic.Resource`s over the lifecycles in ./lifecycle.
 *
 *   const web1 = new wgmesh.Node("web1", { connection: { host, user, privateKey, hostKey } });
 *   const web  = new wgmesh.Group("web", { members: [web1, web2] });
 *   const pol  = new wgmesh.Policy("web-to-app", { from: [web], to: [app], allowMeshIps: true });
 *   const mesh = new wgmesh.Mesh("prod", { network: "10.99.0.0/16", nodes: [web1, web2, app1], groups: [web, app], policies: [pol] });
 *   export const meshIps = mesh.meshIps;   // { web1: "10.99.0.1", … }
 */
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { providerFor } from "./providers";
import { planMeshConfigs, planTopology, peerEndpoint, peerKeepalive, peerSets, type MeshPlanSummary } from "./plan";
import type { MeshInputs, MeshNodeInputs } from "./lifecycle/mesh";
import type { PeerInputs } from "./lifecycle/nodeConfig";
import { PLANNED_HOST_FILES } from "./lifecycle/types";
import type { NodeHealth } from "../planner/health";

/** Exactly @pulumi/command's `remote.ConnectionArgs`. */
export type ConnectionArgs = command.types.input.remote.ConnectionArgs;

export interface NodeArgs {
  /** How to reach the host over SSH: the object you pass to @pulumi/command's remote.Command. Stored as a secret. */
  connection: pulumi.Input<ConnectionArgs>;
  /** Mesh node name (a DNS label); default: the resource name. */
  hostname?: string;
  /** IPv4 address inside the mesh network; default: allocated by the Mesh (stable across runs). */
  meshIp?: pulumi.Input<string>;
  /** WireGuard listen port of this node; default: the Mesh's listenPort. */
  listenPort?: pulumi.Input<number>;
  /** "host:port" peers dial; default: connection host and listen port (none when behind NAT). */
  publicEndpoint?: pulumi.Input<string>;
  /** Override NAT detection (default: detected over SSH when the node is created or refreshed). */
  behindNat?: pulumi.Input<boolean>;
  /** Networks behind this node that peers may reach through it (it gets IP forwarding). */
  routableNetworks?: pulumi.Input<pulumi.Input<string>[]>;
  /** Generate the WireGuard key on the host; only the public key leaves it. */
  keyOnHost?: boolean;
  /** Use this existing WireGuard private key (e.g. migrated); default: a new one. Stored as a secret. */
  privateKey?: pulumi.Input<string>;
  /** Interface whose key file keyOnHost uses (default "wg0"; set it when the Mesh uses another name). */
  interfaceName?: string;
}

/** A host of the mesh: its WireGuard identity (keypair) and facts read over SSH. */
export class Node extends pulumi.dynamic.Resource {
  declare public readonly publicKey: pulumi.Output<string>;
  /** Secret; undefined when keyOnHost. */
  declare public readonly privateKey: pulumi.Output<string | undefined>;
  /** NAT detected over SSH (the address we reach the host at is not its own). */
  declare public readonly natDetected: pulumi.Output<boolean | undefined>;
  /** The host's own hostname. */
  declare public readonly remoteHostname: pulumi.Output<string | undefined>;
  declare public readonly os: pulumi.Output<string | undefined>;

  /** The mesh node name (plain: known when the program runs). */
  public readonly nodeName: string;
  public readonly keyOnHost: boolean;
  public readonly meshIp: pulumi.Output<string | undefined>;
  public readonly listenPort: pulumi.Output<number | undefined>;
  public readonly publicEndpoint: pulumi.Output<string | undefined>;
  public readonly routableNetworks: pulumi.Output<string[]>;
  /** Effective NAT status: the override, else what was detected. */
  public readonly behindNat: pulumi.Output<boolean>;
  /** The SSH host (not secret). */
  public readonly sshHost: pulumi.Output<string>;
  /** The connection, as a secret. */
  public readonly connection: pulumi.Output<ConnectionArgs>;

  constructor(name: string, args: NodeArgs, opts?: pulumi.CustomResourceOptions) {
    const hostname = args.hostname ?? name;
    const connection = pulumi.secret(args.connection) as pulumi.Output<ConnectionArgs>;
    super(
      providerFor("node"),
      name,
      {
        hostname,
        connection,
        keyOnHost: args.keyOnHost ?? false,
        privateKey: args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey),
        interfaceName: args.interfaceName ?? "wg0",
        publicKey: undefined,
        privateKeyImported: undefined,
        natDetected: undefined,
        remoteHostname: undefined,
        os: undefined,
      },
      { ...opts, additionalSecretOutputs: ["privateKey", "connection"] },
    );
    this.nodeName = hostname;
    this.keyOnHost = args.keyOnHost ?? false;
    this.keyInterfaceName = args.interfaceName ?? "wg0";
    this.connection = connection;
    this.meshIp = pulumi.output(args.meshIp);
    this.listenPort = pulumi.output(args.listenPort);
    this.publicEndpoint = pulumi.output(args.publicEndpoint);
    this.routableNetworks = pulumi.output(args.routableNetworks ?? []) as pulumi.Output<string[]>;
    this.behindNatOverride = pulumi.output(args.behindNat);
    this.behindNat = args.behindNat === undefined
      ? this.natDetected.apply((d) => d === true)
      : pulumi.output(args.behindNat);
    const conn = pulumi.output(args.connection) as pulumi.Output<{ host: string; port?: number }>;
    this.sshHost = pulumi.unsecret(conn.apply((c) => c.host));
    this.sshPort = pulumi.unsecret(conn.apply((c) => c.port ?? 22));
  }

  public readonly sshPort: pulumi.Output<number>;
  /** @internal */
  readonly behindNatOverride: pulumi.Output<boolean | undefined>;
  /** @internal The interface whose key file a keyOnHost node uses. */
  readonly keyInterfaceName: string;

  /** @internal What the Mesh needs of this node (no secrets). */
  meshInputs(): pulumi.Output<MeshNodeInputs> {
    // The NAT override only (known at preview); the detected status joins in the plan (planMeshConfigs).
    return pulumi.all([this.meshIp, this.sshHost, this.sshPort, this.listenPort, this.publicEndpoint, this.behindNatOverride, this.routableNetworks]).apply(
      ([meshIp, sshHost, sshPort, listenPort, publicEndpoint, behindNat, routableNetworks]) => {
        const n: MeshNodeInputs = { hostname: this.nodeName, sshHost, sshPort, routableNetworks: [...routableNetworks] };
        if (behindNat !== undefined) n.behindNat = behindNat;
        if (meshIp !== undefined) n.meshIp = meshIp;
        if (listenPort !== undefined) n.listenPort = listenPort;
        if (publicEndpoint !== undefined) n.publicEndpoint = publicEndpoint;
        return n;
      },
    );
  }
}

export interface GroupArgs {
  /** Group name; default: the resource name. */
  name?: string;
  description?: pulumi.Input<string>;
  members: Node[];
}

/** A named set of nodes that policies speak about. */
export class Group extends pulumi.dynamic.Resource {
  declare public readonly members: pulumi.Output<string[]>;
  declare public readonly description: pulumi.Output<string | undefined>;
  public readonly groupName: string;
  public readonly memberNames: string[];
  /** @internal */
  readonly descriptionInput: pulumi.Input<string> | undefined;

  constructor(name: string, args: GroupArgs, opts?: pulumi.CustomResourceOptions) {
    const groupName = args.name ?? name;
    const members = args.members.map((n) => n.nodeName);
    super(providerFor("group"), name, { name: groupName, description: args.description, members }, opts);
    this.groupName = groupName;
    this.memberNames = members;
    this.descriptionInput = args.description;
  }
}

export interface PolicyArgs {
  /** Policy name; default: the resource name. */
  name?: string;
  description?: pulumi.Input<string>;
  from: Group[];
  to: Group[];
  /** From-members may reach to-members' mesh IPs (default true). */
  allowMeshIps?: pulumi.Input<boolean>;
  /** From-members get the to-members' routable networks (default false). */
  allowRoutableNetworks?: pulumi.Input<boolean>;
}

/** Access rule: members of `from` may reach members of `to` (they become WireGuard peers). */
export class Policy extends pulumi.dynamic.Resource {
  public readonly policyName: string;
  public readonly fromGroupNames: string[];
  public readonly toGroupNames: string[];
  /** @internal */
  readonly declaration: pulumi.Output<{ name: string; description?: string; fromGroups: string[]; toGroups: string[]; allowMeshIps?: boolean; allowRoutableNetworks?: boolean }>;

  constructor(name: string, args: PolicyArgs, opts?: pulumi.CustomResourceOptions) {
    const policyName = args.name ?? name;
    const fromGroups = args.from.map((g) => g.groupName);
    const toGroups = args.to.map((g) => g.groupName);
    super(
      providerFor("policy"),
      name,
      { name: policyName, description: args.description, fromGroups, toGroups, allowMeshIps: args.allowMeshIps, allowRoutableNetworks: args.allowRoutableNetworks },
      opts,
    );
    this.policyName = policyName;
    this.fromGroupNames = fromGroups;
    this.toGroupNames = toGroups;
    this.declaration = pulumi.all([args.description, args.allowMeshIps, args.allowRoutableNetworks]).apply(([description, allowMeshIps, allowRoutableNetworks]) => {
      const p: { name: string; description?: string; fromGroups: string[]; toGroups: string[]; allowMeshIps?: boolean; allowRoutableNetworks?: boolean } = { name: policyName, fromGroups, toGroups };
      if (description !== undefined) p.description = description;
      if (allowMeshIps !== undefined) p.allowMeshIps = allowMeshIps;
      if (allowRoutableNetworks !== undefined) p.allowRoutableNetworks = allowRoutableNetworks;
      return p;
    });
  }
}

/** One peer of a NodeConfig (see lifecycle/nodeConfig.ts PeerInputs). */
export interface PeerArgs {
  publicKey: pulumi.Input<string>;
  endpoint?: pulumi.Input<string | undefined>;
  allowedIps: pulumi.Input<string[]>;
  persistentKeepalive?: pulumi.Input<number | undefined>;
}

export interface NodeConfigArgs {
  mesh: pulumi.Input<string>;
  hostname: pulumi.Input<string>;
  interfaceName: pulumi.Input<string>;
  address: pulumi.Input<string>;
  listenPort: pulumi.Input<number>;
  mtu?: pulumi.Input<number>;
  publicKey: pulumi.Input<string>;
  peers: pulumi.Input<Record<string, pulumi.Input<PeerArgs>>>;
  routes: pulumi.Input<string[]>;
  forwarding: pulumi.Input<boolean>;
  keyOnHost: pulumi.Input<boolean>;
  privateKey?: pulumi.Input<string | undefined>;
  connection: pulumi.Input<ConnectionArgs>;
  /** The host's files as planned (see lifecycle/nodeConfig.ts HostFiles). */
  hostFiles?: pulumi.Input<{ wgQuickConf: string; unit: string }>;
  /** [issue 14] The health gate after each change (the Mesh's healthCheck). */
  healthCheck?: pulumi.Input<HealthCheckArgs>;
}

/** [issue 14] The health gate after a change on a node (see planner/health.ts). */
export interface HealthCheckArgs {
  /** "handshake" (default), "ping" or "off". */
  mode?: pulumi.Input<"handshake" | "ping" | "off">;
  /** Bound of the wait after a change, 1–600 s (default 15). */
  timeoutSeconds?: pulumi.Input<number>;
}

/** One node's planned WireGuard state, applied to its host (created by the Mesh; rarely declared directly). */
export class NodeConfig extends pulumi.dynamic.Resource {
  declare public readonly peers: pulumi.Output<Record<string, PeerInputs>>;
  declare public readonly address: pulumi.Output<string>;
  declare public readonly routes: pulumi.Output<string[]>;
  /** [issue 14] Every peer's health as last seen (after create/update and at refresh). */
  declare public readonly health: pulumi.Output<NodeHealth | undefined>;

  constructor(name: string, args: NodeConfigArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerFor("nodeConfig"), name, { ...args, connection: pulumi.secret(args.connection), privateKey: args.privateKey, health: undefined }, { ...opts, additionalSecretOutputs: ["privateKey", "connection"] });
  }
}

export interface MeshArgs {
  /** IPv4 mesh network (default "10.99.0.0/16"). */
  network?: pulumi.Input<string>;
  /** WireGuard interface (default "wg0"). */
  interfaceName?: pulumi.Input<string>;
  /** Default listen port (default 51820). */
  listenPort?: pulumi.Input<number>;
  /** Keepalive seconds set by nodes behind NAT (default 25; 0 = off). */
  persistentKeepalive?: pulumi.Input<number>;
  mtu?: pulumi.Input<number>;
  nodes: Node[];
  /** Defining any group or policy turns access control on (deny by default). */
  groups?: Group[];
  policies?: Policy[];
  /**
   * [issue 14] The health gate after each change on a node (default { mode: "handshake", timeoutSeconds: 15 }):
   * a change that makes a previously connected peer unreachable is rolled back on that node and fails.
   */
  healthCheck?: pulumi.Input<HealthCheckArgs>;
}

/** The deployment: validates the declaration, allocates mesh IPs, and applies one NodeConfig per node. */
export class Mesh extends pulumi.dynamic.Resource {
  /** hostname → mesh IP. */
  declare public readonly meshIps: pulumi.Output<Record<string, string>>;
  /** hostname → public key. */
  public readonly publicKeys: pulumi.Output<Record<string, string>>;
  /** hostname → endpoint peers dial ("host:port"), null when behind NAT. */
  public readonly endpoints: pulumi.Output<Record<string, string | null>>;
  /** hostname → behind NAT. */
  public readonly behindNat: pulumi.Output<Record<string, boolean>>;
  /** hostname → the node's NodeConfig child. */
  public readonly nodeConfigs: Record<string, NodeConfig>;

  constructor(name: string, args: MeshArgs, opts?: pulumi.CustomResourceOptions) {
    const groups = args.groups ?? [];
    const policies = args.policies ?? [];
    const ifname = typeof args.interfaceName === "string" ? args.interfaceName : args.interfaceName === undefined ? "wg0" : undefined;
    for (const n of args.nodes) {
      if (n.keyOnHost && ifname !== undefined && n.keyInterfaceName !== ifname) {
        throw new Error(`mesh ${JSON.stringify(name)}: node ${JSON.stringify(n.nodeName)} keeps its key on the host for interface ${JSON.stringify(n.keyInterfaceName)}, but the mesh uses ${JSON.stringify(ifname)}; set interfaceName: ${JSON.stringify(ifname)} on the Node`);
      }
    }
    const declared = {
      name,
      network: args.network,
      interfaceName: args.interfaceName,
      listenPort: args.listenPort,
      persistentKeepalive: args.persistentKeepalive,
      mtu: args.mtu,
      nodes: pulumi.all(args.nodes.map((n) => n.meshInputs())),
      groups: pulumi.all(groups.map((g) => pulumi.output(g.descriptionInput).apply((description) => ({ name: g.groupName, members: g.memberNames, ...(description !== undefined ? { description } : {}) })))),
      policies: pulumi.all(policies.map((p) => p.declaration)),
    };
    super(providerFor("mesh"), name, { ...declared, meshIps: undefined }, { ...opts, dependsOn: mergeDependsOn(opts?.dependsOn, [...groups, ...policies]) });

    const checked = pulumi.all({ ...declared, meshIps: this.meshIps }) as unknown as pulumi.Output<MeshInputs>;
    const identities = pulumi.all(args.nodes.map((n) => pulumi.all([n.publicKey, n.behindNat]).apply(([publicKey, behindNat]) => ({ hostname: n.nodeName, publicKey, behindNat }))));
    const plan: pulumi.Output<MeshPlanSummary> = pulumi.all([checked, identities]).apply(([m, ids]) => planMeshConfigs(m, ids));
    this.publicKeys = plan.apply((p) => p.publicKeys);
    this.endpoints = plan.apply((p) => p.endpoints);
    this.behindNat = plan.apply((p) => p.behindNat);

    // Per node, everything that does not depend on keys or detected NAT comes from the topology (known at
    // preview whenever the Mesh's inputs are); each peer's key/endpoint/keepalive joins per peer, so adding a
    // node leaves only that peer's unknown fields unknown in the other nodes' diffs.
    const topo = checked.apply((m) => planTopology(m));
    const byName = new Map(args.nodes.map((n) => [n.nodeName, n]));
    const sets = peerSets(
      args.nodes.map((n) => n.nodeName),
      groups.map((g) => ({ name: g.groupName, members: g.memberNames })),
      policies.map((p) => ({ name: p.policyName, fromGroups: p.fromGroupNames, toGroups: p.toGroupNames })),
    );
    this.nodeConfigs = {};
    for (const node of args.nodes) {
      const h = node.nodeName;
      const own = topo.apply((t) => {
        const c = t.nodes[h];
        if (!c) throw new Error(`mesh ${name}: node ${h} is missing from the plan`);
        return c;
      });
      // A plain object keyed by peer hostname (known when the program runs), one Output per field: a
      // preview shows exactly which peer/field changes, and only truly unknown fields as unknown.
      const peers: Record<string, pulumi.Input<PeerArgs>> = {};
      for (const y of sets[h] ?? []) {
        const peer = byName.get(y) as Node;
        peers[y] = {
          publicKey: peer.publicKey,
          allowedIps: own.apply((c) => {
            const p = c.peers[y];
            if (!p) throw new Error(`mesh ${name}: ${y} is not a peer of ${h} in the plan`);
            return p.allowedIps;
          }),
          endpoint: pulumi.all([topo, peer.behindNat]).apply(([t, natY]) => peerEndpoint(t, y, natY)),
          persistentKeepalive: pulumi.all([topo, node.behindNat]).apply(([t, natX]) => peerKeepalive(t, natX)),
        };
      }
      this.nodeConfigs[h] = new NodeConfig(
        `${name}-${h}`,
        {
          mesh: name,
          hostname: h,
          interfaceName: own.interfaceName,
          address: own.address,
          listenPort: own.listenPort,
          mtu: own.apply((c) => c.mtu as number),
          publicKey: node.publicKey,
          peers,
          routes: own.routes,
          forwarding: own.forwarding,
          keyOnHost: node.keyOnHost,
          privateKey: node.keyOnHost ? undefined : node.privateKey,
          connection: node.connection,
          hostFiles: { ...PLANNED_HOST_FILES },
          healthCheck: args.healthCheck, // [issue 14] pass-through
        },
        { parent: this, dependsOn: [node] },
      );
    }
  }
}

function mergeDependsOn(a: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined, extra: pulumi.Resource[]): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
  if (a === undefined) return extra;
  return pulumi.output(a).apply((x) => [...(Array.isArray(x) ? x : [x]), ...extra]) as pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
}
