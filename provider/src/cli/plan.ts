/**
 * `wgmesh plan <mesh-state.json> [--json | --format text|json|mermaid] [--password-file F]`: read a Go wgmesh
 * state file (plain or encrypted), validate it and print each node's WireGuard plan — as text, as the JSON
 * document, or as a Mermaid diagram of the mesh (planner/diagram.ts). Offline; prints no secret.
 */
import { parseArgs } from "node:util";
import { compileMesh } from "../core/compile";
import type { Mesh } from "../core/model";
import type { MeshPlan } from "../core/policy";
import { messages } from "../core/validate";
import { meshDiagram } from "../planner/diagram";
import { UsageError, type CliIO, type Command } from "./commands";
import { readMeshInput, StateInputError, STATE_READ_OPTIONS, STATE_READ_HELP, stateReadOptions } from "./stateinput";
import { planFirewalls } from "../planner/firewall";
import { describeFirewall } from "../planner/nft";
import type { FirewallPlan } from "../planner/types";

/** The `--json` document of a valid plan (the CLI contract of issue 3). */
export interface PlanJson {
  interface: string;
  network: string;
  nodes: Record<string, {
    address: string;
    listenPort: number;
    peers: Array<{ hostname: string; publicKey: string; endpoint: string | null; allowedIps: string[]; persistentKeepalive: number | null }>;
    routes: string[];
  }>;
  warnings: string[];
}

/** Build the `--json` document. */
export function planToJson(plan: MeshPlan, warnings: string[]): PlanJson {
  const nodes: PlanJson["nodes"] = {};
  for (const n of plan.nodes) {
    nodes[n.hostname] = {
      address: n.interface.address,
      listenPort: n.interface.listenPort,
      peers: n.peers.map((p) => ({
        hostname: p.hostname,
        publicKey: p.publicKey,
        endpoint: p.endpoint,
        allowedIps: [...p.allowedIps],
        persistentKeepalive: p.persistentKeepalive,
      })),
      routes: [...n.routes],
    };
  }
  return { interface: plan.interfaceName, network: plan.network, nodes, warnings };
}

