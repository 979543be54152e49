/**
 * Every resource's lifecycle, by resource kind: the ONE implementation of check/diff/create/read/update/
 * delete, wrapped by the dynamic providers (../dynamic.ts) and by the provider plugin.
 */
import { nodeLifecycle } from "./node";
import { groupLifecycle, policyLifecycle } from "./group";
import { meshLifecycle } from "./mesh";
import { nodeConfigLifecycle } from "./nodeConfig";
import { meshSecretLifecycle } from "./meshSecret";
import { decentralizedNodeLifecycle } from "./decentralizedNode";
import type { Lifecycle } from "./types";

export const lifecycles = {
  node: nodeLifecycle,
  group: groupLifecycle,
  policy: policyLifecycle,
  mesh: meshLifecycle,
  nodeConfig: nodeConfigLifecycle,
  meshSecret: meshSecretLifecycle,
  decentralizedNode: decentralizedNodeLifecycle,
} as const satisfies Record<string, Lifecycle<any, any>>;

export type ResourceKind = keyof typeof lifecycles;

export * from "./types";
export { nodeLifecycle, checkNode, type NodeInputs, type NodeOutputs } from "./node";
export { groupLifecycle, policyLifecycle, checkGroup, checkPolicy, type GroupInputs, type PolicyInputs } from "./group";
export { meshLifecycle, checkMesh, type MeshInputs, type MeshNodeInputs } from "./mesh";
export { nodeConfigLifecycle, desiredState, liveToInputs, checkNodeConfig, hostFilesFrom, PLANNED_HOST_FILES, type NodeConfigInputs, type NodeConfigOutputs, type PeerInputs, type HostFiles } from "./nodeConfig";
export { meshSecretLifecycle, checkMeshSecret, type MeshSecretInputs, type MeshSecretOutputs } from "./meshSecret";
export { decentralizedNodeLifecycle, checkDecentralizedNode, type DecentralizedNodeInputs, type DecentralizedNodeOutputs } from "./decentralizedNode";
export { UNKNOWN as UNKNOWN_VALUE } from "./types";
