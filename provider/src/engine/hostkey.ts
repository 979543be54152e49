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

/** Ensure the host has its own WireGuard key; resolve to its public key (the private key never leaves). */
export async function provisionHostKey(node: string, connection: Connection, opts: EngineOptions & { interfaceName?: string } = {}): Promise<HostKeyResult> {
  const ifname = opts.interfaceName ?? "wg0";
  const p = hostPaths(ifname);
  const log = hostLogger(opts.logger ?? silentLogger, node);
  const counters = newCounters();
  const session = await connect(connection, connectOptions(opts, log, counters));
  try {
    const before = await readHost(session, ifname, node);
    if (before.facts.uid !== 0) throw new EngineError(`node ${node}: the host script did not run as root. Fix: connect as root or as a user with passwordless sudo`);
    if (before.probe.key.exists && before.probe.key.publicKey) return { publicKey: before.probe.key.publicKey, created: false, counters };
    const steps: Step[] = [];
    const install = installPlan(node, before.facts);
    if (install) steps.push({ kind: "install", description: `install ${install.packages.join(", ")}`, script: install.script });
    steps.push({
      kind: "write-conf",
      description: `create ${p.key}`,
      script: [
        `mkdir -p /etc/wireguard && chmod 700 /etc/wireguard`,
        `if [ ! -s ${shellQuote(p.key)} ]; then (umask 077; tmp=$(mktemp ${shellQuote(`${p.key}.XXXXXX`)}); wg genkey > "$tmp"; chown 0:0 "$tmp"; mv -f "$tmp" ${shellQuote(p.key)}); fi`,
        shellCommand("chmod", "600", p.key),
      ].join("\n"),
    });
    const after = await runSteps(session, node, ifname, steps, opts.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS, `create key ${ifname}`);
    const pub = after.probe.key.publicKey;
    if (!pub) throw new EngineError(`node ${node}: ${p.key} was created but its public key cannot be read (is wg installed?)`);
    log("info", `created ${p.key}`);
    return { publicKey: pub, created: true, counters };
  } finally {
    await session.close();
  }
}
