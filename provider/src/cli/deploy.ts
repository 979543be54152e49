/**
 * `wgmesh deploy <mesh-state.json> [--password-file F] [--user U] [--identity KEYFILE] [--known-hosts F]
 *  [--concurrency N] [--dry-run] [--json]`: the Go tool's `-deploy`. Reads a Go wgmesh state file (keys taken
 * from it), plans it, and converges every node's host over SSH (`ssh_host:ssh_port`).
 * Exit 0 when every host converged, 2 when some failed (the others still converge), 1 on invalid input
 * (nothing touched). Progress on stderr; never a secret.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { compileMesh, type CompileOptions, type CompileResult } from "../core/compile";
import type { MeshInput } from "../core/model";
import { messages } from "../core/validate";
import { targetsFromPlan, type DeployResult } from "../engine/deploy";
import type { Connection } from "../engine/ssh/connection";
import type { Logger } from "../engine/ssh/log";
import type { EngineOptions, HostResult } from "../engine/types";
import { UsageError, type CliIO, type Command } from "./commands";
import { loadMeshInput, readText, STATE_READ_OPTIONS, STATE_READ_HELP, stateReadOptions } from "./stateinput";
import { deploy } from "../engine/deploy";
import { healthCheckProblems, resolveHealthCheck, type HealthCheck } from "../planner/health";
import { healthSummary } from "./health";

/** Flags shared by deploy and teardown. */
export const REMOTE_OPTIONS = {
  "password-file": { type: "string" },
  user: { type: "string" },
  identity: { type: "string" },
  "known-hosts": { type: "string" },
  concurrency: { type: "string" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  ...STATE_READ_OPTIONS,
} as const;

export const REMOTE_OPTIONS_HELP = [
  "  --password-file FILE   The state file is encrypted (wgmesh -encrypt); FILE holds its password",
  "  --user USER            SSH login user (default root; others run privileged steps with sudo -n)",
  "  --identity KEYFILE     SSH private key file (default: ssh-agent, then ~/.ssh/id_rsa, id_ed25519, id_ecdsa)",
  "  --known-hosts FILE     known_hosts file to verify host keys (default ~/.ssh/known_hosts); unknown or",
  "                         changed host keys are refused",
  "  --concurrency N        Hosts worked on at once (default 10)",
  "  --dry-run              Connect read-only and print the operations per host without applying them",
  "  --json                 Print {\"hosts\": {\"<hostname>\": {\"status\", \"operations\", \"error\"?, \"sshConnections\",",
  "                         \"execRoundTrips\", \"health\"?, \"rolledBack\"?}}} on stdout",
  STATE_READ_HELP,
].join("\n");

/** Flags of the health gate (deploy only). */
export const HEALTH_OPTIONS = {
  "health-check": { type: "string" },
  "health-timeout": { type: "string" },
} as const;

export const HEALTH_OPTIONS_HELP = [
  "  --health-check MODE    After a change, wait for every touched peer: handshake (default: a handshake or",
  "                         traffic back), ping (an echo reply from its mesh IP) or off. A change that makes a",
  "                         peer unreachable that was connected before is rolled back on that host (it fails)",
  "  --health-timeout S     Bound of that wait in seconds, 1-600 (default 15)",
].join("\n");

/** The health check from the flags (defaults filled in); UsageError naming the flag when invalid. */
export function healthCheckFromFlags(values: RemoteArgs["values"]): HealthCheck {
  const mode = values["health-check"];
  const timeout = values["health-timeout"];
  const raw: Record<string, unknown> = {};
  if (mode !== undefined) raw.mode = String(mode);
  if (timeout !== undefined) raw.timeoutSeconds = /^\d+$/.test(String(timeout)) ? Number(timeout) : String(timeout);
  const problems = healthCheckProblems(raw);
  if (problems.length) throw new UsageError(problems.join("; ").replace(/healthCheck\.mode/g, "--health-check").replace(/healthCheck\.timeoutSeconds/g, "--health-timeout"));
  return resolveHealthCheck(raw as Partial<HealthCheck>);
}

export interface RemoteArgs {
  positionals: string[];
  values: { [K in keyof typeof REMOTE_OPTIONS]?: (typeof REMOTE_OPTIONS)[K]["type"] extends "string" ? string : boolean } & Record<string, string | boolean | undefined>;
}

export function parseRemoteArgs(args: string[], extra: Record<string, { type: "string" | "boolean" }> = {}): RemoteArgs {
  try {
    const r = parseArgs({ args, allowPositionals: true, options: { ...REMOTE_OPTIONS, ...extra } });
    return { positionals: r.positionals, values: r.values as RemoteArgs["values"] };
  } catch (e) {
    throw new UsageError(String((e as Error).message).replace(/\. To specify.*$/, ""), true);
  }
}


/** Compile, printing warnings; throws UsageError listing every error. */
export function compileOrFail(input: MeshInput, io: CliIO, options: CompileOptions = {}): Extract<CompileResult, { ok: true }> {
  const r = compileMesh(input, options);
  for (const w of messages(r.warnings)) io.stderr.write(`warning: ${w}\n`);
  if (!r.ok) throw new UsageError(messages(r.errors).join("\n"));
  return r;
}

export interface RemoteSetup {
  engine: EngineOptions;
  connectionFor: (n: { sshHost: string; sshPort: number }) => Connection;
  json: boolean;
}

/** SSH and engine options from the flags; validates files before anything is contacted. */
export async function remoteSetup(values: RemoteArgs["values"], io: CliIO): Promise<RemoteSetup> {
  const json = values.json === true;
  let concurrency = 10;
  if (values.concurrency !== undefined) {
    const c = String(values.concurrency);
    if (!/^\d+$/.test(c) || Number(c) < 1) throw new UsageError(`--concurrency ${JSON.stringify(c)}: give a whole number ≥ 1`);
    concurrency = Number(c);
  }
  const user = values.user === undefined ? "root" : String(values.user);
  if (user === "" || /[\s:@]/.test(user)) throw new UsageError(`--user ${JSON.stringify(user)} is not a user name`);
  const privateKey = values.identity === undefined ? undefined : await readText(String(values.identity), "identity file", io.cwd);
  let knownHostsPath: string | undefined;
  if (values["known-hosts"] !== undefined) {
    knownHostsPath = path.resolve(io.cwd, String(values["known-hosts"]));
    await readText(knownHostsPath, "known_hosts file", io.cwd);
  }
  const debug = Boolean(io.env["WGMESH_DEBUG"]);
  const logger: Logger = (level, message) => {
    if (level === "debug" && !debug) return;
    io.stderr.write(`${level === "error" ? "error: " : level === "warn" ? "warning: " : ""}${message}\n`);
  };
  return {
    json,
    engine: { concurrency, dryRun: values["dry-run"] === true, logger, knownHostsPath, ssh: { env: io.env } },
    connectionFor: (n) => ({ host: n.sshHost, port: n.sshPort, user, ...(privateKey !== undefined ? { privateKey } : {}) }),
  };
}

/** The `--json` document of the CLI contract (plus the steps in a dry run). */
export function resultJson(result: DeployResult, dryRun: boolean): unknown {
  const hosts: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(result.hosts)) {
    hosts[name] = {
      status: r.status,
      operations: r.operations,
      ...(r.error !== undefined ? { error: r.error } : {}),
      sshConnections: r.sshConnections,
      execRoundTrips: r.execRoundTrips,
      ...(dryRun ? { steps: r.steps } : {}),
      ...(r.health !== undefined ? { health: r.health } : {}),
      ...(r.rolledBack ? { rolledBack: true } : {}),
    };
  }
  return { hosts };
}

