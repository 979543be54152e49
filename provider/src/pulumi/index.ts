/**
 * The Pulumi face of wgmesh: `import * as wgmesh from "@wgmesh/pulumi"`.
 * Resources (resources.ts) are dynamic resources over the lifecycles (lifecycle/), which the provider
 * plugin reuses.
 */
export { Node, Group, Policy, Mesh, NodeConfig, type NodeArgs, type GroupArgs, type PolicyArgs, type MeshArgs, type NodeConfigArgs, type ConnectionArgs } from "./resources";
export { MeshSecret, DecentralizedNode, type MeshSecretArgs, type DecentralizedNodeArgs } from "./decentralized";
export { planMeshConfigs, type MeshPlanSummary, type PlannedNodeConfig, type NodeIdentity } from "./plan";
export { providerFor, DYNAMIC_MODULE } from "./providers";
// The lifecycles (./lifecycle) run in the provider processes, loaded by path (providers.ts) or by the
// plugin; a program never loads them (nor the SSH engine behind them).
