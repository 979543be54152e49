/**
 * The Mesh composition — ONE for both front doors: the TypeScript `Mesh` class (./resources.ts) and the
 * provider plugin's `wgmesh:index:Mesh` component (../plugin/mesh.ts) hand it the same pieces (the checked
 * declaration, each node's identity, group/policy names) and a factory for their NodeConfig resource; it
 * returns one NodeConfig per node, named `<mesh>-<hostname>`, plus the Mesh's summary outputs.
 *
 * Each NodeConfig's `peers` input is ONE string, a line per peer sorted by hostname (lifecycle/peerLines.ts;
 * who peers with whom follows from names alone, `peerSets`, known when the program runs): Pulumi pays one
 * property value per node for it instead of five per peer entry, and shows its change as a line diff, so a
 * preview still shows exactly which peer and field changes; a value that is truly unknown (a new node's key)
 * is written `(unknown)` in its peer's line alone.
 *
 * Cost (issue 12). Pulumi's `output()`/`pulumi.all()` deep-copy every value they receive and `apply` with
 * unknowns scans its whole value; an Output built per peer entry from the whole-mesh topology therefore
 * copied O(nodes + peer entries) per peer entry — O(N⁴) time and memory for a full mesh, kept alive until
 * the NodeConfigs were registered (4 GB at 50 nodes). The rule here: a whole-mesh value (the checked
 * declaration, the topology, the plan) is only narrowed by `.apply` with a per-node selector, O(nodes)
 * times, and never passed to `pulumi.all`; per-peer Outputs are built from per-node values or shared per
 * node (a peer's key, endpoint and a node's keepalive are ONE Output each, referenced by every NodeConfig
 * that needs them). Outputs created: ≤ 13·nodes + peer entries + 8, each holding O(1) or one node's share
 * (with per-pair preshared keys, 2 more per node: its share of the pairs' key table, issue 16).
 */
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { meshDiagram } from "../planner/diagram";
import type { FirewallPlan } from "../planner/types";
import type { MeshInputs } from "./lifecycle/mesh";
import type { NodePolicyTest } from "./lifecycle/nodeConfig";
import { PLANNED_HOST_FILES } from "./lifecycle/types";
import { wireSecret } from "./lifecycle/common";
import { presharedKeysFor, type PairKey, type PairKeyTable } from "../core/psk";
import { peerLine } from "./lifecycle/peerLines";
import { firewallText, type FirewallWire } from "./lifecycle/firewallText";
import { SECRET_MARK } from "./spec";
import { endpointFor, keepaliveFor, peerSets, planMeshConfigs, planTopology, type MeshTopology } from "./plan";

type O<T> = pulumi.Output<T>;

/** Exactly @pulumi/command's `remote.ConnectionArgs`. */
export type ConnectionArgs = command.types.input.remote.ConnectionArgs;

/** The inputs of a NodeConfig (lifecycle/nodeConfig.ts NodeConfigInputs, as Pulumi inputs). */
export interface NodeConfigArgs {
  mesh: pulumi.Input<string>;
  hostname: pulumi.Input<string>;
  interfaceName: pulumi.Input<string>;
  address: pulumi.Input<string>;
  listenPort: pulumi.Input<number>;
  mtu?: pulumi.Input<number | undefined>;
  publicKey: pulumi.Input<string>;
  /** One line per peer (lifecycle/peerLines.ts). */
  peers: pulumi.Input<string>;
  routes: pulumi.Input<string[]>;
  forwarding: pulumi.Input<boolean>;
  keyOnHost: pulumi.Input<boolean>;
  privateKey?: pulumi.Input<string | undefined>;
  connection: pulumi.Input<ConnectionArgs>;
  /** The host's files as planned (see lifecycle/nodeConfig.ts HostFiles). */
  hostFiles?: pulumi.Input<{ wgQuickConf: string; unit: string; firewall?: string }>;
  /** The node's firewall (absent: none) and the policy tests run from it (see lifecycle/nodeConfig.ts). */
  firewall?: pulumi.Input<FirewallWire | FirewallPlan | undefined | null>;
  policyTests?: pulumi.Input<Record<string, NodePolicyTest> | undefined>;
  /** Per-pair PSKs (peer hostname → { id, key }), each key a wire secret (see `pairSecrets`). */
  presharedKeys?: pulumi.Input<Record<string, unknown> | undefined>;
  /** The health gate after each change (the Mesh's healthCheck; absent: the default). */
  healthCheck?: pulumi.Input<HealthCheckArgs | undefined>;
}

