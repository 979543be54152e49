/**
 * The Mesh component (`wgmesh:index:Mesh`), constructed inside the plugin for programs in any language: the
 * same composition as the TypeScript Mesh class (../pulumi/resources.ts) over the same shared pieces —
 * a `MeshDeclaration` custom resource (the mesh lifecycle: validation + stable mesh IP allocation), the pure
 * per-node plan (`planMeshConfigs`), and one `NodeConfig` custom resource per node (the nodeConfig
 * lifecycle: apply / read / teardown over SSH), named `<mesh>-<node>` and parented to the component.
 *
 * The Node/Group/Policy arguments arrive as resource references; the resource module registered here turns
 * them into resources whose outputs come from the engine's state (`getResource`).
 */
import * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { MESH_DEFAULTS } from "../core/model";
import { planMeshConfigs, type MeshPlanSummary } from "../pulumi/plan";
import type { MeshInputs, MeshNodeInputs } from "../pulumi/lifecycle/mesh";
import { PLANNED_HOST_FILES } from "../pulumi/lifecycle/types";
import { PACKAGE, TOKENS } from "./schema";
import { urnName } from "./values";

type O<T> = pulumi.Output<T>;

class NodeRef extends pulumi.CustomResource {
  declare readonly hostname: O<string>;
  declare readonly connection: O<{ host: string; port?: number }>;
  declare readonly keyOnHost: O<boolean>;
  declare readonly privateKey: O<string | undefined>;
  declare readonly publicKey: O<string>;
  declare readonly natDetected: O<boolean | undefined>;
  declare readonly meshIp: O<string | undefined>;
  declare readonly listenPort: O<number | undefined>;
  declare readonly publicEndpoint: O<string | undefined>;
  declare readonly behindNat: O<boolean | undefined>;
  declare readonly routableNetworks: O<string[] | undefined>;
  constructor(readonly resourceName: string, urn: string) {
    const props = ["hostname", "connection", "keyOnHost", "privateKey", "publicKey", "natDetected", "meshIp", "listenPort", "publicEndpoint", "behindNat", "routableNetworks", "interfaceName"];
    super(TOKENS.node, resourceName, Object.fromEntries(props.map((p) => [p, undefined])), { urn });
  }
}

class GroupRef extends pulumi.CustomResource {
  declare readonly name: O<string>;
  declare readonly description: O<string | undefined>;
  declare readonly members: O<string[]>;
  declare readonly memberUrns: O<string[]>;
  constructor(name: string, urn: string) {
    super(TOKENS.group, name, { name: undefined, description: undefined, members: undefined, memberUrns: undefined }, { urn });
  }
}

class PolicyRef extends pulumi.CustomResource {
  declare readonly name: O<string>;
  declare readonly description: O<string | undefined>;
  declare readonly fromGroups: O<string[]>;
  declare readonly toGroups: O<string[]>;
  declare readonly allowMeshIps: O<boolean | undefined>;
  declare readonly allowRoutableNetworks: O<boolean | undefined>;
  declare readonly fromUrns: O<string[]>;
  declare readonly toUrns: O<string[]>;
  constructor(name: string, urn: string) {
    const props = ["name", "description", "fromGroups", "toGroups", "allowMeshIps", "allowRoutableNetworks", "fromUrns", "toUrns"];
    super(TOKENS.policy, name, Object.fromEntries(props.map((p) => [p, undefined])), { urn });
  }
}

/** A custom resource of this package registered by the component (MeshDeclaration, NodeConfig). */
class Child extends pulumi.CustomResource {}

class MeshComponent extends pulumi.ComponentResource {
  publish(outputs: pulumi.Inputs): void {
    this.registerOutputs(outputs);
  }
}

/** Rehydrate resource references to our own resources (once per process). */
export function registerResourceModule(version: string): void {
  pulumi.runtime.registerResourceModule(PACKAGE, "index", {
    version,
    construct(name: string, type: string, urn: string): pulumi.Resource {
      switch (type) {
        case TOKENS.node: return new NodeRef(name, urn);
        case TOKENS.group: return new GroupRef(name, urn);
        case TOKENS.policy: return new PolicyRef(name, urn);
        default: throw new Error(`wgmesh: cannot reference a resource of type ${type}`);
      }
    },
  });
}

/** The value of an input that may be an Output (resource references are known even in a preview). */
async function known<T>(v: unknown, what: string): Promise<T> {
  if (!pulumi.Output.isInstance(v)) return v as T;
  const value = await (v as unknown as { promise(withUnknowns?: boolean): Promise<T> }).promise(true);
  if (value === undefined && what !== "") throw new Error(`wgmesh: Mesh ${what} must be known when the program runs`);
  return value;
}

function listOf<T>(v: unknown, token: string, arg: string, Ctor: new (...a: any[]) => T): T[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error(`wgmesh: Mesh argument ${arg} must be a list of ${token} resources`);
  return v.map((x, i) => {
    if (!(x instanceof Ctor)) throw new Error(`wgmesh: Mesh argument ${arg}[${i}] is not a ${token} resource but ${JSON.stringify(x)} (pass the resource itself, e.g. nodes: [web1, web2])`);
    return x;
  });
}

/** URN → name of the given resources (their names as the lifecycles know them). */
function nameByUrn<R extends pulumi.Resource>(resources: R[], name: (r: R) => O<string>): O<Record<string, string>> {
  return pulumi.all(resources.map((r) => pulumi.all([r.urn, name(r)]))).apply((pairs) => Object.fromEntries(pairs));
}

function resolve(urns: readonly string[] | undefined, names: Record<string, string>): string[] {
  return (urns ?? []).map((u) => names[u] ?? urnName(u));
}

function withoutNulls<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;
}

