/**
 * The Pulumi face of wgmesh: `import * as wgmesh from "@wgmesh/pulumi"`.
 * Resources (resources.ts) are dynamic resources over the lifecycles (lifecycle/), which the provider
 * plugin reuses; the functions (functions.ts) are the same the plugin serves to the other languages.
 */
export { Node, Group, Policy, Mesh, NodeConfig, type NodeArgs, type GroupArgs, type PolicyArgs, type MeshArgs, type NodeConfigArgs, type ConnectionArgs } from "./resources";
export { MeshSecret, DecentralizedNode, type MeshSecretArgs, type DecentralizedNodeArgs } from "./decentralized";
export { planMeshConfigs, type MeshPlanSummary, type PlannedNodeConfig, type NodeIdentity } from "./plan";
export {
  getMeshPlan, getMeshPlanOutput, getNodeStatus, getNodeStatusOutput, generateKeyPair, generateKeyPairOutput, FunctionArgumentsError,
  type MeshPlanArgs, type MeshPlanOutputArgs, type MeshPlanDoc, type PlannedNode, type PlannedPeer, type NodeStatusArgs, type NodeStatusOutputArgs, type NodeStatus, type PeerStatus, type KeyPair,
} from "./functions";
export { meshDiagram, type DiagramMesh, type DiagramOptions } from "../planner/diagram";
export { providerFor, DYNAMIC_MODULE } from "./providers";
export { parsePeerLines, formatPeerLines, type PeerInputs } from "./lifecycle/peerLines";
export { parseHealthLines, type NodeHealthLines } from "./lifecycle/healthLines";
// The lifecycles (./lifecycle) run in the provider processes, loaded by path (providers.ts) or by the
// plugin; a program never loads them (nor the SSH engine behind them).