/** The health gate after a change on a node (see planner/health.ts; checked by the NodeConfig). */
export interface HealthCheckArgs {
  /** "handshake" (default), "ping" or "off". */
  mode?: pulumi.Input<"handshake" | "ping" | "off">;
  /** Bound of the wait after a change, 1–600 s (default 15). */
  timeoutSeconds?: pulumi.Input<number>;
}

/** What the composition needs of one node, whichever front door declared it. */
export interface MeshMember {
  /** Mesh node name: plain, known when the program runs. */
  hostname: string;
  /** The Node resource (its NodeConfig depends on it). */
  node: pulumi.Resource;
  publicKey: O<string>;
  /** Effective NAT status: the override, else what the Node detected. */
  behindNat: O<boolean>;
  keyOnHost: pulumi.Input<boolean>;
  /** Secret; undefined when the key is on the host. */
  privateKey: pulumi.Input<string | undefined>;
  /** Secret. */
  connection: pulumi.Input<ConnectionArgs>;
}

export interface MeshComposition<R extends pulumi.Resource> {
  /** The Mesh's resource name: NodeConfigs are `<name>-<hostname>`. */
  name: string;
  /** The NodeConfigs' `mesh` input. */
  meshName: pulumi.Input<string>;
  /** The declaration's interface name (default applied by the composition). */
  interfaceName: pulumi.Input<string | undefined>;
  /** The Mesh's healthCheck, handed as it is to every NodeConfig (one value shared, no Output per node). */
  healthCheck?: pulumi.Input<HealthCheckArgs | undefined>;
  /** The declaration with `meshIps` from the declaration resource's check (validated, allocated). Not secret. */
  checked: O<MeshInputs>;
  members: readonly MeshMember[];
  /** Names only (plain), for who-peers-with-whom. */
  groups: readonly { name: string; members: readonly string[] }[];
  policies: readonly { name: string; fromGroups: readonly string[]; toGroups: readonly string[] }[];
  /** Register one NodeConfig. */
  nodeConfig(name: string, args: NodeConfigArgs, dependsOn: pulumi.Resource[]): R;
  /**
   * With per-pair preshared keys on (issue 16): the declaration's table of the pairs' keys (a secret
   * Output). Absent: no PSKs (and no Output made for them).
   */
  presharedKeyTable?: O<PairKeyTable>;
}

export interface ComposedMesh<R extends pulumi.Resource> {
  /** hostname → NodeConfig. */
  nodeConfigs: Record<string, R>;
  publicKeys: O<Record<string, string>>;
  /** hostname → "host:port" peers dial, null when behind NAT. */
  endpoints: O<Record<string, string | null>>;
  behindNat: O<Record<string, boolean>>;
  /** The mesh as a Mermaid flowchart (planner/diagram.ts), built on first call. */
  diagram(): O<string>;
  /** How many Outputs the composition created (O(nodes + peer entries); checked by a regression test). */
  outputsCreated: number;
}

type Unknown = typeof pulumi.unknown;
/** How an unknown value travels to the engine inside a known one (Pulumi's gRPC encoding, `pulumi.runtime.unknownValue`). */
const UNKNOWN = pulumi.runtime.unknownValue;

/** The parts of @pulumi/pulumi's OutputImpl (pinned 3.270.0) that `pulumi.all` itself is built from. */
interface OutputParts {
  resources(): Set<pulumi.Resource>;
  allResources(): Promise<Set<pulumi.Resource>>;
  promise(withUnknowns: boolean): Promise<unknown>;
  isKnown: Promise<boolean>;
  isSecret: Promise<boolean>;
}
type OutputCtor = new (resources: Set<pulumi.Resource>, promise: Promise<unknown>, isKnown: Promise<boolean>, isSecret: Promise<boolean>, allResources: Promise<Set<pulumi.Resource>>) => O<unknown>;