/** The human listing (in the spirit of the Go tool's `-list`), with each node's planned peers. */
export function planToText(mesh: Mesh, plan: MeshPlan, warnings: string[]): string {
  const lines: string[] = [
    `Mesh Network: ${mesh.network}`,
    `Interface: ${mesh.interfaceName}`,
    `Listen Port: ${mesh.listenPort}`,
    "",
  ];
  const acl = mesh.groups.length > 0 || mesh.policies.length > 0;
  lines.push(`Access Control: ${acl ? "Enabled" : "Disabled (full mesh)"}`);
  lines.push(`Enforcement: ${!acl ? "none (nothing to enforce)" : mesh.enforcement === "nftables" ? "nftables (each node filters what arrives on the mesh interface)" : "none: peering and AllowedIPs only (wgmesh deploy --enforce applies the firewall rules shown below)"}`, "");
  // The rules a node gets with enforcement (shown also without it, as what --enforce would apply).
  const firewalls = acl ? planFirewalls({ ...mesh, enforcement: "nftables" }) : new Map<string, FirewallPlan | null>();
  const groupsOf = new Map<string, string[]>();
  if (mesh.groups.length) {
    lines.push("Groups:");
    for (const g of mesh.groups) {
      lines.push(`  ${g.name} (${g.members.length} member${g.members.length === 1 ? "" : "s"}):${g.description ? `  # ${g.description}` : ""}`);
      for (const m of g.members) {
        lines.push(`    - ${m}`);
        groupsOf.set(m, [...(groupsOf.get(m) ?? []), g.name]);
      }
    }
    lines.push("");
  }
  if (mesh.policies.length) {
    lines.push("Policies:");
    for (const p of mesh.policies) {
      lines.push(`  ${p.name}:${p.description ? `  # ${p.description}` : ""}`);
      lines.push(`    From: ${p.fromGroups.join(", ")}`);
      lines.push(`    To: ${p.toGroups.join(", ")}`);
      lines.push(`    Mesh IPs: ${p.allowMeshIps ? "Yes" : "No"}`);
      lines.push(`    Routable Networks: ${p.allowRoutableNetworks ? "Yes" : "No"}`);
      lines.push(`    Ports: ${p.ports ? p.ports.join(", ") : "all"}`);
    }
    lines.push("");
  }
  const byName = new Map(mesh.nodes.map((n) => [n.hostname, n]));
  lines.push("Nodes:");
  for (const d of plan.nodes) {
    const n = byName.get(d.hostname);
    if (!n) continue;
    lines.push(`  ${d.hostname}${n.behindNat ? " [NAT]" : ""}:`);
    lines.push(`    Mesh IP: ${n.meshIp}`);
    if (acl) lines.push(`    Groups: [${(groupsOf.get(d.hostname) ?? []).join(", ")}]`);
    lines.push(`    SSH: ${n.sshHost.includes(":") ? `[${n.sshHost}]` : n.sshHost}:${n.sshPort}`);
    lines.push(`    Public Key: ${d.interface.publicKey}`);
    lines.push(`    Address: ${d.interface.address}  Listen Port: ${d.interface.listenPort}${d.interface.mtu ? `  MTU: ${d.interface.mtu}` : ""}`);
    if (n.routableNetworks.length) lines.push(`    Routable Networks: ${n.routableNetworks.join(", ")} (forwarding on)`);
    lines.push(`    Peers (${d.peers.length}):`);
    for (const p of d.peers) {
      const extra = [
        `endpoint ${p.endpoint ?? "(none)"}`,
        ...(p.persistentKeepalive ? [`keepalive ${p.persistentKeepalive}s`] : []),
      ];
      lines.push(`      ${p.hostname}: ${p.allowedIps.join(", ")}  ${extra.join("  ")}`);
    }
    lines.push(`    Routes: ${d.routes.length ? d.routes.join(", ") : "(none)"}`);
    const fw = firewalls.get(d.hostname);
    if (fw) {
      lines.push(`    Firewall${mesh.enforcement === "nftables" ? "" : " (with --enforce)"}: ${describeFirewall(fw)[0]}`);
      for (const l of describeFirewall(fw).slice(1)) lines.push(`    ${l}`);
    }
    lines.push("");
  }
  if (mesh.policyTests.length) {
    lines.push(`Policy Tests (${mesh.policyTests.length}, all pass against this plan):`);
    for (const t of mesh.policyTests) lines.push(`  ${t.from} → ${t.to} ${t.port}: ${t.expect}`);
    lines.push("");
  }
  if (warnings.length) {
    lines.push("Warnings:");
    for (const w of warnings) lines.push(`  - ${w}`);
    lines.push("");
  }
  return lines.join("\n");
}


const USAGE = [
  "Usage: wgmesh plan <mesh-state.json> [--json | --format text|json|mermaid] [--password-file FILE] [--enforce] [--strict] [--allow-full-mesh]",
  "",
  "Reads a mesh state file of the Go wgmesh tool, validates it, evaluates groups and access policies,",
  "and prints what every node's WireGuard interface must carry: address, listen port, peers (public key,",
  "endpoint, AllowedIPs, keepalive) and routes, and each node's firewall rules. The file's \"policy_tests\"",
  "are checked against the plan: a failing test is an error (exit status 1) naming the test and the policy.",
  "Nothing is contacted; no secret is printed.",
  "",
  "Options:",
  "  --json                 Print the plan as JSON: {\"interface\", \"network\", \"nodes\": {...}, \"warnings\"}",
  "                         (invalid input: {\"errors\": [...], \"warnings\": [...]} and exit status 1)",
  "  --format FORMAT        text (default), json (= --json), or mermaid: the mesh as a Mermaid flowchart",
  "                         (groups as boxes, one edge per peering with its direction, policies and ports,",
  "                         NAT'd nodes and routed networks marked) to paste into markdown as a ```mermaid block",
  "  --enforce              Plan with enforcement \"nftables\" (as `wgmesh deploy --enforce`): policies are",
  "                         direction-aware and port-restricted, and policy tests are judged so",
  "  --password-file FILE   The state file is encrypted (wgmesh -encrypt); FILE holds the password",
  STATE_READ_HELP,
  "",
].join("\n");

export const planCommand: Command = {
  name: "plan",
  summary: "Validate a wgmesh state file and print every node's planned WireGuard state",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: { json: { type: "boolean" }, format: { type: "string" }, enforce: { type: "boolean" }, "password-file": { type: "string" }, ...STATE_READ_OPTIONS },
      });
    } catch (e) {
      throw new UsageError(String((e as Error).message).replace(/\. To specify.*$/, ""), true);
    }
    if (parsed.positionals.length !== 1) throw new UsageError("plan needs exactly one state file", true);
    const format = parsed.values.format ?? (parsed.values.json === true ? "json" : "text");
    if (!["text", "json", "mermaid"].includes(format)) throw new UsageError(`--format ${JSON.stringify(format)}: use text, json or mermaid`, true);
    if (parsed.values.json === true && format !== "json") throw new UsageError(`--json and --format ${format} contradict each other; give one`, true);
    const json = format === "json";
    const file = parsed.positionals[0] as string;

    const fail = (errors: string[], warnings: string[]): number => {
      for (const m of errors) io.stderr.write(`error: ${m}\n`);
      for (const m of warnings) io.stderr.write(`warning: ${m}\n`);
      if (json) io.stdout.write(`${JSON.stringify({ errors, warnings }, null, 2)}\n`);
      return 1;
    };

    let input;
    let readWarnings: string[];
    try {
      ({ input, warnings: readWarnings } = await readMeshInput(file, parsed.values["password-file"], io, stateReadOptions(parsed.values)));
    } catch (e) {
      if (e instanceof StateInputError) return fail(e.problems, []);
      throw e;
    }
    if (parsed.values.enforce === true) input = { ...input, enforcement: "nftables" as const };
    const result = compileMesh(input);
    const warnings = [...readWarnings, ...messages(result.warnings)];
    if (!result.ok) return fail(messages(result.errors), warnings);

    if (json) {
      io.stdout.write(`${JSON.stringify(planToJson(result.plan, warnings), null, 2)}\n`);
    } else if (format === "mermaid") {
      io.stdout.write(meshDiagram(result.mesh));
    } else {
      io.stdout.write(planToText(result.mesh, result.plan, warnings));
    }
    for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
    return 0;
  },
};
