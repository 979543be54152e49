/**
 * The SSH engine as a library: make a planned mesh true on real hosts.
 *
 *   const { mesh, plan } = compileMesh(input) (core) → targetsFromPlan(mesh, plan, connectionFor)
 *   → deploy(targets, { concurrency, dryRun, logger, knownHostsPath }) → per-host results.
 *
 * Per host: one SSH connection, ≤ 2 exec round trips (read; then changes + verification + health gate only
 * when needed), 3 when the gate rolls a change back (gated.ts).
 */
export { deploy, teardown, targetsFromPlan, withoutNode, mapLimit, DEFAULT_CONCURRENCY, type DeployResult } from "./deploy";
export { applyHost, inspectHost, hostLogger, remainingDifferences } from "./apply";
export { teardownHost, planTeardown, teardownLeftovers, type TeardownTarget } from "./teardown";
export { provisionHostKey, type HostKeyResult } from "./hostkey";
export { planHostChanges, renderChangeScript, renderConf, describeOperation, sysctlFileContent, type ChangePlan, type ChangePlanInput } from "./changes";
export { installPlan, missingPackages, EngineError, type InstallPlan } from "./install";
export { readScript, parseReading, engineProbeScript, parseEngineProbe, type EngineProbe, type HostReading } from "./probe";
export { hostPaths, type HostPaths } from "./paths";
export { firewallSteps, firewallStatus, firewallText, firewallDifferences, firewallState } from "./firewall";
export type { EngineOptions, HostResult, HostStatus, HostTarget, KeySource, Step } from "./types";
export * from "./ssh";
export { applyGated, unchangedHealth } from "./gated";
export { gateScript, parseGate } from "./gate";
export { rollbackSteps, snapshotPrelude } from "./rollback";
export { gatherFacts, detectNat, factsScript, parseFacts, type HostFacts, type GatheredFacts } from "./facts";
