/**
 * The health gate's pure half: which peers an apply must prove reachable, how to judge what the host saw
 * while it waited, whether to roll back, and what to tell the user. No I/O: the engine runs the wait on the
 * host (engine/gate.ts) and hands the evidence in.
 *
 * Rules (README "When something goes wrong"):
 * - A peer is TOUCHED by an apply when it is new, when its own settings change (peer-set), or when the
 *   interface itself changes (private key, listen port, address, MTU, bring-up). Untouched peers are not
 *   waited for: their health is read, not proven.
 * - Every touched peer is GATED: after the change the host sends an echo request to the peer's mesh address
 *   every second, up to `timeoutSeconds`, and looks for evidence —
 *     handshake mode: a handshake newer than the change, or received bytes growing (an existing session
 *       carried traffic back: a reply, or the peer's passive keepalive ≤ 10 s after our data);
 *     ping mode: an echo reply.
 *   A peer behind NAT without an endpoint cannot be sent to: it is judged by its own traffic to us (its
 *   handshake or keepalive, every persistentKeepalive seconds — 25 by default — so give it a timeout above
 *   that when it matters).
 * - A gated peer that was HEALTHY BEFORE (a handshake within the last 180 s, WireGuard's session lifetime)
 *   and shows no evidence makes the apply fail and rolls the host back. Other gated peers without evidence
 *   (new ones, idle ones) are reported as unreachable, and the apply stands.
 * - A change of the pair's KEYS — this node's private key (a rotation), or the pair's preshared key set,
 *   changed or removed — needs both ends: the peer cannot answer until its own apply has the matching key
 *   (the same `up` applies it in parallel, or later). One end's silence then proves nothing about the change,
 *   and rolling that end back would break the pair once the other end has switched; such a peer is waited
 *   for and reported, never a reason to roll back.
 * - A change that RETIRES a secret the host holds (its private key, or a preshared key the host has for a
 *   peer, changed or removed) keeps no previous state on the host: the retired key must be nowhere (key rotation's
 *   "no leftovers"), so there is nothing to roll back to, and no peer of that apply rolls it back.
 */
import type { LivePeer, LiveState, NodeDesiredState, Operation } from "./types";
import { cidrContains } from "../core/cidr";

export type HealthMode = "handshake" | "ping" | "off";

export interface HealthCheck {
  mode: HealthMode;
  /** Bound of the wait after a change, in seconds. */
  timeoutSeconds: number;
}

export const DEFAULT_HEALTH_CHECK: Readonly<HealthCheck> = Object.freeze({ mode: "handshake", timeoutSeconds: 15 });
export const HEALTH_MODES: readonly HealthMode[] = ["handshake", "ping", "off"];
export const MAX_HEALTH_TIMEOUT_SECONDS = 600;
/** WireGuard's REJECT_AFTER_TIME: no session outlives it, so a handshake this recent means "connected". */
export const SESSION_SECONDS = 180;

/** Problems with a user's healthCheck value (empty when valid; `undefined`/null = the default). */
export function healthCheckProblems(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== "object" || Array.isArray(value)) return ['healthCheck must be an object like { mode: "handshake", timeoutSeconds: 15 }'];
  const v = value as Record<string, unknown>;
  const out: string[] = [];
  for (const k of Object.keys(v)) {
    if (k !== "mode" && k !== "timeoutSeconds") out.push(`healthCheck.${k} is not a setting (use mode and timeoutSeconds)`);
  }
  if (v.mode !== undefined && v.mode !== null && !HEALTH_MODES.includes(v.mode as HealthMode)) {
    out.push(`healthCheck.mode ${JSON.stringify(v.mode)} is not one of ${HEALTH_MODES.map((m) => JSON.stringify(m)).join(", ")}`);
  }
  const t = v.timeoutSeconds;
  if (t !== undefined && t !== null && !(typeof t === "number" && Number.isInteger(t) && t >= 1 && t <= MAX_HEALTH_TIMEOUT_SECONDS)) {
    out.push(`healthCheck.timeoutSeconds ${JSON.stringify(t)} must be a whole number of seconds from 1 to ${MAX_HEALTH_TIMEOUT_SECONDS} (default ${DEFAULT_HEALTH_CHECK.timeoutSeconds})`);
  }
  return out;
}

