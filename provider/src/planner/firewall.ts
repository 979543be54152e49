/**
 * Per node, the host firewall that enforces the mesh's policies (enforcement "nftables"), derived from the
 * compiled mesh. Pure; the table text is rendered by nft.ts.
 *
 * What a node's table does (only for traffic ARRIVING ON THE MESH INTERFACE — SSH and everything on other
 * interfaces is never matched, so no policy can lock the operator out):
 *   input  (connections to the node itself, any of its addresses): established/related accepted; NEW from
 *          the source addresses of a policy's from-groups when this node is in one of its to-groups and the
 *          policy has allowMeshIps (and the port is in its `ports`); everything else counted and dropped.
 *   forward (connections through the node): established/related accepted; NEW into this node's own
 *          routable networks from the sources of policies with allowRoutableNetworks (and the port); the rest
 *          counted and dropped — also traffic a peer sends to any other destination by a route it added itself.
 * A group's source addresses are its members' mesh IPs and routable networks (a node speaks for the networks
 * it routes; WireGuard already drops a packet whose source is not in its sender's AllowedIPs).
 *
 * Scale: one named set per source group and a handful of rules per (policy, from-group, protocol) — the
 * table grows with groups and policies, never with the number of nodes; set element arrays are built once
 * per group and shared (frozen) between the nodes that use them, and the rules once per group signature.
 */
import { createHash } from "node:crypto";
import { canonicalCidr, cidrRange } from "../core/cidr";
import { firewallEnabled, type Mesh, type MeshNode } from "../core/model";
import type { MeshPlan } from "../core/policy";
import { policyPortSpecs, type PortSpec } from "../core/ports";
import { nftTableName } from "./nft";
import type { FirewallPlan, NodeDesiredState } from "./types";

const hash8 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex").slice(0, 8);

/** A group/policy name as it appears in a rule label: itself when plain, else a readable prefix + hash. */
export function labelName(name: string): string {
  if (/^[A-Za-z0-9_.:/+=@-]{1,40}$/.test(name)) return name;
  return `${name.replace(/[^A-Za-z0-9_.:/+=@-]+/g, "_").slice(0, 24)}~${hash8(name)}`;
}

/** A group name as an nft set-name part: itself when it is [A-Za-z0-9_]{1,40}, else a prefix + hash. */
export function identName(name: string): string {
  if (/^[A-Za-z0-9_]{1,40}$/.test(name)) return name;
  return `${name.replace(/[^A-Za-z0-9_]+/g, "_").slice(0, 24)}_h${hash8(name)}`;
}

/** nft match text for a policy's ports, per protocol (a policy allowing all: one empty match). */
function portMatches(ports: PortSpec[] | null, v6: boolean): Array<{ suffix: string; text: string }> {
  if (ports === null) return [{ suffix: "", text: "" }];
  const out: Array<{ suffix: string; text: string }> = [];
  for (const proto of ["tcp", "udp"] as const) {
    const list = ports.filter((p): p is Extract<PortSpec, { proto: "tcp" | "udp" }> => p.proto === proto)
      .sort((a, b) => a.first - b.first || a.last - b.last)
      .map((p) => (p.first === p.last ? `${p.first}` : `${p.first}-${p.last}`));
    if (list.length === 1) out.push({ suffix: ` ${proto}`, text: `${proto} dport ${list[0]} ` });
    else if (list.length > 1) out.push({ suffix: ` ${proto}`, text: `${proto} dport { ${list.join(", ")} } ` });
  }
  if (ports.some((p) => p.proto === "icmp")) out.push({ suffix: " icmp", text: `meta l4proto ${v6 ? "ipv6-icmp" : "icmp"} ` });
  return out;
}

interface Sources { v4: readonly string[]; v6: readonly string[] }

/**
 * Every node's firewall, by hostname (null for every node when the mesh is not enforced). The mesh must be
 * valid with every mesh IP assigned (as `compileMesh` returns it).
 */
