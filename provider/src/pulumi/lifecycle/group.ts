/**
 * Group and Policy: validated declarations with no host side. Their own checks (names, duplicate members,
 * empty group lists) run here with the core's messages; references between them and to nodes are checked
 * by the Mesh, which sees them all.
 */
import { normalizeMesh } from "../../core/model";
import { validateMesh } from "../../core/validate";
import { compact, diffProps, withoutUnknowns } from "./common";
import type { CheckFailure, Lifecycle } from "./types";

export interface GroupInputs {
  name: string;
  description?: string | null;
  /** Hostnames of the member nodes. */
  members: string[];
}

export interface PolicyInputs {
  name: string;
  description?: string | null;
  fromGroups: string[];
  toGroups: string[];
  allowMeshIps?: boolean | null;
  allowRoutableNetworks?: boolean | null;
  /** "tcp/5432", "udp/53", "tcp/8000-8100", "icmp"; absent = all. */
  ports?: string[] | null;
}

export function checkGroup(news: GroupInputs): CheckFailure[] {
  const g = withoutUnknowns(news);
  const mesh = normalizeMesh({ nodes: [], groups: [{ name: g.name, description: g.description, members: (g.members ?? []).filter((m) => m !== null) }] });
  return validateMesh(mesh).errors
    .filter((f) => f.subject.kind === "group" && f.code !== "group-member-unknown")
    .map((f) => ({ property: f.field ?? "members", reason: f.message }));
}

export function checkPolicy(news: PolicyInputs): CheckFailure[] {
  const p = withoutUnknowns(news);
  const mesh = normalizeMesh({
    nodes: [],
    policies: [{ name: p.name, description: p.description, fromGroups: p.fromGroups ?? [], toGroups: p.toGroups ?? [], allowMeshIps: p.allowMeshIps, allowRoutableNetworks: p.allowRoutableNetworks, ports: p.ports?.filter((x) => x !== null) }],
  });
  return validateMesh(mesh).errors
    .filter((f) => f.subject.kind === "policy" && f.code !== "policy-group-unknown")
    .map((f) => ({ property: f.field ?? "fromGroups", reason: f.message }));
}

function plain<T extends object>(inputs: T): T {
  return compact({ ...inputs });
}

export const groupLifecycle: Lifecycle<GroupInputs, GroupInputs> = {
  async check(_olds, news) {
    return { inputs: news, failures: checkGroup(news) };
  },
  async diff(_id, olds, news) {
    return diffProps(olds as never, news as never, ["name", "description", "members"], ["name"]);
  },
  async create(inputs) {
    return { id: inputs.name, outs: plain(inputs) };
  },
  async read(id, props) {
    return { id, props };
  },
  async update(_id, _olds, news) {
    return { outs: plain(news) };
  },
  async delete() {},
  preview(_olds, news) {
    return plain(news);
  },
};

export const policyLifecycle: Lifecycle<PolicyInputs, PolicyInputs> = {
  async check(_olds, news) {
    return { inputs: news, failures: checkPolicy(news) };
  },
  async diff(_id, olds, news) {
    return diffProps(olds as never, news as never, ["name", "description", "fromGroups", "toGroups", "allowMeshIps", "allowRoutableNetworks", "ports"], ["name"]);
  },
  async create(inputs) {
    return { id: inputs.name, outs: plain(inputs) };
  },
  async read(id, props) {
    return { id, props };
  },
  async update(_id, _olds, news) {
    return { outs: plain(news) };
  },
  async delete() {},
  preview(_olds, news) {
    return plain(news);
  },
};
