// Where the testbed keeps things and how it names them. Every name a testbed creates starts with its run
// prefix, so `down` can find all of it again after a killed run.
import * as path from "node:path";

/** Caches shared by all testbeds (rootfs, apt repository): outside the repository, survive reboots. */
export const CACHE_DIR = process.env.WGMESH_TESTBED_CACHE ?? "/var/cache/wgmesh-testbed";
/** Per-testbed state (overlay upper dirs, keys, known_hosts, state.json). */
export const STATE_DIR = process.env.WGMESH_TESTBED_STATE ?? "/var/lib/wgmesh-testbed";
/** Network namespaces are files here (`ip netns`). */
export const NETNS_DIR = "/run/netns";
/** Prefix of every network namespace the testbed creates. */
export const NS_PREFIX = "tbns-";
/** Where the local apt repository appears inside every host. */
export const REPO_MOUNT = "/srv/wgmesh-apt";

export const SUDO_USER = "tbadmin";
export const SUDO_UID = 1000;

const PREFIX_RE = /^[a-z][a-z0-9]{0,9}$/;

/** A run prefix: lower-case letters and digits, 1-10 chars, no '-' so that prefixes never nest. */
export function validatePrefix(name: string): string {
  if (!PREFIX_RE.test(name)) {
    throw new Error(
      `testbed name '${name}' is invalid: use 1-10 lower-case letters/digits starting with a letter (e.g. 'tb', 'e2e1')`,
    );
  }
  return name;
}

/**
 * The testbed name a run really uses: with WGMESH_TESTBED_PREFIX (e.g. "k") set, every name a test asks for
 * gets it in front ("ftier" → "kftier"), so a run beside others (helpers sharing the machine, each given its
 * own letter) never meets their testbeds. A name that already starts with it is kept (idempotent).
 */
export function runName(name: string): string {
  const p = process.env.WGMESH_TESTBED_PREFIX ?? "";
  return validatePrefix(p === "" || name.startsWith(p) ? name : `${p}${name}`);
}

export function stateDir(prefix: string): string {
  return path.join(STATE_DIR, prefix);
}

export function hostName(prefix: string, kind: "public" | "nat", index: number): string {
  return `${prefix}-${kind === "public" ? "h" : "n"}${index}`;
}

export function hostDir(prefix: string, host: string): string {
  return path.join(stateDir(prefix), "hosts", host);
}

/** Namespace names: tbns-<prefix>-br (segment bridge), tbns-<prefix>-rt (NAT router), tbns-<host> (a host). */
export function bridgeNs(prefix: string): string {
  return `${NS_PREFIX}${prefix}-br`;
}
export function routerNs(prefix: string): string {
  return `${NS_PREFIX}${prefix}-rt`;
}
export function hostNs(host: string): string {
  return `${NS_PREFIX}${host}`;
}
export function behindNs(host: string): string {
  return `${NS_PREFIX}${host}-lan`;
}
/** The veth end in the machine's own (root) namespace: at most 15 chars (prefix ≤ 10). */
export function machineVeth(prefix: string): string {
  return `tbm-${prefix}`;
}
/** Does a namespace belong to the testbed `prefix`? (prefixes contain no '-', so this cannot match another testbed) */
export function nsBelongsTo(ns: string, prefix: string): boolean {
  return ns.startsWith(`${NS_PREFIX}${prefix}-`);
}