/**
 * `pulumi.all(values).apply(f)`, but run also when some values are unknown (a preview: f sees
 * `pulumi.unknown` in their place, as the SDK's own lifted property access does) and without the copy
 * `pulumi.all` makes of every value (two Outputs and ~30 promises per element: at one element per peer
 * entry that was the program's peak memory). Built from the same parts as `pulumi.all`: the values'
 * promises, known and secret flags and resources. The result is known; f must put UNKNOWN where an unknown
 * value goes, never `pulumi.unknown` (a value containing that serializes as undefined). composition.test.ts
 * checks the serialized result, so an SDK upgrade that changes these parts fails there.
 */
/** An Output's parts as `fanIn` reads them, each resolved once however many fan-ins read it. */
interface ReadParts {
  value: Promise<unknown>;
  isSecret: Promise<boolean>;
  allResources: Promise<Set<pulumi.Resource>>;
  resources: Set<pulumi.Resource>;
}
const readParts = new WeakMap<object, ReadParts>();

function partsOf(o: O<unknown>): ReadParts {
  let r = readParts.get(o);
  if (!r) {
    const p = o as unknown as OutputParts;
    r = {
      value: Promise.all([p.promise(true), p.isKnown]).then(([value, isKnown]) => (isKnown || pulumi.containsUnknowns(value) ? value : pulumi.unknown)),
      isSecret: p.isSecret,
      allResources: p.allResources(),
      resources: p.resources(),
    };
    readParts.set(o, r);
  }
  return r;
}

/**
 * `dependOn`: how many of the first values give the result its resources (dependencies); default all.
 * The rest are read for their values only.
 */
function fanIn<U>(values: O<unknown>[], f: (v: unknown[], secret: boolean[]) => U, dependOn = values.length): O<U> {
  // A peer's identity is read by every NodeConfig that has it as a peer (N−1 of them in a full mesh): its
  // promises are awaited once (partsOf), each fan-in then costs one reaction per value, not five.
  const parts = values.map(partsOf);
  const resolved = Promise.all(parts.map((p) => p.value));
  const secrets = Promise.all(parts.map((p) => p.isSecret)).then((s) => s.map((x) => x === true));
  const isSecret = secrets.then((s) => s.some((x) => x));
  const deps = parts.slice(0, dependOn);
  const allResources = Promise.all(deps.map((p) => p.allResources)).then((sets) => {
    const union = new Set<pulumi.Resource>();
    for (const set of sets) for (const r of set) union.add(r);
    return union;
  });
  const resources = new Set<pulumi.Resource>();
  for (const p of deps) for (const r of p.resources) resources.add(r);
  const Output = pulumi.Output as unknown as OutputCtor;
  return new Output(resources, Promise.all([resolved, secrets]).then(([v, secret]) => f(v, secret)), Promise.resolve(true), isSecret, allResources) as O<U>;
}

/** Whether `v` holds an Output or a promise anywhere (plain JSON values are taken as they are). */
function holdsOutputs(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  if (pulumi.Output.isInstance(v) || v instanceof Promise) return true;
  return Array.isArray(v) ? v.some(holdsOutputs) : Object.values(v as Record<string, unknown>).some(holdsOutputs);
}

/**
 * `fields` as ONE Output of an object (for a resource's SPEC_KEY input, ./spec.ts): known, with the wire's
 * unknown value in place of each unknown field (so a preview shows exactly those fields unknown), secret
 * when any field is — and then listing the secret fields' names under SECRET_MARK, so the provider's check
 * returns exactly those as secrets. Its resources (dependencies) are all the fields'. Undefined fields are
 * left out.
 */
export function packSpec(fields: Record<string, unknown>): O<Record<string, unknown>> {
  const keys = Object.keys(fields).filter((k) => fields[k] !== undefined);
  const literal: Record<string, unknown> = {};
  const lifted: string[] = [];
  for (const k of keys) {
    if (holdsOutputs(fields[k])) lifted.push(k);
    else literal[k] = fields[k];
  }
  const values = lifted.map((k) => (pulumi.Output.isInstance(fields[k]) ? fields[k] : pulumi.output(fields[k] as pulumi.Input<unknown>)) as O<unknown>);
  return fanIn(values, (v, secret) => {
    const out: Record<string, unknown> = { ...literal };
    const secretKeys: string[] = [];
    lifted.forEach((k, i) => {
      const x = v[i];
      if (x === undefined) return;
      out[k] = pulumi.isUnknown(x) ? UNKNOWN : x;
      if (secret[i]) secretKeys.push(k);
    });
    if (secretKeys.length > 0) out[SECRET_MARK] = secretKeys;
    return out;
  });
}

