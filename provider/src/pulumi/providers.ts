/**
 * The dynamic providers: one tiny object per resource kind whose methods load ./dynamic (by the absolute
 * path resolved when this module loads) and delegate. Pulumi serializes these objects into the state
 * (`__provider`); they capture nothing but two strings, so the serialized text is small, stable and free of
 * class instances, ssh2 handles or module objects.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ResourceKind } from "./lifecycle/index";
export { URN_KEY } from "./urnkey";

/** The URN the engine gives the dynamic resource `name` (parented like `opts.parent`): the value of URN_KEY. */
export function dynamicUrn(name: string, opts?: pulumi.CustomResourceOptions): pulumi.Output<string> {
  return pulumi.createUrn(name, "pulumi-nodejs:dynamic:Resource", opts?.parent);
}

/** Absolute path of the runtime half (dist/provider/src/pulumi/dynamic.js). */
export const DYNAMIC_MODULE = require.resolve("./dynamic");

const cache = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

/** The dynamic provider of a resource kind (one object per kind, so every resource shares its text). */
export function providerFor(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let p = cache.get(kind);
  if (!p) {
    p = makeProvider(kind, DYNAMIC_MODULE);
    cache.set(kind, p);
  }
  return p;
}

function makeProvider(kind: ResourceKind, modulePath: string): pulumi.dynamic.ResourceProvider {
  return {
    check: (olds: any, news: any) => require(modulePath).run(kind, "check", [olds, news]),
    diff: (id: string, olds: any, news: any) => require(modulePath).run(kind, "diff", [id, olds, news]),
    create: (inputs: any) => require(modulePath).run(kind, "create", [inputs]),
    read: (id: string, props: any) => require(modulePath).run(kind, "read", [id, props]),
    update: (id: string, olds: any, news: any) => require(modulePath).run(kind, "update", [id, olds, news]),
    delete: (id: string, props: any) => require(modulePath).run(kind, "delete", [id, props]),
  };
}
