/**
 * THE source of truth for the Pulumi schema of the `wgmesh` package: `schema.json` at the repo root is
 * generated from this file (`node dist/provider/src/plugin/genschema.js`, `make plugin-schema`), the SDKs are
 * generated from schema.json, and the plugin serves schema.json. The property maps below are typed against
 * the lifecycles' input/output interfaces (`Record<keyof …>`), so a property added to a lifecycle and not
 * described here (or described here and unknown to the lifecycle) fails to compile.
 */
import type { GroupInputs, PolicyInputs } from "../pulumi/lifecycle/group";
import type { MeshInputs, MeshNodeInputs } from "../pulumi/lifecycle/mesh";
import type { NodeInputs, NodeOutputs } from "../pulumi/lifecycle/node";
import type { HealthCheckInputs, HostFiles, NodeConfigInputs, NodeConfigOutputs, NodePolicyTest } from "../pulumi/lifecycle/nodeConfig";
import type { NodeHealthLines } from "../pulumi/lifecycle/healthLines";
import type { FirewallWire } from "../pulumi/lifecycle/firewallText";
import type { PairKey } from "../core/psk";
import type { GroupInput, PolicyInput, PolicyTestInput } from "../core/model";
import type { Connection, ProxyConnection } from "../engine/ssh/connection";
import type { MeshSecretInputs, MeshSecretOutputs } from "../pulumi/lifecycle/meshSecret";
import type { DecentralizedNodeInputs, DecentralizedNodeOutputs } from "../pulumi/lifecycle/decentralizedNode";
import type { DaemonHostState } from "../engine/daemonstate";
import type { MeshPlanArgs, MeshPlanDoc, PlannedNode, PlannedPeer } from "../planner/meshplan";
import type { KeyPair, NodeStatus, NodeStatusArgs, PeerStatus } from "../pulumi/functions";
import type { NodeInput } from "../core/model";

export const PACKAGE = "wgmesh";
export const TOKENS = {
  node: "wgmesh:index:Node",
  group: "wgmesh:index:Group",
  policy: "wgmesh:index:Policy",
  mesh: "wgmesh:index:Mesh",
  meshDeclaration: "wgmesh:index:MeshDeclaration",
  nodeConfig: "wgmesh:index:NodeConfig",
  meshSecret: "wgmesh:index:MeshSecret",
  decentralizedNode: "wgmesh:index:DecentralizedNode",
} as const;

/** The package's functions (data sources), served by the plugin's invoke (./functions.ts). */
export const FUNCTIONS = {
  getMeshPlan: "wgmesh:index:getMeshPlan",
  getNodeStatus: "wgmesh:index:getNodeStatus",
  generateKeyPair: "wgmesh:index:generateKeyPair",
} as const;

export interface PropertySpec {
  type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  $ref?: string;
  items?: PropertySpec;
  additionalProperties?: PropertySpec;
  description?: string;
  secret?: boolean;
  default?: unknown;
  willReplaceOnChanges?: boolean;
}

const str = (description: string, extra: Partial<PropertySpec> = {}): PropertySpec => ({ type: "string", description, ...extra });
const int = (description: string, extra: Partial<PropertySpec> = {}): PropertySpec => ({ type: "integer", description, ...extra });
const bool = (description: string, extra: Partial<PropertySpec> = {}): PropertySpec => ({ type: "boolean", description, ...extra });
const strings = (description: string): PropertySpec => ({ type: "array", items: { type: "string" }, description });
const ref = (token: string, description?: string, extra: Partial<PropertySpec> = {}): PropertySpec => ({ $ref: `#/types/${token}`, ...(description ? { description } : {}), ...extra });
const resourceRefs = (token: string, description: string): PropertySpec => ({ type: "array", items: { $ref: `#/resources/${token}` }, ...(description ? { description } : {}) });
const mapOf = (value: PropertySpec, description: string, extra: Partial<PropertySpec> = {}): PropertySpec => ({ type: "object", additionalProperties: value, ...(description ? { description } : {}), ...extra });

const PORTS_DOC = 'Protocols/ports the policy allows, enforced by the hosts\' firewall: "tcp/5432", "udp/53", "tcp/8000-8100", "icmp". Absent: every protocol and port.';

// ---- shared object types -------------------------------------------------------------------------------

const proxyConnection: Record<keyof ProxyConnection, PropertySpec> = {
  host: str("The address of the host to connect to."),
  port: int("The SSH port. Default 22."),
  user: str('The login user. Default "root"; a non-root user needs passwordless sudo.'),
  password: str("The login password.", { secret: true }),
  privateKey: str("The contents of an OpenSSH private key (takes preference over the password).", { secret: true }),
  privateKeyPassword: str("The passphrase of an encrypted privateKey.", { secret: true }),
  agentSocketPath: str("The SSH agent socket; default $SSH_AUTH_SOCK when no other credential is given."),
  dialErrorLimit: int("Max dial errors before giving up; -1 = unlimited. Default 10."),
  perDialTimeout: int("Max seconds per dial attempt (TCP + handshake + auth); 0 = no maximum. Default 15."),
  hostKey: str('The host key the host must present ("ssh-ed25519 AAAA…" or the base64 blob). Without it, known_hosts ($WGMESH_KNOWN_HOSTS or ~/.ssh/known_hosts) is used.'),
};

