/**
 * `wgmesh verify <mesh-state.json> [--enforce] [deploy's flags]`: run the state file's policy tests on the
 * real hosts — from each test's source host a TCP connect to the destination's mesh IP and port (a refused
 * connection counts as reached: the packet got through), or one ICMP echo — and print pass/fail per test.
 * One SSH connection and one exec round trip per source host, hosts in parallel. Changes nothing.
 * Exit 0 every test passed, 2 some failed (or a source host could not be reached), 1 invalid input.
 */
import { accessDecision, policyTestLabel } from "../core/access";
import { parseProbePort } from "../core/ports";
import { connect } from "../engine/ssh/connection";
import { newCounters } from "../engine/ssh/counters";
import { hostLogger, connectOptions } from "../engine/apply";
import { mapLimit } from "../engine/deploy";
import { silentLogger } from "../engine/ssh/log";
import { runPolicyTests, type LivePolicyResult, type LivePolicyTest } from "../engine/verify";
import { UsageError, type CliIO, type Command } from "./commands";
import { compileOrFail, parseRemoteArgs, remoteSetup, REMOTE_OPTIONS_HELP } from "./deploy";
import { loadMeshInput, stateReadOptions } from "./stateinput";

const USAGE = [
  "Usage: wgmesh verify <mesh-state.json> [--enforce] [--password-file F] [--user U] [--identity KEYFILE]",
  "                     [--known-hosts F] [--concurrency N] [--json] [--strict] [--allow-full-mesh]",
  "",
  "Runs the state file's \"policy_tests\" on the hosts: from each test's source host, a TCP connect to the",
  "destination node's mesh IP and port (\"connection refused\" counts as reached), or one ICMP echo; UDP",
  "tests are checked against the plan only. Prints pass/fail per test (and what the plan says). Changes nothing.",
  "Exit status: 0 every test passed, 2 a test failed or a host could not be reached, 1 invalid input.",
  "",
  "Options:",
  "  --enforce              Judge the plan with enforcement \"nftables\" (as deployed with deploy --enforce)",
  REMOTE_OPTIONS_HELP,
  "",
].join("\n");

export interface VerifyJson {
  tests: Array<{ from: string; to: string; port: string; expect: string; result: string; outcome: string; plan: string }>;
  passed: number;
  failed: number;
}

export const verifyCommand: Command = {
  name: "verify",
  summary: "Run the state file's policy tests on the hosts (TCP connect / ICMP) and report pass/fail",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseRemoteArgs(args, { enforce: { type: "boolean" } });
    if (parsed.positionals.length !== 1) throw new UsageError("verify needs exactly one state file", true);
    const loaded = await loadMeshInput(parsed.positionals[0] as string, parsed.values["password-file"] as string | undefined, io, stateReadOptions(parsed.values));
    const input = parsed.values["enforce"] === true ? { ...loaded, enforcement: "nftables" as const } : loaded;
    const compiled = compileOrFail(input, io, { policyTests: false });
    const mesh = compiled.mesh;
    if (mesh.policyTests.length === 0) throw new UsageError(`the state file has no "policy_tests" to run; add e.g. {"from": "web1", "to": "db1", "port": "tcp/5432", "expect": "deny"}`);
    const setup = await remoteSetup(parsed.values, io);
    const byName = new Map(mesh.nodes.map((n) => [n.hostname, n]));
    const sources = [...new Set(mesh.policyTests.map((t) => t.from))];
    const results = new Map<number, LivePolicyResult>();
    await mapLimit(sources, setup.engine.concurrency ?? 10, async (src) => {
      const node = byName.get(src)!;
      const mine = mesh.policyTests.map((t, i) => ({ t, i })).filter(({ t }) => t.from === src);
      const tests: LivePolicyTest[] = mine.map(({ t, i }) => ({ id: String(i), address: byName.get(t.to)!.meshIp as string, port: t.port, expect: t.expect as "allow" | "deny" }));
      const log = hostLogger(setup.engine.logger ?? silentLogger, src);
      try {
        const session = await connect(setup.connectionFor(node), connectOptions(setup.engine, log, newCounters()));
        try {
          for (const r of await runPolicyTests(session, tests)) results.set(Number(r.id), r);
        } finally {
          await session.close();
        }
      } catch (e) {
        for (const { i } of mine) results.set(i, { id: String(i), outcome: "error", result: `fail: cannot run on ${src}: ${(e as Error).message}` });
      }
    });
    const doc: VerifyJson = { tests: [], passed: 0, failed: 0 };
    mesh.policyTests.forEach((t, i) => {
      const r = results.get(i) as LivePolicyResult;
      const probe = parseProbePort(t.port);
      const plan = probe.ok ? accessDecision(mesh, t.from, t.to, probe.spec).reason : "";
      doc.tests.push({ from: t.from, to: t.to, port: t.port, expect: t.expect, result: r.result, outcome: r.outcome, plan });
      if (r.result.startsWith("pass")) doc.passed++;
      else doc.failed++;
      if (!setup.json) io.stdout.write(`${r.result.startsWith("pass") ? "PASS" : "FAIL"} ${policyTestLabel(t, i)}: ${r.outcome}${r.result.startsWith("pass") ? "" : ` — ${r.result.slice(6)}; plan: ${plan}`}\n`);
    });
    if (setup.json) io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else io.stdout.write(`${doc.passed} passed, ${doc.failed} failed\n`);
    return doc.failed ? 2 : 0;
  },
};