/** The effective setting (defaults filled in). Throws on an invalid value (see healthCheckProblems). */
export function resolveHealthCheck(value?: Partial<HealthCheck> | null): HealthCheck {
  const problems = healthCheckProblems(value);
  if (problems.length > 0) throw new Error(problems.join("; "));
  return {
    mode: value?.mode ?? DEFAULT_HEALTH_CHECK.mode,
    timeoutSeconds: value?.timeoutSeconds ?? DEFAULT_HEALTH_CHECK.timeoutSeconds,
  };
}

/**
 * A peer's state as reported:
 * - reachable / unreachable: it was gated by this apply and did / did not show evidence in time;
 * - connected: a handshake within the last 180 s (a live session);
 * - stale: an older handshake (idle, or gone);
 * - never: no handshake since the interface came up.
 */
export type PeerState = "reachable" | "unreachable" | "connected" | "stale" | "never";

export interface PeerHealth {
  publicKey: string;
  state: PeerState;
  /** Seconds since the latest handshake (null: never). */
  latestHandshakeAgeSeconds: number | null;
  rxBytes: number;
  txBytes: number;
  /** The endpoint WireGuard uses now (learned by roaming for a peer behind NAT), null when none. */
  endpoint: string | null;
  /** Gated peers: seconds from the start of the wait to the evidence (or to the timeout). */
  waitedSeconds?: number;
}

export interface NodeHealth {
  mode: HealthMode;
  /** When the host was read (its own clock), ISO 8601. */
  checkedAt: string;
  /** By peer hostname (a peer the plan does not know: "unknown-peer-<key prefix>"). */
  peers: Record<string, PeerHealth>;
}

export interface GatedPeer {
  hostname: string;
  publicKey: string;
  /** The address the gate sends echo requests to (the peer's mesh address), null when unknown. */
  probe: string | null;
  /** A handshake within SESSION_SECONDS before the apply. */
  healthyBefore: boolean;
  /** Not in the interface before the apply (or the interface is new). */
  isNew: boolean;
  /** What this apply changes for the peer itself (secret-free), e.g. "endpoint 10.0.0.2:51820 → 10.0.0.2:9999". */
  changes: string[];
  /** The change includes the pair's keys (own private key, the pair's PSK): judged only with the peer's own apply. */
  keyChange: boolean;
  /** No evidence rolls the host back (healthy before, touched, the host can probe, not a key change). */
  rollbackOnFailure: boolean;
}

export interface GatePlan {
  check: HealthCheck;
  peers: GatedPeer[];
  /** Interface-wide changes (they touch every peer), secret-free. */
  interfaceChanges: string[];
  /** The interface existed before the apply (a rollback has something to return to). */
  hadInterface: boolean;
  /** The host keeps its previous state for a rollback (false: the change retires a key, see retiresKeys). */
  keepPrevious: boolean;
}

/** A peer-set that changes nothing but the preshared key (set, changed or removed). */
function pskOnly(op: Extract<Operation, { kind: "peer-set" }>): boolean {
  return op.presharedKey !== undefined && op.endpoint === undefined && op.allowedIps === undefined && op.persistentKeepalive === undefined;
}

/**
 * The operations retire a secret the host holds (read as `before`): its private key (a rotation), or a
 * preshared key it has for a peer, changed or removed. A PSK given to a peer entry that had none (a new peer,
 * a rotated peer's new entry, PSKs switched on) retires nothing.
 */
export function retiresKeys(operations: readonly Operation[], before: LiveState): boolean {
  const hadPsk = new Set(before.peers.filter((p) => p.presharedKey).map((p) => p.publicKey));
  return operations.some((op) => op.kind === "private-key" || (op.kind === "peer-set" && op.presharedKey !== undefined && hadPsk.has(op.publicKey)));
}

/** The peer's mesh address: its /32 (/128) inside the node's own mesh prefix, else its first host route. */
export function probeAddress(allowedIps: readonly string[], ownAddress: string): string | null {
  const hosts = allowedIps.filter((c) => /\/(32|128)$/.test(c));
  const inMesh = hosts.find((c) => {
    try {
      return cidrContains(ownAddress, c);
    } catch {
      return false;
    }
  });
  const pick = inMesh ?? hosts[0];
  return pick === undefined ? null : pick.slice(0, pick.indexOf("/"));
}