const connection: Record<keyof Connection, PropertySpec> = {
  ...proxyConnection,
  proxy: ref("wgmesh:index:ProxyConnection", "One bastion hop to reach the host through."),
};

const hostFiles: Record<keyof HostFiles, PropertySpec> = {
  wgQuickConf: str('The wg-quick file: "as planned", or "differs from the plan" / "missing" after a refresh.'),
  unit: str('`systemctl is-enabled wg-quick@<interface>`: "enabled" as planned.'),
  firewall: str('The firewall table inet wgmesh_<interface> and /etc/wireguard/<interface>.nft: "as planned" (also when none is planned and none is there), else "missing", "differs from the plan" (e.g. a flushed or edited table) or "present but not planned".'),
};

const firewall: Record<keyof FirewallWire, PropertySpec> = {
  table: str('The node\'s own nftables table, e.g. "inet wgmesh_wg0" (no other table is touched).'),
  sets: mapOf({ type: "string" }, 'Named address sets, each one element per line: "src_<group>" the sources of a group (members\' mesh IPs and routable networks), "routed" this node\'s routable networks; "_v6" names are IPv6. (One string per set rather than a list: Pulumi\'s cost is per value; a preview shows the members added or removed as lines.)'),
  rules: mapOf({ type: "string" }, 'Accept rules by label ("input web-to-app from web tcp" → the nft rule). "input": connections to the node itself, "forward": into its routable networks. Only traffic arriving on the mesh interface is filtered; established/related is accepted, anything else counted and dropped.'),
};

const nodePolicyTest: Record<keyof NodePolicyTest, PropertySpec> = {
  address: str("The destination node's mesh IP."),
  port: str('"tcp/5432", "udp/53" or "icmp".'),
  expect: str('"allow" or "deny".'),
  result: str('"pass" as planned; a refresh runs the test from this node\'s host (TCP connect / ICMP) and reports "fail: …" when the host disagrees.'),
};

const presharedKey: Record<keyof PairKey, PropertySpec> = {
  id: str("8 random hex digits made with the key (not derived from it, not secret): a new id means a new key."),
  key: str("The pair's WireGuard preshared key (as `wg genpsk` prints it).", { secret: true }),
};

const policyTest: Record<keyof PolicyTestInput, PropertySpec> = {
  from: str("Source node (hostname)."),
  to: str("Destination node (hostname); the probe goes to its mesh IP."),
  port: str('"tcp/5432", "udp/53" or "icmp".'),
  expect: str('"allow" or "deny".'),
};


const healthCheck: Record<keyof HealthCheckInputs, PropertySpec> = {
  mode: str('"handshake" (default): after a change, wait for a handshake or traffic back from every touched peer; "ping": for an echo reply from its mesh address; "off": no wait, no rollback.'),
  timeoutSeconds: int("Bound of the wait after a change, 1–600 seconds (default 15). A peer behind NAT without an endpoint is judged by its own traffic to us (keepalive every 25 s by default): give it more than that when it matters."),
};

const nodeHealth: Record<keyof NodeHealthLines, PropertySpec> = {
  mode: str("The health check mode in force."),
  checkedAt: str("When the host was read (its own clock), ISO 8601."),
  peers: str(
    "Every peer on the interface, one line per peer in hostname order: `<hostname> key=<public key> state=<state> handshake=<age>s|never rx=<bytes> tx=<bytes> endpoint=<host:port>|none [waited=<s>s]`. " +
      'state: "reachable" / "unreachable" (checked by the last change\'s health gate), else "connected" (a handshake within 180 s), "stale" (older) or "never"; handshake: seconds since the latest handshake when the host was read; ' +
      "rx/tx: bytes since the interface came up; endpoint: the one WireGuard uses now (learned by roaming for a peer behind NAT); waited: the gate's wait for that peer. " +
      "One string rather than an object per peer: Pulumi's cost is per value, and a full mesh has N·(N−1) peer entries (the TypeScript package's parseHealthLines reads it back).",
  ),
};

const meshNode: Record<keyof MeshNodeInputs, PropertySpec> = {
  hostname: str("Mesh node name."),
  meshIp: str("Explicit mesh IPv4 address, if any."),
  sshHost: str("The SSH host (the default endpoint)."),
  sshPort: int("The SSH port."),
  listenPort: int("WireGuard listen port of this node."),
  publicEndpoint: str('"host:port" peers dial.'),
  behindNat: bool("NAT override of the node."),
  routableNetworks: strings("Networks behind this node."),
};

const groupDecl: Record<keyof GroupInput, PropertySpec> = {
  name: str("Group name."),
  description: str("Free text."),
  members: strings("Hostnames of the member nodes."),
};

const policyDecl: Record<keyof PolicyInput, PropertySpec> = {
  name: str("Policy name."),
  description: str("Free text."),
  fromGroups: strings("Names of the groups whose members may reach the members of toGroups."),
  toGroups: strings("Names of the groups reached."),
  allowMeshIps: bool("From-members may reach to-members' mesh IPs (default true)."),
  allowRoutableNetworks: bool("From-members get the to-members' routable networks (default false)."),
  ports: strings(PORTS_DOC),
};

