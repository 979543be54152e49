/**
 * Converge one host: ONE SSH connection, at most two exec round trips (three when the health gate rolls back) —
 *   (1) read: facts + engine probe (read-only);
 *   (2) only when something differs: the batched change script, which ends with a fresh read so that the
 *       result is verified without a third round trip.
 * A host that already matches runs nothing but the read. Never throws: failures become a "failed" result.
 */
import { diff } from "../planner/diff";
import { confDigest } from "../planner/wgquick";
import { detectNat } from "./facts";
import { EngineError } from "./install";
import { planHostChanges, renderConf, describeOperation, type ChangePlan } from "./changes";
import { parseReading, readScript, type HostReading } from "./probe";
import { runScript } from "./script";
import { applyGated, unchangedHealth } from "./gated";
import { connect, type ConnectOptions } from "./ssh/connection";
import { newCounters, type HostCounters } from "./ssh/counters";
import { silentLogger, type Logger } from "./ssh/log";
import type { SshSession } from "./ssh/session";
import type { EngineOptions, HostResult, HostTarget } from "./types";
import { firewallDifferences } from "./firewall";
import { pskDiffOptions } from "./psk";
import { switchesKey, type KeySwitchSync } from "./rendezvous";

export const DEFAULT_SCRIPT_TIMEOUT_MS = 10 * 60 * 1000;

/** A logger that prefixes every message with the node name. */
export function hostLogger(logger: Logger, node: string): Logger {
  return (level, message) => logger(level, `[${node}] ${message}`);
}

export function connectOptions(opts: EngineOptions, logger: Logger, counters: HostCounters): ConnectOptions {
  return { ...opts.ssh, knownHostsPath: opts.knownHostsPath, trustOnFirstUse: opts.trustOnFirstUse, logger, counters };
}

/** Run the read-only script: one exec round trip. */
export async function readHost(session: SshSession, ifname: string, node: string): Promise<HostReading> {
  const r = await session.run(readScript(ifname), { label: `read ${ifname}` });
  try {
    return parseReading(r.stdout, ifname);
  } catch (e) {
    throw new EngineError(`node ${node}: cannot read the host's state: ${(e as Error).message} (exit ${r.exitCode}; stderr: ${r.stderr.trim().slice(-400)})`);
  }
}

/** Remaining differences after an apply (empty when converged), from the verification read. */
export function remainingDifferences(target: HostTarget, after: HostReading): string[] {
  const left = diff(target.desired, after.facts.live, pskDiffOptions(target.presharedKey)).map(describeOperation);
  const conf = renderConf(target.desired, target.key, target.presharedKey);
  if (after.facts.conf.sha256 !== confDigest(conf)) left.push("wg-quick file content");
  if (after.facts.unit.enabled !== "enabled") left.push(`unit not enabled (${after.facts.unit.enabled ?? "unknown"})`);
  left.push(...firewallDifferences(target.desired, after));
  return left;
}

/** Run a change script; returns the verification reading; throws EngineError naming the failed step (engine/script.ts). */
export async function runSteps(...args: Parameters<typeof runScript>): Promise<HostReading> {
  return (await runScript(...args)).reading;
}

export function emptyResult(node: string, dryRun: boolean): HostResult {
  return {
    node, status: "failed", operations: 0, steps: [], plannedOperations: [], installed: [],
    sshConnections: 0, execRoundTrips: 0, dialAttempts: 0, durationMs: 0, natDetected: null, dryRun,
  };
}

/**
 * The frame every per-host job shares (apply, teardown): connect, run `body` on the open session, turn any
 * failure into a "failed" result naming the error, close the connection, record counters and duration.
 * Never throws.
 */
export async function runHostJob(
  node: string,
  connection: HostTarget["connection"],
  opts: EngineOptions,
  purpose: string,
  body: (session: SshSession, result: HostResult, log: Logger) => Promise<void>,
): Promise<HostResult> {
  const started = Date.now();
  const log = hostLogger(opts.logger ?? silentLogger, node);
  const counters = newCounters();
  const result = emptyResult(node, opts.dryRun === true);
  let session: SshSession | null = null;
  try {
    log("info", `connecting to ${connection.user ?? "root"}@${connection.host}:${connection.port ?? 22}${purpose ? ` (${purpose})` : ""}`);
    session = await connect(connection, connectOptions(opts, log, counters));
    await body(session, result, log);
  } catch (e) {
    result.status = "failed";
    result.error = e instanceof Error ? e.message : String(e);
    log("error", `failed: ${result.error}`);
  } finally {
    if (session) await session.close();
    result.sshConnections = counters.sshConnections;
    result.execRoundTrips = counters.execRoundTrips;
    result.dialAttempts = counters.dialAttempts;
    result.durationMs = Date.now() - started;
  }
  return result;
}

