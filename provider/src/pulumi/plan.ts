/**
 * The per-node plan the Mesh turns into NodeConfig inputs: the core's compile over the Mesh's checked
 * inputs (with its stable allocation) and the nodes' public keys. Pure; runs in the Pulumi program (during
 * preview too), never on a host.
 */
import { compileMesh } from "../core/compile";
import { nodeEndpoint, normalizeMesh } from "../core/model";
import { buildPeerRelations } from "../core/policy";
import { messages } from "../core/validate";
import type { MeshInputs } from "./lifecycle/mesh";
import type { NodePolicyTest } from "./lifecycle/nodeConfig";
import type { PeerInputs } from "./lifecycle/peerLines";
import { planFirewalls } from "../planner/firewall";
import type { FirewallPlan } from "../planner/types";
import type { Mesh } from "../core/model";

/** What the plan needs of one node beyond the Mesh's inputs. */
export interface NodeIdentity {
  hostname: string;
  publicKey: string;
  /** Effective NAT status (the node's override, else what it detected); default: the Mesh input's. */
  behindNat?: boolean;
}

/** NodeConfig inputs without the secrets (connection, private key), which come from the Node. */
export interface PlannedNodeConfig {
  mesh: string;
  hostname: string;
  interfaceName: string;
  address: string;
  listenPort: number;
  mtu?: number;
  publicKey: string;
  peers: Record<string, PeerInputs>;
  routes: string[];
  forwarding: boolean;
  /** The node's firewall when the policies are enforced (absent: none). */
  firewall?: FirewallPlan;
  /** The policy tests whose source is this node, keyed "<destination> <port>" (absent: none). */
  policyTests?: Record<string, NodePolicyTest>;
}

/** Per node, its policy tests as NodeConfig inputs (planned result "pass": the plan satisfies every test). */
export function nodePolicyTests(mesh: Mesh): Map<string, Record<string, NodePolicyTest>> {
  const ip = new Map(mesh.nodes.map((n) => [n.hostname, n.meshIp as string]));
  const out = new Map<string, Record<string, NodePolicyTest>>();
  for (const t of mesh.policyTests) {
    const mine = out.get(t.from) ?? {};
    mine[`${t.to} ${t.port}`] = { address: ip.get(t.to) as string, port: t.port, expect: t.expect as "allow" | "deny", result: "pass" };
    out.set(t.from, mine);
  }
  return out;
}

export interface MeshPlanSummary {
  /** hostname → NodeConfig inputs. */
  nodes: Record<string, PlannedNodeConfig>;
  meshIps: Record<string, string>;
  publicKeys: Record<string, string>;
  /** hostname → "host:port" peers dial, or null (behind NAT). */
  endpoints: Record<string, string | null>;
  behindNat: Record<string, boolean>;
}

/** Compile the Mesh's checked inputs with the given key and NAT status per node; throws with the core's messages. */
function compileChecked(mesh: MeshInputs, identity: (hostname: string, behindNat: boolean | null | undefined) => { publicKey: string | null; behindNat: boolean | null }) {
  const meshIps = mesh.meshIps ?? {};
  const compiled = compileMesh(
    {
      interfaceName: mesh.interfaceName,
      network: mesh.network,
      listenPort: mesh.listenPort,
      persistentKeepalive: mesh.persistentKeepalive,
      mtu: mesh.mtu,
      groups: mesh.groups,
      policies: mesh.policies,
      enforcement: mesh.enforcement,
      policyTests: mesh.policyTests,
      nodes: mesh.nodes.map((n) => ({ ...n, meshIp: n.meshIp ?? meshIps[n.hostname] ?? null, ...identity(n.hostname, n.behindNat) })),
    },
    { checkKeyPairs: false, previousMeshIps: meshIps },
  );
  if (!compiled.ok) throw new Error(`mesh ${JSON.stringify(mesh.name)} is invalid:\n  ${messages(compiled.errors).join("\n  ")}`);
  return compiled;
}