function textLine(r: HostResult): string {
  const counts = `${r.sshConnections} ssh connection(s), ${r.execRoundTrips} exec round trip(s)`;
  if (r.status === "failed") return `${r.node}: failed — ${r.error}\n`;
  const verb = r.dryRun ? (r.status === "changed" ? "would apply" : "unchanged") : r.status;
  const peers = r.health ? `; peers: ${healthSummary(r.health)}${r.gateMs !== undefined ? ` (gate ${(r.gateMs / 1000).toFixed(1)} s)` : ""}` : "";
  const head = `${r.node}: ${verb}${r.status === "changed" ? ` (${r.operations} operation${r.operations === 1 ? "" : "s"})` : ""} [${counts}${peers}]\n`;
  return head + (r.dryRun ? r.steps.map((s) => `  - ${s}\n`).join("") : "");
}

/** Print the results; resolve to the exit status (0 all converged, 2 some failed). */
export function report(result: DeployResult, setup: RemoteSetup, io: CliIO): number {
  const dryRun = setup.engine.dryRun === true;
  if (setup.json) io.stdout.write(`${JSON.stringify(resultJson(result, dryRun), null, 2)}\n`);
  else for (const r of Object.values(result.hosts)) io.stdout.write(textLine(r));
  const failed = Object.values(result.hosts).filter((r) => r.status === "failed").map((r) => r.node);
  if (failed.length) io.stderr.write(`${failed.length} host(s) failed: ${failed.join(", ")} (the others converged; re-run to retry)\n`);
  return failed.length ? 2 : 0;
}