/**
 * Converge one host (or, dry run, report what would change). Never throws. `sync`: the deploy's key-switch
 * rendezvous (rendezvous.ts) — a change that switches a key waits there for the other hosts to have planned.
 */
export async function applyHost(target: HostTarget, opts: EngineOptions = {}, sync?: KeySwitchSync): Promise<HostResult> {
  const ifname = target.desired.interface.name;
  sync?.start();
  let arrived = false;
  const result = await runHostJob(target.node, target.connection, opts, "", async (session, result, log) => {
    const before = await readHost(session, ifname, target.node);
    try {
      result.natDetected = await detectNat(session.info.reachedAddress, before.facts.hostAddresses);
    } catch {
      result.natDetected = null;
    }
    if (target.behindNat !== undefined && result.natDetected !== null && result.natDetected !== target.behindNat) {
      log("warn", result.natDetected
        ? `the SSH target ${session.info.reachedAddress} is not one of the host's own addresses: it looks behind NAT, but the node is not marked behindNat (peers will dial its sshHost; set behindNat or publicEndpoint if they cannot)`
        : `the node is marked behindNat, but the SSH target ${session.info.reachedAddress} is one of the host's own addresses`);
    }
    const plan: ChangePlan = planHostChanges({ node: target.node, desired: target.desired, key: target.key, presharedKey: target.presharedKey, reading: before });
    result.steps = plan.steps.map((s) => s.description);
    result.plannedOperations = plan.operations;
    result.installed = plan.installed;
    result.operations = plan.steps.length;
    /** Peers of the key switch whose own jobs had not started when this host switched (rendezvous.ts). */
    let notSwitchedYet: string[] = [];
    if (sync) {
      const live = new Set((before.facts.live?.peers ?? []).map((p) => p.publicKey));
      const desired = new Set(target.desired.peers.map((p) => p.publicKey));
      const switching = !result.dryRun && plan.steps.length > 0 && switchesKey(plan.operations, live, desired);
      arrived = true;
      if (switching) log("info", "the change switches a key: waiting for the other hosts to be ready, so that all switch at once");
      const w = await sync.planned(switching);
      notSwitchedYet = w.notStarted ?? [];
      const without = notSwitchedYet.join(", ");
      if (switching) log(w.timedOut || without ? "warn" : "info", w.timedOut
        ? `waited ${(w.waitedMs / 1000).toFixed(1)} s for the other hosts to be ready; switching without them (their tunnels to this host are down until they apply)`
        : without
          ? `switching after ${(w.waitedMs / 1000).toFixed(1)} s without ${without}, whose updates have not started (fewer parallel operations than hosts switching: raise pulumi's --parallel); their tunnels to this host are down until they apply`
          : `all ${w.hosts} host(s) ready after ${(w.waitedMs / 1000).toFixed(1)} s: switching`);
    }
    if (plan.steps.length === 0) {
      result.status = "unchanged";
      result.health = unchangedHealth(target, before);
      log("info", "unchanged");
    } else if (result.dryRun) {
      result.status = "changed";
      log("info", `dry run: ${plan.steps.length} operation(s) would be applied`);
      for (const s of result.steps) log("info", `  would: ${s}`);
    } else {
      if (plan.installed.length) log("info", `installing ${plan.installed.join(", ")}`);
      // Snapshot, steps, health gate (and rollback when it fails): engine/gated.ts.
      const after = await applyGated(session, target, plan, before, result, log, opts.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS, notSwitchedYet);
      const left = remainingDifferences(target, after);
      if (left.length > 0) throw new EngineError(`node ${target.node}: applied ${plan.steps.length} operation(s) but the host still differs: ${left.join("; ")}`);
      result.status = "changed";
      log("info", `${plan.steps.length} operation(s) applied`);
    }
  });
  if (sync && !arrived) sync.abandoned();
  return result;
}

/** Read a host without changing anything (one connection, one round trip): its facts and NAT detection. */
export async function inspectHost(
  node: string,
  connection: HostTarget["connection"],
  opts: EngineOptions & { interfaceName?: string } = {},
): Promise<{ reading: HostReading; natDetected: boolean; reachedAddress: string; counters: HostCounters }> {
  const log = hostLogger(opts.logger ?? silentLogger, node);
  const counters = newCounters();
  const session = await connect(connection, connectOptions(opts, log, counters));
  try {
    const reading = await readHost(session, opts.interfaceName ?? "wg0", node);
    const natDetected = await detectNat(session.info.reachedAddress, reading.facts.hostAddresses);
    return { reading, natDetected, reachedAddress: session.info.reachedAddress, counters };
  } finally {
    await session.close();
  }
}
