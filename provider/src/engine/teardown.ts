/**
 * Remove a node's WireGuard from its host: interface down, unit disabled, wg-quick file, on-host key and
 * forwarding file removed. Same shape as an apply: one connection, a read, and a change script only when
 * something is left (it ends with a read that verifies nothing is). Peers elsewhere are removed by deploying
 * the remaining mesh (see `teardownNodes` in deploy.ts).
 */
import { shellCommand } from "../planner/shell";
import { readHost, runHostJob, runSteps, DEFAULT_SCRIPT_TIMEOUT_MS } from "./apply";
import { EngineError } from "./install";
import { hostPaths } from "./paths";
import type { HostReading } from "./probe";
import type { Connection } from "./ssh/connection";
import type { EngineOptions, HostResult, Step } from "./types";
import { firewallLeftovers, firewallTeardownSteps } from "./firewall";

export interface TeardownTarget {
  node: string;
  connection: Connection;
  /** Interface name (default wg0). */
  interfaceName?: string;
}

/** Pure: the teardown steps for a host reading (empty when nothing of the node is left). */
export function planTeardown(ifname: string, reading: HostReading): Step[] {
  const p = hostPaths(ifname);
  const f = reading.facts;
  const steps: Step[] = [];
  const unitOn = f.unit.enabled === "enabled" || f.unit.active === "active" || f.unit.active === "activating" || f.unit.active === "failed";
  if (unitOn && f.tools.systemctl) {
    steps.push({
      kind: "teardown",
      description: `stop and disable ${p.unit}`,
      script: `${shellCommand("systemctl", "disable", "--now", "-q", p.unit)} 2>&1 || ${shellCommand("systemctl", "stop", p.unit)} || true\n` +
        `${shellCommand("systemctl", "reset-failed", p.unit)} 2>/dev/null || true`,
    });
  }
  if (f.iface.exists) {
    steps.push({
      kind: "teardown",
      description: `delete interface ${ifname}`,
      script: `if ${shellCommand("ip", "link", "show", "dev", ifname)} >/dev/null 2>&1; then ${shellCommand("ip", "link", "del", "dev", ifname)}; fi`,
    });
  }
  const files = [
    ...(f.conf.exists ? [p.conf] : []),
    ...(reading.probe.key.exists ? [p.key] : []),
    ...(reading.probe.sysctl.exists ? [p.sysctl] : []),
    ...(reading.probe.prev.conf ? [p.confPrev] : []),
    ...(reading.probe.prev.live ? [p.livePrev] : []),
    ...(reading.probe.prev.nft ? [p.nftPrev] : []),
    ...reading.probe.tempFiles,
  ];
  if (files.length) steps.push({ kind: "teardown", description: `remove ${files.join(", ")}`, script: shellCommand("rm", "-f", ...files) });
  steps.push(...firewallTeardownSteps(ifname, reading));
  return steps;
}

/** What is still there after a teardown (empty when clean). */
export function teardownLeftovers(ifname: string, r: HostReading): string[] {
  const p = hostPaths(ifname);
  const left: string[] = [];
  if (r.facts.iface.exists) left.push(`interface ${ifname}`);
  if (r.facts.unit.enabled === "enabled") left.push(`${p.unit} enabled`);
  if (r.facts.unit.active === "active") left.push(`${p.unit} active`);
  if (r.facts.conf.exists) left.push(p.conf);
  if (r.probe.key.exists) left.push(p.key);
  if (r.probe.sysctl.exists) left.push(p.sysctl);
  if (r.probe.prev.conf) left.push(p.confPrev);
  if (r.probe.prev.live) left.push(p.livePrev);
  if (r.probe.prev.nft) left.push(p.nftPrev);
  left.push(...r.probe.tempFiles);
  left.push(...firewallLeftovers(ifname, r));
  return left;
}

/** Tear down one host (dry run: report only). Never throws. */
export async function teardownHost(target: TeardownTarget, opts: EngineOptions = {}): Promise<HostResult> {
  const ifname = target.interfaceName ?? "wg0";
  return runHostJob(target.node, target.connection, opts, "teardown", async (session, result, log) => {
    const before = await readHost(session, ifname, target.node);
    if (before.facts.uid !== 0) throw new EngineError(`node ${target.node}: the host script did not run as root. Fix: connect as root or as a user with passwordless sudo`);
    const steps = planTeardown(ifname, before);
    result.steps = steps.map((s) => s.description);
    result.operations = steps.length;
    if (steps.length === 0) {
      result.status = "unchanged";
      log("info", "nothing to remove");
    } else if (result.dryRun) {
      result.status = "changed";
      for (const s of result.steps) log("info", `  would: ${s}`);
    } else {
      const after = await runSteps(session, target.node, ifname, steps, opts.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS, `teardown ${ifname}`);
      const left = teardownLeftovers(ifname, after);
      if (left.length) throw new EngineError(`node ${target.node}: teardown ran but left: ${left.join(", ")}`);
      result.status = "changed";
      log("info", `${steps.length} teardown operation(s) applied`);
    }
  });
}
