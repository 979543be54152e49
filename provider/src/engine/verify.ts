/**
 * Policy tests on real hosts (`wgmesh verify`, and a NodeConfig's refresh): from each test's source host, a
 * TCP connect to the destination's mesh IP and port, or one ICMP echo, all of a host's tests at once in one
 * script (one exec round trip). A TCP "connection refused" counts as reached (the packet got through the
 * firewall; nothing listens), a timeout as not reached. UDP cannot be told apart from a silent service, so a
 * UDP test is reported "not verifiable" (it is checked against the plan only).
 */
import { formatPortSpec, parseProbePort, type PortSpec } from "../core/ports";
import { shellCommand, shellQuote } from "../planner/shell";
import type { SshSession } from "./ssh/session";

export type ProbeOutcome = "connected" | "refused" | "timeout" | "unreachable" | "reply" | "no reply" | "not verifiable (udp)" | "error";

export interface LivePolicyTest {
  /** Stable id of the test (its label). */
  id: string;
  /** Destination address (the destination node's mesh IP). */
  address: string;
  /** "tcp/5432", "udp/53" or "icmp". */
  port: string;
  expect: "allow" | "deny";
}

export interface LivePolicyResult {
  id: string;
  outcome: ProbeOutcome;
  /** "pass", or "fail: <what was seen>". */
  result: string;
}

/**
 * Seconds a probe waits. A first packet may wait for a WireGuard handshake, and a handshake whose initiation
 * or response is lost is retried only after REKEY_TIMEOUT (5 s + jitter), so a bound of 5 s turned an allowed
 * connection into a failure whenever one handshake message was lost or late (seen at load ≈ 9): 12 s covers
 * two retries. A ping re-sends every 0.5 s until the first reply; a TCP connect retransmits its SYN itself.
 * Denied tests (no answer expected) take the whole bound; all tests of one host run in parallel.
 */
export const PROBE_TIMEOUT_S = 12;
const MARK = "@@WGMESH-PROBE@@";

function probeCommand(i: number, address: string, spec: PortSpec): string {
  const out = `printf '%s %s %s\\n' ${shellQuote(MARK)} ${i}`;
  if (spec.proto === "icmp") {
    return `( if ! command -v ping >/dev/null 2>&1; then ${out} error; elif ${shellCommand("ping", "-n", "-q", "-c", "1", "-i", "0.5", "-w", PROBE_TIMEOUT_S, address)} >/dev/null 2>&1; then ${out} reply; else ${out} no-reply; fi ) &`;
  }
  if (spec.proto === "udp") return `${out} udp`;
  const connect = `exec 3<>/dev/tcp/${address}/${spec.first}`;
  return `( if ! command -v bash >/dev/null 2>&1; then ${out} error; else e=$(${shellCommand("timeout", PROBE_TIMEOUT_S, "bash", "-c", connect)} 2>&1); c=$?; ` +
    `if [ $c -eq 0 ]; then ${out} connected; elif [ $c -eq 124 ]; then ${out} timeout; else case "$e" in *refused*) ${out} refused;; *) ${out} unreachable;; esac; fi; fi ) &`;
}

/** The script that runs every test of one source host in parallel. */
export function policyProbeScript(tests: readonly LivePolicyTest[]): string {
  const lines = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"];
  tests.forEach((t, i) => {
    const p = parseProbePort(t.port);
    if (!p.ok) throw new Error(`policy test ${t.id}: port ${JSON.stringify(t.port)} ${p.why}`);
    if (!/^[0-9a-fA-F.:]+$/.test(t.address)) throw new Error(`policy test ${t.id}: ${JSON.stringify(t.address)} is not an IP address`);
    lines.push(probeCommand(i, t.address, p.spec));
  });
  lines.push("wait");
  return lines.join("\n") + "\n";
}

const PASS: Record<"allow" | "deny", readonly ProbeOutcome[]> = {
  allow: ["connected", "refused", "reply"],
  deny: ["timeout", "unreachable", "no reply"],
};

/** Judge the outcomes printed by `policyProbeScript`. */
export function parsePolicyProbe(stdout: string, tests: readonly LivePolicyTest[]): LivePolicyResult[] {
  const seen = new Map<number, string>();
  for (const line of stdout.split("\n")) {
    const m = new RegExp(`^${MARK} (\\d+) (\\S+)$`).exec(line.trim());
    if (m) seen.set(Number(m[1]), m[2] as string);
  }
  return tests.map((t, i) => {
    const raw = seen.get(i);
    const outcome: ProbeOutcome = raw === "no-reply" ? "no reply" : raw === "udp" ? "not verifiable (udp)" : raw === undefined ? "error" : (raw as ProbeOutcome);
    if (outcome === "not verifiable (udp)") return { id: t.id, outcome, result: "pass (udp: checked against the plan only)" };
    const spec = parseProbePort(t.port);
    const what = spec.ok ? formatPortSpec(spec.spec) : t.port;
    const ok = PASS[t.expect].includes(outcome);
    return { id: t.id, outcome, result: ok ? "pass" : `fail: ${what} to ${t.address}: ${outcome === "error" ? "the probe could not run (bash/timeout or ping missing on the source host)" : outcome}` };
  });
}

/** Run one source host's tests on an open session (one exec round trip). */
export async function runPolicyTests(session: SshSession, tests: readonly LivePolicyTest[]): Promise<LivePolicyResult[]> {
  if (tests.length === 0) return [];
  const r = await session.run(policyProbeScript(tests), { label: `policy tests (${tests.length})`, timeoutMs: (PROBE_TIMEOUT_S + 30) * 1000 });
  return parsePolicyProbe(r.stdout, tests);
}
