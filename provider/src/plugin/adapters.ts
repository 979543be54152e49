/**
 * The plugin's custom resources: each token wraps the SAME lifecycle object the dynamic providers use
 * (../pulumi/lifecycle). An adapter only translates between the engine's property values and the
 * lifecycle's plain JSON:
 *  - secrets unwrapped on the way in, the schema's secret properties (and any property that came in
 *    secret) wrapped on the way out;
 *  - defaults that the TypeScript classes fill in the program (hostname/name = the resource name) filled
 *    from the URN, and resource references (Group.members, Policy.from/to) turned into the names the
 *    lifecycles take (a Node's id is its hostname, a Group's id its name);
 *  - the Node's topology settings (meshIp, listenPort, …), which the TypeScript Node keeps in the program,
 *    passed through the Node's state so the Mesh component can read them; likewise the URNs of the
 *    references of Group and Policy, through which the Mesh resolves members/groups whose ids (names) are
 *    not known yet in a preview;
 *  - the DecentralizedNode's `hostState` (output only in the schema) filled into the checked inputs with the
 *    planned value, as the TypeScript class passes it: a refresh that reads another state shows as a diff.
 * A preview's create/update goes to the lifecycle's pure `preview` (see ./serve.ts for why the plugin gets them).
 */
import { lifecycles, type ResourceKind } from "../pulumi/lifecycle/index";
import { containsUnknown, deepEqual } from "../pulumi/lifecycle/common";
import type { CheckFailure, DiffResult, Lifecycle, LifecycleContext } from "../pulumi/lifecycle/types";
import { PLANNED_DAEMON_STATE } from "../engine/daemonstate";
import { GROUP_REFS, NODE_TOPOLOGY, POLICY_REFS, TOKENS, buildSchema } from "./schema";
import { isResourceRef, plain, refId, toEngine, urnName } from "./values";

type Props = Record<string, unknown>;

export interface CustomAdapter {
  token: string;
  kind: ResourceKind;
  /** Engine inputs (plain) → lifecycle inputs. */
  normalize(urn: string, news: Props): Props;
  /** Properties kept in state beside the lifecycle's own (no host side). */
  passthrough: readonly string[];
}

const rename = (o: Props, from: string, to: string): void => {
  if (from in o) {
    o[to] = o[from];
    delete o[from];
  }
};

const refs = (v: unknown): unknown => (Array.isArray(v) ? v.map(refId) : v);
/** The URNs of references: known even for resources that are new in a preview (unlike their ids). */
const urns = (v: unknown): unknown => (Array.isArray(v) ? v.map((x) => (isResourceRef(x) ? x.urn : x)) : v);

/** Every custom resource token (all but the Mesh component): an adapter missing for one fails to compile. */
type CustomToken = Exclude<(typeof TOKENS)[keyof typeof TOKENS], typeof TOKENS.mesh>;

export const ADAPTERS: Record<CustomToken, CustomAdapter> = {
  [TOKENS.node]: {
    token: TOKENS.node,
    kind: "node",
    passthrough: NODE_TOPOLOGY,
    normalize(urn, news) {
      return { ...news, hostname: news.hostname ?? urnName(urn), keyOnHost: news.keyOnHost ?? false, interfaceName: news.interfaceName ?? "wg0" };
    },
  },
  [TOKENS.group]: {
    token: TOKENS.group,
    kind: "group",
    passthrough: GROUP_REFS,
    normalize(urn, news) {
      return { ...news, name: news.name ?? urnName(urn), members: refs(news.members), memberUrns: urns(news.members) };
    },
  },
  [TOKENS.policy]: {
    token: TOKENS.policy,
    kind: "policy",
    passthrough: POLICY_REFS,
    normalize(urn, news) {
      const o: Props = { ...news, name: news.name ?? urnName(urn) };
      rename(o, "from", "fromGroups");
      rename(o, "to", "toGroups");
      o.fromUrns = urns(o.fromGroups);
      o.toUrns = urns(o.toGroups);
      o.fromGroups = refs(o.fromGroups);
      o.toGroups = refs(o.toGroups);
      return o;
    },
  },
  [TOKENS.meshDeclaration]: { token: TOKENS.meshDeclaration, kind: "mesh", passthrough: [], normalize: (_urn, news) => news },
  [TOKENS.nodeConfig]: { token: TOKENS.nodeConfig, kind: "nodeConfig", passthrough: [], normalize: (_urn, news) => news },
  [TOKENS.meshSecret]: { token: TOKENS.meshSecret, kind: "meshSecret", passthrough: [], normalize: (_urn, news) => news },
  [TOKENS.decentralizedNode]: {
    token: TOKENS.decentralizedNode,
    kind: "decentralizedNode",
    passthrough: [],
    normalize(urn, news) {
      return { ...news, hostname: news.hostname ?? urnName(urn), hostState: { ...PLANNED_DAEMON_STATE } };
    },
  },
};

type SchemaResource = { properties: Record<string, { secret?: boolean }>; inputProperties: Record<string, { secret?: boolean }> };

function schemaResource(token: string): SchemaResource {
  const r = (buildSchema("0.0.0").resources as Record<string, SchemaResource>)[token];
  return r ?? { properties: {}, inputProperties: {} };
}

function schemaOutputs(token: string): Record<string, { secret?: boolean }> {
  return schemaResource(token).properties;
}

/**
 * Optional settings that are inputs and outputs alike (not secrets): absent from the checked inputs they
 * are recorded as null, so that during a preview a program reading the resource (the Mesh component, via
 * the engine's state) sees "not set" instead of an unknown. Output-only properties (a new Node's key) stay
 * unknown until created; secrets are left alone (an absent Node privateKey means "generate one").
 */