/**
 * `o` with `on` as its only resources (dependencies), its value, known and secret flags as they are. For a
 * whole-mesh value built from every Node's outputs (the plugin's checked declaration, plugin/mesh.ts): the
 * declaration resource it is the value of depends on those Nodes already, so whatever reads the plan depends
 * on them through it. Without this every NodeConfig the plugin registered recorded every Node's URN under
 * address, listenPort, routes, forwarding and peers — O(N²) URNs in the state, rewritten at every
 * checkpoint (the YAML/Python previews' engine CPU was twice the TypeScript program's for the same mesh).
 */
export function dependingOnlyOn<T>(o: O<T>, on: readonly pulumi.Resource[]): O<T> {
  const p = o as unknown as OutputParts;
  const set = new Set(on);
  const Output = pulumi.Output as unknown as OutputCtor;
  return new Output(set, p.promise(true), p.isKnown, p.isSecret, Promise.resolve(set)) as O<T>;
}

/**
 * One node's PSKs (peer → { id, key }, from the secret table) as a plain map in which each KEY is a secret:
 * the engine stores each encrypted and a preview shows per pair what changes — `+ web2: { id, key: [secret] }`,
 * `~ id: "…" => "…"` — where a secret Output would make the whole map one [secret] (and Pulumi shows any two
 * secrets as the same "[secret]": the id is what makes a new key visible). The Output itself is then not
 * secret: every key in it is.
 */
function pairSecrets(table: O<PairKeyTable>, select: (t: PairKeyTable) => Record<string, PairKey>): O<Record<string, unknown>> {
  return pulumi.unsecret(table.apply((t) => {
    const out: Record<string, unknown> = {};
    for (const [peer, k] of Object.entries(select(t))) out[peer] = { id: k.id, key: wireSecret(k.key) };
    return out;
  }));
}

