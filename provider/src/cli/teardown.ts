/**
 * `wgmesh teardown <mesh-state.json> [deploy's flags] [--node NAME]`: remove the mesh from its hosts, or one
 * node: that node's interface, unit and files go, and the remaining mesh is deployed to the other hosts (so
 * their peer entry and routes for it go too). Exit codes as `deploy`.
 */
import { UsageError, type CliIO, type Command } from "./commands";
import { compileOrFail, parseRemoteArgs, remoteSetup, report, REMOTE_OPTIONS_HELP } from "./deploy";
import { loadMeshInput, stateReadOptions } from "./stateinput";
import { deploy, teardown, targetsFromPlan, withoutNode, type DeployResult } from "../engine/deploy";
import { teardownHost } from "../engine/teardown";

const USAGE = [
  "Usage: wgmesh teardown <mesh-state.json> [--node NAME [--enforce]] [--password-file F] [--user U] [--identity KEYFILE]",
  "                       [--known-hosts F] [--concurrency N] [--dry-run] [--json]",
  "",
  "Removes the WireGuard mesh from its hosts: interface down, wg-quick@<if> disabled, the wg-quick file",
  "(and an on-host key) and the firewall table removed. With --node NAME only that node is removed, and the remaining mesh is",
  "deployed to the other hosts so that their peer entries and routes for NAME are removed too.",
  "",
  "Options:",
  "  --node NAME            Remove only this node",
  "  --enforce              With --node: the remaining mesh keeps its firewall (as deployed with deploy --enforce);",
  "                         without it their firewall tables are removed. The whole mesh's teardown removes them anyway",
  REMOTE_OPTIONS_HELP,
  "",
].join("\n");

export const teardownCommand: Command = {
  name: "teardown",
  summary: "Remove the mesh (or one node) from its hosts over SSH",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseRemoteArgs(args, { node: { type: "string" }, enforce: { type: "boolean" } });
    if (parsed.positionals.length !== 1) throw new UsageError("teardown needs exactly one state file", true);
    const input = await loadMeshInput(parsed.positionals[0] as string, parsed.values["password-file"] as string | undefined, io, stateReadOptions(parsed.values));
    const compiled = compileOrFail(input, io, { policyTests: false });
    const setup = await remoteSetup(parsed.values, io);
    const ifname = compiled.mesh.interfaceName;
    const nodeName = parsed.values["node"] as string | undefined;
    if (nodeName === undefined) {
      const result = await teardown(
        compiled.mesh.nodes.map((n) => ({ node: n.hostname, connection: setup.connectionFor(n), interfaceName: ifname })),
        setup.engine,
      );
      return report(result, setup, io);
    }
    const gone = compiled.mesh.nodes.find((n) => n.hostname === nodeName);
    if (!gone) throw new UsageError(`--node ${JSON.stringify(nodeName)}: no such node in the state file (nodes: ${compiled.mesh.nodes.map((n) => n.hostname).join(", ")})`);
    const rest = compileOrFail(withoutNode(parsed.values["enforce"] === true ? { ...input, enforcement: "nftables" } : input, nodeName), io, { policyTests: false });
    const started = Date.now();
    const [removed, others] = await Promise.all([
      teardownHost({ node: gone.hostname, connection: setup.connectionFor(gone), interfaceName: ifname }, setup.engine),
      deploy(targetsFromPlan(rest.mesh, rest.plan, setup.connectionFor), setup.engine),
    ]);
    const hosts = { [removed.node]: removed, ...others.hosts };
    const result: DeployResult = { hosts, ok: Object.values(hosts).every((r) => r.status !== "failed"), durationMs: Date.now() - started };
    return report(result, setup, io);
  },
};
