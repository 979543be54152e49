/**
 * The mesh model: what a user declares (nodes, groups, access policies and mesh-wide settings).
 *
 * Every front door feeds this model — the Pulumi resources, the SSH engine, the `wgmesh` CLI (via the Go
 * tool's state file, see `statefile.ts`):
 *
 *   MeshInput ──normalizeMesh──▶ Mesh ──validateMesh──▶ findings ──assignMeshIps──▶ Mesh (all meshIp set)
 *             ──planMesh──▶ NodeDesiredState per node          (or all at once: `compileMesh`, compile.ts)
 *
 * `*Input` types have optional fields; `normalizeMesh` applies the documented defaults and copies every
 * value (it never throws and never rejects — judging values is `validateMesh`'s job, so that all
 * problems are reported together). Pure: no I/O.
 */
import { publicKeyFromPrivate, isValidKey } from "./keys";

/** Mesh-wide defaults (those of the Go wgmesh tool, except keepalive: 25 s, WireGuard's usual value). */
export const MESH_DEFAULTS = Object.freeze({
  interfaceName: "wg0",
  network: "10.99.0.0/16",
  listenPort: 51820,
  persistentKeepalive: 25,
  sshPort: 22,
});

/** A node as declared. */
export interface NodeInput {
  /** Node name: a DNS label (letters, digits, '-'; 1–63 characters). Unique (case-insensitively). */
  hostname: string;
  /** IPv4 address inside the mesh network; omit to allocate the lowest free host address. */
  meshIp?: string | null;
  /** Where the node is reached over SSH (IP address or DNS name). Also the default WireGuard endpoint host. */
  sshHost: string;
  /** SSH port (default 22). */
  sshPort?: number | null;
  /** WireGuard listen port of this node (default: the mesh's `listenPort`). */
  listenPort?: number | null;
  /** "host:port" ("[v6]:port") peers dial; overrides `sshHost:listenPort` and applies even behind NAT. */
  publicEndpoint?: string | null;
  /** The node is not reachable from outside: peers get no endpoint for it, it sends keepalives. */
  behindNat?: boolean | null;
  /** CIDRs of networks behind this node, reachable through it (it gets IP forwarding). */
  routableNetworks?: string[] | null;
  /** WireGuard public key (base64). Derived from `privateKey` when omitted. */
  publicKey?: string | null;
  /** WireGuard private key (base64), where the caller holds it. A secret: never printed or logged. */
  privateKey?: string | null;
}

/** A group of nodes, the unit access policies speak about. */
export interface GroupInput {
  name: string;
  description?: string | null;
  /** Hostnames of member nodes. */
  members?: string[] | null;
}

/**
 * An access policy: members of `fromGroups` may reach members of `toGroups`.
 * Two nodes are WireGuard peers when any policy relates their groups in either direction.
 */
export interface PolicyInput {
  name: string;
  description?: string | null;
  fromGroups: string[];
  toGroups: string[];
  /**
   * Whether from-members may open connections to the to-members themselves (default true): with enforcement
   * "nftables", the input hook of a to-member accepts NEW connections arriving on the mesh interface from
   * the from-members (any address of the node reached through the mesh, its mesh IP first). `false`: the
   * policy still peers them (and, with allowRoutableNetworks, opens the networks behind the to-members) but
   * lets no connection reach the to-members themselves. Does not change AllowedIPs.
   */
  allowMeshIps?: boolean | null;
  /**
   * Whether from-members get the to-members' routable networks in AllowedIPs and routes (default false);
   * with enforcement "nftables" also whether a to-member forwards NEW connections from them into its networks.
   */
  allowRoutableNetworks?: boolean | null;
  /**
   * Protocols/ports the policy allows (beyond the Go tool): "tcp/5432", "udp/53", "tcp/8000-8100", "icmp".
   * Absent: every protocol and port. Enforced by the host firewall (enforcement "nftables").
   */
  ports?: string[] | null;
}

/**
 * A policy test (Tailscale's ACL tests, as code): may `from` open a connection to `to` on `port`? Evaluated
 * against the plan (a failing test fails the plan/preview) and, by `wgmesh verify` / `pulumi refresh`, on the
 * hosts.
 */
export interface PolicyTestInput {
  /** Source node (hostname). */
  from: string;
  /** Destination node (hostname); the probe goes to its mesh IP. */
  to: string;
  /** "tcp/5432", "udp/53" or "icmp". */
  port: string;
  expect: "allow" | "deny";
}

/** How policies are enforced on the hosts: a direction-aware nftables firewall per node, or not at all. */
export type Enforcement = "nftables" | "none";

/** The whole declaration. */
export interface MeshInput {
  /** WireGuard interface name (default "wg0"). */
  interfaceName?: string | null;
  /** IPv4 mesh network in CIDR form (default "10.99.0.0/16"). */
  network?: string | null;
  /** Default WireGuard listen port (default 51820). */
  listenPort?: number | null;
  /** Keepalive (seconds) set by nodes behind NAT on all their peers (default 25; 0 = none). */
  persistentKeepalive?: number | null;
  /** Interface MTU (default: leave wg-quick's choice). */
  mtu?: number | null;
  nodes: NodeInput[];
  /** Groups; defining any group (or policy) turns access control on: deny by default. */
  groups?: GroupInput[] | null;
  /** Access policies. */
  policies?: PolicyInput[] | null;
  /**
   * "nftables" (default when any group or policy exists): each node filters what arrives on the mesh
   * interface by the policies (direction, ports); "none": policies only decide peering and AllowedIPs.
   */
  enforcement?: Enforcement | null;
  /** Assertions about the policies, checked against the plan (and on the hosts by verify/refresh). */
  policyTests?: PolicyTestInput[] | null;
}

