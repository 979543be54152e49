// Per-host cgroups for the containers (see CgroupPlan), and their removal.
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "./proc";

/**
 * Every host gets cgroups of its own, below a "wgmesh-testbed" group under the caller's cgroup, in the
 * controller-less trees systemd manages: name=systemd (cgroup v1/hybrid) and the unified cgroup2 tree
 * (which nspawn hands to the container even when the machine does not mount it). Without this, nspawn puts
 * every container into the same "payload" group of the caller's cgroup, and the systemds of different hosts
 * race for the same unit paths ("Failed to attach to cgroup …", randomly failed units at boot).
 * No controller (cpu, memory, …) membership is changed, so no resource limit of the caller is escaped.
 */
export interface CgroupPlan {
  /** cgroup directories reachable under /sys/fs/cgroup */
  dirs: string[];
  /** path of the host's group inside the cgroup2 tree when the machine does not mount it (mounted briefly) */
  v2rel?: string;
}

const CG_BASE = "wgmesh-testbed";

function ownCgroup(kind: "name=systemd" | "unified"): string | undefined {
  for (const l of fs.readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    if (kind === "unified" && l.startsWith("0::")) return l.slice(3);
    if (kind === "name=systemd" && l.includes(":name=systemd:")) return l.split(":")[2];
  }
  return undefined;
}

export function cgroupPlan(host: string): CgroupPlan {
  const unified = ownCgroup("unified");
  if (fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) {
    return { dirs: unified === undefined ? [] : [path.join("/sys/fs/cgroup", unified, CG_BASE, host)] };
  }
  const plan: CgroupPlan = { dirs: [] };
  const named = ownCgroup("name=systemd");
  if (named !== undefined && fs.existsSync("/sys/fs/cgroup/systemd/cgroup.procs")) {
    plan.dirs.push(path.join("/sys/fs/cgroup/systemd", named, CG_BASE, host));
  }
  if (unified !== undefined) {
    if (fs.existsSync("/sys/fs/cgroup/unified/cgroup.procs")) plan.dirs.push(path.join("/sys/fs/cgroup/unified", unified, CG_BASE, host));
    else if (/\bcgroup2\b/.test(fs.readFileSync("/proc/filesystems", "utf8"))) plan.v2rel = path.join(unified, CG_BASE, host);
  }
  return plan;
}

/** Runs fn with the cgroup2 tree mounted at a private temporary directory. */
export async function withCgroup2<T>(fn: (root: string) => T): Promise<T> {
  const mnt = `/run/wgmesh-testbed-cg2-${process.pid}`;
  fs.mkdirSync(mnt, { recursive: true });
  await run(["mount", "-t", "cgroup2", "none", mnt]);
  try {
    return fn(mnt);
  } finally {
    await run(["umount", mnt], { check: false });
    fs.rmdirSync(mnt);
  }
}

/** Removes a cgroup directory tree (children first); cgroups with live processes stay. */
export function removeCgroup(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) removeCgroup(path.join(dir, e.name));
  }
  try {
    fs.rmdirSync(dir);
  } catch {
    /* still populated: reported by the caller's leftover check */
  }
}

/** Host cgroups named `<prefix>-…` that exist (this process's base), plus the recorded plans. */
export async function findHostCgroups(prefix: string, plans: CgroupPlan[]): Promise<string[]> {
  const found = new Set<string>();
  const probe = cgroupPlan(`${prefix}-x`);
  const scan = (dir: string, shown: string) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir)) if (e.startsWith(`${prefix}-`)) found.add(path.join(shown, e));
  };
  for (const d of [...probe.dirs, ...plans.flatMap((p) => p.dirs)]) scan(path.dirname(d), path.dirname(d));
  const v2 = [probe.v2rel, ...plans.map((p) => p.v2rel)].filter((x): x is string => !!x);
  if (v2.length) {
    await withCgroup2((root) => {
      for (const rel of v2) scan(path.join(root, path.dirname(rel)), `cgroup2:${path.dirname(rel)}`);
    });
  }
  return [...found].sort();
}

/** Removes the cgroups of the hosts of a testbed (after their processes are gone). */
export async function removeHostCgroups(prefix: string, plans: CgroupPlan[]): Promise<void> {
  const list = await findHostCgroups(prefix, plans);
  const direct = list.filter((x) => !x.startsWith("cgroup2:"));
  for (const d of direct) removeCgroup(d);
  const v2 = list.filter((x) => x.startsWith("cgroup2:")).map((x) => x.slice("cgroup2:".length));
  if (v2.length) await withCgroup2((root) => v2.forEach((rel) => removeCgroup(path.join(root, rel))));
  // the shared base group goes too once no testbed uses it
  const probe = cgroupPlan(`${prefix}-x`);
  for (const d of probe.dirs) rmdirQuiet(path.dirname(d));
  if (probe.v2rel && v2.length) await withCgroup2((root) => rmdirQuiet(path.join(root, path.dirname(probe.v2rel!))));
}

function rmdirQuiet(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* in use by another testbed, or gone */
  }
}