// ---- Node -------------------------------------------------------------------------------------------------

/** The Node's topology settings: read by the Mesh, passed through the Node unchanged (no host side). */
export const NODE_TOPOLOGY = ["meshIp", "listenPort", "publicEndpoint", "behindNat", "routableNetworks"] as const;
type NodeTopology = Record<(typeof NODE_TOPOLOGY)[number], PropertySpec>;

const nodeTopology: NodeTopology = {
  meshIp: str("IPv4 address inside the mesh network; default: allocated by the Mesh (stable across runs)."),
  listenPort: int("WireGuard listen port of this node; default: the Mesh's listenPort."),
  publicEndpoint: str('"host:port" peers dial; default: the connection host and the listen port (none when behind NAT).'),
  behindNat: bool("Override NAT detection (default: detected over SSH when the node is created or refreshed; see natDetected)."),
  routableNetworks: strings("Networks behind this node that peers may reach through it (the node gets IP forwarding)."),
};

const nodeInputs: Record<keyof NodeInputs, PropertySpec> & NodeTopology = {
  hostname: str("Mesh node name (a DNS label); default: the resource name.", { willReplaceOnChanges: true }),
  connection: ref("wgmesh:index:Connection", "How to reach the host over SSH: the same fields as @pulumi/command's remote connection. Stored as a secret.", { secret: true }),
  keyOnHost: bool("Generate the WireGuard key on the host; only the public key leaves it.", { willReplaceOnChanges: true }),
  privateKey: str("Use this existing WireGuard private key (e.g. migrated from the Go tool); default: a new one. Stored as a secret.", { secret: true }),
  interfaceName: str('Interface whose key file keyOnHost uses (default "wg0"; set it when the Mesh uses another name).'),
  rotationTrigger: str('Any change rotates the node\'s WireGuard key at the next `pulumi up` (like @pulumi/random\'s keepers): a date such as "2025-06", a counter, a time-based rotating value. The new key is applied on the node and on all its peers in the same parallel step (tunnels resume within seconds; TCP connections survive). keyOnHost: the new key is made on the host. Not with an imported privateKey (rotate that by changing privateKey).'),
  ...nodeTopology,
};

const nodeOutputs: Record<keyof NodeOutputs, PropertySpec> & NodeTopology = {
  ...nodeInputs,
  publicKey: str("The node's WireGuard public key."),
  privateKey: str("The node's WireGuard private key (secret); absent when keyOnHost.", { secret: true }),
  privateKeyImported: bool("Whether the private key came from the privateKey input (else generated here or on the host)."),
  natDetected: bool("NAT detected over SSH: the address used to reach the host is not one of its own."),
  remoteHostname: str("The host's own hostname."),
  os: str("The host's operating system (PRETTY_NAME of /etc/os-release)."),
};

// ---- Group, Policy ----------------------------------------------------------------------------------------

/** Reference bookkeeping of Group and Policy (kept beside the lifecycle's state; see adapters.ts). */
export const GROUP_REFS = ["memberUrns"] as const;
export const POLICY_REFS = ["fromUrns", "toUrns"] as const;

const groupOutputs: Record<keyof GroupInputs | (typeof GROUP_REFS)[number], PropertySpec> = {
  name: str("Group name; default: the resource name."),
  description: str("Free text shown in the plan."),
  members: strings("Hostnames of the member nodes."),
  memberUrns: strings("URNs of the member Node resources (the Mesh resolves members that are new in a preview through them)."),
};

const policyOutputs: Record<keyof PolicyInputs | (typeof POLICY_REFS)[number], PropertySpec> = {
  name: str("Policy name; default: the resource name."),
  description: str("Free text shown in the plan."),
  fromGroups: strings("Names of the groups whose members may reach the members of toGroups."),
  toGroups: strings("Names of the groups reached."),
  allowMeshIps: bool("From-members may reach to-members' mesh IPs (default true)."),
  allowRoutableNetworks: bool("From-members get the to-members' routable networks in AllowedIPs and routes (default false)."),
  ports: strings(PORTS_DOC),
  fromUrns: strings("URNs of the `from` Group resources."),
  toUrns: strings("URNs of the `to` Group resources."),
};

// ---- Mesh (component), MeshDeclaration, NodeConfig ---------------------------------------------------------

const meshSettings = {
  network: str('IPv4 mesh network (default "10.99.0.0/16").'),
  interfaceName: str('WireGuard interface on every host (default "wg0").'),
  listenPort: int("Default WireGuard listen port (default 51820)."),
  persistentKeepalive: int("Keepalive seconds set by nodes behind NAT (default 25; 0 = off)."),
  mtu: int("Interface MTU (default: WireGuard's)."),
  enforcement: str('How the policies are enforced on the hosts: "nftables" (default when any group or policy exists) — each node filters what arrives on the mesh interface by its own nftables table: direction-aware (from → to), restricted to the policies\' ports, established/related accepted, the rest counted and dropped — or "none": policies decide peering and AllowedIPs only (what the Go tool does).'),
  policyTests: { type: "array" as const, items: ref("wgmesh:index:PolicyTest"), description: "Assertions about the policies (Tailscale's ACL tests): evaluated against the plan at preview (a failing test fails it, naming the policy that allows or the absence that denies), and run on the hosts by `pulumi refresh` (each source node's NodeConfig `policyTests`)." },
  presharedKeys: bool("One WireGuard preshared key per peered pair of nodes (post-quantum hygiene, defence in depth), generated by the provider and kept as a secret: each NodeConfig gets its own pairs' keys (its `presharedKeys`). A new node creates only its pairs' keys, a removed one deletes them. Default false. A plain value (known when the program runs)."),
  pskRotationTrigger: str("Any change gives every pair a new preshared key at the next `pulumi up` (applied online on both ends; running connections survive)."),
};

