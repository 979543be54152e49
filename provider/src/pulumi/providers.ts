/**
 * The dynamic providers: one tiny object per resource kind whose methods load ./dynamic and delegate. Pulumi
 * serializes these objects into the state (`__provider`); they capture nothing but three strings, so the
 * serialized text is small, stable and free of class instances, ssh2 handles or module objects.
 *
 * Where the runtime half is found: by package name first (`@wgmesh/pulumi/dist/…/dynamic.js`, resolved from
 * the project the provider process runs in — wherever the package is installed now), else by the absolute
 * path it had when the text was written. Pulumi deletes and reads a resource with the text in the state, so a
 * text holding only the absolute path failed (`Cannot find module`) when the stack was run from another
 * checkout or machine — another operator, a CI runner — or after a reinstall elsewhere.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ResourceKind } from "./lifecycle/index";
export { URN_KEY } from "./urnkey";

/** The URN the engine gives the dynamic resource `name` (parented like `opts.parent`): the value of URN_KEY. */
export function dynamicUrn(name: string, opts?: pulumi.CustomResourceOptions): pulumi.Output<string> {
  return pulumi.createUrn(name, "pulumi-nodejs:dynamic:Resource", opts?.parent);
}

/** Absolute path of the runtime half (dist/provider/src/pulumi/dynamic.js). */
export const DYNAMIC_MODULE = require.resolve("./dynamic");

/** The runtime half by package name (`@wgmesh/pulumi/…/dynamic.js`), or undefined outside its package. */
export const DYNAMIC_SPECIFIER = packageSpecifier(DYNAMIC_MODULE);

function packageSpecifier(file: string): string | undefined {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (!fs.existsSync(manifest)) continue;
    const name = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: unknown }).name;
    return name === "@wgmesh/pulumi" ? `${name}/${path.relative(dir, file).split(path.sep).join("/")}` : undefined;
  }
  return undefined;
}

const cache = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

/** The dynamic provider of a resource kind (one object per kind, so every resource shares its text). */
export function providerFor(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let p = cache.get(kind);
  if (!p) {
    p = makeProvider(kind, DYNAMIC_SPECIFIER, DYNAMIC_MODULE);
    cache.set(kind, p);
  }
  return p;
}

/**
 * The provider of `kind` whose runtime half is `specifier` (by package name; undefined: none) or else
 * `modulePath`. Exported for tests; resources use `providerFor`.
 */
export function makeProvider(kind: ResourceKind, specifier: string | undefined, modulePath: string): pulumi.dynamic.ResourceProvider {
  // `run` runs in the provider process from the serialized text: only what it captures (three strings)
  // exists there. A module that is not there is tried elsewhere; one that fails to load is a real error.
  const run = async (op: string, args: unknown[]): Promise<any> => {
    let runtime: { run(kind: string, op: string, args: unknown[]): Promise<any> } | undefined;
    const missing: string[] = [];
    for (const m of specifier ? [specifier, modulePath] : [modulePath]) {
      try {
        runtime = require(m);
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== "MODULE_NOT_FOUND" || !String((e as Error).message).includes(m)) throw e;
        missing.push(m);
      }
    }
    if (!runtime) {
      throw new Error(`wgmesh: cannot load the provider's runtime to ${op} this ${kind}: not found from ${process.cwd()}: ${missing.join(", ")}; install @wgmesh/pulumi in this project (npm install @wgmesh/pulumi) and run again`);
    }
    return runtime.run(kind, op, args);
  };
  return {
    check: (olds: any, news: any) => run("check", [olds, news]),
    diff: (id: string, olds: any, news: any) => run("diff", [id, olds, news]),
    create: (inputs: any) => run("create", [inputs]),
    read: (id: string, props: any) => run("read", [id, props]),
    update: (id: string, olds: any, news: any) => run("update", [id, olds, news]),
    delete: (id: string, props: any) => run("delete", [id, props]),
  };
}