/** A node with every default applied. */
export interface MeshNode {
  hostname: string;
  /** Null until allocated (see allocate.ts). */
  meshIp: string | null;
  sshHost: string;
  sshPort: number;
  /** Override, or null to use the mesh's listen port (see `nodeListenPort`). */
  listenPort: number | null;
  publicEndpoint: string | null;
  behindNat: boolean;
  routableNetworks: string[];
  /** Null only when neither key was given (a validation error). */
  publicKey: string | null;
  privateKey: string | null;
}

export interface Group {
  name: string;
  description: string;
  members: string[];
}

export interface Policy {
  name: string;
  description: string;
  fromGroups: string[];
  toGroups: string[];
  allowMeshIps: boolean;
  allowRoutableNetworks: boolean;
  /** Null: every protocol and port. */
  ports: string[] | null;
}

export interface PolicyTest {
  from: string;
  to: string;
  port: string;
  expect: string;
}

/** A mesh with every default applied (arrays in declaration order). */
export interface Mesh {
  interfaceName: string;
  network: string;
  listenPort: number;
  persistentKeepalive: number;
  mtu: number | null;
  nodes: MeshNode[];
  groups: Group[];
  policies: Policy[];
  enforcement: Enforcement;
  policyTests: PolicyTest[];
}

function orDefault<T>(value: T | null | undefined, fallback: T): T {
  return value === undefined || value === null ? fallback : value;
}

function derivePublicKey(input: NodeInput): string | null {
  if (input.publicKey !== undefined && input.publicKey !== null) return input.publicKey;
  if (input.privateKey && isValidKey(input.privateKey)) return publicKeyFromPrivate(input.privateKey);
  return null;
}

/** Apply defaults to one node. */
export function normalizeNode(input: NodeInput): MeshNode {
  return {
    hostname: input.hostname,
    meshIp: orDefault(input.meshIp, null),
    sshHost: input.sshHost,
    sshPort: orDefault(input.sshPort, MESH_DEFAULTS.sshPort),
    listenPort: orDefault(input.listenPort, null),
    publicEndpoint: input.publicEndpoint === "" ? null : orDefault(input.publicEndpoint, null),
    behindNat: orDefault(input.behindNat, false),
    routableNetworks: [...orDefault(input.routableNetworks, [] as string[])],
    publicKey: derivePublicKey(input),
    privateKey: input.privateKey === "" ? null : orDefault(input.privateKey, null),
  };
}

/** Apply every default; copies all arrays (the input is never modified). */
export function normalizeMesh(input: MeshInput): Mesh {
  return {
    interfaceName: orDefault(input.interfaceName, MESH_DEFAULTS.interfaceName),
    network: orDefault(input.network, MESH_DEFAULTS.network),
    listenPort: orDefault(input.listenPort, MESH_DEFAULTS.listenPort),
    persistentKeepalive: orDefault(input.persistentKeepalive, MESH_DEFAULTS.persistentKeepalive),
    mtu: orDefault(input.mtu, null),
    nodes: (input.nodes ?? []).map(normalizeNode),
    groups: orDefault(input.groups, [] as GroupInput[]).map((g) => ({
      name: g.name,
      description: orDefault(g.description, ""),
      members: [...orDefault(g.members, [] as string[])],
    })),
    policies: orDefault(input.policies, [] as PolicyInput[]).map((p) => ({
      name: p.name,
      description: orDefault(p.description, ""),
      fromGroups: [...orDefault(p.fromGroups, [] as string[])],
      toGroups: [...orDefault(p.toGroups, [] as string[])],
      allowMeshIps: orDefault(p.allowMeshIps, true),
      allowRoutableNetworks: orDefault(p.allowRoutableNetworks, false),
      ports: p.ports === undefined || p.ports === null ? null : [...p.ports],
    })),
    enforcement: orDefault(input.enforcement, (input.groups?.length ?? 0) > 0 || (input.policies?.length ?? 0) > 0 ? "nftables" : "none") as Enforcement,
    policyTests: orDefault(input.policyTests, [] as PolicyTestInput[]).map((t) => ({ from: t.from, to: t.to, port: t.port, expect: t.expect })),
  };
}

/** Access control is on when any group or any policy is defined (then everything is denied by default). */
export function accessControlEnabled(mesh: Pick<Mesh, "groups" | "policies">): boolean {
  return mesh.groups.length > 0 || mesh.policies.length > 0;
}

/** Whether the mesh is filtered by host firewalls: enforcement "nftables" and access control on (else nothing to enforce). */
export function firewallEnabled(mesh: Pick<Mesh, "groups" | "policies" | "enforcement">): boolean {
  return mesh.enforcement === "nftables" && accessControlEnabled(mesh);
}

/** The WireGuard port a node listens on. */
export function nodeListenPort(mesh: Pick<Mesh, "listenPort">, node: Pick<MeshNode, "listenPort">): number {
  return node.listenPort ?? mesh.listenPort;
}

/** "host:port", with IPv6 hosts in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The endpoint peers dial for `node`: its `publicEndpoint` if set; else `sshHost:listenPort` unless it is
 * behind NAT; else none.
 */
export function nodeEndpoint(mesh: Pick<Mesh, "listenPort">, node: MeshNode): string | null {
  if (node.publicEndpoint) return node.publicEndpoint;
  if (node.behindNat || !node.sshHost) return null;
  return joinHostPort(node.sshHost, nodeListenPort(mesh, node));
}