function healthyAt(p: LivePeer | undefined, nowSeconds: number): boolean {
  return p !== undefined && p.latestHandshake > 0 && nowSeconds - p.latestHandshake <= SESSION_SECONDS;
}

/** Secret-free "what changes" of an interface-wide operation, with the value before when known. */
function interfaceChange(op: Operation, before: LiveState["interface"]): string | null {
  switch (op.kind) {
    case "private-key":
      return `private key (public key ${before?.publicKey ?? "none"} → ${op.publicKey ?? "?"})`;
    case "listen-port":
      return `listen port ${before?.listenPort ?? "?"} → ${op.port}`;
    case "address-set":
      return `address ${before?.addresses.join(", ") || "none"} → ${op.add}`;
    case "mtu":
      return `MTU ${before?.mtu ?? "auto"} → ${op.mtu}`;
    case "interface-up":
      return "interface brought up";
    default:
      return null;
  }
}

/** Secret-free "what changes" of a peer-set, with the values before. */
function peerChanges(op: Extract<Operation, { kind: "peer-set" }>, before: LivePeer | undefined): string[] {
  if (!before) return ["peer added"];
  const out: string[] = [];
  if (op.endpoint !== undefined) out.push(`endpoint ${before.endpoint ?? "none"} → ${op.endpoint}`);
  if (op.allowedIps !== undefined) out.push(`allowed IPs ${before.allowedIps.join(",") || "none"} → ${op.allowedIps.join(",")}`);
  if (op.persistentKeepalive !== undefined) out.push(`keepalive ${before.persistentKeepalive ?? "off"} → ${op.persistentKeepalive || "off"}`);
  if (op.presharedKey !== undefined) out.push(op.presharedKey ? "preshared key set" : "preshared key removed");
  return out;
}

/**
 * Which peers the gate waits for after `operations` are applied to the host read as `before`.
 * `canProbe` false (no `ping` on the host): the gate can only watch, not provoke traffic, so silence proves
 * nothing and no peer rolls the host back (they are still waited for and reported).
 */
export function planGate(
  desired: NodeDesiredState,
  before: LiveState,
  operations: readonly Operation[],
  nowSeconds: number,
  check: HealthCheck,
  canProbe = true,
): GatePlan {
  const livePeers = new Map(before.peers.map((p) => [p.publicKey, p]));
  const hadInterface = before.interface !== null;
  const interfaceChanges = operations.map((op) => interfaceChange(op, before.interface)).filter((x): x is string => x !== null);
  const ownKeyChanges = operations.some((op) => op.kind === "private-key");
  const keepPrevious = !retiresKeys(operations, before);
  const peerOps = new Map<string, Extract<Operation, { kind: "peer-set" }>>();
  for (const op of operations) if (op.kind === "peer-set") peerOps.set(op.publicKey, op);
  const peers: GatedPeer[] = [];
  if (check.mode !== "off") {
    for (const p of desired.peers) {
      const was = hadInterface ? livePeers.get(p.publicKey) : undefined;
      const isNew = was === undefined;
      const op = peerOps.get(p.publicKey);
      // A PSK change alone leaves the running session as it is (planner/rekey.ts): nothing to wait for.
      const touched = isNew || (op !== undefined && !pskOnly(op)) || interfaceChanges.length > 0;
      if (!touched) continue;
      const healthyBefore = healthyAt(was, nowSeconds);
      const keyChange = ownKeyChanges || op?.presharedKey !== undefined;
      peers.push({
        hostname: p.hostname,
        publicKey: p.publicKey,
        probe: probeAddress(p.allowedIps, desired.interface.address),
        healthyBefore,
        isNew,
        changes: op ? peerChanges(op, was) : isNew ? ["peer added"] : [],
        keyChange,
        rollbackOnFailure: healthyBefore && canProbe && !keyChange && keepPrevious,
      });
    }
  }
  return { check, peers, interfaceChanges, hadInterface, keepPrevious };
}

