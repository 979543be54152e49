import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { ProbeClient, ProbeServer } from "./probe";

test("probe: ping → pong on a persistent connection; other lines ignored; failures reported", async () => {
  const srv = new ProbeServer(300);
  const [port] = await srv.start(["127.0.0.1"], 0);
  try {
    const c = new ProbeClient("127.0.0.1", port as number, 500);
    for (let i = 0; i < 3; i++) {
      const ms = await c.ping();
      assert.ok(ms !== undefined && ms >= 0);
    }
    c.close();
    // raw: other lines get no answer, ping does
    const raw = net.createConnection(port as number, "127.0.0.1");
    let got = "";
    raw.setEncoding("utf8");
    raw.on("data", (d: string) => (got += d));
    const closed = new Promise<void>((r) => raw.on("close", () => r()));
    raw.write("hello\nping\r\nPING\nping\n");
    await closed; // closed by the 300 ms idle timeout
    assert.equal(got, "pong\npong\n");
    // oversized line closes the connection
    const big = net.createConnection(port as number, "127.0.0.1");
    big.on("error", () => undefined);
    const bigClosed = new Promise<void>((r) => big.on("close", () => r()));
    big.write("x".repeat(5000));
    await bigClosed;
  } finally {
    await srv.stop();
  }
  const dead = new ProbeClient("127.0.0.1", 1, 300);
  assert.equal(await dead.ping(), undefined);
});