export function planFirewalls(mesh: Mesh): Map<string, FirewallPlan | null> {
  const out = new Map<string, FirewallPlan | null>();
  if (!firewallEnabled(mesh)) {
    for (const n of mesh.nodes) out.set(n.hostname, null);
    return out;
  }
  const table = `inet ${nftTableName(mesh.interfaceName)}`;
  const byName = new Map<string, MeshNode>();
  for (const n of mesh.nodes) if (!byName.has(n.hostname)) byName.set(n.hostname, n);

  // Groups (first definition wins), their members and node → groups.
  const groupMembers = new Map<string, MeshNode[]>();
  const groupsOf = new Map<string, string[]>();
  for (const g of mesh.groups) {
    if (groupMembers.has(g.name)) continue;
    const seen = new Set<string>();
    const list: MeshNode[] = [];
    for (const m of g.members) {
      const n = byName.get(m);
      if (n && !seen.has(m)) { seen.add(m); list.push(n); groupsOf.set(m, [...(groupsOf.get(m) ?? []), g.name]); }
    }
    groupMembers.set(g.name, list);
  }

  // A node's own networks by family (canonical, sorted).
  const netsOf = (n: MeshNode): Sources => {
    const v4: Array<{ c: string; k: bigint }> = [];
    const v6: Array<{ c: string; k: bigint }> = [];
    for (const raw of n.routableNetworks) {
      const c = canonicalCidr(raw);
      const r = cidrRange(c);
      (r.family === 4 ? v4 : v6).push({ c, k: r.first });
    }
    const sort = (l: Array<{ c: string; k: bigint }>) => l.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.c);
    return { v4: sort(v4), v6: sort(v6) };
  };

  // Source addresses per group, built once and shared.
  const sourceCache = new Map<string, Sources>();
  const sourcesOf = (g: string): Sources => {
    const hit = sourceCache.get(g);
    if (hit) return hit;
    const v4: Array<{ c: string; k: bigint }> = [];
    const v6: Array<{ c: string; k: bigint }> = [];
    const seen = new Set<string>();
    for (const m of groupMembers.get(g) ?? []) {
      const own = netsOf(m);
      for (const c of [`${m.meshIp}/32`, ...own.v4, ...own.v6]) {
        if (seen.has(c)) continue;
        seen.add(c);
        const r = cidrRange(c);
        const text = c.endsWith("/32") || c.endsWith("/128") ? c.slice(0, c.lastIndexOf("/")) : c;
        (r.family === 4 ? v4 : v6).push({ c: text, k: r.first });
      }
    }
    const sort = (l: Array<{ c: string; k: bigint }>) => Object.freeze(l.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.c));
    const s = { v4: sort(v4), v6: sort(v6) };
    sourceCache.set(g, s);
    return s;
  };

  const policies = mesh.policies.map((p) => ({ p, ports: policyPortSpecs(p.ports), from: [...new Set(p.fromGroups)].filter((g) => (groupMembers.get(g)?.length ?? 0) > 0), to: new Set(p.toGroups) }));

  // Rules and referenced source sets per (group signature, own-network families): shared between nodes.
  const sigCache = new Map<string, { rules: Record<string, string>; sets: Array<[string, readonly string[]]> }>();
  const forSignature = (groups: string[], has4: boolean, has6: boolean) => {
    const key = `${groups.join("\u0000")}\u0001${has4 ? 1 : 0}${has6 ? 1 : 0}`;
    const hit = sigCache.get(key);
    if (hit) return hit;
    const mine = new Set(groups);
    const rules: Record<string, string> = {};
    const sets = new Map<string, readonly string[]>();
    for (const { p, ports, from, to } of policies) {
      if (![...to].some((g) => mine.has(g))) continue;
      for (const g of from) {
        const src = sourcesOf(g);
        for (const v6 of [false, true]) {
          const elements = v6 ? src.v6 : src.v4;
          if (elements.length === 0) continue;
          const set = `src_${identName(g)}${v6 ? "_v6" : ""}`;
          const ip = v6 ? "ip6" : "ip";
          const fam = v6 ? " ipv6" : "";
          const chains: Array<{ chain: "input" | "forward"; dst: string }> = [];
          if (p.allowMeshIps) chains.push({ chain: "input", dst: "" });
          if (p.allowRoutableNetworks && (v6 ? has6 : has4)) chains.push({ chain: "forward", dst: `${ip} daddr @routed${v6 ? "_v6" : ""} ` });
          for (const { chain, dst } of chains) {
            sets.set(set, elements);
            for (const m of portMatches(ports, v6)) {
              rules[`${chain} ${labelName(p.name)} from ${labelName(g)}${m.suffix}${fam}`] = `${ip} saddr @${set} ${dst}${m.text}accept`;
            }
          }
        }
      }
    }
    const entry = { rules: Object.freeze(rules) as Record<string, string>, sets: [...sets.entries()] };
    sigCache.set(key, entry);
    return entry;
  };

  for (const n of mesh.nodes) {
    if (out.has(n.hostname)) continue;
    const own = netsOf(n);
    const sig = forSignature([...(groupsOf.get(n.hostname) ?? [])].sort(), own.v4.length > 0, own.v6.length > 0);
    const sets: Record<string, string[]> = {};
    for (const [name, elements] of [...sig.sets].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) sets[name] = elements as string[];
    const usesRouted = (v6: boolean) => Object.values(sig.rules).some((r) => r.includes(`@routed${v6 ? "_v6" : ""} `));
    if (own.v4.length && usesRouted(false)) sets["routed"] = own.v4 as string[];
    if (own.v6.length && usesRouted(true)) sets["routed_v6"] = own.v6 as string[];
    out.set(n.hostname, { table, sets, rules: sig.rules });
  }
  return out;
}

/** The plan with each node's firewall set (`firewall: null` when not enforced). */
export function withFirewalls(mesh: Mesh, plan: MeshPlan): MeshPlan {
  const fw = planFirewalls(mesh);
  return { ...plan, nodes: plan.nodes.map((d): NodeDesiredState => ({ ...d, firewall: fw.get(d.hostname) ?? null })) };
}
