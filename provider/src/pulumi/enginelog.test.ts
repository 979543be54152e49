import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { EngineLog, dynamicProviderEngineAddress } from "./enginelog";

test("the engine address is taken only inside Pulumi's dynamic-provider host", () => {
  const host = "/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js";
  assert.equal(dynamicProviderEngineAddress(["node", host, "127.0.0.1:40123"], host), "127.0.0.1:40123");
  assert.equal(dynamicProviderEngineAddress(["node", host, "[::1]:40123"], host), "[::1]:40123");
  assert.equal(dynamicProviderEngineAddress(["node", "/x/test.js", "127.0.0.1:40123"], "/x/test.js"), null);
  assert.equal(dynamicProviderEngineAddress(["node", host, "--flag"], host), null);
});

test("without an engine, messages go to the fallback sink only", async () => {
  const seen: string[] = [];
  const log = new EngineLog(null);
  log.forResource("urn:pulumi:dev::p::t::n", (level, m) => seen.push(`${level} ${m}`))("info", "[web1] connecting to root@192.0.2.1:22");
  await log.flush();
  assert.deepEqual(seen, ["info [web1] connecting to root@192.0.2.1:22"]);
});

test("messages reach the engine's Log RPC on the resource's URN; without a URN only warnings, at stack level", async () => {
  const { EngineService } = require("@pulumi/pulumi/proto/engine_grpc_pb");
  const { Empty } = require("google-protobuf/google/protobuf/empty_pb");
  const got: Array<{ severity: number; message: string; urn: string }> = [];
  const server = new grpc.Server();
  server.addService(EngineService, {
    log(call: { request: any }, cb: (e: null, r: unknown) => void) {
      const r = call.request;
      got.push({ severity: r.getSeverity(), message: r.getMessage(), urn: r.getUrn() });
      cb(null, new Empty());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  try {
    const log = new EngineLog(`127.0.0.1:${port}`);
    const urn = "urn:pulumi:dev::proj::wgmesh:index:Mesh$pulumi-nodejs:dynamic:Resource::demo-web1";
    const onRow = log.forResource(urn);
    onRow("info", "[web1] connecting to root@192.0.2.1:22");
    onRow("info", "[web1] 3 operation(s) applied");
    onRow("error", "[web1] failed: boom");
    const legacy = log.forResource(undefined);
    legacy("info", "[web2] progress nobody could place");
    legacy("warn", "[web2] looks behind NAT");
    await log.flush();
    assert.deepEqual(got, [
      { severity: 1, message: "[web1] connecting to root@192.0.2.1:22", urn },
      { severity: 1, message: "[web1] 3 operation(s) applied", urn },
      { severity: 2, message: "[web1] failed: boom", urn },
      { severity: 2, message: "[web2] looks behind NAT", urn: "" },
    ]);
  } finally {
    server.forceShutdown();
  }
});
