/**
 * `wgmesh status <mesh-state.json> [--json] [remote options]`: every node's view of its peers for a deployed
 * state file (state, latest handshake age, rx/tx bytes, endpoint), read over SSH (per host one connection,
 * one read-only round trip; nothing changes).
 *
 * `wgmesh status --secret S …` stays the decentralized daemon's Go-compatible status. Which one runs is
 * decided by the arguments: a state file (an argument not starting with "-") and no --secret flag → the
 * deployed mesh; anything else → the daemon's (which prints its own usage error without --secret).
 */
import { mapLimit, targetsFromPlan } from "../engine/deploy";
import { inspectHost } from "../engine/apply";
import type { NodeHealth } from "../planner/health";
import { healthOfReading } from "../engine/gated";
import { UsageError, type CliIO, type Command } from "./commands";
import { compileOrFail, parseRemoteArgs, remoteSetup, REMOTE_OPTIONS_HELP } from "./deploy";
import { healthTable, rowsOf, type StatusRow } from "./health";
import { loadMeshInput } from "./stateinput";

const USAGE = [
  "Usage: wgmesh status <mesh-state.json> [--password-file F] [--user U] [--identity KEYFILE] [--known-hosts F]",
  "                     [--concurrency N] [--json]",
  "       wgmesh status --secret <SECRET> [--json] [--interface NAME] [--mesh-subnet CIDR]",
  "",
  "With a state file: reads every node's WireGuard interface over SSH (read-only) and prints one row per",
  "node and peer: STATE (connected = a handshake within 180 s, stale = older, never), the age of the",
  "latest handshake, bytes received and sent, and the endpoint in use. --json prints",
  "{\"hosts\": {\"<hostname>\": {\"health\": {mode, checkedAt, peers: {<peer>: {publicKey, state,",
  "latestHandshakeAgeSeconds, rxBytes, txBytes, endpoint}}}} | {\"error\": \"…\"}}}.",
  "Exit status: 0 every host was read, 2 some could not be (named on stderr), 1 invalid input.",
  "",
  "With --secret: the decentralized mode's status (the parameters derived from the mesh secret and the",
  "daemon's service state), as the Go tool prints it.",
  "",
  "Options (state file):",
  REMOTE_OPTIONS_HELP.split("\n").filter((l) => !/--dry-run/.test(l)).join("\n"),
  "",
].join("\n");

/** Whether `wgmesh status` arguments ask for a deployed mesh's status (else the daemon's). */
export function isMeshStatus(args: readonly string[]): boolean {
  if (args.some((a) => /^--?secret(=|$)/.test(a))) return false;
  return args.some((a) => !a.startsWith("-"));
}

export async function runMeshStatus(args: string[], io: CliIO): Promise<number> {
  const parsed = parseRemoteArgs(args);
  if (parsed.values["dry-run"]) throw new UsageError("status reads only: --dry-run does not apply", true);
  if (parsed.positionals.length !== 1) throw new UsageError("status needs exactly one state file", true);
  const input = await loadMeshInput(parsed.positionals[0] as string, parsed.values["password-file"] as string | undefined, io);
  const compiled = compileOrFail(input, io);
  const setup = await remoteSetup(parsed.values, io);
  const targets = targetsFromPlan(compiled.mesh, compiled.plan, setup.connectionFor);
  const results = await mapLimit(targets, setup.engine.concurrency ?? 10, async (t): Promise<{ node: string; health?: NodeHealth; error?: string }> => {
    try {
      const { reading } = await inspectHost(t.node, t.connection, { ...setup.engine, interfaceName: t.desired.interface.name });
      const names = new Map(t.desired.peers.map((p) => [p.publicKey, p.hostname]));
      return { node: t.node, health: healthOfReading(reading, names, "handshake") };
    } catch (e) {
      return { node: t.node, error: e instanceof Error ? e.message : String(e) };
    }
  });
  if (setup.json) {
    const hosts: Record<string, unknown> = {};
    for (const r of results) hosts[r.node] = r.health ? { health: r.health } : { error: r.error };
    io.stdout.write(`${JSON.stringify({ hosts }, null, 2)}\n`);
  } else {
    const rows: StatusRow[] = results.flatMap((r) => rowsOf(r.node, r.health ?? null, r.error?.split("\n")[0]));
    io.stdout.write(healthTable(rows));
  }
  const failed = results.filter((r) => r.error !== undefined);
  for (const f of failed) io.stderr.write(`${f.node}: ${f.error}\n`);
  if (failed.length) io.stderr.write(`${failed.length} host(s) could not be read: ${failed.map((f) => f.node).join(", ")}\n`);
  return failed.length ? 2 : 0;
}

/** The `status` command of the full CLI: the deployed mesh's status, or `daemonStatus` (see the header). */
export function statusCommand(daemonStatus: Command): Command {
  return {
    name: "status",
    summary: "Peer health of a deployed state file (status STATE), or a mesh secret's parameters (status --secret S)",
    usage: USAGE,
    run: (args, io) => (isMeshStatus(args) ? runMeshStatus(args, io) : daemonStatus.run(args, io)),
  };
}