function checkNulls(token: string): string[] {
  const r = schemaResource(token);
  return Object.entries(r.inputProperties).filter(([k, p]) => p.secret !== true && k in r.properties).map(([k]) => k);
}

/** The schema's secret output properties of a resource: the single list the plugin wraps. */
function schemaSecrets(token: string): string[] {
  return Object.entries(schemaOutputs(token)).filter(([, p]) => p.secret === true).map(([k]) => k);
}

function split(a: CustomAdapter, props: Props): { own: Props; extra: Props } {
  const own: Props = {};
  const extra: Props = {};
  for (const [k, v] of Object.entries(props)) (a.passthrough.includes(k) ? extra : own)[k] = v;
  return { own, extra };
}

export function adapterFor(urnOrToken: string): CustomAdapter {
  const token = urnOrToken.startsWith("urn:") ? (urnOrToken.split("::")[2] ?? "").split("$").pop() ?? "" : urnOrToken;
  const a = (ADAPTERS as Record<string, CustomAdapter | undefined>)[token];
  if (!a) throw new Error(`wgmesh: unknown resource type ${JSON.stringify(token)} (known: ${Object.keys(ADAPTERS).join(", ")})`);
  return a;
}

/** One custom resource's operations over engine values, as `@pulumi/pulumi/provider`'s Provider wants them. */
export class CustomResourceOps {
  private readonly secrets: string[];
  private readonly outputNames: string[];
  private readonly inputNulls: string[];
  private readonly lc: Lifecycle<any, any>;

  constructor(private readonly a: CustomAdapter) {
    this.secrets = schemaSecrets(a.token);
    this.outputNames = Object.keys(schemaOutputs(a.token));
    this.inputNulls = checkNulls(a.token);
    this.lc = lifecycles[a.kind] as Lifecycle<any, any>;
  }

  /** Outputs: every schema property present (null when none), secrets wrapped. */
  private out(props: Props, incoming: Props | undefined): Props {
    return toEngine(props, this.secrets, this.outputNames, incoming);
  }

  /** Checked inputs: as normalized, optional settings null when absent, secrets wrapped. */
  private inputs(props: Props, incoming: Props): Props {
    return toEngine(props, this.secrets, this.inputNulls, incoming);
  }

  async check(urn: string, olds: Props | undefined, news: Props, ctx: LifecycleContext): Promise<{ inputs: Props; failures: CheckFailure[] }> {
    const input = this.a.normalize(urn, plain(news) as Props);
    const { own, extra } = split(this.a, input);
    const prior = olds && Object.keys(olds).length > 0 ? (plain(olds) as Props) : undefined;
    const r = await this.lc.check(prior as never, own as never, ctx);
    return { inputs: this.inputs({ ...(r.inputs as Props), ...extra }, news), failures: r.failures };
  }

  async diff(id: string, olds: Props, news: Props, ctx: LifecycleContext): Promise<DiffResult> {
    const o = split(this.a, plain(olds) as Props);
    const n = split(this.a, plain(news) as Props);
    const r = await this.lc.diff(id, o.own as never, n.own as never, ctx);
    const extraChanged = this.a.passthrough.filter((k) => containsUnknown(n.extra[k]) || !deepEqual(o.extra[k], n.extra[k]));
    const changed = [...r.changed, ...extraChanged];
    return { ...r, changed, changes: changed.length > 0 };
  }

  async create(_urn: string, inputs: Props, ctx: LifecycleContext): Promise<{ id: string; outs: Props }> {
    const { own, extra } = split(this.a, plain(inputs) as Props);
    const r = await this.lc.create(own as never, ctx);
    return { id: r.id, outs: this.out({ ...(r.outs as Props), ...extra }, inputs) };
  }

  async read(id: string, props: Props, ctx: LifecycleContext): Promise<{ id: string; props: Props }> {
    const { own, extra } = split(this.a, plain(props) as Props);
    const r = await this.lc.read(id, own as never, ctx);
    return { id: r.id, props: this.out({ ...(r.props as Props), ...extra }, props) };
  }

  async update(id: string, olds: Props, news: Props, ctx: LifecycleContext): Promise<{ outs: Props }> {
    const o = split(this.a, plain(olds) as Props);
    const n = split(this.a, plain(news) as Props);
    // Only pass-through settings changed: nothing for the lifecycle to do (no SSH).
    const own = (await this.lc.diff(id, o.own as never, n.own as never, ctx)).changes
      ? ((await this.lc.update(id, o.own as never, n.own as never, ctx)).outs as Props)
      : o.own;
    return { outs: this.out({ ...own, ...n.extra }, news) };
  }

  /** What `create` would return, for a preview (the lifecycle's pure preview; no host touched). */
  previewCreate(inputs: Props): { id: string; outs: Props } {
    const { own, extra } = split(this.a, plain(inputs) as Props);
    return { id: "", outs: this.out({ ...(this.lc.preview(undefined, own as never) as Props), ...extra }, inputs) };
  }

  /** What `update` would return, for a preview. */
  async previewUpdate(id: string, olds: Props, news: Props, ctx: LifecycleContext): Promise<{ outs: Props }> {
    const o = split(this.a, plain(olds) as Props);
    const n = split(this.a, plain(news) as Props);
    const own = (await this.lc.diff(id, o.own as never, n.own as never, ctx)).changes ? (this.lc.preview(o.own as never, n.own as never) as Props) : o.own;
    return { outs: this.out({ ...own, ...n.extra }, news) };
  }

  async delete(id: string, props: Props, ctx: LifecycleContext): Promise<void> {
    await this.lc.delete(id, split(this.a, plain(props) as Props).own as never, ctx);
  }
}
