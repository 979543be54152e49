/**
 * Keys that live only on the host: create `/etc/wireguard/<if>.key` there (with `wg genkey`, installing
 * WireGuard first when missing) unless it exists, and return ONLY its public key. One connection, one read
 * and (when something is missing) one change round trip.
 */
import { shellCommand, shellQuote } from "../planner/shell";
import { connectOptions, hostLogger, readHost, runSteps, DEFAULT_SCRIPT_TIMEOUT_MS } from "./apply";
import { EngineError, installPlan } from "./install";
import { hostPaths } from "./paths";
import { connect, type Connection } from "./ssh/connection";
import { newCounters, type HostCounters } from "./ssh/counters";
import { silentLogger } from "./ssh/log";
import type { EngineOptions, Step } from "./types";

export interface HostKeyResult {
  publicKey: string;
  /** Whether the key was created now. */
  created: boolean;
  counters: HostCounters;
}

/**
 * Ensure the host has its own WireGuard key; resolve to its public key (the private key never leaves).
 * With `rotate`, a new key replaces the one there (issue 16): made with `wg genkey` into a 0600 temp file
 * beside it and renamed over it, so the old key is gone from the disk in one step; the running interface
 * keeps the old key until its next apply (`wg set <if> private-key <file>`, done with the peers' updates).
 */
export async function provisionHostKey(node: string, connection: Connection, opts: EngineOptions & { interfaceName?: string; rotate?: boolean } = {}): Promise<HostKeyResult> {
  const ifname = opts.interfaceName ?? "wg0";
  const p = hostPaths(ifname);
  const log = hostLogger(opts.logger ?? silentLogger, node);
  const counters = newCounters();
  const session = await connect(connection, connectOptions(opts, log, counters));
  try {
    const before = await readHost(session, ifname, node);
    if (before.facts.uid !== 0) throw new EngineError(`node ${node}: the host script did not run as root. Fix: connect as root or as a user with passwordless sudo`);
    if (before.probe.key.exists && before.probe.key.publicKey && !opts.rotate) return { publicKey: before.probe.key.publicKey, created: false, counters };
    const steps: Step[] = [];
    const install = installPlan(node, before.facts);
    if (install) steps.push({ kind: "install", description: `install ${install.packages.join(", ")}`, script: install.script });
    // A new key in a 0600 temp file beside the key file, renamed over it (removed again on any failure).
    const make = `(umask 077; tmp=$(mktemp ${shellQuote(`${p.key}.XXXXXX`)}) && { wg genkey > "$tmp" && chown 0:0 "$tmp" && mv -f "$tmp" ${shellQuote(p.key)}; } || { rm -f "$tmp"; exit 1; })`;
    steps.push({
      kind: "write-conf",
      description: `${opts.rotate ? "replace" : "create"} ${p.key}`,
      script: [
        `mkdir -p /etc/wireguard && chmod 700 /etc/wireguard`,
        opts.rotate ? make : `if [ ! -s ${shellQuote(p.key)} ]; then ${make}; fi`,
        shellCommand("chmod", "600", p.key),
      ].join("\n"),
    });
    const after = await runSteps(session, node, ifname, steps, opts.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS, `create key ${ifname}`);
    const pub = after.probe.key.publicKey;
    if (!pub) throw new EngineError(`node ${node}: ${p.key} was created but its public key cannot be read (is wg installed?)`);
    if (opts.rotate && before.probe.key.publicKey === pub) throw new EngineError(`node ${node}: ${p.key} still has the old key after the rotation`);
    log("info", `${opts.rotate ? "replaced" : "created"} ${p.key}`);
    return { publicKey: pub, created: true, counters };
  } finally {
    await session.close();
  }
}
