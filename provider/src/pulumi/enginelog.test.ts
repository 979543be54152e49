import { test } from "node:test";
import assert from "node:assert/strict";
import { dynamicProviderEngineAddress, engineLogger, flushEngineLog } from "./enginelog";

test("the engine address is taken only inside Pulumi's dynamic-provider host", () => {
  const host = "/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js";
  assert.equal(dynamicProviderEngineAddress(["node", host, "127.0.0.1:40123"], host), "127.0.0.1:40123");
  assert.equal(dynamicProviderEngineAddress(["node", host, "[::1]:40123"], host), "[::1]:40123");
  assert.equal(dynamicProviderEngineAddress(["node", "/x/test.js", "127.0.0.1:40123"], "/x/test.js"), null);
  assert.equal(dynamicProviderEngineAddress(["node", host, "--flag"], host), null);
});

test("outside the provider host, messages go to the fallback sink only", async () => {
  const seen: string[] = [];
  const log = engineLogger((level, m) => seen.push(`${level} ${m}`));
  log("info", "[web1] connecting to root@192.0.2.1:22");
  await flushEngineLog();
  assert.deepEqual(seen, ["info [web1] connecting to root@192.0.2.1:22"]);
});
