/**
 * The Mesh component (`wgmesh:index:Mesh`), constructed inside the plugin for programs in any language: the
 * one shared composition with the TypeScript Mesh class (../pulumi/composition.ts `composeMesh`) over
 * a `MeshDeclaration` custom resource (the mesh lifecycle: validation + stable mesh IP allocation) and one
 * `NodeConfig` custom resource per node (the nodeConfig lifecycle: apply / read / teardown over SSH),
 * named `<mesh>-<node>` and parented to the component.
 *
 * The Node/Group/Policy arguments arrive as resource references; the resource module registered here turns
 * them into resources whose outputs come from the engine's state (`getResource`).
 */
import * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { composeMesh, dependingOnlyOn, type HealthCheckArgs } from "../pulumi/composition";
import "../pulumi/quiet";
import type { MeshInputs, MeshNodeInputs } from "../pulumi/lifecycle/mesh";
import { PACKAGE, TOKENS } from "./schema";
import { urnName } from "./values";
import type { PairKeyTable } from "../core/psk";

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
  declare readonly ports: O<string[] | undefined>;
  declare readonly fromUrns: O<string[]>;
  declare readonly toUrns: O<string[]>;
  constructor(name: string, urn: string) {
    const props = ["name", "description", "fromGroups", "toGroups", "allowMeshIps", "allowRoutableNetworks", "ports", "fromUrns", "toUrns"];
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

  // Names, members and policy groups are plain values when the program runs, as in the TypeScript Mesh:
  // the references' names and URNs are known also for resources that are new in a preview (unlike their
  // ids). A reference to something outside this mesh keeps its resource name, which the core reports.
  const hostnames = await Promise.all(nodes.map(async (n) => {
    const h = await known<string | undefined>(n.hostname, "").catch(() => undefined);
    if (typeof h !== "string" || h === "") throw new Error(`wgmesh: Mesh ${name}: the hostname of Node ${JSON.stringify(n.resourceName)} must be known when the program runs (a plain value, not another resource's output)`);
    return h;
  }));
  const hostnameByUrn = Object.fromEntries(await Promise.all(nodes.map(async (n, i) => [await known<string>(n.urn, "node URNs"), hostnames[i]] as const)));
  const groupNames = await Promise.all(groups.map(async (g) => ({
    urn: await known<string>(g.urn, "group URNs"),
    name: await known<string>(g.name, "group names"),
    members: resolve(await known<string[] | undefined>(g.memberUrns, ""), hostnameByUrn),
  })));
  const groupByUrn = Object.fromEntries(groupNames.map((g) => [g.urn, g.name]));
  const policyNames = await Promise.all(policies.map(async (p) => ({
    name: await known<string>(p.name, "policy names"),
    fromGroups: resolve(await known<string[] | undefined>(p.fromUrns, ""), groupByUrn),
    toGroups: resolve(await known<string[] | undefined>(p.toUrns, ""), groupByUrn),
  })));

  const nodeInputs = nodes.map((n, i) =>
    pulumi.all([n.connection, n.meshIp, n.listenPort, n.publicEndpoint, n.behindNat, n.routableNetworks]).apply(
      ([conn, meshIp, listenPort, publicEndpoint, behindNat, routableNetworks]) =>
        withoutNulls({ hostname: hostnames[i], sshHost: conn.host, sshPort: conn.port ?? 22, meshIp, listenPort, publicEndpoint, behindNat, routableNetworks: [...(routableNetworks ?? [])] }) as MeshNodeInputs,
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
    groups: pulumi.all(groups.map((g) => g.description)).apply((descriptions) =>
      groupNames.map((g, i) => withoutNulls({ name: g.name, members: g.members, description: descriptions[i] })),
    ),
    policies: pulumi.all(policies.map((p) => pulumi.all([p.description, p.allowMeshIps, p.allowRoutableNetworks, p.ports]))).apply((ps) =>
      policyNames.map((p, i) => {
        const [description, allowMeshIps, allowRoutableNetworks, ports] = ps[i] as [string | undefined, boolean | undefined, boolean | undefined, string[] | undefined];
        return withoutNulls({ name: p.name, description, fromGroups: p.fromGroups, toGroups: p.toGroups, allowMeshIps, allowRoutableNetworks, ports });
      }),
    ),
    enforcement: inputs.enforcement,
    policyTests: inputs.policyTests,
    presharedKeys: inputs.presharedKeys,
    pskRotationTrigger: inputs.pskRotationTrigger,
  };
  // Per-pair PSKs (issue 16) are wired only when switched on by a value known when the program runs.
  const presharedKeys = (await known<boolean | undefined>(inputs.presharedKeys, "").catch(() => undefined)) === true;
  const childOpts = { parent: component, version };
  const declaration = new Child(TOKENS.meshDeclaration, name, { ...declared, meshIps: undefined, presharedKeyTable: undefined }, { ...childOpts, dependsOn: [...groups, ...policies] });
  const meshIpsOut = (declaration as unknown as { meshIps: O<Record<string, string>> }).meshIps;
  const pairKeys = (declaration as unknown as { presharedKeyTable: O<PairKeyTable> }).presharedKeyTable;

  const composed = composeMesh({
    name,
    meshName,
    interfaceName: inputs.interfaceName as pulumi.Input<string | undefined>,
    healthCheck: inputs.healthCheck as pulumi.Input<HealthCheckArgs | undefined>,
    // Read by every NodeConfig: it depends on the declaration (which depends on every Node), not on every
    // Node itself — as in the TypeScript Mesh, whose declared inputs are plain values.
    checked: dependingOnlyOn(pulumi.unsecret(pulumi.all({ ...declared, meshIps: meshIpsOut }) as unknown as O<MeshInputs>), [declaration]),
    members: nodes.map((n, i) => ({
      hostname: hostnames[i] as string,
      node: n,
      publicKey: n.publicKey,
      behindNat: pulumi.all([n.behindNat, n.natDetected]).apply(([override, detected]) => override ?? detected === true),
      keyOnHost: n.keyOnHost,
      privateKey: pulumi.all([n.keyOnHost, n.privateKey]).apply(([onHost, key]) => (onHost ? undefined : key)),
      connection: n.connection,
    })),
    groups: groupNames,
    policies: policyNames,
    nodeConfig: (configName, configArgs, dependsOn) =>
      new Child(TOKENS.nodeConfig, configName, configArgs as unknown as pulumi.Inputs, { ...childOpts, dependsOn, additionalSecretOutputs: ["privateKey", "connection"] }),
    ...(presharedKeys ? { presharedKeyTable: pairKeys } : {}),
  });

  const state = {
    meshIps: pulumi.unsecret(meshIpsOut),
    publicKeys: pulumi.unsecret(composed.publicKeys),
    endpoints: pulumi.unsecret(composed.endpoints).apply((e) => withoutNulls(e) as Record<string, string>),
    behindNat: pulumi.unsecret(composed.behindNat),
    diagram: pulumi.unsecret(composed.diagram()),
  };
  component.publish(state);
  return { urn: component.urn, state };
}