const meshDeclaration: Record<keyof MeshInputs, PropertySpec> = {
  name: str("Mesh name."),
  ...meshSettings,
  nodes: { type: "array", items: ref("wgmesh:index:MeshNode"), description: "The nodes' topology settings." },
  groups: { type: "array", items: ref("wgmesh:index:GroupDeclaration"), description: "The groups." },
  policies: { type: "array", items: ref("wgmesh:index:PolicyDeclaration"), description: "The policies." },
  meshIps: mapOf({ type: "string" }, "hostname → mesh IP, allocated at check (stable across runs)."),
  presharedKeyTable: mapOf(mapOf(ref("wgmesh:index:PresharedKey"), ""), "With presharedKeys: the pairs' preshared keys (the lower hostname → the higher → key and id), made at check, stable across runs (secret).", { secret: true }),
};

const nodeConfig: Record<keyof NodeConfigInputs, PropertySpec> = {
  mesh: str("Name of the Mesh this belongs to."),
  hostname: str("The node.", { willReplaceOnChanges: true }),
  interfaceName: str("WireGuard interface name.", { willReplaceOnChanges: true }),
  address: str('Mesh address with the mesh prefix, e.g. "10.99.0.1/16".'),
  listenPort: int("WireGuard listen port."),
  mtu: int("Interface MTU."),
  publicKey: str("The node's public key."),
  peers: str('The peers, one line each, sorted by hostname: "<hostname> key=<public key> allowedIps=<cidr>,<cidr>… [endpoint=<host:port>] [keepalive=<seconds>]" — AllowedIPs are the peer\'s mesh IP (/32) and the routable networks this node may reach through it; no endpoint when the peer is behind NAT (it dials in); a keepalive when this node is behind NAT. One value per node however many peers (a preview shows the changed lines); a value not known in a preview reads "(unknown)".'),
  routes: strings("Routes to the peers' routable networks through the interface."),
  forwarding: bool("IP forwarding on (the node routes for its routable networks)."),
  keyOnHost: bool("The private key lives on the host."),
  privateKey: str("The node's private key (secret); absent with keyOnHost.", { secret: true }),
  connection: ref("wgmesh:index:Connection", "SSH connection (secret).", { secret: true }),
  presharedKeys: mapOf(ref("wgmesh:index:PresharedKey"), "Per-pair preshared keys (the Mesh's presharedKeys): peer hostname → the pair's key (a secret) and its id (not secret: a preview shows which pairs' keys change); absent: none. A refresh shows a key missing on the host as absent, a different one with the id \"(differs from the plan)\"."),
  hostFiles: ref("wgmesh:index:HostFiles", "What the host's persistent files say (planned: as planned / enabled); a refresh reports a hand-edited wg-quick file or a disabled unit as drift."),
  firewall: ref("wgmesh:index:Firewall", "The node's firewall when the policies are enforced (absent: none): `pulumi preview --diff` shows per node the rules and set members added or removed; a refresh reports the live table."),
  policyTests: mapOf(ref("wgmesh:index:NodePolicyTest"), 'The policy tests whose source is this node, keyed "<destination> <port>"; a refresh runs them on the host.'),
  healthCheck: ref("wgmesh:index:HealthCheck", "The health gate after each change (the Mesh's healthCheck)."),
};

const nodeConfigOutputs: Record<keyof NodeConfigOutputs, PropertySpec> = {
  ...nodeConfig,
  health: ref("wgmesh:index:NodeHealth", "Every peer's health as last seen: after create/update (with the health gate's verdicts) and at refresh."),
};

// ---- decentralized mode: MeshSecret, DecentralizedNode ----------------------------------------------------

const meshSecretInputs: Record<keyof MeshSecretInputs, PropertySpec> = {
  secret: str("An existing secret to adopt: a `wgmesh://v1/…` URI from `wgmesh init --secret` or a Go wgmesh mesh; default: a new random one. Changing it makes a new mesh (replacement). Stored as a secret.", { secret: true, willReplaceOnChanges: true }),
};

const meshSecretOutputs: Record<keyof MeshSecretOutputs, PropertySpec> = {
  secret: str("The secret URI every node of the mesh joins with (secret). `pulumi stack output --show-secrets` shows it, e.g. for `wgmesh join` on a host outside the stack.", { secret: true }),
  imported: bool("Whether the secret came from the `secret` input (else it was generated here)."),
  meshSubnet: str('The IPv4 mesh subnet the nodes derive from the secret, e.g. "10.42.0.0/16" (unless a node sets meshSubnet).'),
  meshIpv6Prefix: str("The IPv6 ULA prefix of the mesh, derived from the secret."),
  gossipPort: int("UDP port of the encrypted peer exchange, derived from the secret: open it between the nodes together with their WireGuard port."),
};

