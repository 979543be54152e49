/**
 * A safe apply on one host: the change script keeps the previous state (rollback.ts; none when the change
 * retires a key), runs the steps — firewall, conf, online operations and preshared keys — and waits for the
 * touched peers (gate.ts) before its verification read — still ONE round trip. The pure judge
 * (planner/health.ts) then decides; when a peer that was connected before the change shows no evidence,
 * the host is rolled back in one more round trip (firewall, conf, the live WireGuard state by `wg addconf`, addresses/MTU/routes, the
 * same peers waited for again, read back) and the apply fails naming the node, the peer and what changed.
 *
 * Round trips per host: unchanged 1 (read); changed 2 (read; change + gate + verify); rolled back 3.
 * The gate adds wall time, not round trips: at most `timeoutSeconds` (typically the time to the first
 * handshake or echo reply, ≈ 0–2 s on a LAN), and the rollback's re-check at most as much again.
 */
import {
  DEFAULT_HEALTH_CHECK,
  describeUnreachable,
  healthFromLive,
  judgeGate,
  planGate,
  type GateEvidence,
  type GatePlan,
  type HealthMode,
  type NodeHealth,
} from "../planner/health";
import { HANDSHAKE_AGAIN_NOTE } from "../planner/commands";
import type { ChangePlan } from "./changes";
import { gateScript, gateStartLine, parseGate } from "./gate";
import { EngineError } from "./install";
import { hostPaths } from "./paths";
import { readScript, type HostReading } from "./probe";
import { rollbackSteps, snapshotPrelude } from "./rollback";
import { runScript } from "./script";
import type { Logger } from "./ssh/log";
import type { SshSession } from "./ssh/session";
import type { HostResult, HostTarget } from "./types";

/** The secret values of a target (to scrub from evidence). */
export function targetSecrets(target: HostTarget): string[] {
  const psk = target.presharedKey;
  const psks = psk === undefined ? [] : typeof psk === "string" ? [psk] : Object.values(psk);
  return ["privateKey" in target.key ? target.key.privateKey : "", ...psks].filter((s) => s !== "");
}

function hostNow(r: HostReading): number {
  return r.probe.now ?? Math.floor(Date.now() / 1000);
}

function peerNames(target: HostTarget): Map<string, string> {
  return new Map(target.desired.peers.map((p) => [p.publicKey, p.hostname]));
}

/** A node's health from a read of its host (peers named by `names`: public key → hostname). */
export function healthOfReading(reading: HostReading, names: ReadonlyMap<string, string>, mode: HealthMode, gated?: ReadonlyMap<string, GateEvidence>): NodeHealth {
  return healthFromLive(reading.facts.live, names, hostNow(reading), mode, gated);
}

/** Health of a host that needed no change (from its read). */
export function unchangedHealth(target: HostTarget, reading: HostReading): NodeHealth {
  return healthOfReading(reading, peerNames(target), (target.healthCheck ?? DEFAULT_HEALTH_CHECK).mode);
}

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const peersText = (n: number) => `${n} peer${n === 1 ? "" : "s"}`;

/** The gate's wait followed by a fresh read (the health as it stands after the wait); empty without a gate. */
function gateAndRead(ifname: string, gate: Pick<GatePlan, "peers" | "check">): string {
  const wait = gateScript(ifname, gate);
  return wait === "" ? "" : wait + readScript(ifname);
}

/**
 * Apply `plan` (non-empty) behind the health gate. Returns the verification reading; fills `result.health`
 * (and `gateMs`, `rolledBack`, `rollbackMs`); throws EngineError when a step fails or the host was rolled back.
 */
