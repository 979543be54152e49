/**
 * Validation of a normalised mesh: every problem at once, each naming the culprit (node, group, policy,
 * value), the field, and a fix. Errors reject the mesh (nothing is planned); warnings are shown.
 * Secrets (private keys) never appear in a message. Pure.
 */
import { cidrRange, ipv4Range, ipv4ToInt, isNetworkCidr, canonicalCidr, parseCidr } from "./cidr";
import { isValidKey, publicKeyFromPrivate } from "./keys";
import { nodeEndpoint, type Mesh, type MeshNode } from "./model";
import { isDnsLabel, isHost, isInterfaceName, isPort, isPrintableName, parseEndpoint, q } from "./names";
import { buildPeerRelations } from "./policy";
import { parsePortSpec, parseProbePort, PORT_SYNTAX } from "./ports";

export type Severity = "error" | "warning";

/** One validation finding. `message` is complete and self-contained (culprit, field, fix). */
export interface Finding {
  severity: Severity;
  /** Stable machine-readable code, e.g. "mesh-ip-outside-network". */
  code: string;
  /** What the finding is about. */
  subject: { kind: "mesh" | "node" | "group" | "policy" | "policyTest"; name?: string };
  /** The offending field (model field name, e.g. "meshIp"). */
  field?: string;
  message: string;
}

export interface ValidationResult {
  errors: Finding[];
  warnings: Finding[];
}

export interface ValidateOptions {
  /**
   * Check that each node's privateKey (when given together with publicKey) matches it. One X25519
   * operation per such node (~2 ms); default true.
   */
  checkKeyPairs?: boolean;
}

/** Messages only, for front doors that print. */
export function messages(findings: readonly Finding[]): string[] {
  return findings.map((f) => f.message);
}

const FIX_CIDR = "write it as address/prefix with the host bits cleared, e.g. \"192.168.50.0/24\"";

