/**
 * The Go wgmesh tool's `mesh-state.json` (centralized mode), read into the mesh model and written back.
 * Field names are snake_case; maps are keyed by hostname / group name. Private keys are secrets: no
 * message here ever contains one (JSON syntax errors report only a position, never a snippet).
 * Pure (text in, text out).
 */
import { MESH_DEFAULTS, type Mesh, type MeshInput, type NodeInput } from "./model";
import { closestWord } from "./names";

export interface StateFileNode {
  hostname: string;
  mesh_ip: string;
  public_key: string;
  private_key?: string;
  ssh_host: string;
  ssh_port: number;
  public_endpoint?: string;
  listen_port: number;
  behind_nat: boolean;
  routable_networks?: string[];
  is_local: boolean;
  actual_hostname?: string;
  fqdn?: string;
}

export interface StateFileGroup {
  description?: string;
  members: string[];
}

export interface StateFilePolicy {
  name: string;
  description?: string;
  from_groups: string[];
  to_groups: string[];
  allow_mesh_ips: boolean;
  allow_routable_networks: boolean;
  /** Beyond the Go tool (which ignores it): "tcp/5432", "udp/53", "tcp/8000-8100", "icmp"; absent = all. */
  ports?: string[];
}

/** Beyond the Go tool (which ignores it): a policy test, see core/model.ts PolicyTestInput. */
export interface StateFilePolicyTest {
  from: string;
  to: string;
  port: string;
  expect: string;
}

export interface StateFile {
  interface_name: string;
  network: string;
  listen_port: number;
  nodes: Record<string, StateFileNode>;
  local_hostname: string;
  groups?: Record<string, StateFileGroup>;
  access_policies?: StateFilePolicy[];
  policy_tests?: StateFilePolicyTest[];
}

/** The keys this reader knows, per object kind (the Go tool's, plus `ports` and `policy_tests`). */
export const STATE_FILE_KEYS = {
  root: ["interface_name", "network", "listen_port", "nodes", "local_hostname", "groups", "access_policies", "policy_tests"],
  node: ["hostname", "mesh_ip", "public_key", "private_key", "ssh_host", "ssh_port", "public_endpoint", "listen_port", "behind_nat", "routable_networks", "is_local", "actual_hostname", "fqdn"],
  group: ["description", "members"],
  policy: ["name", "description", "from_groups", "to_groups", "allow_mesh_ips", "allow_routable_networks", "ports"],
  policyTest: ["from", "to", "port", "expect"],
} as const;

/** A key the reader does not know (the Go tool silently ignores such keys). */
export interface UnknownStateKey {
  /** Where: "state file", `node "web1"`, `group "web"`, `access_policies[0] ("x")`, `policy_tests[1]`. */
  where: string;
  key: string;
  /** The closest known key at that place, when it plausibly is a typo. */
  suggestion: string | null;
  /** At the top level, looks like access control (group*, polic*, acl*, access*). */
  accessControlLike: boolean;
  message: string;
}

const ACCESS_LIKE = /group|polic|acl|access/i;

/** A state file with what the reader noticed beyond errors. */
export interface StateFileReading {
  state: StateFile;
  unknownKeys: UnknownStateKey[];
  /** groups/access_policies present (even empty): the file speaks about access control. */
  hasAccessControlSection: boolean;
}

/**
 * The "no silent full mesh" rule: a top-level key that looks like access control while the file has no
 * recognised access-control section would plan a FULL MESH (the Go tool does so without a word).
 */
export function accessControlTypos(reading: StateFileReading): UnknownStateKey[] {
  if (reading.hasAccessControlSection) return [];
  return reading.unknownKeys.filter((u) => u.accessControlLike);
}

/** A state file that cannot be read; `problems` lists every one found. */
export class StateFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "StateFileError";
  }
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parse JSON without ever echoing the text (it holds private keys). */
function parseJsonQuietly(text: string): Json {
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec(String((e as Error).message));
    throw new StateFileError([`the state file is not valid JSON${m ? ` (syntax error at character ${m[1]})` : ""}; if it is encrypted, give the password (--password-file)`]);
  }
}

