/**
 * Many hosts at once: every host in parallel up to a concurrency limit; one failing host never stops the
 * others. Also the bridge from a compiled mesh (core) to engine targets, and node removal.
 */
import type { Mesh, MeshInput } from "../core/model";
import type { MeshPlan } from "../core/policy";
import { applyHost } from "./apply";
import { keySwitchSync } from "./rendezvous";
import { withFirewalls } from "../planner/firewall";
import { teardownHost, type TeardownTarget } from "./teardown";
import type { Connection } from "./ssh/connection";
import type { EngineOptions, HostResult, HostTarget, KeySource } from "./types";

export const DEFAULT_CONCURRENCY = 10;
/** The longest a host whose change switches a key waits for the other hosts to be ready (rendezvous.ts). */
export const KEY_SWITCH_MAX_WAIT_MS = 120_000;

/** Run `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`concurrency must be an integer ≥ 1 (got ${limit})`);
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface DeployResult {
  /** By node name, in the order of the targets. */
  hosts: Record<string, HostResult>;
  /** Every host converged (changed or unchanged). */
  ok: boolean;
  durationMs: number;
}

function collect(results: HostResult[], started: number): DeployResult {
  const hosts: Record<string, HostResult> = {};
  for (const r of results) hosts[r.node] = r;
  return { hosts, ok: results.every((r) => r.status !== "failed"), durationMs: Date.now() - started };
}

/** Converge every host (dry run: only read and report). */
export async function deploy(hosts: readonly HostTarget[], opts: EngineOptions = {}): Promise<DeployResult> {
  const started = Date.now();
  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.node)) throw new Error(`deploy: node ${JSON.stringify(h.node)} is listed twice`);
    seen.add(h.node);
  }
  // A key switch happens on all hosts at once (rendezvous.ts). Bounded at 120 s — less than a host that never
  // answers can take to fail its dials (10 attempts of up to 15 s by default): the others do not wait for it.
  const sync = hosts.length > 1 ? keySwitchSync(KEY_SWITCH_MAX_WAIT_MS) : undefined;
  const results = await mapLimit(hosts, opts.concurrency ?? DEFAULT_CONCURRENCY, (h) => applyHost(h, opts, sync));
  return collect(results, started);
}

/** Tear down every given host (interface, unit, files). */
export async function teardown(hosts: readonly TeardownTarget[], opts: EngineOptions = {}): Promise<DeployResult> {
  const started = Date.now();
  const results = await mapLimit(hosts, opts.concurrency ?? DEFAULT_CONCURRENCY, (h) => teardownHost(h, opts));
  return collect(results, started);
}

/**
 * Engine targets for a compiled mesh (`compileMesh`): one per planned node, with its firewall when the mesh is
 * enforced (planner/firewall.ts). `connectionFor` gives each node's
 * SSH connection (default: the node's sshHost/sshPort as root). The key source is the node's private key when
 * the model holds it, else the key on the host.
 */
export function targetsFromPlan(
  mesh: Mesh,
  plan: MeshPlan,
  connectionFor: (node: Mesh["nodes"][number]) => Connection = (n) => ({ host: n.sshHost, port: n.sshPort }),
): HostTarget[] {
  const byName = new Map(mesh.nodes.map((n) => [n.hostname, n]));
  // Each node's firewall (null when the mesh is not enforced: a table of ours left on a host is removed).
  return withFirewalls(mesh, plan).nodes.map((desired) => {
    const node = byName.get(desired.hostname);
    if (!node) throw new Error(`targetsFromPlan: planned node ${desired.hostname} is not in the mesh`);
    const key: KeySource = node.privateKey ? { privateKey: node.privateKey } : { onHost: true };
    return { node: node.hostname, connection: connectionFor(node), desired, key, behindNat: node.behindNat };
  });
}

/** The mesh without one node (also dropped from every group), e.g. to deploy the rest after a teardown. */
export function withoutNode(input: MeshInput, hostname: string): MeshInput {
  return {
    ...input,
    nodes: input.nodes.filter((n) => n.hostname !== hostname),
    groups: input.groups?.map((g) => ({ ...g, members: (g.members ?? []).filter((m) => m !== hostname) })) ?? input.groups,
    policyTests: input.policyTests?.filter((t) => t.from !== hostname && t.to !== hostname) ?? input.policyTests,
  };
}
