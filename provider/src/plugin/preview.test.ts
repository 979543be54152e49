// The plugin's previews: Create/Update with preview=true are answered by the lifecycles' pure previews (no
// host touched), exact wherever the value is knowable, and the gRPC wrapper announces preview support.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { CustomResourceOps, adapterFor } from "./adapters";
import { outputViolations, type SchemaDoc } from "./conform";
import { packageVersion } from "./files";
import { TOKENS, buildSchema } from "./schema";
import { secret } from "./values";
import { withPreviews, type PreviewOps } from "./serve";
import { UNKNOWN } from "../pulumi/lifecycle/types";
import { silentLogger } from "../engine/ssh/log";
import { generateKeyPair } from "../core/keys";

const ctx = { log: silentLogger };
const doc = buildSchema(packageVersion()) as unknown as SchemaDoc;
const urn = (token: string, name: string) => `urn:pulumi:dev::proj::${token}::${name}`;
const ops = (token: string) => new CustomResourceOps(adapterFor(token));
/** A connection to a closed loopback port: an SSH attempt would fail, so success proves none was made. */
const closed = () => secret({ host: "127.0.0.1", port: 1, dialErrorLimit: 0 });

describe("Node previews", () => {
  const kp = generateKeyPair();
  const state = {
    hostname: "web1", connection: closed(), keyOnHost: false, interfaceName: "wg0",
    publicKey: kp.publicKey, privateKey: secret(kp.privateKey), privateKeyImported: false, natDetected: true, remoteHostname: "web1", os: "Debian GNU/Linux 12",
    meshIp: null, listenPort: null, publicEndpoint: null, behindNat: null, routableNetworks: ["192.168.1.0/24"],
  };

  test("a change to the node's own topology (routableNetworks) previews every output as the update returns it: key and facts known", async () => {
    const o = ops(TOKENS.node);
    const news = (await o.check(urn(TOKENS.node, "web1"), state, { connection: closed(), hostname: "web1", routableNetworks: ["192.168.2.0/24"] }, ctx)).inputs;
    const preview = await o.previewUpdate("web1", state, news, ctx);
    const update = await o.update("web1", state, news, ctx);
    assert.deepEqual(preview, update);
    assert.equal((preview.outs as any).publicKey, kp.publicKey);
    assert.deepEqual((preview.outs as any).routableNetworks, ["192.168.2.0/24"]);
    assert.equal((preview.outs as any).natDetected, true);
    assert.deepEqual(outputViolations(doc, TOKENS.node, preview.outs), []);
  });

  test("a new connection keeps the key; the facts read over SSH become unknown; a given key previews its public half", async () => {
    const o = ops(TOKENS.node);
    const moved = (await o.check(urn(TOKENS.node, "web1"), state, { connection: secret({ host: "192.0.2.9" }), hostname: "web1" }, ctx)).inputs;
    const p = (await o.previewUpdate("web1", state, moved, ctx)).outs as any;
    assert.equal(p.publicKey, kp.publicKey);
    assert.deepEqual(p.privateKey, secret(kp.privateKey));
    assert.deepEqual([p.natDetected, p.remoteHostname, p.os], [UNKNOWN, UNKNOWN, UNKNOWN]);
    const other = generateKeyPair();
    const rekeyed = (await o.check(urn(TOKENS.node, "web1"), state, { connection: closed(), hostname: "web1", privateKey: secret(other.privateKey) }, ctx)).inputs;
    const r = (await o.previewUpdate("web1", state, rekeyed, ctx)).outs as any;
    assert.equal(r.publicKey, other.publicKey);
    assert.equal(r.privateKeyImported, true);
  });

  test("create: a generated key is unknown (secret), a given one known; facts unknown; ids are left to the apply", async () => {
    const o = ops(TOKENS.node);
    const fresh = (await o.check(urn(TOKENS.node, "web2"), undefined, { connection: closed() }, ctx)).inputs;
    const c = o.previewCreate(fresh);
    assert.equal(c.id, "");
    assert.equal((c.outs as any).publicKey, UNKNOWN);
    assert.deepEqual((c.outs as any).privateKey, secret(UNKNOWN));
    assert.equal((c.outs as any).natDetected, UNKNOWN);
    assert.equal((c.outs as any).hostname, "web2");
    const given = (await o.check(urn(TOKENS.node, "web3"), undefined, { connection: closed(), privateKey: secret(kp.privateKey) }, ctx)).inputs;
    assert.equal((o.previewCreate(given).outs as any).publicKey, kp.publicKey);
    const onHost = (await o.check(urn(TOKENS.node, "web4"), undefined, { connection: closed(), keyOnHost: true }, ctx)).inputs;
    assert.deepEqual([(o.previewCreate(onHost).outs as any).publicKey, (o.previewCreate(onHost).outs as any).privateKey], [UNKNOWN, null]);
  });
});

