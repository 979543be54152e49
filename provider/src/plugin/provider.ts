/**
 * The plugin's `Provider` for `@pulumi/pulumi/provider`'s `main` (served by ./serve): custom resources
 * dispatched by token to their adapter over the shared lifecycle (./adapters), with pure previews of create
 * and update, the Mesh component constructed in-process (./mesh), the functions (./functions), the schema
 * served as generated.
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { CustomResourceOps, adapterFor } from "./adapters";
import { EngineLog } from "../pulumi/enginelog";
import { invoke } from "./functions";
import { constructMesh, registerResourceModule } from "./mesh";
import { TOKENS } from "./schema";
import type { PreviewOps } from "./serve";
import type { LifecycleContext } from "../pulumi/lifecycle/types";

export interface PluginOptions {
  version: string;
  schema: string;
  /** The engine's address (first plugin argument); progress goes to its Log RPC. */
  engineAddress?: string;
}

export function makeProvider(opts: PluginOptions): provider.Provider & PreviewOps {
  const log = new EngineLog(opts.engineAddress);
  const ops = new Map<string, CustomResourceOps>();
  const opsFor = (urn: string) => {
    const a = adapterFor(urn);
    let o = ops.get(a.token);
    if (!o) ops.set(a.token, (o = new CustomResourceOps(a)));
    return o;
  };
  const ctx = (urn: string): LifecycleContext => ({ log: log.forResource(urn) });
  async function logged<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } finally {
      await log.flush();
    }
  }
  // Before any Construct: the server deserializes resource references before calling construct.
  registerResourceModule(opts.version);

  return {
    version: opts.version,
    schema: opts.schema,
    check: (urn, olds, news) => logged(() => opsFor(urn).check(urn, olds, news, ctx(urn))),
    diff: (id, urn, olds, news) => logged(() => opsFor(urn).diff(id, olds, news, ctx(urn))),
    create: (urn, inputs) => logged(() => opsFor(urn).create(urn, inputs, ctx(urn))),
    read: (id, urn, props) => logged(() => opsFor(urn).read(id, props ?? {}, ctx(urn))),
    update: (id, urn, olds, news) => logged(() => opsFor(urn).update(id, olds, news, ctx(urn))),
    invoke: (token, args) => logged(() => invoke(token, args, log.forResource(undefined))),
    previewCreate: async (urn, inputs) => opsFor(urn).previewCreate(inputs),
    previewUpdate: (id, urn, olds, news) => logged(() => opsFor(urn).previewUpdate(id, olds, news, ctx(urn))),
    delete: (id, urn, props) => logged(() => opsFor(urn).delete(id, props, ctx(urn))),
    async construct(name: string, type: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions) {
      if (type !== TOKENS.mesh) throw new Error(`wgmesh: unknown component type ${JSON.stringify(type)} (known: ${TOKENS.mesh})`);
      return constructMesh(name, inputs, options, opts.version);
    },
  };
}
