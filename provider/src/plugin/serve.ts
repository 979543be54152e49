/**
 * Serving the provider to the engine: `@pulumi/pulumi/provider`'s `main` (gRPC server, Construct/Call
 * runtime), plus what its server lacks — previews. That server never announces `supportsPreview` in its
 * Configure answer and ignores the `preview` flag of Create/Update, so the engine skips the provider in a
 * preview and takes the new inputs as a resource's outputs: every output-only property becomes unknown.
 * A change to a Node's own setting (routableNetworks) then previews the Node's publicKey as unknown, and
 * with it every NodeConfig of the mesh ("update, unknown peers").
 *
 * Here the ResourceProviderService implementation that `main` registers is wrapped (when `main` adds it to
 * its gRPC server): Configure announces preview support, and a Create/Update with `preview` set is answered
 * by the provider's pure previews (`previewCreate`/`previewUpdate`), which never touch a host. Every other
 * call goes to `main`'s implementation unchanged.
 */
import * as path from "node:path";
import * as provider from "@pulumi/pulumi/provider";

export interface PreviewOps {
  /** The outputs a create would produce (unknowns where only the operation can tell). */
  previewCreate(urn: string, inputs: Record<string, unknown>): Promise<{ id: string; outs: Record<string, unknown> }>;
  /** The outputs an update would produce. */
  previewUpdate(id: string, urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ outs: Record<string, unknown> }>;
}

type Callback = (err: unknown, value?: unknown) => void;
type Call = { request: any };
type Impl = Record<string, unknown>;

/** Modules exactly as `@pulumi/pulumi` loads them (the response classes must be the service's own). */
function pulumiModule<T>(id: string): T {
  const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  return require(require.resolve(id, { paths: [pulumiDir] })) as T;
}

/** `impl` (main's ResourceProviderService object) with preview support added. */
export function withPreviews(service: Record<string, unknown>, impl: Impl, ops: PreviewOps): Impl {
  const provproto = pulumiModule<any>("@pulumi/pulumi/proto/provider_pb");
  const structproto = pulumiModule<any>("google-protobuf/google/protobuf/struct_pb");
  const out: Impl = {};
  for (const name of Object.keys(service)) {
    const f = impl[name];
    if (typeof f === "function") out[name] = f.bind(impl);
  }
  const original = (name: string) => impl[name] as (call: Call, cb: Callback) => unknown;
  out.configure = (call: Call, cb: Callback) =>
    original("configure").call(impl, call, (err: unknown, resp?: any) => {
      resp?.setSupportspreview(true);
      cb(err, resp);
    });
  out.create = (call: Call, cb: Callback) => {
    const req = call.request;
    if (!req.getPreview()) return original("create").call(impl, call, cb);
    ops.previewCreate(req.getUrn(), req.getProperties().toJavaScript()).then((r) => {
      const resp = new provproto.CreateResponse();
      resp.setId(r.id);
      resp.setProperties(structproto.Struct.fromJavaScript(r.outs));
      cb(null, resp);
    }, (e: unknown) => cb(e));
  };
  out.update = (call: Call, cb: Callback) => {
    const req = call.request;
    if (!req.getPreview()) return original("update").call(impl, call, cb);
    ops.previewUpdate(req.getId(), req.getUrn(), req.getOlds().toJavaScript(), req.getNews().toJavaScript()).then((r) => {
      const resp = new provproto.UpdateResponse();
      resp.setProperties(structproto.Struct.fromJavaScript(r.outs));
      cb(null, resp);
    }, (e: unknown) => cb(e));
  };
  return out;
}

/** Serve `p` like `@pulumi/pulumi/provider`'s `main(p, args)`, with previews (see above). */
export async function serve(p: provider.Provider & PreviewOps, args: string[]): Promise<void> {
  const grpc = pulumiModule<{ Server: { prototype: { addService(service: unknown, impl: unknown): void } } }>("@grpc/grpc-js");
  const { ResourceProviderService } = pulumiModule<{ ResourceProviderService: Record<string, unknown> }>("@pulumi/pulumi/proto/provider_grpc_pb");
  const proto = grpc.Server.prototype;
  const addService = proto.addService;
  proto.addService = function (this: unknown, service: unknown, impl: unknown) {
    if (service !== ResourceProviderService) return addService.call(this, service, impl);
    proto.addService = addService;
    return addService.call(this, service, withPreviews(ResourceProviderService, impl as Impl, p));
  };
  try {
    await provider.main(p, args);
  } finally {
    proto.addService = addService;
  }
}
