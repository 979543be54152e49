/**
 * Mesh: the declaration as a whole. Its check validates everything together with the core (bad references
 * between nodes, groups and policies fail the preview with the core's messages) and allocates mesh IPs,
 * stably: the allocation is part of the checked inputs, so the next check starts from it (`olds.meshIps`).
 * No host side: the per-node NodeConfig children do the work.
 */
import { assignMeshIps } from "../../core/allocate";
import { normalizeMesh, type Enforcement, type GroupInput, type NodeInput, type PolicyInput, type PolicyTestInput } from "../../core/model";
import { evaluatePolicyTests } from "../../core/access";
import { validateMesh, type Finding } from "../../core/validate";
import { buildPeerRelations } from "../../core/policy";
import { planPairKeys, type PairKeyTable } from "../../core/psk";
import { containsUnknown, deepEqual, diffProps, unwrapSecret, wireSecret, withoutUnknowns } from "./common";
import { UNKNOWN, type CheckFailure, type Lifecycle, type WireSecret } from "./types";

/**
 * What the Mesh needs of a node: the core model's topology fields (its key is the Node's business).
 * `behindNat` is the effective NAT status (the override, else what the Node detected).
 */
export type MeshNodeInputs = Pick<NodeInput,
  "hostname" | "meshIp" | "sshHost" | "sshPort" | "listenPort" | "publicEndpoint" | "behindNat" | "routableNetworks">;

export interface MeshInputs {
  name: string;
  network?: string | null;
  interfaceName?: string | null;
  listenPort?: number | null;
  persistentKeepalive?: number | null;
  mtu?: number | null;
  nodes: MeshNodeInputs[];
  groups?: GroupInput[] | null;
  policies?: PolicyInput[] | null;
  /** "nftables" (default with groups/policies): policies enforced by a firewall on each host; "none". */
  enforcement?: Enforcement | null;
  /** Policy tests, evaluated against the plan at check (a failing test fails the preview). */
  policyTests?: PolicyTestInput[] | null;
  /** hostname → mesh IP; computed by check (kept from the previous allocation). */
  meshIps?: Record<string, string> | null;
  /** One WireGuard preshared key per peered pair (issue 16): in the table below, applied by every NodeConfig. */
  presharedKeys?: boolean | null;
  /** Any change gives every pair a new preshared key at the next update. */
  pskRotationTrigger?: string | null;
  /**
   * The pairs' preshared keys (core/psk.ts layout: lower hostname → higher → key), a secret: computed by
   * check when presharedKeys is on — kept per pair from the previous check, new for new pairs, dropped for
   * pairs that no longer peer, all new when pskRotationTrigger changed.
   */
  presharedKeyTable?: PairKeyTable | WireSecret<PairKeyTable> | null;
}

/** Findings about keys are the Node's (its key may not exist yet at preview). */
const KEY_CODES = new Set(["public-key-missing", "public-key-invalid", "public-key-duplicate", "private-key-invalid", "key-pair-mismatch"]);

function property(f: Finding): string {
  switch (f.subject.kind) {
    case "node": return "nodes";
    case "group": return "groups";
    case "policy": return "policies";
    case "policyTest": return "policyTests";
    default: return f.field ?? "nodes";
  }
}