/**
 * Read and type-check a state file's JSON text. Missing optional fields take Go's zero values.
 * Throws StateFileError listing every problem.
 */
export function parseStateFile(text: string): StateFile {
  return readStateFile(text).state;
}

/** `parseStateFile` plus the unknown keys found (each with the closest known key). */
export function readStateFile(text: string): StateFileReading {
  const root = parseJsonQuietly(text);
  const problems: string[] = [];
  if (!isObject(root)) throw new StateFileError(["the state file must be a JSON object"]);
  const unknownKeys: UnknownStateKey[] = [];
  const noteUnknown = (o: Record<string, Json>, known: readonly string[], where: string, top = false): void => {
    for (const key of Object.keys(o)) {
      if (known.includes(key)) continue;
      const suggestion = closestWord(key, known);
      const accessControlLike = top && ACCESS_LIKE.test(key);
      unknownKeys.push({
        where, key, suggestion, accessControlLike,
        message: `${where}: unknown key ${JSON.stringify(key)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ""}; it is ignored`,
      });
    }
  };
  noteUnknown(root, STATE_FILE_KEYS.root, "state file", true);

  const str = (o: Record<string, Json>, k: string, where: string, required = false): string => {
    const v = o[k];
    if (v === undefined || v === null) {
      if (required) problems.push(`${where}: field "${k}" is missing`);
      return "";
    }
    if (typeof v !== "string") { problems.push(`${where}: field "${k}" must be a string`); return ""; }
    return v;
  };
  const num = (o: Record<string, Json>, k: string, where: string): number => {
    const v = o[k];
    if (v === undefined || v === null) return 0;
    if (typeof v !== "number" || !Number.isInteger(v)) { problems.push(`${where}: field "${k}" must be an integer`); return 0; }
    return v;
  };
  const bool = (o: Record<string, Json>, k: string, where: string): boolean => {
    const v = o[k];
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") { problems.push(`${where}: field "${k}" must be true or false`); return false; }
    return v;
  };
  const strs = (o: Record<string, Json>, k: string, where: string): string[] => {
    const v = o[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) { problems.push(`${where}: field "${k}" must be a list of strings`); return []; }
    return v as string[];
  };

  const state: StateFile = {
    interface_name: str(root, "interface_name", "state file"),
    network: str(root, "network", "state file"),
    listen_port: num(root, "listen_port", "state file"),
    nodes: {},
    local_hostname: str(root, "local_hostname", "state file"),
  };

  const nodes = root["nodes"];
  if (nodes !== undefined && nodes !== null && !isObject(nodes)) problems.push(`state file: field "nodes" must be an object keyed by hostname`);
  for (const [key, raw] of Object.entries(isObject(nodes) ? nodes : {})) {
    const where = `node ${JSON.stringify(key)}`;
    if (!isObject(raw)) { problems.push(`${where}: must be an object`); continue; }
    noteUnknown(raw, STATE_FILE_KEYS.node, where);
    const node: StateFileNode = {
      hostname: str(raw, "hostname", where) || key,
      mesh_ip: str(raw, "mesh_ip", where),
      public_key: str(raw, "public_key", where),
      ssh_host: str(raw, "ssh_host", where),
      ssh_port: num(raw, "ssh_port", where),
      listen_port: num(raw, "listen_port", where),
      behind_nat: bool(raw, "behind_nat", where),
      is_local: bool(raw, "is_local", where),
    };
    const priv = str(raw, "private_key", where);
    if (priv) node.private_key = priv;
    const endpoint = str(raw, "public_endpoint", where);
    if (endpoint) node.public_endpoint = endpoint;
    const routable = strs(raw, "routable_networks", where);
    if (routable.length) node.routable_networks = routable;
    const actual = str(raw, "actual_hostname", where);
    if (actual) node.actual_hostname = actual;
    const fqdn = str(raw, "fqdn", where);
    if (fqdn) node.fqdn = fqdn;
    if (node.hostname !== key) problems.push(`${where}: its "hostname" is ${JSON.stringify(node.hostname)}; the key in "nodes" and the hostname must be the same`);
    state.nodes[key] = node;
  }

  const groups = root["groups"];
  if (groups !== undefined && groups !== null) {
    if (!isObject(groups)) problems.push(`state file: field "groups" must be an object keyed by group name`);
    else {
      state.groups = {};
      for (const [name, raw] of Object.entries(groups)) {
        const where = `group ${JSON.stringify(name)}`;
        if (!isObject(raw)) { problems.push(`${where}: must be an object`); continue; }
        noteUnknown(raw, STATE_FILE_KEYS.group, where);
        const g: StateFileGroup = { members: strs(raw, "members", where) };
        const d = str(raw, "description", where);
        if (d) g.description = d;
        state.groups[name] = g;
      }
    }
  }

  const policies = root["access_policies"];
  if (policies !== undefined && policies !== null) {
    if (!Array.isArray(policies)) problems.push(`state file: field "access_policies" must be a list`);
    else {
      state.access_policies = [];
      policies.forEach((raw, i) => {
        const where = `access_policies[${i}]${isObject(raw) && typeof raw["name"] === "string" ? ` (${JSON.stringify(raw["name"])})` : ""}`;
        if (!isObject(raw)) { problems.push(`${where}: must be an object`); return; }
        noteUnknown(raw, STATE_FILE_KEYS.policy, where);
        const p: StateFilePolicy = {
          name: str(raw, "name", where),
          from_groups: strs(raw, "from_groups", where),
          to_groups: strs(raw, "to_groups", where),
          allow_mesh_ips: bool(raw, "allow_mesh_ips", where),
          allow_routable_networks: bool(raw, "allow_routable_networks", where),
        };
        const d = str(raw, "description", where);
        if (d) p.description = d;
        if (raw["ports"] !== undefined && raw["ports"] !== null) p.ports = strs(raw, "ports", where);
        state.access_policies?.push(p);
      });
    }
  }

  const tests = root["policy_tests"];
  if (tests !== undefined && tests !== null) {
    if (!Array.isArray(tests)) problems.push(`state file: field "policy_tests" must be a list of {"from", "to", "port", "expect"}`);
    else {
      state.policy_tests = [];
      tests.forEach((raw, i) => {
        const where = `policy_tests[${i}]`;
        if (!isObject(raw)) { problems.push(`${where}: must be an object {"from", "to", "port", "expect"}`); return; }
        noteUnknown(raw, STATE_FILE_KEYS.policyTest, where);
        state.policy_tests?.push({ from: str(raw, "from", where, true), to: str(raw, "to", where, true), port: str(raw, "port", where, true), expect: str(raw, "expect", where, true) });
      });
    }
  }

  if (problems.length) throw new StateFileError(problems);
  const present = (k: string) => root[k] !== undefined && root[k] !== null;
  return { state, unknownKeys, hasAccessControlSection: present("groups") || present("access_policies") };
}

