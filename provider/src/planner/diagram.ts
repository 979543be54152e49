/**
 * The mesh as a picture: a Mermaid flowchart (renders in GitHub/GitLab markdown, `mermaid.live`, the
 * Pulumi console's markdown) of who peers with whom.
 *
 *  - nodes grouped by group (a `subgraph` per group, in declaration order; a node in several groups sits in
 *    the first and names the others), each labelled with its hostname and mesh IP;
 *  - nodes behind NAT marked ("behind NAT", dashed border: they have no endpoint, they dial out);
 *  - each routed network as its own shape, tied to the node it sits behind with a dotted line;
 *  - one edge per pair of peers, with its direction: `A --> B` when policies let A reach B only, `A <--> B`
 *    both ways (a full mesh: every pair, both ways, unlabelled); labelled with the policies that allow it,
 *    their ports when the policy has them (Policy.ports), and "+ networks" when the policy hands over the target's routed
 *    networks. When the two directions come from different policies, they are two edges.
 *
 * Pure; linear in nodes + networks + edges (edges are the peerings, Σ over policies of |from|·|to| members).
 */
import type { GroupInput, NodeInput, PolicyInput } from "../core/model";

/** What the diagram needs of a mesh: the core model's declaration (MeshInput, or a Mesh's checked inputs). */
export interface DiagramMesh {
  nodes: ReadonlyArray<Pick<NodeInput, "hostname" | "meshIp" | "behindNat" | "routableNetworks">>;
  groups?: readonly GroupInput[] | null;
  policies?: readonly PolicyInput[] | null;
}

export interface DiagramOptions {
  /** hostname → mesh IP, for nodes whose own `meshIp` is unset (an allocation, e.g. a Mesh's `meshIps`). */
  meshIps?: Readonly<Record<string, string>> | null;
  /** hostname → effective NAT status (the override, else what was detected); default: each node's `behindNat`. */
  behindNat?: Readonly<Record<string, boolean>> | null;
  /** policy name → its ports (e.g. ["tcp/443", "udp/53"]); default: each policy's own `ports` (none: no port limit). */
  ports?: Readonly<Record<string, readonly string[]>> | null;
  /** Flowchart direction (default "LR"). */
  direction?: "LR" | "TB";
}

