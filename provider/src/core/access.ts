/**
 * Who may open a connection to whom: the policy rule as a decision per (source node, destination node,
 * probe port), and the evaluation of a mesh's policy tests against it. Pure.
 *
 * With enforcement "nftables" (and access control on) the rule is DIRECTIONAL: X may open a connection to
 * Y's mesh IP on port P iff some policy has X in a from-group, Y in a to-group, allowMeshIps, and P in its
 * ports (no ports = all). With enforcement "none" it is WireGuard's: X reaches Y iff they are peers (any
 * policy relating their groups, either direction), on any port. Without access control everyone reaches
 * everyone. The nftables rulesets (planner/firewall.ts) implement exactly the directional rule; the
 * planner's property tests check them against this function.
 */
import { accessControlEnabled, type Mesh, type Policy } from "./model";
import { formatPortSpec, parseProbePort, policyPortSpecs, portsAllow, type PortSpec } from "./ports";
import type { Finding } from "./validate";

export interface AccessDecision {
  allowed: boolean;
  /** The policy that allows it (first in declaration order), when one does. */
  policy: string | null;
  /** A complete sentence: which policy allows, or why nothing does. */
  reason: string;
}

const q = (s: string) => JSON.stringify(s);

/** Decide one probe. `from`/`to` are hostnames of the mesh (unknown names: no groups). */
export function accessDecision(mesh: Mesh, from: string, to: string, probe: PortSpec): AccessDecision {
  const what = `${from} → ${to} ${formatPortSpec(probe)}`;
  if (from === to) return { allowed: true, policy: null, reason: `${what}: a node always reaches itself` };
  if (!accessControlEnabled(mesh)) return { allowed: true, policy: null, reason: `${what}: no groups or policies, every node reaches every other` };
  const groupsOf = (h: string) => new Set(mesh.groups.filter((g) => g.members.includes(h)).map((g) => g.name));
  const gx = groupsOf(from);
  const gy = groupsOf(to);
  const forward = (p: Policy) => p.fromGroups.some((g) => gx.has(g)) && p.toGroups.some((g) => gy.has(g));
  const backward = (p: Policy) => p.fromGroups.some((g) => gy.has(g)) && p.toGroups.some((g) => gx.has(g));
  const groupList = (s: Set<string>) => (s.size ? `[${[...s].join(", ")}]` : "no group");

  if (mesh.enforcement === "none") {
    const p = mesh.policies.find((x) => forward(x) || backward(x));
    if (p) return { allowed: true, policy: p.name, reason: `${what} is allowed: enforcement is "none" and policy ${q(p.name)} makes them WireGuard peers (every port, both directions); set enforcement "nftables" (wgmesh: --enforce) for direction and ports` };
    return { allowed: false, policy: null, reason: `${what} is denied: no policy relates ${from}'s groups ${groupList(gx)} and ${to}'s groups ${groupList(gy)}, so they are not peers` };
  }

  const candidates = mesh.policies.filter(forward);
  for (const p of candidates) {
    if (p.allowMeshIps && portsAllow(policyPortSpecs(p.ports), probe)) {
      return { allowed: true, policy: p.name, reason: `${what} is allowed by policy ${q(p.name)} (from ${p.fromGroups.join(", ")} to ${p.toGroups.join(", ")}${p.ports ? `, ports ${p.ports.join(", ")}` : ""})` };
    }
  }
  const why: string[] = [];
  for (const p of candidates) {
    if (!p.allowMeshIps) why.push(`policy ${q(p.name)} has allowMeshIps false`);
    else why.push(`policy ${q(p.name)} allows only ${(p.ports ?? []).join(", ")}`);
  }
  const reverse = mesh.policies.filter((p) => !forward(p) && backward(p));
  if (candidates.length === 0) why.push(`no policy lets ${from}'s groups ${groupList(gx)} reach ${to}'s groups ${groupList(gy)}`);
  if (reverse.length) why.push(`${reverse.map((p) => q(p.name)).join(", ")} relate${reverse.length === 1 ? "s" : ""} them only from ${to} to ${from}`);
  return { allowed: false, policy: null, reason: `${what} is denied: ${why.join("; ")}` };
}

/** A human name for test #i: `policy test #1 (web1 → db1 tcp/5432, expect deny)`. */
export function policyTestLabel(t: { from: string; to: string; port: string; expect: string }, i: number): string {
  return `policy test #${i + 1} (${t.from} → ${t.to} ${t.port}, expect ${t.expect})`;
}

/** Evaluate every policy test of a VALID mesh against the plan; one error finding per failing test. */
export function evaluatePolicyTests(mesh: Mesh): Finding[] {
  const out: Finding[] = [];
  mesh.policyTests.forEach((t, i) => {
    const probe = parseProbePort(t.port);
    if (!probe.ok) return; // a validation error already
    const d = accessDecision(mesh, t.from, t.to, probe.spec);
    const wantAllow = t.expect === "allow";
    if (d.allowed === wantAllow) return;
    const fix = wantAllow
      ? "add or widen a policy (from a group of the source to a group of the destination, with the port), or fix the test"
      : d.policy ? `narrow policy ${q(d.policy)} (groups, ports, allowMeshIps) or fix the test` : "set enforcement \"nftables\" or fix the test";
    out.push({
      severity: "error",
      code: "policy-test-failed",
      subject: { kind: "policyTest", name: String(i) },
      field: "policyTests",
      message: `${policyTestLabel(t, i)} fails: ${d.reason}; ${fix}`,
    });
  });
  return out;
}