const daemonHostState: Record<keyof DaemonHostState, PropertySpec> = {
  binary: str('/usr/local/bin/wgmesh: "as planned" (the artifact\'s SHA-256), "differs" or "missing".'),
  unit: str('The wgmesh.service unit file: "as planned", "differs" or "missing".'),
  secret: str('/etc/wgmesh/secret: "as planned" (the secret, mode 0600), "differs", "missing" or "mode <octal>".'),
  service: str('wgmesh.service: "running" as planned, else "not enabled (…)" or "not running (…)".'),
};

const decentralizedNodeInputs: Record<keyof DecentralizedNodeInputs, PropertySpec> = {
  hostname: str("Name of the node in logs and errors (a DNS label); default: the resource name. Not the mesh identity: the daemon keys and addresses the host itself."),
  connection: ref("wgmesh:index:Connection", "How to reach the host over SSH: the same fields as @pulumi/command's remote connection. Another host/port replaces the resource (the old host is cleaned first). Stored as a secret.", { secret: true }),
  secret: str("The mesh secret, e.g. a MeshSecret's `secret` output. Stored as a secret; on the host only in /etc/wgmesh/secret (0600), never in argv, the unit or logs. Changing it restarts the daemon in the new mesh.", { secret: true }),
  interfaceName: str('WireGuard interface the daemon manages (default "wg0").'),
  listenPort: int("WireGuard listen port (default 51820)."),
  advertiseRoutes: strings('Networks behind this host (CIDRs, one per entry) the other nodes may reach through it, e.g. ["192.168.10.0/24"].'),
  gossip: bool("In-mesh gossip: nodes pass on the peers they know (default false, as the Go tool)."),
  lanDiscovery: bool("LAN multicast discovery (default true)."),
  dht: bool("BitTorrent mainline DHT discovery (default true); false when every node finds the others by LAN or gossip."),
  dhtBootstrap: strings('DHT bootstrap nodes, "host:port" per entry (default: the public ones the Go tool uses).'),
  meshSubnet: str("A custom IPv4 mesh subnet, identical on every node (default: derived from the secret, see MeshSecret.meshSubnet)."),
  logLevel: str('Daemon log level: "debug", "info", "warn" or "error" (default "info").'),
};

const decentralizedNodeOutputs: Record<keyof DecentralizedNodeOutputs, PropertySpec> = {
  ...decentralizedNodeInputs,
  publicKey: str("The node's WireGuard public key (the daemon makes its key on the host; the private key never leaves it)."),
  meshIp: str("The node's IPv4 address in the mesh (derived from its key and the secret; stable across restarts)."),
  meshIpv6: str("The node's IPv6 address in the mesh."),
  daemonSha256: str("SHA-256 of the wgmesh executable installed on the host (a new provider version with another daemon updates it)."),
  hostState: ref("wgmesh:index:DaemonHostState", "How the host's daemon compares with the plan, read at create, update and refresh: a binary, unit or secret changed by hand or a stopped service shows as a diff after `pulumi refresh`, and the next `pulumi up` repairs it."),
};

// ---- functions: getMeshPlan, getNodeStatus, generateKeyPair -------------------------------------------------

const planNode: Record<keyof Omit<NodeInput, "privateKey">, PropertySpec> = {
  ...meshNode,
  sshHost: str("The node's SSH host: the default endpoint host its peers dial."),
  publicKey: str("The node's WireGuard public key; optional (without it the plan leaves the key out)."),
};

const meshPlanArgs: Record<keyof MeshPlanArgs, PropertySpec> = {
  network: str('IPv4 mesh network (default "10.99.0.0/16").'),
  interfaceName: str('WireGuard interface (default "wg0").'),
  listenPort: int("Default WireGuard listen port (default 51820)."),
  persistentKeepalive: int("Keepalive seconds set by nodes behind NAT (default 25; 0 = off)."),
  mtu: int("Interface MTU."),
  nodes: { type: "array", items: ref("wgmesh:index:PlanNode"), description: "The nodes (give these, groups and policies — or stateFile)." },
  groups: { type: "array", items: ref("wgmesh:index:GroupDeclaration"), description: "Groups; any group or policy turns access control on (deny by default)." },
  policies: { type: "array", items: ref("wgmesh:index:PolicyDeclaration"), description: "Access policies." },
  stateFile: str("The text of a Go wgmesh mesh-state.json (plain or encrypted), instead of nodes/groups/policies; its private keys never reach the result."),
  statePassword: str("The password of an encrypted stateFile.", { secret: true }),
};

const plannedPeer: Record<keyof PlannedPeer, PropertySpec> = {
  publicKey: str("The peer's public key (absent when the declaration gave none)."),
  endpoint: str('"host:port" the node dials; absent when the peer is behind NAT.'),
  allowedIps: strings("The peer's AllowedIPs: its mesh /32 and the routable networks the node may reach through it."),
  persistentKeepalive: int("Keepalive seconds (when the node is behind NAT)."),
};

