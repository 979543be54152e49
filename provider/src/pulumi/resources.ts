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
import "./quiet";
import { dynamicUrn, providerFor, URN_KEY } from "./providers";
import { SPEC_KEY } from "./spec";
import { composeMesh, packSpec, type ConnectionArgs, type HealthCheckArgs, type NodeConfigArgs } from "./composition";
import type { MeshInputs, MeshNodeInputs } from "./lifecycle/mesh";
import type { NodeHealthLines } from "./lifecycle/healthLines";
import type { Enforcement, PolicyTestInput } from "../core/model";
import type { PairKeyTable } from "../core/psk";

export type { ConnectionArgs, HealthCheckArgs, NodeConfigArgs } from "./composition";

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
  /**
   * Any change rotates the node's WireGuard key at the next `pulumi up` (like @pulumi/random's keepers): a
   * date ("2025-06"), a counter, a time-based rotating value. The new key goes to the node and to all its
   * peers in the same parallel step; tunnels resume within seconds and TCP connections survive. keyOnHost:
   * the new key is made on the host. Not with `privateKey` (rotate an imported key by changing it).
   */
  rotationTrigger?: pulumi.Input<string>;
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
        connection,
        privateKey: args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey),
        // An Input (a user's secret keeps its own property).
        rotationTrigger: args.rotationTrigger,
        publicKey: undefined,
        natDetected: undefined,
        remoteHostname: undefined,
        os: undefined,
        // Plain values, never secret: one packed input (./spec.ts).
        [SPEC_KEY]: { hostname, keyOnHost: args.keyOnHost ?? false, interfaceName: args.interfaceName ?? "wg0" },
        [URN_KEY]: dynamicUrn(name, opts),
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
  /** Protocols/ports allowed, enforced by the hosts' firewall: "tcp/5432", "udp/53", "tcp/8000-8100", "icmp" (default: all). */
  ports?: pulumi.Input<string[]>;
}

/** Access rule: members of `from` may reach members of `to` (they become WireGuard peers). */
export class Policy extends pulumi.dynamic.Resource {
  public readonly policyName: string;
  public readonly fromGroupNames: string[];
  public readonly toGroupNames: string[];
  /** @internal */
  readonly declaration: pulumi.Output<{ name: string; description?: string; fromGroups: string[]; toGroups: string[]; allowMeshIps?: boolean; allowRoutableNetworks?: boolean; ports?: string[] }>;

  constructor(name: string, args: PolicyArgs, opts?: pulumi.CustomResourceOptions) {
    const policyName = args.name ?? name;
    const fromGroups = args.from.map((g) => g.groupName);
    const toGroups = args.to.map((g) => g.groupName);
    super(
      providerFor("policy"),
      name,
      { name: policyName, description: args.description, fromGroups, toGroups, allowMeshIps: args.allowMeshIps, allowRoutableNetworks: args.allowRoutableNetworks, ports: args.ports },
      opts,
    );
    this.policyName = policyName;
    this.fromGroupNames = fromGroups;
    this.toGroupNames = toGroups;
    this.declaration = pulumi.all([args.description, args.allowMeshIps, args.allowRoutableNetworks, args.ports]).apply(([description, allowMeshIps, allowRoutableNetworks, ports]) => {
      const p: { name: string; description?: string; fromGroups: string[]; toGroups: string[]; allowMeshIps?: boolean; allowRoutableNetworks?: boolean; ports?: string[] } = { name: policyName, fromGroups, toGroups };
      if (description !== undefined) p.description = description;
      if (allowMeshIps !== undefined) p.allowMeshIps = allowMeshIps;
      if (allowRoutableNetworks !== undefined) p.allowRoutableNetworks = allowRoutableNetworks;
      if (ports !== undefined) p.ports = [...ports];
      return p;
    });
  }
}

/** One node's planned WireGuard state, applied to its host (created by the Mesh; rarely declared directly). */
export class NodeConfig extends pulumi.dynamic.Resource {
  /** One line per peer, sorted by hostname: "<hostname> key=… allowedIps=…,… [endpoint=…] [keepalive=…]" (`parsePeerLines` reads it). */
  declare public readonly peers: pulumi.Output<string>;
  declare public readonly address: pulumi.Output<string>;
  declare public readonly routes: pulumi.Output<string[]>;
  /**
   * [issue 14] Every peer's health as last seen (after create/update and at refresh): `{ mode, checkedAt, peers }`,
   * `peers` one line per peer (`<hostname> key=… state=… handshake=<age>s|never rx=… tx=… endpoint=…|none`);
   * `parseHealthLines(health.peers)` gives the objects.
   */
  declare public readonly health: pulumi.Output<NodeHealthLines | undefined>;