/**
 * The mesh model of a state file. Go zero values mean "unset": empty interface/network → defaults,
 * port 0 → default, empty mesh_ip → allocate, empty strings → absent. Policies keep Go's defaults
 * (a missing allow_* flag is false).
 */
export function stateToMeshInput(state: StateFile): MeshInput {
  const nodes: NodeInput[] = Object.values(state.nodes).map((n) => ({
    hostname: n.hostname,
    meshIp: n.mesh_ip || null,
    sshHost: n.ssh_host,
    sshPort: n.ssh_port || MESH_DEFAULTS.sshPort,
    listenPort: n.listen_port || null,
    publicEndpoint: n.public_endpoint || null,
    behindNat: n.behind_nat,
    routableNetworks: n.routable_networks ?? [],
    publicKey: n.public_key || null,
    privateKey: n.private_key || null,
  }));
  return {
    interfaceName: state.interface_name || MESH_DEFAULTS.interfaceName,
    network: state.network || MESH_DEFAULTS.network,
    listenPort: state.listen_port || MESH_DEFAULTS.listenPort,
    nodes,
    groups: Object.entries(state.groups ?? {}).map(([name, g]) => ({ name, description: g.description ?? "", members: g.members })),
    policies: (state.access_policies ?? []).map((p) => ({
      name: p.name,
      description: p.description ?? "",
      fromGroups: p.from_groups,
      toGroups: p.to_groups,
      allowMeshIps: p.allow_mesh_ips,
      allowRoutableNetworks: p.allow_routable_networks,
      ...(p.ports !== undefined ? { ports: [...p.ports] } : {}),
    })),
    // The Go tool has no firewall: a state file's mesh is not enforced unless asked (`--enforce`).
    enforcement: "none",
    policyTests: (state.policy_tests ?? []).map((t) => ({ from: t.from, to: t.to, port: t.port, expect: t.expect as "allow" | "deny" })),
  };
}