/** Per node of a compiled mesh: its NodeConfig inputs but the key and the peers. */
function nodeBases(meshName: string, compiled: Extract<ReturnType<typeof compileMesh>, { ok: true }>): Map<string, Omit<PlannedNodeConfig, "publicKey" | "peers">> {
  const firewalls = planFirewalls(compiled.mesh);
  const tests = nodePolicyTests(compiled.mesh);
  const out = new Map<string, Omit<PlannedNodeConfig, "publicKey" | "peers">>();
  for (const d of compiled.plan.nodes) {
    const base: Omit<PlannedNodeConfig, "publicKey" | "peers"> = {
      mesh: meshName,
      hostname: d.hostname,
      interfaceName: d.interface.name,
      address: d.interface.address,
      listenPort: d.interface.listenPort,
      routes: [...d.routes],
      forwarding: d.forwarding,
    };
    if (d.interface.mtu !== null) base.mtu = d.interface.mtu;
    const fw = firewalls.get(d.hostname);
    if (fw) base.firewall = fw;
    const t = tests.get(d.hostname);
    if (t) base.policyTests = t;
    out.set(d.hostname, base);
  }
  return out;
}

/** Compile the mesh with every node's key and NAT status; throws with the core's messages (each naming node/group/policy, field, fix). */
export function planMeshConfigs(mesh: MeshInputs, identities: readonly NodeIdentity[]): MeshPlanSummary {
  const ids = new Map(identities.map((i) => [i.hostname, i]));
  const compiled = compileChecked(mesh, (h, override) => ({ publicKey: ids.get(h)?.publicKey ?? null, behindNat: ids.get(h)?.behindNat ?? override ?? null }));
  const out: MeshPlanSummary = { nodes: {}, meshIps: {}, publicKeys: {}, endpoints: {}, behindNat: {} };
  for (const n of compiled.mesh.nodes) {
    out.meshIps[n.hostname] = n.meshIp as string;
    out.publicKeys[n.hostname] = n.publicKey as string;
    out.endpoints[n.hostname] = nodeEndpoint(compiled.mesh, n);
    out.behindNat[n.hostname] = n.behindNat;
  }
  const bases = nodeBases(mesh.name, compiled);
  for (const d of compiled.plan.nodes) {
    const peers: Record<string, PeerInputs> = {};
    for (const p of d.peers) {
      const peer: PeerInputs = { publicKey: p.publicKey, allowedIps: [...p.allowedIps] };
      if (p.endpoint !== null) peer.endpoint = p.endpoint;
      if (p.persistentKeepalive !== null) peer.persistentKeepalive = p.persistentKeepalive;
      peers[p.hostname] = peer;
    }
    out.nodes[d.hostname] = { ...(bases.get(d.hostname) as Omit<PlannedNodeConfig, "publicKey" | "peers">), publicKey: d.interface.publicKey, peers };
  }
  return out;
}

/**
 * The part of the plan that does not depend on any node's key or detected NAT status: per node its
 * interface, routes, forwarding and — per peer — AllowedIPs. Known at preview as soon as the Mesh's checked
 * inputs are, so a node being added (whose key is not known yet) leaves every other node's diff readable:
 * only the new peer's key (and NAT-dependent endpoint) shows as unknown. Assemble with `peerEntry`.
 */
export interface MeshTopology {
  nodes: Record<string, Omit<PlannedNodeConfig, "publicKey" | "peers"> & { peers: Record<string, { allowedIps: string[] }> }>;
  /** Per node: the endpoint peers dial when it is reachable, and when it is behind NAT (publicEndpoint or none). */
  endpoints: Record<string, { reachable: string | null; behindNat: string | null }>;
  /** Keepalive a node behind NAT sets on its peers (null: off). */
  keepalive: number | null;
}

/** A stand-in key per hostname (valid format, distinct); never emitted — `peerEntry` takes the real key. */
function placeholderKey(hostname: string): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return createHash("sha256").update(`wgmesh-placeholder:${hostname}`).digest("base64");
}