  constructor(name: string, args: NodeConfigArgs, opts?: pulumi.CustomResourceOptions) {
    // At the top level: the outputs read back (peers, address, routes, health) and the secrets; the rest in
    // one packed input (./spec.ts: Pulumi's cost is per top-level property).
    const { peers, address, routes, connection, privateKey, presharedKeys, ...rest } = args;
    super(
      providerFor("nodeConfig"),
      name,
      {
        peers, address, routes,
        connection: pulumi.secret(connection), privateKey,
        ...(presharedKeys !== undefined ? { presharedKeys } : {}),
        health: undefined,
        [SPEC_KEY]: packSpec(rest),
        [URN_KEY]: dynamicUrn(name, opts),
      },
      { ...opts, additionalSecretOutputs: ["privateKey", "connection"] },
    );
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
  /**
   * "nftables" (default when groups/policies exist): each host enforces the policies with its own
   * nftables table (direction-aware, ports); "none": policies decide peering and AllowedIPs only.
   */
  enforcement?: pulumi.Input<Enforcement>;
  /** Policy tests: checked against the plan at preview, run on the hosts by `pulumi refresh`. */
  policyTests?: pulumi.Input<pulumi.Input<PolicyTestInput>[]>;
  /**
   * One WireGuard preshared key per peered pair (a plain value): generated by the provider, kept as secrets
   * (encrypted in state, never in argv, logs or previews), applied online on both ends and written to the
   * 0600 wg-quick files. A new node creates only its pairs' keys; a removed one deletes them.
   */
  presharedKeys?: boolean;
  /** Any change gives every pair a new preshared key at the next `pulumi up` (running connections survive). */
  pskRotationTrigger?: pulumi.Input<string>;
}

/** The deployment: validates the declaration, allocates mesh IPs, and applies one NodeConfig per node. */
export class Mesh extends pulumi.dynamic.Resource {
  /** hostname → mesh IP. */
  declare public readonly meshIps: pulumi.Output<Record<string, string>>;
  /** @internal With presharedKeys: the pairs' preshared keys (a secret; each NodeConfig gets its own pairs'). */
  declare readonly presharedKeyTable: pulumi.Output<PairKeyTable>;
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
      enforcement: args.enforcement,
      policyTests: args.policyTests,
      presharedKeys: args.presharedKeys,
      pskRotationTrigger: args.pskRotationTrigger,
    };
    super(
      providerFor("mesh"),
      name,
      { ...declared, meshIps: undefined, presharedKeyTable: undefined },
      { ...opts, dependsOn: mergeDependsOn(opts?.dependsOn, [...groups, ...policies]), additionalSecretOutputs: ["presharedKeyTable"] },
    );

    const composed = composeMesh({
      name,
      meshName: name,
      interfaceName: args.interfaceName,
      healthCheck: args.healthCheck,
      checked: pulumi.all({ ...declared, meshIps: this.meshIps }) as unknown as pulumi.Output<MeshInputs>,
      members: args.nodes.map((n) => ({
        hostname: n.nodeName,
        node: n,
        publicKey: n.publicKey,
        behindNat: n.behindNat,
        keyOnHost: n.keyOnHost,
        privateKey: n.keyOnHost ? undefined : n.privateKey,
        connection: n.connection,
      })),
      groups: groups.map((g) => ({ name: g.groupName, members: g.memberNames })),
      policies: policies.map((p) => ({ name: p.policyName, fromGroups: p.fromGroupNames, toGroups: p.toGroupNames })),
      nodeConfig: (configName, configArgs, dependsOn) => new NodeConfig(configName, configArgs, { parent: this, dependsOn }),
      ...(args.presharedKeys === true ? { presharedKeyTable: this.presharedKeyTable } : {}),
    });
    this.publicKeys = composed.publicKeys;
    this.endpoints = composed.endpoints;
    this.behindNat = composed.behindNat;
    this.nodeConfigs = composed.nodeConfigs;
    this.compositionOutputs = composed.outputsCreated;
    this.composedDiagram = composed.diagram;
  }

  /** The mesh as a Mermaid flowchart: groups as boxes, one edge per peering with its direction and policies (and ports), NAT'd nodes and routed networks marked. */
  get diagram(): pulumi.Output<string> {
    return this.composedDiagram();
  }

  private readonly composedDiagram: () => pulumi.Output<string>;

  /** @internal Outputs the composition created (issue 12's regression test bounds it). */
  readonly compositionOutputs: number;
}

function mergeDependsOn(a: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined, extra: pulumi.Resource[]): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
  if (a === undefined) return extra;
  return pulumi.output(a).apply((x) => [...(Array.isArray(x) ? x : [x]), ...extra]) as pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
}