/** Text inside a quoted Mermaid label: characters with a meaning there as entity codes. */
export function mermaidText(s: string): string {
  return s.replace(/[#"<>&]/g, (c) => `#${c.charCodeAt(0)};`).replace(/[\u0000-\u001f\u007f]/g, " ");
}

const quoted = (s: string) => `"${mermaidText(s)}"`;

/** Mermaid ids: letters, digits, underscores (a hostname's '-' → '_'; anything else → its index). */
function ids(names: readonly string[], prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  names.forEach((name, i) => {
    if (out.has(name)) return;
    let id = /^[A-Za-z0-9-]{1,63}$/.test(name) ? `${prefix}_${name.replace(/-/g, "_")}` : `${prefix}${i}`;
    while (used.has(id)) id = `${id}_${i}`;
    used.add(id);
    out.set(name, id);
  });
  return out;
}

interface Grant {
  /** Policy names (in declaration order) that let `from` reach `to`. */
  policies: string[];
  networks: boolean;
}

export function meshDiagram(mesh: DiagramMesh, opts: DiagramOptions = {}): string {
  const nodes = mesh.nodes;
  const groups = (mesh.groups ?? []).map((g) => ({ name: g.name, members: [...(g.members ?? [])] }));
  const policies = mesh.policies ?? [];
  const acl = groups.length > 0 || policies.length > 0; // as core/model.ts accessControlEnabled
  const nodeId = ids(nodes.map((n) => n.hostname), "n");
  const known = new Set(nodes.map((n) => n.hostname));
  const nat = (n: DiagramMesh["nodes"][number]) => opts.behindNat?.[n.hostname] ?? n.behindNat === true;
  const lines = [`flowchart ${opts.direction ?? "LR"}`];

  // Placement: each node in the first group that lists it.
  const home = new Map<string, string>();
  const groupsOf = new Map<string, string[]>();
  for (const g of groups) {
    for (const m of g.members) {
      if (!known.has(m)) continue;
      if (!home.has(m)) home.set(m, g.name);
      const list = groupsOf.get(m) ?? [];
      if (!list.includes(g.name)) groupsOf.set(m, [...list, g.name]);
    }
  }
  const nodeLine = (n: DiagramMesh["nodes"][number], indent: string): string => {
    const ip = n.meshIp ?? opts.meshIps?.[n.hostname];
    const parts = [mermaidText(n.hostname)];
    if (ip) parts.push(mermaidText(ip));
    if (nat(n)) parts.push("behind NAT");
    const others = (groupsOf.get(n.hostname) ?? []).slice(1);
    if (others.length) parts.push(`also in ${others.map(mermaidText).join(", ")}`);
    return `${indent}${nodeId.get(n.hostname)}["${parts.join("<br/>")}"]${nat(n) ? ":::nat" : ""}`;
  };
  const byGroup = new Map<string, DiagramMesh["nodes"][number][]>();
  for (const n of nodes) {
    const g = home.get(n.hostname);
    if (g !== undefined) byGroup.set(g, [...(byGroup.get(g) ?? []), n]);
  }
  const groupId = ids(groups.map((g) => g.name), "g");
  const drawn = new Set<string>();
  for (const g of groups) {
    const members = byGroup.get(g.name);
    if (!members || drawn.has(g.name)) continue; // a group without members of the mesh, or a repeated name
    drawn.add(g.name);
    lines.push(`  subgraph ${groupId.get(g.name)}[${quoted(g.name)}]`);
    for (const n of members) lines.push(nodeLine(n, "    "));
    lines.push("  end");
  }
  for (const n of nodes) if (!home.has(n.hostname)) lines.push(nodeLine(n, "  "));

  // Routed networks behind each node.
  let net = 0;
  for (const n of nodes) {
    for (const cidr of n.routableNetworks ?? []) {
      const id = `net${net++}`;
      lines.push(`  ${id}{{${quoted(cidr)}}}`);
      lines.push(`  ${nodeId.get(n.hostname)} -.- ${id}`);
    }
  }

  // Directed grants between nodes, then one edge per peered pair.
  const grants = new Map<string, Map<string, Grant>>();
  const grant = (from: string, to: string, policy: string | null, networks: boolean) => {
    let row = grants.get(from);
    if (!row) grants.set(from, (row = new Map()));
    let g = row.get(to);
    if (!g) row.set(to, (g = { policies: [], networks: false }));
    if (policy !== null && !g.policies.includes(policy)) g.policies.push(policy);
    g.networks ||= networks;
  };
  if (!acl) {
    for (const a of nodes) for (const b of nodes) if (a.hostname !== b.hostname) grant(a.hostname, b.hostname, null, false);
  } else {
    const members = new Map<string, string[]>();
    for (const g of groups) if (!members.has(g.name)) members.set(g.name, g.members.filter((m) => known.has(m)));
    for (const p of policies) {
      const from = new Set(p.fromGroups.flatMap((g) => members.get(g) ?? []));
      const to = new Set(p.toGroups.flatMap((g) => members.get(g) ?? []));
      for (const f of from) for (const t of to) if (f !== t) grant(f, t, p.name, p.allowRoutableNetworks === true);
    }
  }
  const nets = new Map(nodes.map((n) => [n.hostname, (n.routableNetworks ?? []).length > 0]));
  const policyPorts = new Map(policies.map((p) => [p.name, p.ports ?? []]));
  const label = (g: Grant, to: string): string => {
    const parts = g.policies.map((p) => {
      const ports = opts.ports?.[p] ?? policyPorts.get(p) ?? [];
      return ports.length ? `${p} ${ports.join(" ")}` : p;
    });
    if (g.networks && nets.get(to) === true) parts.push("+ networks");
    return parts.length ? `|${quoted(parts.join(", "))}|` : "";
  };
  const order = new Map(nodes.map((n, i) => [n.hostname, i]));
  const done = new Set<string>();
  for (const a of nodes) {
    for (const [b, ab] of grants.get(a.hostname) ?? []) {
      const key = (order.get(a.hostname) as number) < (order.get(b) as number) ? `${a.hostname}\u0000${b}` : `${b}\u0000${a.hostname}`;
      if (done.has(key)) continue;
      done.add(key);
      const ba = grants.get(b)?.get(a.hostname);
      const [x, y] = [nodeId.get(a.hostname), nodeId.get(b)];
      const handsOver = (g: Grant, to: string) => g.networks && nets.get(to) === true;
      const same = ba !== undefined && ba.policies.join("\u0000") === ab.policies.join("\u0000") && handsOver(ab, b) === handsOver(ba, a.hostname);
      if (same) lines.push(`  ${x} <-->${label(ab, b)} ${y}`);
      else {
        lines.push(`  ${x} -->${label(ab, b)} ${y}`);
        if (ba) lines.push(`  ${y} -->${label(ba, a.hostname)} ${x}`);
      }
    }
  }
  if (nodes.some(nat)) lines.push("  classDef nat stroke-dasharray: 5 5");
  return `${lines.join("\n")}\n`;
}
