// Public API of the testbed for e2e tests, benchmarks and demos (see README.md in this folder).
export { acquire, down, leftovers, listTestbeds, status, Testbed, up, DEFAULT_NAT_SUBNET, NAT_SSH_PORT_BASE } from "./testbed";
export type { BehindNetwork, HostInfo, SegmentNode, StatusEntry, TestbedJson, UpOptions } from "./testbed";
export type { Bind, ExecOptions } from "./container";
export type { RunResult } from "./proc";
export { ensureRootfs, recipe, recipeHash } from "./rootfs";
export { ensureAptRepo, REPO_PACKAGES } from "./aptrepo";