export async function applyGated(
  session: SshSession,
  target: HostTarget,
  plan: ChangePlan,
  before: HostReading,
  result: HostResult,
  log: Logger,
  timeoutMs: number,
  notSwitchedYet: readonly string[] = [],
): Promise<HostReading> {
  const ifname = target.desired.interface.name;
  const check = target.healthCheck ?? DEFAULT_HEALTH_CHECK;
  const node = target.node;
  if (check.mode === "ping" && !before.probe.ping) {
    throw new EngineError(`node ${node}: healthCheck mode "ping" needs the ping command on the host, which is missing. Fix: install it (apt-get install iputils-ping) or use mode "handshake"`);
  }
  const planned = planGate(target.desired, before.facts.live, plan.operations, hostNow(before), check, before.probe.ping);
  // A peer whose key switch with this host has not been applied on its side yet (its update has not started:
  // rendezvous.ts) cannot answer until it is: the gate would only wait out its timeout for it.
  const later = new Set(notSwitchedYet);
  const skipped = planned.peers.filter((p) => p.keyChange && later.has(p.hostname));
  const gate = skipped.length ? { ...planned, peers: planned.peers.filter((p) => !(p.keyChange && later.has(p.hostname))) } : planned;
  if (skipped.length) log("info", `health gate: not waiting for ${skipped.map((p) => p.hostname).join(", ")}, whose side of the key switch is not applied yet`);
  if (!before.probe.ping && gate.peers.length) log("warn", "the host has no ping: the health gate can only watch for handshakes, not send probes, so it will not roll back (install iputils-ping)");
  const secrets = targetSecrets(target);
  if (gate.peers.length) log("info", `health gate (${check.mode}, ≤ ${check.timeoutSeconds} s): waiting for ${gate.peers.map((p) => p.hostname).join(", ")}`);
  const run = await runScript(session, node, ifname, plan.steps, timeoutMs, `apply ${ifname}`, {
    prelude: snapshotPrelude(ifname, gate.keepPrevious),
    afterVerify: gateAndRead(ifname, gate),
    secrets,
  });
  const after = run.reading;
  for (const line of run.stdout.split("\n")) if (line.startsWith(HANDSHAKE_AGAIN_NOTE)) log("info", line.slice("wgmesh: ".length));
  const outcome = parseGate(run.stdout);
  if (!outcome || !outcome.ran) {
    result.health = healthOfReading(run.final, peerNames(target), check.mode);
    if (gate.peers.length) log("warn", "health gate did not run on the host (wg missing?): peers not checked");
    return after;
  }
  result.gateMs = outcome.waitedMs;
  const verdict = judgeGate(gate, outcome, run.final.facts.live, hostNow(run.final), peerNames(target));
  result.health = verdict.health;
  if (gate.peers.length) log("info", `health gate: ${gate.peers.length - verdict.unreachable.length}/${gate.peers.length} peer(s) reachable after ${s1(outcome.waitedMs)}`);
  for (const p of verdict.unreachable.filter((x) => !x.rollbackOnFailure)) {
    const why = p.isNew ? "a new peer" : p.keyChange ? "a key change needs the peer's own apply too" : !p.healthyBefore ? "not connected before the change"
      : !gate.keepPrevious ? "the change retires a key, so no previous state is kept to return to" : "this host cannot send probes (no ping)";
    log("warn", `${describeUnreachable(p, gate)} — ${why}: reported, not rolled back`);
  }
  if (verdict.rollback.length === 0) return after;
  return rollback(session, target, gate, verdict.rollback, before, after, result, log, timeoutMs, secrets);
}

async function rollback(
  session: SshSession,
  target: HostTarget,
  gate: GatePlan,
  failed: GatePlan["peers"],
  before: HostReading,
  after: HostReading,
  result: HostResult,
  log: Logger,
  timeoutMs: number,
  secrets: string[],
): Promise<never> {
  const ifname = target.desired.interface.name;
  const node = target.node;
  const p = hostPaths(ifname);
  const lines = failed.map((x) => `  - ${describeUnreachable(x, gate)}`);
  log("warn", `the change made ${failed.map((x) => x.hostname).join(", ")} unreachable: rolling back`);
  const steps = rollbackSteps(ifname, before, after);
  const kept = [p.confPrev, p.livePrev, ...(steps.some((s) => s.description.includes(p.nftPrev)) ? [p.nftPrev] : [])].join(", ");
  const recheck: Pick<GatePlan, "peers" | "check"> = { check: gate.check, peers: failed };
  let rb;
  try {
    rb = await runScript(session, node, ifname, steps, timeoutMs, `rollback ${ifname}`, { prelude: gateStartLine(), afterVerify: gateAndRead(ifname, recheck), secrets });
  } catch (e) {
    throw new EngineError(`node ${node}: the change made ${peersText(failed.length)} unreachable:\n${lines.join("\n")}\n  and the rollback failed: ${(e as Error).message}\n  The previous state is on the host: ${kept} (wg-quick file, wg showconf${kept.includes(p.nftPrev) ? ", firewall" : ""}). Fix: restore it by hand (cp ${p.confPrev} ${p.conf}; wg syncconf ${ifname} ${p.livePrev}${kept.includes(p.nftPrev) ? `; cp ${p.nftPrev} ${p.nft}; nft -f ${p.nft}` : ""}) and correct the change`);
  }
  result.rolledBack = true;
  result.rollbackMs = rb.durationMs;
  const again = parseGate(rb.stdout);
  const evidence = new Map<string, GateEvidence>((again?.peers ?? []).map((e) => [e.publicKey, e]));
  result.health = healthOfReading(rb.final, peerNames(target), gate.check.mode, evidence);
  const back = failed.map((x) => {
    const e = evidence.get(x.publicKey);
    return e?.ok ? `${x.hostname} reachable again after ${s1(e.waitedMs)}` : `${x.hostname} still not answering (the cause may be outside this change)`;
  });
  log("warn", `rolled back in ${s1(rb.durationMs)}: ${back.join("; ")}`);
  throw new EngineError(
    `node ${node}: the change made ${peersText(failed.length)} unreachable and was rolled back on this host:\n${lines.join("\n")}\n` +
      `  rolled back to the previous state (${kept}) in ${s1(rb.durationMs)}: ${back.join("; ")}\n` +
      `  Fix: correct the change (the peer's endpoint or port, this node's listen port, key or address, a firewall between them), ` +
      `or set the mesh's healthCheck mode to "off" to apply it anyway`,
  );
}
