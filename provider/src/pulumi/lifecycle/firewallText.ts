/**
 * A NodeConfig's `firewall` as Pulumi carries it: the plan (planner/firewall.ts) with each named set as ONE
 * string, one element per line in the plan's (sorted) order —
 *
 *   { table: "inet wgmesh_wg0", sets: { src_web: "10.99.0.3\n10.99.0.7\n" }, rules: { "input web-to-app …": "ip saddr @src_web …" } }
 *
 * Why (issue 12, like the peers in peerLines.ts): Pulumi's cost is per property value, and a set is a list of
 * every member address of a group — in a policy-segmented mesh of 100 nodes in 5 groups ≈ 40 values per node,
 * the largest part of a NodeConfig's inputs by value count. One string per set costs one value; a preview
 * still shows exactly the members added or removed (a multi-line string changes as a line diff). The rules
 * stay a map of strings (one value each, a handful per node). Sets as arrays (older states and programs) are
 * still accepted: both decode to the same plan, so an upgrade changes nothing on the hosts.
 */
import type { FirewallPlan } from "../../core/desired";
import { UNKNOWN_FIELD } from "./peerLines";
import { UNKNOWN } from "./types";

/** The firewall as Pulumi carries it: sets as text (or, from older states, as lists). */
export interface FirewallWire {
  table: string;
  sets: Record<string, string | string[]>;
  rules: Record<string, string>;
}

const encodedSets = new WeakMap<object, Record<string, string>>();

function setText(elements: readonly string[]): string {
  let out = "";
  for (const e of elements) {
    const t = (e as unknown) === UNKNOWN ? UNKNOWN_FIELD : e;
    if (!/^\S+$/.test(t)) throw new Error(`firewall set element ${JSON.stringify(t)} cannot be written as a line`);
    out += t + "\n";
  }
  return out;
}

/** The wire form of a plan (an absent or unknown firewall, or sets already text, pass through). */
export function firewallText<T extends FirewallPlan | FirewallWire | null | undefined>(fw: T): T | FirewallWire {
  if (fw === null || fw === undefined || (fw as unknown) === UNKNOWN || (fw.sets as unknown) === UNKNOWN) return fw;
  // Nodes with the same firewall share one plan object (planner/firewall.ts): encode it once.
  let sets = encodedSets.get(fw.sets);
  if (!sets) {
    sets = {};
    for (const [name, v] of Object.entries(fw.sets)) sets[name] = typeof v === "string" || (v as unknown) === UNKNOWN ? (v as string) : setText(v);
    encodedSets.set(fw.sets, sets);
  }
  return { table: fw.table, sets, rules: fw.rules };
}

/** The plan of a wire form (sets as lists again; "(unknown)" lines → unknown elements). */
export function firewallPlanOf<T extends FirewallPlan | FirewallWire | null | undefined>(fw: T): T | FirewallPlan {
  if (fw === null || fw === undefined || (fw as unknown) === UNKNOWN || (fw.sets as unknown) === UNKNOWN || typeof fw.sets !== "object") return fw;
  if (!Object.values(fw.sets).some((v) => typeof v === "string")) return fw;
  const sets: Record<string, string[]> = {};
  for (const [name, v] of Object.entries(fw.sets)) {
    sets[name] = typeof v === "string" ? v.split("\n").map((l) => l.trim()).filter((l) => l !== "").map((l) => (l === UNKNOWN_FIELD ? (UNKNOWN as unknown as string) : l)) : v;
  }
  return { ...fw, sets } as FirewallPlan;
}