export function validateMesh(mesh: Mesh, options: ValidateOptions = {}): ValidationResult {
  const checkKeyPairs = options.checkKeyPairs ?? true;
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const err = (code: string, subject: Finding["subject"], field: string | undefined, message: string) =>
    errors.push({ severity: "error", code, subject, ...(field ? { field } : {}), message });
  const warn = (code: string, subject: Finding["subject"], field: string | undefined, message: string) =>
    warnings.push({ severity: "warning", code, subject, ...(field ? { field } : {}), message });
  const M = { kind: "mesh" as const };

  // ---- mesh-wide settings
  if (!isInterfaceName(mesh.interfaceName)) {
    err("interface-name", M, "interfaceName", `mesh: interfaceName ${q(mesh.interfaceName)} is not a valid interface name; use 1–15 characters of letters, digits, '_', '=', '+', '.', '-' (e.g. "wg0")`);
  }
  let net: { first: number; last: number; prefix: number } | null = null;
  try {
    const [addr] = parseCidr(mesh.network);
    if (addr.kind() !== "ipv4") {
      err("network-not-ipv4", M, "network", `mesh: network ${q(mesh.network)} is not an IPv4 network; use an IPv4 CIDR such as "10.99.0.0/16"`);
    } else if (!isNetworkCidr(mesh.network)) {
      err("network-host-bits", M, "network", `mesh: network ${q(mesh.network)} has host bits set; use ${q(canonicalCidr(mesh.network))}`);
    } else {
      const r = ipv4Range(mesh.network);
      if (r.prefix > 30) err("network-too-small", M, "network", `mesh: network ${q(mesh.network)} has no room for nodes; use a prefix of /30 or shorter (e.g. "10.99.0.0/16")`);
      else net = r;
    }
  } catch {
    err("network-invalid", M, "network", `mesh: network ${q(mesh.network)} is not a valid CIDR; use an IPv4 CIDR such as "10.99.0.0/16"`);
  }
  if (!isPort(mesh.listenPort)) {
    err("port-out-of-range", M, "listenPort", `mesh: listenPort ${q(mesh.listenPort)} is out of range; use an integer port 1–65535 (default 51820)`);
  }
  if (!(Number.isInteger(mesh.persistentKeepalive) && mesh.persistentKeepalive >= 0 && mesh.persistentKeepalive <= 65535)) {
    err("keepalive-out-of-range", M, "persistentKeepalive", `mesh: persistentKeepalive ${q(mesh.persistentKeepalive)} is out of range; use seconds 0–65535 (0 = off, default 25)`);
  }
  if (mesh.mtu !== null && !(Number.isInteger(mesh.mtu) && mesh.mtu >= 576 && mesh.mtu <= 65535)) {
    err("mtu-out-of-range", M, "mtu", `mesh: mtu ${q(mesh.mtu)} is out of range; use an integer 576–65535 (e.g. 1420) or leave it unset`);
  }

  // ---- nodes
  const byLowerHostname = new Map<string, string>();
  const hostnames = new Set<string>();
  const meshIps = new Map<number, string>();
  const publicKeys = new Map<string, string>();
  interface NetEntry { node: string; cidr: string; family: 4 | 6; first: bigint; last: bigint }
  const nets: NetEntry[] = [];
  const meshRange = net ? { first: BigInt(net.first), last: BigInt(net.last) } : null;

  mesh.nodes.forEach((node, i) => {
    const who = isDnsLabel(node.hostname) ? `node ${q(node.hostname)}` : `node #${i + 1} (${q(node.hostname)})`;
    const S = { kind: "node" as const, name: String(node.hostname) };

    if (!isDnsLabel(node.hostname)) {
      err("hostname-invalid", S, "hostname", `${who}: hostname ${q(node.hostname)} is not a valid DNS label; use 1–63 letters, digits and inner hyphens (e.g. "web1")`);
    } else {
      const lower = node.hostname.toLowerCase();
      const first = byLowerHostname.get(lower);
      if (first !== undefined) {
        err("hostname-duplicate", S, "hostname", `${who}: duplicate hostname (also declared as ${q(first)}; hostnames are case-insensitive); give every node a unique hostname`);
      } else {
        byLowerHostname.set(lower, node.hostname);
      }
      hostnames.add(node.hostname);
    }

    if (node.meshIp !== null) {
      let ip: number | null = null;
      try { ip = ipv4ToInt(node.meshIp); } catch {
        err("mesh-ip-invalid", S, "meshIp", `${who}: meshIp ${q(node.meshIp)} is not a valid IPv4 address; give a dotted-quad address inside ${mesh.network} or omit meshIp to allocate one`);
      }
      if (ip !== null && net) {
        if (ip < net.first || ip > net.last) {
          err("mesh-ip-outside-network", S, "meshIp", `${who}: meshIp ${q(node.meshIp)} is outside the mesh network ${mesh.network}; pick an address inside it or omit meshIp to allocate one`);
        } else if (ip === net.first) {
          err("mesh-ip-network-address", S, "meshIp", `${who}: meshIp ${q(node.meshIp)} is the network address of ${mesh.network}; pick a host address or omit meshIp to allocate one`);
        } else if (ip === net.last) {
          err("mesh-ip-broadcast-address", S, "meshIp", `${who}: meshIp ${q(node.meshIp)} is the broadcast address of ${mesh.network}; pick a host address or omit meshIp to allocate one`);
        } else {
          const other = meshIps.get(ip);
          if (other !== undefined) {
            err("mesh-ip-duplicate", S, "meshIp", `${who}: meshIp ${q(node.meshIp)} is already used by node ${q(other)}; give each node its own address or omit meshIp to allocate one`);
          } else {
            meshIps.set(ip, String(node.hostname));
          }
        }
      }
    }

    if (typeof node.sshHost !== "string" || node.sshHost === "") {
      err("ssh-host-missing", S, "sshHost", `${who}: sshHost is missing; give the address or DNS name the node is reached at over SSH`);
    } else if (!isHost(node.sshHost)) {
      err("ssh-host-invalid", S, "sshHost", `${who}: sshHost ${q(node.sshHost)} is neither an IP address nor a DNS name; give e.g. "203.0.113.10" or "web1.example.com"`);
    }
    if (!isPort(node.sshPort)) {
      err("port-out-of-range", S, "sshPort", `${who}: sshPort ${q(node.sshPort)} is out of range; use an integer port 1–65535 (default 22)`);
    }
    if (node.listenPort !== null && !isPort(node.listenPort)) {
      err("port-out-of-range", S, "listenPort", `${who}: listenPort ${q(node.listenPort)} is out of range; use an integer port 1–65535 or leave it unset for the mesh's ${mesh.listenPort}`);
    }
    if (node.publicEndpoint !== null && parseEndpoint(node.publicEndpoint) === null) {
      err("endpoint-invalid", S, "publicEndpoint", `${who}: publicEndpoint ${q(node.publicEndpoint)} is not host:port; give e.g. "198.51.100.3:51820" or "[2001:db8::1]:51820" (port 1–65535)`);
    }
    if (typeof node.behindNat !== "boolean") {
      err("type", S, "behindNat", `${who}: behindNat ${q(node.behindNat)} must be true or false`);
    }

    // keys
    let publicOk = false;
    if (node.publicKey === null) {
      err("public-key-missing", S, "publicKey", `${who}: no publicKey (and no privateKey to derive it from); set publicKey, e.g. from 'wgmesh genkey | wgmesh pubkey'`);
    } else if (!isValidKey(node.publicKey)) {
      err("public-key-invalid", S, "publicKey", `${who}: publicKey ${q(node.publicKey)} is not a valid WireGuard key; use the 44-character base64 output of 'wg pubkey'`);
    } else {
      publicOk = true;
      const other = publicKeys.get(node.publicKey);
      if (other !== undefined) {
        err("public-key-duplicate", S, "publicKey", `${who}: publicKey is the same as node ${q(other)}'s; every node needs its own key pair ('wgmesh genkey')`);
      } else {
        publicKeys.set(node.publicKey, String(node.hostname));
      }
    }
    if (node.privateKey !== null) {
      if (!isValidKey(node.privateKey)) {
        err("private-key-invalid", S, "privateKey", `${who}: privateKey is not a valid WireGuard key (value not shown); use the 44-character base64 output of 'wg genkey'`);
      } else if (checkKeyPairs && publicOk && publicKeyFromPrivate(node.privateKey) !== node.publicKey) {
        err("key-pair-mismatch", S, "publicKey", `${who}: publicKey does not belong to privateKey; remove publicKey to derive it, or set the matching pair`);
      }
    }

    // routable networks
    if (!Array.isArray(node.routableNetworks)) {
      err("type", S, "routableNetworks", `${who}: routableNetworks must be a list of CIDRs`);
      return;
    }
    for (const cidr of node.routableNetworks) {
      let range: ReturnType<typeof cidrRange>;
      try {
        parseCidr(cidr);
        range = cidrRange(cidr);
      } catch {
        err("cidr-invalid", S, "routableNetworks", `${who}: routableNetworks entry ${q(cidr)} is not a valid CIDR; ${FIX_CIDR}`);
        continue;
      }
      if (range.first === 0n && range.last === (range.family === 4 ? 0xffffffffn : (1n << 128n) - 1n)) {
        err("cidr-default-route", S, "routableNetworks", `${who}: routableNetworks entry ${q(cidr)} is the whole address space (a default route would hijack every peer's traffic); list the specific networks behind the node`);
        continue;
      }
      if (!isNetworkCidr(cidr)) {
        err("cidr-host-bits", S, "routableNetworks", `${who}: routableNetworks entry ${q(cidr)} has host bits set; use ${q(canonicalCidr(cidr))}`);
        continue;
      }
      if (meshRange && range.family === 4 && range.first <= meshRange.last && meshRange.first <= range.last) {
        err("cidr-overlaps-mesh", S, "routableNetworks", `${who}: routableNetworks entry ${q(cidr)} overlaps the mesh network ${mesh.network}; remove it or choose a mesh network that does not collide`);
        continue;
      }
      nets.push({ node: String(node.hostname), cidr, ...range });
    }
  });

  // Overlaps between routable networks (any two nodes, or twice on one node): sort and sweep.
  nets.sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0) || (a.last > b.last ? -1 : a.last < b.last ? 1 : 0));
  let reach: NetEntry | null = null;
  for (const e of nets) {
    if (reach && reach.family === e.family && e.first <= reach.last) {
      const S = { kind: "node" as const, name: e.node };
      if (reach.node === e.node) {
        err("cidr-overlap", S, "routableNetworks", `node ${q(e.node)}: routableNetworks entry ${q(e.cidr)} overlaps its own entry ${q(reach.cidr)}; keep only one of them`);
      } else {
        err("cidr-overlap", S, "routableNetworks", `node ${q(e.node)}: routableNetworks entry ${q(e.cidr)} overlaps ${q(reach.cidr)} of node ${q(reach.node)}; a network can sit behind only one node — remove or narrow one of them`);
      }
    }
    if (!reach || reach.family !== e.family || e.last > reach.last) reach = e;
  }

  // ---- groups
  const groupNames = new Set<string>();
  for (const [i, g] of mesh.groups.entries()) {
    const ok = isPrintableName(g.name);
    const who = ok ? `group ${q(g.name)}` : `group #${i + 1}`;
    const S = { kind: "group" as const, name: String(g.name) };
    if (!ok) {
      err("group-name-invalid", S, "name", `${who}: name ${q(g.name)} is empty or has control characters; give the group a printable name`);
    } else if (groupNames.has(g.name)) {
      err("group-duplicate", S, "name", `${who}: duplicate group name; merge the two groups or rename one`);
    } else {
      groupNames.add(g.name);
    }
    if (!Array.isArray(g.members)) {
      err("type", S, "members", `${who}: members must be a list of node hostnames`);
      continue;
    }
    const seen = new Set<string>();
    for (const m of g.members) {
      if (seen.has(m)) {
        err("group-member-duplicate", S, "members", `${who}: member ${q(m)} is listed more than once in members; list each node once`);
        continue;
      }
      seen.add(m);
      if (!hostnames.has(m)) {
        err("group-member-unknown", S, "members", `${who}: member ${q(m)} in members is not a node of the mesh; add the node or remove it from members`);
      }
    }
  }

  // ---- policies
  const policyNames = new Set<string>();
  for (const [i, p] of mesh.policies.entries()) {
    const ok = isPrintableName(p.name);
    const who = ok ? `policy ${q(p.name)}` : `policy #${i + 1}`;
    const S = { kind: "policy" as const, name: String(p.name) };
    if (!ok) {
      err("policy-name-invalid", S, "name", `${who}: name ${q(p.name)} is empty or has control characters; give the policy a printable, unique name`);
    } else if (policyNames.has(p.name)) {
      err("policy-duplicate", S, "name", `${who}: duplicate policy name; give every policy a unique name`);
    } else {
      policyNames.add(p.name);
    }
    for (const field of ["fromGroups", "toGroups"] as const) {
      const list = p[field];
      if (!Array.isArray(list) || list.length === 0) {
        err("policy-groups-empty", S, field, `${who}: ${field} is empty; name at least one group`);
        continue;
      }
      for (const g of list) {
        if (!groupNames.has(g)) {
          err("policy-group-unknown", S, field, `${who}: ${field} names unknown group ${q(g)}; define the group or fix the name`);
        }
      }
    }
    for (const field of ["allowMeshIps", "allowRoutableNetworks"] as const) {
      if (typeof p[field] !== "boolean") err("type", S, field, `${who}: ${field} ${q(p[field])} must be true or false`);
    }
    if (p.ports !== null && p.ports !== undefined) {
      if (!Array.isArray(p.ports)) {
        err("type", S, "ports", `${who}: ports must be a list such as ["tcp/5432", "icmp"]`);
      } else if (p.ports.length === 0) {
        err("policy-ports-empty", S, "ports", `${who}: ports is an empty list (it would allow nothing); omit ports to allow every protocol and port, or list some: ${PORT_SYNTAX}`);
      } else {
        const seen = new Set<string>();
        for (const port of p.ports) {
          const r = parsePortSpec(port);
          if (!r.ok) err("policy-port-invalid", S, "ports", `${who}: ports entry ${q(port)} ${r.why}`);
          else if (seen.has(port)) err("policy-port-duplicate", S, "ports", `${who}: ports entry ${q(port)} is listed twice; list it once`);
          seen.add(port);
        }
        if (!Array.isArray(p.fromGroups) || p.fromGroups.length === 0) {
          err("policy-ports-without-from", S, "ports", `${who}: ports ${q(p.ports)} are given but fromGroups is empty, so they would apply to no source; name the groups that may connect in fromGroups (or remove ports)`);
        }
      }
    }
  }

  // ---- enforcement and policy tests
  if (mesh.enforcement !== "nftables" && mesh.enforcement !== "none") {
    err("enforcement-invalid", M, "enforcement", `mesh: enforcement ${q(mesh.enforcement)} is not known; use "nftables" (policies enforced by a host firewall) or "none"`);
  }
  for (const [i, t] of (Array.isArray(mesh.policyTests) ? mesh.policyTests : []).entries()) {
    const who = `policy test #${i + 1}${t && typeof t === "object" ? ` (${t.from} → ${t.to} ${t.port})` : ""}`;
    const S = { kind: "policyTest" as const, name: String(i) };
    if (!t || typeof t !== "object") { err("type", S, "policyTests", `${who}: must be an object {from, to, port, expect}`); continue; }
    for (const field of ["from", "to"] as const) {
      if (!hostnames.has(t[field])) err("policy-test-node-unknown", S, "policyTests", `${who}: ${field} ${q(t[field])} is not a node of the mesh; name a node's hostname`);
    }
    const pr = parseProbePort(t.port);
    if (!pr.ok) err("policy-test-port-invalid", S, "policyTests", `${who}: port ${q(t.port)} ${pr.why}`);
    if (t.expect !== "allow" && t.expect !== "deny") err("policy-test-expect-invalid", S, "policyTests", `${who}: expect ${q(t.expect)} must be "allow" or "deny"`);
  }

  // ---- warnings
  if (mesh.groups.length > 0) {
    if (mesh.policies.length === 0) {
      warn("groups-without-policies", M, "policies", "groups are defined but no access policies: access control denies everything, so no node gets any peer; add a policy with fromGroups/toGroups");
    }
    const grouped = new Set<string>();
    for (const g of mesh.groups) if (Array.isArray(g.members)) for (const m of g.members) grouped.add(m);
    for (const node of mesh.nodes) {
      if (!grouped.has(node.hostname)) {
        warn("node-in-no-group", { kind: "node", name: String(node.hostname) }, "hostname", `node ${q(node.hostname)} is in no group: with access control on it gets no peers; add it to a group's members`);
      }
    }
  }
  if (mesh.enforcement === "nftables") {
    for (const p of mesh.policies) {
      if (p.allowMeshIps === false && p.allowRoutableNetworks === false) {
        warn("policy-allows-nothing", { kind: "policy", name: String(p.name) }, "allowMeshIps", `policy ${q(p.name)}: allowMeshIps and allowRoutableNetworks are both false, so with enforcement "nftables" it lets no connection through (its members are still WireGuard peers); set one of them or remove the policy`);
      }
    }
  }
  natPairWarnings(mesh, warn);

  return { errors, warnings };
}

/** Two peered nodes both behind NAT, neither with an endpoint, cannot reach each other directly. */
function natPairWarnings(
  mesh: Mesh,
  warn: (code: string, subject: Finding["subject"], field: string | undefined, message: string) => void,
): void {
  const unreachable = (n: MeshNode) => n.behindNat === true && nodeEndpoint(mesh, n) === null;
  if (mesh.nodes.filter(unreachable).length < 2) return;
  const rel = buildPeerRelations(mesh);
  rel.nodes.forEach((x, i) => {
    if (!unreachable(x)) return;
    for (const j of rel.peersOf(i)) {
      const y = rel.nodes[j] as MeshNode;
      if (j > i && unreachable(y) && y.hostname !== x.hostname) {
        warn("nat-pair-unreachable", { kind: "node", name: x.hostname }, "behindNat",
          `nodes ${q(x.hostname)} and ${q(y.hostname)} are peers but both behind NAT with no endpoint: they cannot connect directly; give one of them a publicEndpoint (e.g. a forwarded port)`);
      }
    }
  });
}
