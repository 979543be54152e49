// Finding and removing everything of a testbed by its run prefix (also after a killed run), and listing
// what exists on this machine.
import * as fs from "node:fs";
import { CgroupPlan, findHostCgroups, removeHostCgroups } from "./cgroups";
import { containerInit, findNspawn, stopContainer } from "./container";
import { mountsUnder, unmountAll } from "./mounts";
import { machineVeth, nsBelongsTo, NS_PREFIX, runName, stateDir, STATE_DIR } from "./naming";
import { deleteNs, guardExists, guardTable, listNamespaces, removeGuard } from "./network";
import { log, parallel, run } from "./proc";
import { readState, TestbedState } from "./state";

function plansOf(state: TestbedState | undefined): CgroupPlan[] {
  return (state?.hosts ?? []).flatMap((h) => (h.cgroup && Array.isArray(h.cgroup.dirs) ? [h.cgroup] : []));
}

/** Everything that exists for a prefix (namespaces, nspawn processes, mounts, machine veth, state dir). */
export async function leftovers(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const ns of listNamespaces()) if (nsBelongsTo(ns, prefix)) out.push(`netns ${ns}`);
  for (const p of findNspawn((m) => m.startsWith(`${prefix}-`))) out.push(`process ${p.pid} systemd-nspawn -M ${p.machine}`);
  for (const m of mountsUnder(stateDir(prefix))) out.push(`mount ${m}`);
  if (fs.existsSync(`/sys/class/net/${machineVeth(prefix)}`)) out.push(`link ${machineVeth(prefix)}`);
  if (fs.existsSync(stateDir(prefix))) out.push(`dir ${stateDir(prefix)}`);
  if (await guardExists(prefix)) out.push(`nft table inet ${guardTable(prefix)}`);
  for (const cg of await findHostCgroups(prefix, plansOf(readState(prefix)))) out.push(`cgroup ${cg}`);
  return out;
}

/** Removes every container, namespace, link, mount and file of the testbed `prefix`. Idempotent. */
export async function down(name = "tb"): Promise<void> {
  const prefix = runName(name);
  const t0 = Date.now();
  const state = readState(prefix);
  const procs = findNspawn((m) => m.startsWith(`${prefix}-`));
  const namespaces = listNamespaces().filter((ns) => nsBelongsTo(ns, prefix));
  if (procs.length) log(`stopping ${procs.length} host(s) of '${prefix}'`);
  await Promise.all(
    procs.map(async (p) => {
      const t = Date.now();
      await stopContainer(p.pid, `${NS_PREFIX}${p.machine}`, 10_000);
      if (Date.now() - t > 5000) log(`host ${p.machine} took ${((Date.now() - t) / 1000).toFixed(1)} s to stop`);
    }),
  );
  if (procs.length) log(`hosts stopped after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // Anything left in our namespaces (e.g. after nspawn itself was killed) is killed by pid.
  await parallel(namespaces, 8, async (ns) => {
    await stopContainer(undefined, ns);
    await deleteNs(ns);
  });
  await run(["ip", "link", "del", machineVeth(prefix)], { check: false });
  await removeGuard(prefix);
  await removeHostCgroups(prefix, plansOf(state));
  await unmountAll(stateDir(prefix));
  if (mountsUnder(stateDir(prefix)).length === 0) fs.rmSync(stateDir(prefix), { recursive: true, force: true });
  const left = await leftovers(prefix);
  log(`down '${prefix}' took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (left.length) throw new Error(`down '${prefix}': could not remove: ${left.join("; ")}`);
}

/** Every testbed prefix that has something on this machine. */
export function listTestbeds(): string[] {
  const names = new Set<string>();
  if (fs.existsSync(STATE_DIR)) for (const d of fs.readdirSync(STATE_DIR)) names.add(d);
  for (const ns of listNamespaces()) {
    const m = new RegExp(`^${NS_PREFIX}([a-z][a-z0-9]*)-`).exec(ns);
    if (m) names.add(m[1]);
  }
  for (const p of findNspawn(() => true)) {
    const m = /^([a-z][a-z0-9]*)-[hn]\d+$/.exec(p.machine);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

export interface StatusEntry {
  name: string;
  subnet?: string;
  hosts: Array<{ name: string; address: string; sshPort: number; behindNat: boolean; running: boolean }>;
  leftovers: string[];
}

export async function status(): Promise<StatusEntry[]> {
  const out: StatusEntry[] = [];
  for (const name of listTestbeds()) {
    const s = readState(name);
    const hosts = [];
    for (const h of s?.hosts ?? []) {
      const running = (await containerInit(h.ns)) !== undefined;
      hosts.push({ name: h.name, address: h.address, sshPort: h.sshPort, behindNat: h.behindNat, running });
    }
    out.push({ name, subnet: s?.subnet, hosts, leftovers: s ? [] : await leftovers(name) });
  }
  return out;
}

