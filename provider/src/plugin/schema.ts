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
import type { HealthCheckInputs, HostFiles, NodeConfigInputs, NodeConfigOutputs, PeerInputs } from "../pulumi/lifecycle/nodeConfig";
import type { NodeHealth, PeerHealth } from "../planner/health";
import type { GroupInput, PolicyInput } from "../core/model";
import type { Connection, ProxyConnection } from "../engine/ssh/connection";
import type { MeshSecretInputs, MeshSecretOutputs } from "../pulumi/lifecycle/meshSecret";
import type { DecentralizedNodeInputs, DecentralizedNodeOutputs } from "../pulumi/lifecycle/decentralizedNode";
import type { DaemonHostState } from "../engine/daemonstate";

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
const mapOf = (value: PropertySpec, description: string): PropertySpec => ({ type: "object", additionalProperties: value, description });

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

const peer: Record<keyof PeerInputs, PropertySpec> = {
  publicKey: str("The peer's WireGuard public key."),
  endpoint: str('"host:port" this node dials; absent when the peer is behind NAT (it dials in).'),
  allowedIps: strings("The peer's AllowedIPs: its mesh IP (/32) and the routable networks this node may reach through it."),
  persistentKeepalive: int("Keepalive seconds towards this peer (set when this node is behind NAT)."),
};

const hostFiles: Record<keyof HostFiles, PropertySpec> = {
  wgQuickConf: str('The wg-quick file: "as planned", or "differs from the plan" / "missing" after a refresh.'),
  unit: str('`systemctl is-enabled wg-quick@<interface>`: "enabled" as planned.'),
};

const num = (description: string): PropertySpec => ({ type: "number", description });

const healthCheck: Record<keyof HealthCheckInputs, PropertySpec> = {
  mode: str('"handshake" (default): after a change, wait for a handshake or traffic back from every touched peer; "ping": for an echo reply from its mesh address; "off": no wait, no rollback.'),
  timeoutSeconds: int("Bound of the wait after a change, 1–600 seconds (default 15). A peer behind NAT without an endpoint is judged by its own traffic to us (keepalive every 25 s by default): give it more than that when it matters."),
};

const peerHealth: Record<keyof PeerHealth, PropertySpec> = {
  publicKey: str("The peer's public key."),
  state: str('"reachable" / "unreachable": checked by the last change\'s health gate; otherwise "connected" (a handshake within 180 s), "stale" (older) or "never".'),
  latestHandshakeAgeSeconds: int("Seconds since the latest handshake when the host was read; absent when there was none."),
  rxBytes: int("Bytes received from the peer since the interface came up."),
  txBytes: int("Bytes sent to the peer since the interface came up."),
  endpoint: str("The endpoint WireGuard uses for the peer now (learned by roaming for a peer behind NAT); absent when none."),
  waitedSeconds: num("Peers the gate checked: seconds from the start of the wait to the evidence (or to the timeout)."),
};

const nodeHealth: Record<keyof NodeHealth, PropertySpec> = {
  mode: str("The health check mode in force."),
  checkedAt: str("When the host was read (its own clock), ISO 8601."),
  peers: mapOf(ref("wgmesh:index:PeerHealth"), "Every peer on the interface, keyed by hostname."),
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
};

const meshDeclaration: Record<keyof MeshInputs, PropertySpec> = {
  name: str("Mesh name."),
  ...meshSettings,
  nodes: { type: "array", items: ref("wgmesh:index:MeshNode"), description: "The nodes' topology settings." },
  groups: { type: "array", items: ref("wgmesh:index:GroupDeclaration"), description: "The groups." },
  policies: { type: "array", items: ref("wgmesh:index:PolicyDeclaration"), description: "The policies." },
  meshIps: mapOf({ type: "string" }, "hostname → mesh IP, allocated at check (stable across runs)."),
};

const nodeConfig: Record<keyof NodeConfigInputs, PropertySpec> = {
  mesh: str("Name of the Mesh this belongs to."),
  hostname: str("The node.", { willReplaceOnChanges: true }),
  interfaceName: str("WireGuard interface name.", { willReplaceOnChanges: true }),
  address: str('Mesh address with the mesh prefix, e.g. "10.99.0.1/16".'),
  listenPort: int("WireGuard listen port."),
  mtu: int("Interface MTU."),
  publicKey: str("The node's public key."),
  peers: mapOf(ref("wgmesh:index:Peer"), "Peers keyed by hostname."),
  routes: strings("Routes to the peers' routable networks through the interface."),
  forwarding: bool("IP forwarding on (the node routes for its routable networks)."),
  keyOnHost: bool("The private key lives on the host."),
  privateKey: str("The node's private key (secret); absent with keyOnHost.", { secret: true }),
  connection: ref("wgmesh:index:Connection", "SSH connection (secret).", { secret: true }),
  hostFiles: ref("wgmesh:index:HostFiles", "What the host's persistent files say (planned: as planned / enabled); a refresh reports a hand-edited wg-quick file or a disabled unit as drift."),
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
      "wgmesh:index:Peer": objectType("One WireGuard peer of a node.", peer, ["allowedIps", "publicKey"]),
      "wgmesh:index:HostFiles": objectType("The state of a node's persistent WireGuard files.", hostFiles, ["unit", "wgQuickConf"]),
      "wgmesh:index:HealthCheck": objectType("The health gate after a change: which evidence a touched peer must show, and how long to wait for it. A peer that was connected before and shows none rolls the host back.", healthCheck, []),
      "wgmesh:index:PeerHealth": objectType("One peer's health as seen on a node.", peerHealth, ["publicKey", "rxBytes", "state", "txBytes"]),
      "wgmesh:index:NodeHealth": objectType("A node's view of its peers.", nodeHealth, ["checkedAt", "mode", "peers"]),
      "wgmesh:index:MeshNode": objectType("What the mesh needs of a node (its topology settings).", meshNode, ["hostname", "sshHost"]),
      "wgmesh:index:GroupDeclaration": objectType("A group as the mesh sees it.", groupDecl, ["name"]),
      "wgmesh:index:PolicyDeclaration": objectType("A policy as the mesh sees it.", policyDecl, ["fromGroups", "name", "toGroups"]),
      "wgmesh:index:DaemonHostState": objectType("How a DecentralizedNode's host compares with the plan.", daemonHostState, ["binary", "secret", "service", "unit"]),
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