const USAGE = [
  "Usage: wgmesh deploy <mesh-state.json> [--enforce] [--password-file F] [--user U] [--identity KEYFILE]",
  "                     [--known-hosts F] [--concurrency N] [--dry-run] [--json] [--strict] [--allow-full-mesh]",
  "                     [--health-check MODE] [--health-timeout S]",
  "",
  "Deploys a Go wgmesh state file to its nodes over SSH (ssh_host:ssh_port; keys taken from the file):",
  "installs WireGuard where missing, writes /etc/wireguard/<if>.conf, enables wg-quick@<if>, and brings",
  "running interfaces to the plan online (never restarting them). Idempotent: a re-run changes nothing.",
  "With --enforce the policies are enforced on every host by an nftables table of its own (inet wgmesh_<if>,",
  "/etc/wireguard/<if>.nft): direction-aware, port-restricted, only for traffic arriving on the mesh interface.",
  "Without it no such table is kept (one left by an earlier --enforce is removed).",
  "After a change it waits for the touched peers (the health gate) and rolls a host back when the change made a",
  "peer unreachable that was connected before; the previous state stays on the host (/etc/wireguard/<if>.conf.prev,",
  "<if>.live.prev). `wgmesh status <mesh-state.json>` shows every peer's health later.",
  "Exit status: 0 every host converged, 2 some hosts failed (the others converged), 1 invalid input.",
  "",
  "Options:",
  "  --enforce              Enforce the policies with a host firewall (nftables; installed where missing)",
  REMOTE_OPTIONS_HELP,
  HEALTH_OPTIONS_HELP,
  "",
].join("\n");

export const deployCommand: Command = {
  name: "deploy",
  summary: "Deploy a wgmesh state file to its hosts over SSH",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseRemoteArgs(args, { ...HEALTH_OPTIONS, enforce: { type: "boolean" } });
    if (parsed.positionals.length !== 1) throw new UsageError("deploy needs exactly one state file", true);
    const healthCheck = healthCheckFromFlags(parsed.values);
    const loaded = await loadMeshInput(parsed.positionals[0] as string, parsed.values["password-file"] as string | undefined, io, stateReadOptions(parsed.values));
    const input = parsed.values["enforce"] === true ? { ...loaded, enforcement: "nftables" as const } : loaded;
    const compiled = compileOrFail(input, io);
    const setup = await remoteSetup(parsed.values, io);
    const targets = targetsFromPlan(compiled.mesh, compiled.plan, setup.connectionFor).map((t) => ({ ...t, healthCheck }));
    const result = await deploy(targets, setup.engine);
    return report(result, setup, io);
  },
};