describe("previews of the resources without a host side equal their create/update", () => {
  test("Group, Policy, MeshDeclaration", async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      [TOKENS.group, { name: "web", members: ["web1", "web2"] }],
      [TOKENS.policy, { name: "p", from: ["web"], to: ["app"], allowRoutableNetworks: true }],
      [TOKENS.meshDeclaration, { name: "m", nodes: [{ hostname: "a", sshHost: "192.0.2.1" }, { hostname: "b", sshHost: "192.0.2.2" }] }],
    ];
    for (const [token, news] of cases) {
      const o = ops(token);
      const u = urn(token, String(news.name));
      const checked = (await o.check(u, undefined, news, ctx)).inputs;
      const created = await o.create(u, checked, ctx);
      assert.deepEqual(o.previewCreate(checked).outs, created.outs, token);
      assert.deepEqual(outputViolations(doc, token, created.outs), [], token);
      const changed = (await o.check(u, checked, { ...news, description: "changed" }, ctx)).inputs;
      if (token === TOKENS.meshDeclaration) continue; // no description
      assert.deepEqual(await o.previewUpdate(created.id, created.outs, changed, ctx), await o.update(created.id, created.outs, changed, ctx), token);
    }
  });

  test("NodeConfig: the outputs of an apply are its inputs (unknown peers stay unknown)", async () => {
    const o = ops(TOKENS.nodeConfig);
    const inputs = {
      mesh: "m", hostname: "a", interfaceName: "wg0", address: "10.99.0.1/16", listenPort: 51820, publicKey: "pk",
      peers: { b: { publicKey: UNKNOWN, allowedIps: ["10.99.0.2/32"] } }, routes: [], forwarding: false, keyOnHost: false,
      privateKey: secret("k"), connection: closed(), hostFiles: { wgQuickConf: "as planned", unit: "enabled" },
    };
    // The object shape of older programs and states comes out as the text of peer lines, the unknown key
    // written "(unknown)" in its line alone.
    const p = o.previewCreate(inputs);
    assert.equal((p.outs as any).peers, "b key=(unknown) allowedIps=10.99.0.2/32\n");
    assert.deepEqual((p.outs as any).privateKey, secret("k"));
    const text = "b key=(unknown) allowedIps=10.99.0.2/32 keepalive=25\nc key=" + "C".repeat(43) + "= allowedIps=10.99.0.3/32 endpoint=(unknown)\n";
    assert.equal((o.previewCreate({ ...inputs, peers: text }).outs as any).peers, text);
  });
});

describe("the gRPC wrapper", () => {
  const provproto = require("@pulumi/pulumi/proto/provider_pb");
  const { ResourceProviderService } = require("@pulumi/pulumi/proto/provider_grpc_pb");
  const structproto = require("google-protobuf/google/protobuf/struct_pb");

  function setup() {
    const calls: string[] = [];
    const impl = {
      configure(_call: unknown, cb: (e: unknown, r: unknown) => void) { calls.push("configure"); cb(null, new provproto.ConfigureResponse()); },
      create(_call: unknown, cb: (e: unknown, r: unknown) => void) { calls.push("create"); cb(null, new provproto.CreateResponse()); },
      update(_call: unknown, cb: (e: unknown, r: unknown) => void) { calls.push("update"); cb(null, new provproto.UpdateResponse()); },
      diff(_call: unknown, cb: (e: unknown, r: unknown) => void) { calls.push("diff"); cb(null, new provproto.DiffResponse()); },
    };
    const previews: PreviewOps = {
      async previewCreate(u, inputs) { calls.push(`previewCreate ${u}`); return { id: "", outs: { ...inputs, out: UNKNOWN } }; },
      async previewUpdate(id, u, _olds, news) { calls.push(`previewUpdate ${id} ${u}`); return { outs: { ...news, out: "known" } }; },
    };
    return { calls, svc: withPreviews(ResourceProviderService, impl, previews) as Record<string, (call: unknown, cb: (e: unknown, r: any) => void) => void> };
  }
  const invoke = (svc: Record<string, (call: unknown, cb: (e: unknown, r: any) => void) => void>, name: string, request: unknown) =>
    new Promise<any>((resolve, reject) => (svc[name] as (call: unknown, cb: (e: unknown, r: any) => void) => void)({ request }, (e, r) => (e ? reject(e) : resolve(r))));

  test("Configure announces preview support; a preview Create/Update never reaches the real one", async () => {
    const { calls, svc } = setup();
    assert.equal((await invoke(svc, "configure", new provproto.ConfigureRequest())).getSupportspreview(), true);
    const create = new provproto.CreateRequest();
    create.setUrn("urn:x");
    create.setProperties(structproto.Struct.fromJavaScript({ a: 1 }));
    create.setPreview(true);
    const cr = await invoke(svc, "create", create);
    assert.deepEqual(cr.getProperties().toJavaScript(), { a: 1, out: UNKNOWN });
    const update = new provproto.UpdateRequest();
    update.setId("id1");
    update.setUrn("urn:y");
    update.setOlds(structproto.Struct.fromJavaScript({ a: 1 }));
    update.setNews(structproto.Struct.fromJavaScript({ a: 2 }));
    update.setPreview(true);
    assert.deepEqual((await invoke(svc, "update", update)).getProperties().toJavaScript(), { a: 2, out: "known" });
    assert.deepEqual(calls, ["configure", "previewCreate urn:x", "previewUpdate id1 urn:y"]);
  });

  test("without the preview flag every call goes to the server's own implementation", async () => {
    const { calls, svc } = setup();
    const create = new provproto.CreateRequest();
    create.setProperties(structproto.Struct.fromJavaScript({}));
    await invoke(svc, "create", create);
    const update = new provproto.UpdateRequest();
    update.setOlds(structproto.Struct.fromJavaScript({}));
    update.setNews(structproto.Struct.fromJavaScript({}));
    await invoke(svc, "update", update);
    await invoke(svc, "diff", new provproto.DiffRequest());
    assert.deepEqual(calls, ["create", "update", "diff"]);
    assert.equal(svc.read, undefined, "methods the server lacks stay absent (gRPC answers UNIMPLEMENTED)");
  });
});