export async function constructMesh(name: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions, version: string): Promise<provider.ConstructResult> {
  const component = new MeshComponent(TOKENS.mesh, name, {}, options);
  const nodes = listOf(await known(inputs.nodes, "nodes"), TOKENS.node, "nodes", NodeRef);
  const groups = listOf(await known(inputs.groups, "groups"), TOKENS.group, "groups", GroupRef);
  const policies = listOf(await known(inputs.policies, "policies"), TOKENS.policy, "policies", PolicyRef);
  const meshName = pulumi.output(inputs.name as pulumi.Input<string> | undefined).apply((n) => n ?? name);

  const nodeInputs = nodes.map((n) =>
    pulumi.all([n.hostname, n.connection, n.meshIp, n.listenPort, n.publicEndpoint, n.behindNat, n.routableNetworks]).apply(
      ([hostname, conn, meshIp, listenPort, publicEndpoint, behindNat, routableNetworks]) =>
        withoutNulls({ hostname, sshHost: conn.host, sshPort: conn.port ?? 22, meshIp, listenPort, publicEndpoint, behindNat, routableNetworks: [...(routableNetworks ?? [])] }) as MeshNodeInputs,
    ),
  );
  const declared = {
    name: meshName,
    network: inputs.network,
    interfaceName: inputs.interfaceName,
    listenPort: inputs.listenPort,
    persistentKeepalive: inputs.persistentKeepalive,
    mtu: inputs.mtu,
    // The node list carries SSH hosts, not secrets: unsecret it so the declaration stays readable in diffs.
    nodes: pulumi.unsecret(pulumi.all(nodeInputs)),
    // Members and policy groups through the references' URNs (known in a preview, unlike a new resource's
    // id); a reference to something outside this mesh keeps its resource name, which the core reports.
    groups: pulumi.all([nameByUrn(nodes, (n) => n.hostname), pulumi.all(groups.map((g) => pulumi.all([g.name, g.memberUrns, g.description])))]).apply(([names, gs]) =>
      gs.map(([n, memberUrns, description]) => withoutNulls({ name: n, members: resolve(memberUrns, names), description })),
    ),
    policies: pulumi.all([nameByUrn(groups, (g) => g.name), pulumi.all(policies.map((p) => pulumi.all([p.name, p.description, p.fromUrns, p.toUrns, p.allowMeshIps, p.allowRoutableNetworks])))]).apply(([names, ps]) =>
      ps.map(([n, description, fromUrns, toUrns, allowMeshIps, allowRoutableNetworks]) =>
        withoutNulls({ name: n, description, fromGroups: resolve(fromUrns, names), toGroups: resolve(toUrns, names), allowMeshIps, allowRoutableNetworks }),
      ),
    ),
  };
  const childOpts = { parent: component, version };
  const declaration = new Child(TOKENS.meshDeclaration, name, { ...declared, meshIps: undefined }, { ...childOpts, dependsOn: [...groups, ...policies] });
  const meshIpsOut = (declaration as unknown as { meshIps: O<Record<string, string>> }).meshIps;

  const checked = pulumi.all({ ...declared, meshIps: meshIpsOut }) as unknown as O<MeshInputs>;
  const identities = pulumi.all(nodes.map((n) => pulumi.all([n.hostname, n.publicKey, n.behindNat, n.natDetected]).apply(
    ([hostname, publicKey, override, detected]) => ({ hostname, publicKey, behindNat: override ?? detected === true }),
  )));
  const plan: O<MeshPlanSummary> = pulumi.unsecret(pulumi.all([checked, identities]).apply(([m, ids]) => planMeshConfigs(m, ids)));

  for (const node of nodes) {
    // Named after the node's hostname like the TypeScript Mesh (`<mesh>-<hostname>`); it is known when the
    // program runs (the Node's check fills it in), else the Node's resource name stands in.
    const hostname = await known<string | undefined>(node.hostname, "").catch(() => undefined);
    const cfg = pulumi.all([plan, node.hostname]).apply(([p, h]) => {
      const c = p.nodes[h];
      if (!c) throw new Error(`mesh ${name}: node ${h} is missing from the plan`);
      return c;
    });
    new Child(
      TOKENS.nodeConfig,
      `${name}-${typeof hostname === "string" && hostname !== "" ? hostname : node.resourceName}`,
      {
        // The same values as the plan's, taken from where they are known even when the plan is not (a
        // preview where a node's own settings change): an unknown hostname would read as a replacement.
        mesh: meshName,
        hostname: node.hostname,
        interfaceName: pulumi.output(inputs.interfaceName as pulumi.Input<string | undefined>).apply((i) => i ?? MESH_DEFAULTS.interfaceName),
        address: cfg.address,
        listenPort: cfg.listenPort,
        mtu: cfg.apply((c) => c.mtu),
        publicKey: cfg.publicKey,
        peers: cfg.peers,
        routes: cfg.routes,
        forwarding: cfg.forwarding,
        keyOnHost: node.keyOnHost,
        privateKey: pulumi.all([node.keyOnHost, node.privateKey]).apply(([onHost, key]) => (onHost ? undefined : key)),
        connection: node.connection,
        hostFiles: { ...PLANNED_HOST_FILES },
        healthCheck: inputs.healthCheck, // [issue 14] pass-through of the Mesh's healthCheck
      },
      { ...childOpts, dependsOn: [node], additionalSecretOutputs: ["privateKey", "connection"] },
    );
  }

  const state = {
    meshIps: plan.apply((p) => p.meshIps),
    publicKeys: plan.apply((p) => p.publicKeys),
    endpoints: plan.apply((p) => withoutNulls(p.endpoints) as Record<string, string>),
    behindNat: plan.apply((p) => p.behindNat),
  };
  component.publish(state);
  return { urn: component.urn, state };
}