/** What the host saw for one gated peer. */
export interface GateEvidence {
  publicKey: string;
  ok: boolean;
  /** "handshake" | "traffic" | "reply" when ok. */
  evidence?: "handshake" | "traffic" | "reply";
  /** Milliseconds from the start of the wait to the evidence, or to the end of the wait. */
  waitedMs: number;
}

export interface GateOutcome {
  /** The wait ran at all (false when the host could not, e.g. no `wg`): every peer then counts as not proven. */
  ran: boolean;
  /** Total time the host waited, ms. */
  waitedMs: number;
  peers: GateEvidence[];
  /** ping mode on a host without `ping`. */
  noPing?: boolean;
}

export interface GateVerdict {
  health: NodeHealth;
  /** Gated peers without evidence. */
  unreachable: GatedPeer[];
  /** Those of them that were healthy before: the host must be rolled back. */
  rollback: GatedPeer[];
}

function stateFromHandshake(p: LivePeer, nowSeconds: number): PeerState {
  if (p.latestHandshake <= 0) return "never";
  return nowSeconds - p.latestHandshake <= SESSION_SECONDS ? "connected" : "stale";
}

/** Key of a live peer the plan does not name (same shape as the NodeConfig refresh uses). */
export function unknownPeerName(publicKey: string): string {
  return `unknown-peer-${publicKey.slice(0, 8).replace(/[^A-Za-z0-9]/g, "_")}`;
}

/**
 * A node's health from a reading of its interface: every live peer by hostname (names from the plan),
 * state from the handshake age, plus the gate's verdicts when a gate ran.
 */
export function healthFromLive(
  live: LiveState,
  names: ReadonlyMap<string, string>,
  nowSeconds: number,
  mode: HealthMode,
  gated: ReadonlyMap<string, GateEvidence> = new Map(),
): NodeHealth {
  const peers: Record<string, PeerHealth> = {};
  for (const p of live.peers) {
    const name = names.get(p.publicKey) ?? unknownPeerName(p.publicKey);
    const g = gated.get(p.publicKey);
    const h: PeerHealth = {
      publicKey: p.publicKey,
      state: g ? (g.ok ? "reachable" : "unreachable") : stateFromHandshake(p, nowSeconds),
      latestHandshakeAgeSeconds: p.latestHandshake > 0 ? Math.max(0, nowSeconds - p.latestHandshake) : null,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      endpoint: p.endpoint,
    };
    if (g) h.waitedSeconds = Math.round(g.waitedMs / 100) / 10;
    peers[name] = h;
  }
  return { mode, checkedAt: new Date(nowSeconds * 1000).toISOString(), peers };
}

/** Judge the gate: health of every peer after the apply, and whether the host must be rolled back. */
export function judgeGate(plan: GatePlan, outcome: GateOutcome, after: LiveState, nowSeconds: number, allNames?: ReadonlyMap<string, string>): GateVerdict {
  const byKey = new Map(outcome.peers.map((e) => [e.publicKey, e]));
  const gated = new Map<string, GateEvidence>();
  const unreachable: GatedPeer[] = [];
  for (const p of plan.peers) {
    const e = byKey.get(p.publicKey) ?? { publicKey: p.publicKey, ok: false, waitedMs: outcome.waitedMs };
    gated.set(p.publicKey, e);
    if (!e.ok) unreachable.push(p);
  }
  // Every planned peer's name (`allNames`), not only the gated ones': a peer the change did not touch is still named.
  const names = allNames ?? new Map(plan.peers.map((p) => [p.publicKey, p.hostname]));
  return {
    health: healthFromLive(after, names, nowSeconds, plan.check.mode, gated),
    unreachable,
    rollback: unreachable.filter((p) => p.rollbackOnFailure),
  };
}

/** One line naming a gated peer without evidence and what the apply changed for it. */
export function describeUnreachable(p: GatedPeer, plan: GatePlan): string {
  const what = [...p.changes, ...plan.interfaceChanges];
  const evidence = plan.check.mode === "ping" ? "no echo reply" : "no handshake and no traffic back";
  return `peer ${p.hostname} (${evidence} within ${plan.check.timeoutSeconds} s${p.healthyBefore ? "; it was connected before the change" : ""})` +
    (what.length ? `; changed: ${what.join("; ")}` : "");
}
