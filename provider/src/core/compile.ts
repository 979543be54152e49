/**
 * The whole core pipeline in one call, for every front door:
 * normalise → validate → allocate missing mesh IPs → evaluate policies.
 * Pure.
 */
import { assignMeshIps } from "./allocate";
import { normalizeMesh, type Mesh, type MeshInput } from "./model";
import { buildPeerRelations, planMesh, type MeshPlan } from "./policy";
import { validateMesh, type Finding, type ValidateOptions } from "./validate";
import { evaluatePolicyTests } from "./access";

export interface CompileOptions extends ValidateOptions {
  /** hostname → mesh IP from an earlier run: such nodes keep their address (stable allocation). */
  previousMeshIps?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Evaluate the mesh's policy tests against the plan; a failing test is an error (default true). */
  policyTests?: boolean;
}

export type CompileResult =
  | { ok: true; mesh: Mesh; plan: MeshPlan; warnings: Finding[] }
  | { ok: false; errors: Finding[]; warnings: Finding[] };

/** Normalise, validate, allocate and plan. `mesh` in the result has every meshIp set. */
export function compileMesh(input: MeshInput, options: CompileOptions = {}): CompileResult {
  const normalized = normalizeMesh(input);
  const { errors, warnings } = validateMesh(normalized, options);
  if (errors.length > 0) return { ok: false, errors, warnings };

  const { assigned, unallocated } = assignMeshIps(normalized.network, normalized.nodes, options.previousMeshIps);
  if (unallocated.length > 0) {
    return {
      ok: false,
      warnings,
      errors: unallocated.map((h) => ({
        severity: "error" as const,
        code: "network-full",
        subject: { kind: "node" as const, name: h },
        field: "meshIp",
        message: `node ${JSON.stringify(h)}: no free address left in the mesh network ${normalized.network} for meshIp; use a larger network (shorter prefix) or remove nodes`,
      })),
    };
  }
  const mesh: Mesh = { ...normalized, nodes: normalized.nodes.map((n) => ({ ...n, meshIp: assigned.get(n.hostname) ?? n.meshIp })) };
  const failed = options.policyTests === false ? [] : evaluatePolicyTests(mesh);
  if (failed.length > 0) return { ok: false, errors: failed, warnings };
  return { ok: true, mesh, plan: planMesh(mesh, buildPeerRelations(mesh)), warnings };
}
