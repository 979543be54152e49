/**
 * The engine's public data: what to apply to a host, and what came of it. Plain data.
 */
import type { NodeDesiredState, Operation } from "../planner/types";
import type { Connection, ConnectOptions } from "./ssh/connection";
import type { Logger } from "./ssh/log";

/**
 * Where a node's WireGuard private key comes from:
 * - `{ privateKey }`: the caller holds it (state file, Pulumi secret); it travels to the host inside the
 *   0600 wg-quick file and on the script's stdin, never in argv or logs.
 * - `{ onHost: true }`: it lives only on the host in `/etc/wireguard/<if>.key` (see `provisionHostKey`,
 *   which creates it and returns only its public key); the wg-quick file then loads it with a PostUp hook.
 */
export type KeySource = { privateKey: string } | { onHost: true };

/** The preshared keys of a host: one shared by every peer that has one, or per peer (by peer public key). */
export type PresharedKeySource = string | Record<string, string>;

/** One host to converge: how to reach it and what its WireGuard state must be. */
export interface HostTarget {
  /** Node name (the mesh hostname); used in results, logs and errors. */
  node: string;
  connection: Connection;
  desired: NodeDesiredState;
  key: KeySource;
  /**
   * Preshared keys for peers with presharedKey=true (secrets): one for all of them, or (per-pair PSKs,
   * issue 16) each peer's own, by peer public key.
   */
  presharedKey?: PresharedKeySource;
  /** The node's declared behindNat: when given, a disagreement with NAT detection is logged as a warning. */
  behindNat?: boolean;
}

/** A change step of one host (descriptions never contain secrets). */
export interface Step {
  kind: "install" | "write-conf" | "write-sysctl" | "remove-sysctl" | "enable-unit" | "stop-unit" | "operation" | "teardown" | "write-firewall" | "remove-firewall";
  /** Human readable, secret-free, e.g. "peer-set app1 (add: endpoint, allowed-ips 10.99.0.3/32)". */
  description: string;
  /** The planner operation, for kind "operation". */
  op?: Operation;
  /** Shell text of the step (may contain secret here-documents; never log it without `redactSecrets`). */
  script: string;
}

export type HostStatus = "changed" | "unchanged" | "failed";

/** What happened on one host. */
export interface HostResult {
  node: string;
  status: HostStatus;
  /** Number of change steps (applied, or that would be applied in a dry run). */
  operations: number;
  /** The steps' secret-free descriptions, in order. */
  steps: string[];
  /** The planner's operations among the steps (online WireGuard/ip changes). */
  plannedOperations: Operation[];
  /** Packages installed (or to install, dry run). */
  installed: string[];
  error?: string;
  sshConnections: number;
  execRoundTrips: number;
  dialAttempts: number;
  durationMs: number;
  /** NAT detection (the SSH target address is not one of the host's own addresses); null when not reached. */
  natDetected: boolean | null;
  dryRun: boolean;
}

export interface EngineOptions {
  /** Hosts worked on at once (default 10). */
  concurrency?: number;
  /** Connect and read facts only; report the steps without running them. */
  dryRun?: boolean;
  /** Progress and debug messages (never secrets). */
  logger?: Logger;
  /** known_hosts file (default ~/.ssh/known_hosts). */
  knownHostsPath?: string;
  /** Accept and record unknown host keys (explicit opt-in). Changed keys are always refused. */
  trustOnFirstUse?: boolean;
  /** Further options of the SSH layer (retry delays, environment for default credentials, keepalive). */
  ssh?: Omit<ConnectOptions, "knownHostsPath" | "trustOnFirstUse" | "logger" | "counters">;
  /** Limit for the change script of one host, in ms (default 10 minutes: package installs can be slow). */
  scriptTimeoutMs?: number;
}