/**
 * A state file for a mesh (normalised, mesh IPs assigned). Fields the model does not carry (local_hostname,
 * is_local, actual_hostname, fqdn) are taken from `base` when given. Maps are written in key order.
 */
export function meshToState(mesh: Mesh, base?: StateFile): StateFile {
  const nodes: Record<string, StateFileNode> = {};
  for (const n of [...mesh.nodes].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0))) {
    const old = base?.nodes[n.hostname];
    const out: StateFileNode = {
      hostname: n.hostname,
      mesh_ip: n.meshIp ?? "",
      public_key: n.publicKey ?? "",
      ssh_host: n.sshHost,
      ssh_port: n.sshPort,
      listen_port: n.listenPort ?? mesh.listenPort,
      behind_nat: n.behindNat,
      is_local: old?.is_local ?? false,
    };
    if (n.privateKey) out.private_key = n.privateKey;
    if (n.publicEndpoint) out.public_endpoint = n.publicEndpoint;
    if (n.routableNetworks.length) out.routable_networks = [...n.routableNetworks];
    if (old?.actual_hostname) out.actual_hostname = old.actual_hostname;
    if (old?.fqdn) out.fqdn = old.fqdn;
    nodes[n.hostname] = out;
  }
  const state: StateFile = {
    interface_name: mesh.interfaceName,
    network: mesh.network,
    listen_port: mesh.listenPort,
    nodes,
    local_hostname: base?.local_hostname ?? "",
  };
  if (mesh.groups.length) {
    state.groups = {};
    for (const g of [...mesh.groups].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      state.groups[g.name] = { ...(g.description ? { description: g.description } : {}), members: [...g.members] };
    }
  }
  if (mesh.policies.length) {
    state.access_policies = mesh.policies.map((p) => ({
      name: p.name,
      ...(p.description ? { description: p.description } : {}),
      from_groups: [...p.fromGroups],
      to_groups: [...p.toGroups],
      allow_mesh_ips: p.allowMeshIps,
      allow_routable_networks: p.allowRoutableNetworks,
      ...(p.ports !== null ? { ports: [...p.ports] } : {}),
    }));
  }
  if (mesh.policyTests.length) state.policy_tests = mesh.policyTests.map((t) => ({ from: t.from, to: t.to, port: t.port, expect: t.expect }));
  return state;
}

const NODE_FIELDS = STATE_FILE_KEYS.node as readonly (keyof StateFileNode)[];

/** The file text as Go writes it: 2-space indented JSON, fields in Go's struct order. */
export function formatStateFile(state: StateFile): string {
  const nodes: Record<string, Record<string, unknown>> = {};
  for (const [k, n] of Object.entries(state.nodes)) {
    const o: Record<string, unknown> = {};
    for (const f of NODE_FIELDS) if (n[f] !== undefined) o[f] = n[f];
    nodes[k] = o;
  }
  const out: Record<string, unknown> = {
    interface_name: state.interface_name,
    network: state.network,
    listen_port: state.listen_port,
    nodes,
    local_hostname: state.local_hostname,
  };
  if (state.groups && Object.keys(state.groups).length) out["groups"] = state.groups;
  if (state.access_policies && state.access_policies.length) out["access_policies"] = state.access_policies;
  if (state.policy_tests && state.policy_tests.length) out["policy_tests"] = state.policy_tests;
  return JSON.stringify(out, null, 2);
}