/** Validate the declaration and allocate; pure. */
export function checkMesh(olds: Partial<MeshInputs> | undefined, news: MeshInputs): { inputs: MeshInputs; failures: CheckFailure[] } {
  const { meshIps: _ignored, presharedKeyTable: _computed, ...declared } = news;
  // Preview before the nodes exist: the node list (or a group/policy list) may be unknown as a whole.
  // It is checked once known (at the latest when the change is applied).
  const lists = [declared.nodes, declared.groups ?? [], declared.policies ?? [], declared.policyTests ?? []];
  if (lists.some((l) => !Array.isArray(l) || l.some((e) => e === null || typeof e !== "object"))) {
    return { inputs: { ...declared, meshIps: UNKNOWN as never }, failures: [] };
  }
  const m = withoutUnknowns(declared);
  const mesh = normalizeMesh({
    ...m,
    nodes: (m.nodes ?? []).map((n) => ({ ...n, sshHost: n.sshHost ?? "unknown.invalid" })),
  });
  let errors = validateMesh(mesh, { checkKeyPairs: false }).errors.filter((f) => !KEY_CODES.has(f.code));
  // Policy tests against the plan: who may reach whom depends only on names, groups, policies, enforcement.
  if (errors.length === 0 && !containsUnknown([declared.groups, declared.policies, declared.policyTests, declared.enforcement, (declared.nodes ?? []).map((n) => n.hostname)])) {
    errors = evaluatePolicyTests(mesh);
  }
  const failures: CheckFailure[] = errors.map((f) => ({ property: property(f), reason: (news.name ? `mesh ${JSON.stringify(news.name)}: ` : "") + f.message }));
  if (failures.length > 0) return { inputs: news, failures };

  // Allocation needs the hostnames, explicit addresses and network known.
  const allocationInputs = [declared.network, ...(declared.nodes ?? []).map((n) => [n.hostname, n.meshIp])];
  if (containsUnknown(allocationInputs)) return { inputs: { ...declared, meshIps: UNKNOWN as never }, failures };
  const previous = olds?.meshIps && typeof olds.meshIps === "object" ? withoutUnknowns(olds.meshIps) : undefined;
  const prev: Record<string, string> = {};
  for (const [h, ip] of Object.entries(previous ?? {})) if (typeof ip === "string") prev[h] = ip;
  const { assigned, unallocated } = assignMeshIps(mesh.network, mesh.nodes, prev);
  if (unallocated.length > 0) {
    return {
      inputs: news,
      failures: unallocated.map((h) => ({ property: "nodes", reason: `mesh ${JSON.stringify(news.name)}: node ${JSON.stringify(h)}: no free address left in the mesh network ${mesh.network} for meshIp; use a larger network (shorter prefix) or remove nodes` })),
    };
  }
  const meshIps: Record<string, string> = {};
  for (const n of mesh.nodes) meshIps[n.hostname] = assigned.get(n.hostname) as string;
  if (declared.presharedKeys === true || containsUnknown(declared.presharedKeys)) {
    return { inputs: { ...declared, meshIps, presharedKeyTable: pairKeyTable(olds, declared, mesh) }, failures };
  }
  return { inputs: { ...declared, meshIps }, failures };
}

/**
 * The pairs' preshared keys for a valid declaration (a wire secret), or UNKNOWN while who peers with whom or
 * the switches are not known (a preview). Kept from `olds` per pair unless the rotation trigger changed.
 */
function pairKeyTable(olds: Partial<MeshInputs> | undefined, declared: MeshInputs, mesh: ReturnType<typeof normalizeMesh>): WireSecret<PairKeyTable> {
  const names = [declared.presharedKeys, declared.pskRotationTrigger, declared.groups, declared.policies, (declared.nodes ?? []).map((n) => n.hostname)];
  if (containsUnknown(names)) return UNKNOWN as never;
  const rel = buildPeerRelations(mesh);
  const peersOf: Record<string, string[]> = {};
  rel.nodes.forEach((n, i) => { peersOf[n.hostname] = rel.peersOf(i).map((j) => (rel.nodes[j] as { hostname: string }).hostname); });
  const previous = olds?.presharedKeyTable ? unwrapSecret(olds.presharedKeyTable) : undefined;
  const rotateAll = previous !== undefined && !deepEqual(olds?.pskRotationTrigger ?? null, declared.pskRotationTrigger ?? null);
  // The previous table comes from the state (never unknown); a broken entry is not kept (planPairKeys).
  return wireSecret(planPairKeys(peersOf, typeof previous === "object" && previous !== null ? previous : undefined, { rotateAll }).table);
}

const PROPS = ["name", "network", "interfaceName", "listenPort", "persistentKeepalive", "mtu", "nodes", "groups", "policies", "enforcement", "policyTests", "meshIps", "presharedKeys", "pskRotationTrigger", "presharedKeyTable"] as const;

export const meshLifecycle: Lifecycle<MeshInputs, MeshInputs> = {
  async check(olds, news) {
    return checkMesh(olds, news);
  },
  async diff(_id, olds, news) {
    return diffProps(olds as never, news as never, PROPS, ["name"]);
  },
  async create(inputs) {
    return { id: inputs.name, outs: inputs };
  },
  async read(id, props) {
    return { id, props };
  },
  async update(_id, _olds, news) {
    return { outs: news };
  },
  async delete() {},
  preview(_olds, news) {
    return news;
  },
};