export function planTopology(mesh: MeshInputs): MeshTopology {
  // One compile with stand-in keys and no NAT: neither changes AllowedIPs, routes, the interface or the
  // firewall; the endpoints are given for both NAT states.
  const compiled = compileChecked(mesh, (h) => ({ publicKey: placeholderKey(h), behindNat: false }));
  const topo: MeshTopology = { nodes: {}, endpoints: {}, keepalive: compiled.mesh.persistentKeepalive > 0 ? compiled.mesh.persistentKeepalive : null };
  for (const n of compiled.mesh.nodes) {
    topo.endpoints[n.hostname] = {
      reachable: nodeEndpoint(compiled.mesh, { ...n, behindNat: false }),
      behindNat: nodeEndpoint(compiled.mesh, { ...n, behindNat: true }),
    };
  }
  const bases = nodeBases(mesh.name, compiled);
  for (const d of compiled.plan.nodes) {
    const peers: Record<string, { allowedIps: string[] }> = {};
    for (const p of d.peers) peers[p.hostname] = { allowedIps: [...p.allowedIps] };
    topo.nodes[d.hostname] = { ...(bases.get(d.hostname) as Omit<PlannedNodeConfig, "publicKey" | "peers">), peers };
  }
  return topo;
}

/** The endpoint a node's peers dial, from its topology endpoints and its NAT status (undefined: none). */
export function endpointFor(ends: MeshTopology["endpoints"][string], behindNat: boolean): string | undefined {
  return (behindNat ? ends.behindNat : ends.reachable) ?? undefined;
}

/** The keepalive a node sets on its peers, from the mesh's keepalive and its NAT status (undefined: none). */
export function keepaliveFor(keepalive: MeshTopology["keepalive"], behindNat: boolean): number | undefined {
  return behindNat && keepalive !== null ? keepalive : undefined;
}

/** Node `x`'s entry for peer `y`, from the topology, y's key and both nodes' NAT status. */
export function peerEntry(topo: MeshTopology, x: string, y: string, publicKeyY: string, natX: boolean, natY: boolean): PeerInputs {
  const t = topo.nodes[x]?.peers[y];
  if (!t) throw new Error(`plan: ${y} is not a peer of ${x}`);
  const entry: PeerInputs = { publicKey: publicKeyY, allowedIps: [...t.allowedIps] };
  const ends = topo.endpoints[y];
  if (!ends) throw new Error(`plan: ${y} is not a node of the mesh`);
  const endpoint = endpointFor(ends, natY);
  if (endpoint !== undefined) entry.endpoint = endpoint;
  const keepalive = keepaliveFor(topo.keepalive, natX);
  if (keepalive !== undefined) entry.persistentKeepalive = keepalive;
  return entry;
}

/**
 * Who peers with whom, from names alone (group members, policy from/to groups), which are plain values when
 * the program runs: the keys of every NodeConfig's `peers` are then known even in a preview where keys or
 * addresses are not. Tolerant of invalid references (the Mesh's check reports those).
 */
export function peerSets(
  hostnames: readonly string[],
  groups: readonly { name: string; members: readonly string[] }[],
  policies: readonly { name: string; fromGroups: readonly string[]; toGroups: readonly string[] }[],
): Record<string, string[]> {
  const mesh = normalizeMesh({
    nodes: hostnames.map((hostname) => ({ hostname, sshHost: "unknown.invalid" })),
    groups: groups.map((g) => ({ name: g.name, members: [...g.members] })),
    policies: policies.map((p) => ({ name: p.name, fromGroups: [...p.fromGroups], toGroups: [...p.toGroups] })),
  });
  const rel = buildPeerRelations(mesh);
  const out: Record<string, string[]> = {};
  rel.nodes.forEach((n, i) => {
    out[n.hostname] = rel.peersOf(i).map((j) => (rel.nodes[j] as { hostname: string }).hostname);
  });
  return out;
}
