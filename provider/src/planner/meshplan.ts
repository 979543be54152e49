/**
 * A mesh's plan as data, for the `getMeshPlan` function of every SDK: from a declaration (nodes, groups,
 * policies) or from a Go wgmesh state file, every node's mesh IP, peers (keyed by hostname) with their
 * AllowedIPs, endpoint and keepalive, its routes and forwarding — what `pulumi up` would put on each host —
 * plus the mesh as a Mermaid diagram. The core's compile does the work; pure, no host is contacted.
 *
 * Public keys are optional in a declaration (planning a topology before the hosts exist): the plan then
 * leaves them out. Private keys (a state file holds them) never reach the result.
 */
import { createHash } from "node:crypto";
import { compileMesh } from "../core/compile";
import { nodeEndpoint, type GroupInput, type MeshInput, type NodeInput, type PolicyInput } from "../core/model";
import { decryptState } from "../core/statecrypt";
import { parseStateFile, stateToMeshInput, StateFileError } from "../core/statefile";
import { messages, type Finding } from "../core/validate";
import { meshDiagram } from "./diagram";

export interface MeshPlanArgs {
  network?: string | null;
  interfaceName?: string | null;
  listenPort?: number | null;
  persistentKeepalive?: number | null;
  mtu?: number | null;
  nodes?: Array<Omit<NodeInput, "privateKey">> | null;
  groups?: GroupInput[] | null;
  policies?: PolicyInput[] | null;
  /** The text of a Go wgmesh `mesh-state.json` (plain or encrypted), instead of the declaration. */
  stateFile?: string | null;
  /** The password of an encrypted state file. */
  statePassword?: string | null;
}

export interface PlannedPeer {
  publicKey?: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
}

export interface PlannedNode {
  meshIp: string;
  /** Mesh address with the mesh prefix, e.g. "10.99.0.1/16". */
  address: string;
  listenPort: number;
  publicKey?: string;
  /** The endpoint its peers dial; absent when it is behind NAT without a publicEndpoint. */
  endpoint?: string;
  behindNat: boolean;
  /** Peers keyed by hostname. */
  peers: Record<string, PlannedPeer>;
  routes: string[];
  forwarding: boolean;
}

export interface MeshPlanDoc {
  network: string;
  interfaceName: string;
  meshIps: Record<string, string>;
  nodes: Record<string, PlannedNode>;
  warnings: string[];
  /** The mesh as a Mermaid flowchart (planner/diagram.ts). */
  diagram: string;
}

export interface PlanFailure {
  /** The argument the failure is about (nodes, groups, policies, stateFile, …). */
  property: string;
  reason: string;
}

export type MeshPlanResult = { ok: true; plan: MeshPlanDoc } | { ok: false; failures: PlanFailure[] };

/** A stand-in key (valid format, distinct per hostname) for a node declared without one; never in the result. */
function standInKey(hostname: string): string {
  return createHash("sha256").update(`wgmesh-plan-stand-in:${hostname}`).digest("base64");
}

function fromState(args: MeshPlanArgs): MeshInput | PlanFailure[] {
  let text = args.stateFile as string;
  if (args.statePassword !== undefined && args.statePassword !== null) {
    try {
      text = decryptState(text, args.statePassword);
    } catch (e) {
      return [{ property: "statePassword", reason: `stateFile: ${(e as Error).message}` }];
    }
  } else if (/^[A-Za-z0-9+/]{40,}={0,2}\s*$/.test(text)) {
    return [{ property: "stateFile", reason: "stateFile looks encrypted (base64, not JSON); give its password in statePassword" }];
  }
  try {
    return stateToMeshInput(parseStateFile(text));
  } catch (e) {
    if (e instanceof StateFileError) return e.problems.map((p) => ({ property: "stateFile", reason: `stateFile: ${p}` }));
    throw e;
  }
}

function property(f: Finding, fromStateFile: boolean): string {
  if (fromStateFile) return "stateFile";
  switch (f.subject.kind) {
    case "node": return "nodes";
    case "group": return "groups";
    case "policy": return "policies";
    default: return f.field ?? "nodes";
  }
}

/** The plan of a declaration or state file; every problem as a failure naming node/group/policy, field and fix. */
export function meshPlan(args: MeshPlanArgs): MeshPlanResult {
  const hasState = typeof args.stateFile === "string" && args.stateFile !== "";
  const declared = (args.nodes?.length ?? 0) > 0 || (args.groups?.length ?? 0) > 0 || (args.policies?.length ?? 0) > 0;
  if (hasState && declared) return { ok: false, failures: [{ property: "stateFile", reason: "give either stateFile or nodes/groups/policies, not both" }] };
  if (!hasState && !declared) return { ok: false, failures: [{ property: "nodes", reason: "no mesh to plan: give nodes (and optionally groups and policies), or the text of a state file in stateFile" }] };

  let input: MeshInput;
  const withoutKey = new Set<string>();
  if (hasState) {
    const r = fromState(args);
    if (Array.isArray(r)) return { ok: false, failures: r };
    input = r;
  } else {
    const nodes = (args.nodes ?? []).map((n) => {
      const { privateKey: _never, ...rest } = n as NodeInput;
      if (rest.publicKey === undefined || rest.publicKey === null || rest.publicKey === "") {
        withoutKey.add(rest.hostname);
        return { ...rest, publicKey: standInKey(rest.hostname) };
      }
      return rest;
    });
    input = {
      network: args.network, interfaceName: args.interfaceName, listenPort: args.listenPort,
      persistentKeepalive: args.persistentKeepalive, mtu: args.mtu,
      nodes, groups: args.groups ?? [], policies: args.policies ?? [],
    };
  }
  const compiled = compileMesh(input);
  if (!compiled.ok) return { ok: false, failures: compiled.errors.map((f) => ({ property: property(f, hasState), reason: f.message })) };

  const { mesh, plan } = compiled;
  const key = (hostname: string, k: string | null) => (withoutKey.has(hostname) || k === null ? undefined : k);
  const doc: MeshPlanDoc = { network: mesh.network, interfaceName: mesh.interfaceName, meshIps: {}, nodes: {}, warnings: messages(compiled.warnings), diagram: meshDiagram(mesh) };
  const byName = new Map(mesh.nodes.map((n) => [n.hostname, n]));
  for (const d of plan.nodes) {
    const n = byName.get(d.hostname);
    if (!n) continue;
    const peers: Record<string, PlannedPeer> = {};
    for (const p of d.peers) {
      const entry: PlannedPeer = { allowedIps: [...p.allowedIps] };
      const k = key(p.hostname, p.publicKey);
      if (k !== undefined) entry.publicKey = k;
      if (p.endpoint !== null) entry.endpoint = p.endpoint;
      if (p.persistentKeepalive !== null) entry.persistentKeepalive = p.persistentKeepalive;
      peers[p.hostname] = entry;
    }
    const planned: PlannedNode = {
      meshIp: n.meshIp as string, address: d.interface.address, listenPort: d.interface.listenPort,
      behindNat: n.behindNat, peers, routes: [...d.routes], forwarding: d.forwarding,
    };
    const k = key(d.hostname, d.interface.publicKey);
    if (k !== undefined) planned.publicKey = k;
    const endpoint = nodeEndpoint(mesh, n);
    if (endpoint !== null) planned.endpoint = endpoint;
    doc.meshIps[d.hostname] = n.meshIp as string;
    doc.nodes[d.hostname] = planned;
  }
  return { ok: true, plan: doc };
}