const plannedNode: Record<keyof PlannedNode, PropertySpec> = {
  meshIp: str("The node's mesh IPv4 address (allocated when not given)."),
  address: str('Interface address with the mesh prefix, e.g. "10.99.0.1/16".'),
  listenPort: int("WireGuard listen port."),
  publicKey: str("The node's public key (absent when the declaration gave none)."),
  endpoint: str('"host:port" its peers dial; absent when it is behind NAT without a publicEndpoint.'),
  behindNat: bool("The node is behind NAT."),
  peers: mapOf(ref("wgmesh:index:PlannedPeer"), "Peers keyed by hostname."),
  routes: strings("Routes to the peers' routable networks through the interface."),
  forwarding: bool("IP forwarding on (the node has routable networks)."),
};

const meshPlanDoc: Record<keyof MeshPlanDoc, PropertySpec> = {
  network: str("The mesh network."),
  interfaceName: str("The WireGuard interface."),
  meshIps: mapOf({ type: "string" }, "hostname → mesh IP."),
  nodes: mapOf(ref("wgmesh:index:PlannedNode"), "hostname → what `pulumi up` puts on that host."),
  warnings: strings("Warnings about the mesh (e.g. two peered nodes both behind NAT)."),
  diagram: str("The mesh as a Mermaid flowchart: groups as boxes, one edge per peering with its direction and policies, NAT'd nodes and routed networks marked."),
};

const nodeStatusArgs: Record<keyof NodeStatusArgs, PropertySpec> = {
  connection: ref("wgmesh:index:Connection", "How to reach the host over SSH (as a Node's connection; host keys verified the same way).", { secret: true }),
  interfaceName: str('The WireGuard interface (default "wg0").'),
  knownPeers: mapOf({ type: "string" }, "hostname → public key of the peers you know (e.g. a Mesh's publicKeys): their status then carries the hostname."),
};

const peerStatus: Record<keyof PeerStatus, PropertySpec> = {
  publicKey: str("The peer's public key."),
  hostname: str("The peer's hostname, when knownPeers names its key."),
  endpoint: str("The peer's current endpoint (as WireGuard last saw it)."),
  allowedIps: strings("The peer's AllowedIPs on the host."),
  latestHandshake: int("Unix seconds of the latest handshake; 0 = never."),
  handshakeAgeSeconds: int("Seconds since the latest handshake at the read; absent when there was none."),
  rxBytes: int("Bytes received from the peer."),
  txBytes: int("Bytes sent to the peer."),
  persistentKeepalive: int("Keepalive seconds, when set."),
};

const nodeStatus: Record<keyof NodeStatus, PropertySpec> = {
  hostname: str("The host's own hostname."),
  os: str("The host's operating system."),
  natDetected: bool("The address used to reach the host is not one of its own (NAT in between)."),
  interfaceName: str("The interface read."),
  up: bool("The interface exists."),
  publicKey: str("The interface's public key."),
  listenPort: int("The interface's listen port."),
  addresses: strings("The interface's addresses."),
  routes: strings("Routes through the interface."),
  forwarding: bool("IPv4 forwarding is on."),
  peers: { type: "array", items: ref("wgmesh:index:PeerStatus"), description: "The live peers, sorted by public key." },
  readAt: int("Unix seconds of the read (the provider's clock)."),
};

const keyPair: Record<keyof KeyPair, PropertySpec> = {
  privateKey: str("The private key (secret).", { secret: true }),
  publicKey: str("The public key."),
};

function fn(description: string, inputs: Record<string, PropertySpec> | null, requiredInputs: string[], outputs: Record<string, PropertySpec>, required: string[]) {
  return {
    description,
    ...(inputs ? { inputs: { properties: sortKeys(inputs), ...(requiredInputs.length ? { required: requiredInputs } : {}) } } : {}),
    outputs: { properties: sortKeys(outputs), required },
  };
}

// ---- assembly ---------------------------------------------------------------------------------------------

function objectType(description: string, properties: Record<string, PropertySpec>, required: string[]) {
  // An empty `required` is left out, as the engine's schema normalisation does (get-schema returns it so).
  return { type: "object", description, properties: sortKeys(properties), ...(required.length > 0 ? { required } : {}) };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k] as T]));
}

function resource(description: string, inputs: Record<string, PropertySpec>, requiredInputs: string[], outputs: Record<string, PropertySpec>, required: string[], extra: Record<string, unknown> = {}) {
  // An empty requiredInputs is left out, as the engine's schema normalisation does (get-schema returns it so).
  return { description, ...extra, inputProperties: sortKeys(inputs), ...(requiredInputs.length > 0 ? { requiredInputs } : {}), properties: sortKeys(outputs), required };
}