export function composeMesh<R extends pulumi.Resource>(c: MeshComposition<R>): ComposedMesh<R> {
  let outputs = 0;
  /** `o.apply(f)`, counted. Never give it a whole-mesh value to copy: select from it. */
  const sel = <T, U>(o: O<T>, f: (t: T) => U): O<U> => {
    outputs++;
    return o.apply(f) as O<U>;
  };
  /** `pulumi.all([a, b]).apply(f)`, counted; only for small (per-node) values: `all` deep-copies them. */
  const join = <A, B, U>(a: O<A>, b: O<B>, f: (a: A, b: B) => U): O<U> => {
    outputs += 2;
    return pulumi.all([a, b]).apply(([x, y]) => f(x as A, y as B)) as O<U>;
  };

  const name = c.name;
  /** A value from `fanIn`, or — where it is unknown — the wire protocol's unknown value. */
  const known = <T>(v: unknown): T => (pulumi.isUnknown(v) ? (UNKNOWN as T) : (v as T));
  const topo: O<MeshTopology> = sel(c.checked, (m) => planTopology(m));
  const keepalive = sel(topo, (t) => t.keepalive);
  outputs++;
  const interfaceName = pulumi.output(c.interfaceName).apply((i) => i ?? "wg0");

  // Per node, once: what its peers need of it — its key and the endpoint they dial — as ONE Output (its
  // value known: an unknown key or endpoint is UNKNOWN inside it).
  const identityOf = new Map<string, O<{ publicKey: string; endpoint: string | undefined }>>();
  for (const m of c.members) {
    const ends = sel(topo, (t) => {
      const e = t.endpoints[m.hostname];
      if (!e) throw new Error(`mesh ${name}: node ${m.hostname} is missing from the plan`);
      return e;
    });
    outputs++;
    identityOf.set(m.hostname, fanIn([m.publicKey, ends, m.behindNat], ([key, e, nat]) => ({
      publicKey: known<string>(key),
      endpoint: pulumi.isUnknown(e) || pulumi.isUnknown(nat) ? UNKNOWN : endpointFor(e as MeshTopology["endpoints"][string], nat as boolean),
    })));
  }

  const sets = peerSets(c.members.map((m) => m.hostname), c.groups, c.policies);
  const nodeConfigs: Record<string, R> = {};
  for (const x of c.members) {
    const h = x.hostname;
    const own = sel(topo, (t) => {
      const n = t.nodes[h];
      if (!n) throw new Error(`mesh ${name}: node ${h} is missing from the plan`);
      return n;
    });
    const keepaliveOfX = join(keepalive, x.behindNat, keepaliveFor);
    const names = sets[h] ?? [];
    // ONE Output for all of x's peers: its value holds plain values where they are known and, where one is
    // not (a preview), the wire protocol's unknown value — so the engine sees exactly that field unknown
    // (what serializing an unknown Output there would produce, without one Output per peer field).
    outputs++;
    // Lines in hostname order (the text's canonical order).
    const ordered = names.map((y, i) => [y, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    // Its dependencies: the declaration (own) and x's Node (keepaliveOfX), not every peer's Node. The peers'
    // keys flow in as values (x is registered only once they are known, or unknown in a preview); a Node's
    // delete does nothing on a host, so no delete order needs the edges; and recorded, they were the URNs of
    // all peers in every NodeConfig's state twice (dependencies + propertyDependencies: O(N²) per checkpoint).
    const peers = fanIn([own, keepaliveOfX, ...names.map((y) => identityOf.get(y) as O<unknown>)], (v) => {
      const [n, ka] = v as [MeshTopology["nodes"][string] | Unknown, number | undefined | Unknown];
      const keepaliveX = known<number | undefined>(ka);
      let out = "";
      for (const [y, i] of ordered) {
        let allowedIps: string[] = UNKNOWN as never;
        if (!pulumi.isUnknown(n)) {
          const p = (n as MeshTopology["nodes"][string]).peers[y];
          if (!p) throw new Error(`mesh ${name}: ${y} is not a peer of ${h} in the plan`);
          allowedIps = p.allowedIps;
        }
        const id = v[2 + i] as { publicKey: string; endpoint: string | undefined };
        out += peerLine(y, { publicKey: id.publicKey, allowedIps, endpoint: id.endpoint ?? null, persistentKeepalive: keepaliveX ?? null }) + "\n";
      }
      return out;
    }, 2);
    // Per-pair PSKs: x's share of the table (O(x's peers)), two Outputs per node.
    const table = c.presharedKeyTable;
    const presharedKeys = table ? pairSecrets(table, (t) => presharedKeysFor(t, h, names)) : undefined;
    if (presharedKeys) outputs += 2;
    nodeConfigs[h] = c.nodeConfig(
      `${name}-${h}`,
      {
        mesh: c.meshName,
        hostname: h,
        interfaceName,
        address: sel(own, (n) => n.address),
        listenPort: sel(own, (n) => n.listenPort),
        mtu: sel(own, (n) => n.mtu),
        publicKey: x.publicKey,
        peers,
        routes: sel(own, (n) => n.routes),
        forwarding: sel(own, (n) => n.forwarding),
        keyOnHost: x.keyOnHost,
        privateKey: x.privateKey,
        connection: x.connection,
        hostFiles: { ...PLANNED_HOST_FILES },
        firewall: sel(own, (n) => firewallText(n.firewall)),
        policyTests: sel(own, (n) => n.policyTests),
        ...(presharedKeys ? { presharedKeys } : {}),
        ...(c.healthCheck !== undefined ? { healthCheck: c.healthCheck } : {}),
      },
      [x.node],
    );
  }

  // The summary outputs: one plan with every key and NAT status (it also rejects duplicate keys).
  const identities = c.members.map((m) => join(m.publicKey, m.behindNat, (publicKey, behindNat) => ({ hostname: m.hostname, publicKey, behindNat })));
  outputs += 2;
  const plan = pulumi.all([c.checked, pulumi.all(identities)]).apply(([m, ids]) => ({ mesh: m, summary: planMeshConfigs(m, ids) }));
  let diagram: O<string> | undefined;
  return {
    nodeConfigs,
    publicKeys: sel(plan, (p) => p.summary.publicKeys),
    endpoints: sel(plan, (p) => p.summary.endpoints),
    behindNat: sel(plan, (p) => p.summary.behindNat),
    diagram: () => (diagram ??= plan.apply((p) => meshDiagram(p.mesh, { meshIps: p.summary.meshIps, behindNat: p.summary.behindNat }))),
    outputsCreated: outputs,
  };
}