/** The package schema (a plain JSON value); `version` comes from package.json. */
export function buildSchema(version: string) {
  const nodeRefs = resourceRefs(TOKENS.node, "");
  return {
    name: PACKAGE,
    displayName: "WireGuard mesh",
    version,
    description: "A WireGuard mesh across Linux servers, deployed over SSH: nodes keyed, addressed and peered, with groups, policies and routes.",
    keywords: ["pulumi", "wireguard", "mesh", "vpn", "ssh", "category/network"],
    homepage: "https://github.com/wgmesh/pulumi-wgmesh",
    license: "MIT",
    repository: "https://github.com/wgmesh/pulumi-wgmesh",
    publisher: "wgmesh",
    meta: { moduleFormat: "(.*)" },
    language: {
      nodejs: { packageName: "@wgmesh/pulumi-wgmesh", respectSchemaVersion: true, dependencies: { "@pulumi/pulumi": "^3.0.0" } },
      python: { packageName: "pulumi_wgmesh", respectSchemaVersion: true, requires: { pulumi: ">=3.0.0,<4.0.0" } },
      go: { importBasePath: "github.com/wgmesh/pulumi-wgmesh/sdk/go/wgmesh", generateResourceContainerTypes: true },
    },
    config: {},
    types: {
      "wgmesh:index:Connection": objectType("How to reach a host over SSH: the fields of @pulumi/command's remote connection.", connection, ["host"]),
      "wgmesh:index:ProxyConnection": objectType("A bastion host the connection goes through.", proxyConnection, ["host"]),
      "wgmesh:index:HostFiles": objectType("The state of a node's persistent WireGuard files.", hostFiles, ["unit", "wgQuickConf"]),
      "wgmesh:index:HealthCheck": objectType("The health gate after a change: which evidence a touched peer must show, and how long to wait for it. A peer that was connected before and shows none rolls the host back.", healthCheck, []),
      "wgmesh:index:NodeHealth": objectType("A node's view of its peers.", nodeHealth, ["checkedAt", "mode", "peers"]),
      "wgmesh:index:MeshNode": objectType("What the mesh needs of a node (its topology settings).", meshNode, ["hostname", "sshHost"]),
      "wgmesh:index:GroupDeclaration": objectType("A group as the mesh sees it.", groupDecl, ["name"]),
      "wgmesh:index:PolicyDeclaration": objectType("A policy as the mesh sees it.", policyDecl, ["fromGroups", "name", "toGroups"]),
      "wgmesh:index:Firewall": objectType("A node's nftables firewall: its table, named sets and accept rules.", firewall, ["rules", "sets", "table"]),
      "wgmesh:index:NodePolicyTest": objectType("A policy test run from this node.", nodePolicyTest, ["address", "expect", "port", "result"]),
      "wgmesh:index:PresharedKey": objectType("One pair's preshared key and its id.", presharedKey, ["id", "key"]),
      "wgmesh:index:PolicyTest": objectType("A policy test: may `from` open a connection to `to` on `port`?", policyTest, ["expect", "from", "port", "to"]),
      "wgmesh:index:DaemonHostState": objectType("How a DecentralizedNode's host compares with the plan.", daemonHostState, ["binary", "secret", "service", "unit"]),
      "wgmesh:index:PlanNode": objectType("A node as getMeshPlan takes it.", planNode, ["hostname", "sshHost"]),
      "wgmesh:index:PlannedPeer": objectType("One peer of a node in a mesh plan.", plannedPeer, ["allowedIps"]),
      "wgmesh:index:PlannedNode": objectType("One node of a mesh plan: what `pulumi up` puts on its host.", plannedNode, ["address", "behindNat", "forwarding", "listenPort", "meshIp", "peers", "routes"]),
      "wgmesh:index:PeerStatus": objectType("One live WireGuard peer of a host.", peerStatus, ["allowedIps", "latestHandshake", "publicKey", "rxBytes", "txBytes"]),
    },
    functions: {
      [FUNCTIONS.getMeshPlan]: fn(
        "The plan of a mesh, computed without contacting any host: from nodes, groups and policies (as the resources take them) or from a Go wgmesh state file, every node's mesh IP, peers (keyed by hostname) with AllowedIPs, endpoint and keepalive, its routes and forwarding, and the mesh as a Mermaid diagram. Invalid input fails naming the node, group or policy, the field and the fix.",
        meshPlanArgs, [], meshPlanDoc, ["diagram", "interfaceName", "meshIps", "network", "nodes", "warnings"],
      ),
      [FUNCTIONS.getNodeStatus]: fn(
        "The live state of one host's WireGuard interface, read over SSH with one read-only round trip (the read `pulumi refresh` does): its peers with endpoint, AllowedIPs, latest handshake and its age, bytes received and sent. Runs whenever the program runs, previews included; never changes the host.",
        nodeStatusArgs, ["connection"], nodeStatus, ["addresses", "forwarding", "hostname", "interfaceName", "peers", "readAt", "routes", "up"],
      ),
      [FUNCTIONS.generateKeyPair]: fn(
        "A new WireGuard (X25519) key pair; the private key is a secret. Every run of the program returns a new pair: store one you want to keep (e.g. `pulumi config set --secret`) and pass it as a Node's privateKey.",
        null, [], keyPair, ["privateKey", "publicKey"],
      ),
    },
    resources: {
      [TOKENS.node]: resource(
        "A host of the mesh: its WireGuard identity (keypair; the private key a secret output, or kept on the host with keyOnHost), its topology settings, and facts read over SSH.",
        nodeInputs, ["connection"], nodeOutputs,
        ["connection", "hostname", "interfaceName", "keyOnHost", "privateKeyImported", "publicKey"],
      ),
      [TOKENS.group]: resource(
        "A named set of nodes that policies speak about.",
        { name: groupOutputs.name as PropertySpec, description: groupOutputs.description as PropertySpec, members: { ...nodeRefs, description: "The member nodes." } },
        ["members"], groupOutputs, ["memberUrns", "members", "name"],
      ),
      [TOKENS.policy]: resource(
        "Access rule: members of `from` may reach members of `to` (they become WireGuard peers). Defining any policy turns access control on (deny by default).",
        {
          name: policyOutputs.name as PropertySpec,
          description: policyOutputs.description as PropertySpec,
          from: resourceRefs(TOKENS.group, "Groups whose members may reach the members of `to`."),
          to: resourceRefs(TOKENS.group, "Groups reached."),
          allowMeshIps: policyOutputs.allowMeshIps as PropertySpec,
          allowRoutableNetworks: policyOutputs.allowRoutableNetworks as PropertySpec,
          ports: policyOutputs.ports as PropertySpec,
        },
        ["from", "to"], policyOutputs, ["fromGroups", "fromUrns", "name", "toGroups", "toUrns"],
      ),
      [TOKENS.mesh]: resource(
        "The deployment: validates the declaration, allocates mesh IPs, and applies one NodeConfig per node (named `<mesh>-<node>`, so `pulumi preview --diff` shows per node which peers, AllowedIPs and routes change).",
        {
          name: str("Mesh name; default: the resource name."),
          ...meshSettings,
          nodes: { ...nodeRefs, description: "The nodes of the mesh." },
          groups: resourceRefs(TOKENS.group, "Groups; defining any group or policy turns access control on (deny by default)."),
          policies: resourceRefs(TOKENS.policy, "Policies; members of a policy's groups become peers."),
          healthCheck: ref("wgmesh:index:HealthCheck", 'The health gate after each change on a node (default { mode: "handshake", timeoutSeconds: 15 }): a change that makes a peer unreachable that was connected before is rolled back on that node and the update fails naming the node and the peer.'),
        },
        ["nodes"],
        {
          meshIps: mapOf({ type: "string" }, "hostname → mesh IP."),
          publicKeys: mapOf({ type: "string" }, "hostname → WireGuard public key."),
          endpoints: mapOf({ type: "string" }, 'hostname → endpoint peers dial ("host:port"); absent when behind NAT.'),
          behindNat: mapOf({ type: "boolean" }, "hostname → behind NAT (the node's override, else what was detected)."),
          diagram: str("The mesh as a Mermaid flowchart (paste it into markdown as a ```mermaid block): groups as boxes, one edge per peering with its direction and the policies (and ports) allowing it, nodes behind NAT and routed networks marked."),
        },
        ["behindNat", "endpoints", "meshIps", "publicKeys"],
        { isComponent: true },
      ),
      [TOKENS.meshDeclaration]: resource(
        "The Mesh's validated declaration and its stable mesh IP allocation (created by the Mesh; not declared directly).",
        meshDeclaration, ["name", "nodes"], meshDeclaration, ["meshIps", "name", "nodes"],
      ),
      [TOKENS.nodeConfig]: resource(
        "One node's planned WireGuard state, applied to its host over SSH (created by the Mesh; not declared directly).",
        nodeConfig,
        ["address", "connection", "forwarding", "hostname", "interfaceName", "keyOnHost", "listenPort", "mesh", "peers", "publicKey", "routes"],
        nodeConfigOutputs,
        ["address", "connection", "forwarding", "hostname", "interfaceName", "keyOnHost", "listenPort", "mesh", "peers", "publicKey", "routes"],
      ),
      [TOKENS.meshSecret]: resource(
        "The shared secret of a decentralized mesh (as `wgmesh init --secret` makes it), kept as a Pulumi secret, with the parameters every node derives from it that are not secret. Nodes that share it find each other (DHT, LAN multicast, gossip) with no central state — DecentralizedNodes of this stack as well as Go wgmesh nodes anywhere.",
        meshSecretInputs, [], meshSecretOutputs, ["gossipPort", "imported", "meshIpv6Prefix", "meshSubnet", "secret"],
      ),
      [TOKENS.decentralizedNode]: resource(
        "A host running the decentralized wgmesh daemon (`wgmesh join` as wgmesh.service), installed over SSH: the self-contained wgmesh executable (nothing to prepare on the host but sshd and systemd), the mesh secret in a 0600 file, the unit. The daemon makes its own WireGuard key and finds its peers from the secret; the resource reports the node's mesh IP and public key. Changing an option or the secret restarts the daemon in place (key and mesh IP stay).",
        decentralizedNodeInputs, ["connection", "secret"], decentralizedNodeOutputs,
        ["connection", "daemonSha256", "hostState", "hostname", "meshIp", "publicKey", "secret"],
      ),
    },
  };
}

export type PackageSchema = ReturnType<typeof buildSchema>;

/** The schema as the file text (stable key order, 2-space indent, trailing newline). */
export function schemaText(version: string): string {
  return JSON.stringify(buildSchema(version), null, 2) + "\n";
}
