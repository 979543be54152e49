import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { handleRequestLine, RpcHandlers, PeerInfo, RpcServer, RpcClient, RpcError, clientSocketPath, serverSocketPath, encodePeerInfo } from "./rpc";

const B = "WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=";
const peerB: PeerInfo = {
  pubkey: B, hostname: "node-b", mesh_ip: "10.53.112.189", endpoint: "198.51.100.7:51820",
  last_seen_ms: Date.parse("2027-01-15T08:00:00Z"), discovered_via: ["dht", "lan"], routable_networks: ["192.168.50.0/24"], latency_ms: 1,
};

function handlers(status = true): RpcHandlers {
  return {
    listPeers: () => [peerB],
    getPeer: (k) => (k === B ? peerB : undefined),
    counts: () => ({ active: 2, total: 3, dead: 1 }),
    status: () => (status ? { mesh_ip: "10.53.46.186", pubkey: "A", uptime_ns: 1_500_000_000, interface: "wg0" } : undefined),
  };
}

test("exact response lines of §6.3", () => {
  process.env["TZ"] = "UTC";
  const h = handlers();
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"peers.count","id":3}', h, "v1"), '{"jsonrpc":"2.0","result":{"active":2,"total":3,"dead":1},"id":3}');
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"peers.get","params":{"pubkey":"nope"},"id":5}', h, "v1"), '{"jsonrpc":"2.0","error":{"code":-32602,"message":"peer not found: nope"},"id":5}');
  assert.equal(handleRequestLine('{"jsonrpc":"1.0","method":"peers.count","id":8}', h, "v1"), '{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid jsonrpc version, must be 2.0"},"id":8}');
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"peers.get","id":"x"}', h, "v1"), '{"jsonrpc":"2.0","error":{"code":-32602,"message":"missing or invalid \'pubkey\' parameter"},"id":"x"}');
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"nope","id":9}', h, "v1"), '{"jsonrpc":"2.0","error":{"code":-32601,"message":"method not found: nope"},"id":9}');
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"daemon.ping","id":2}', h, "v1"), '{"jsonrpc":"2.0","result":{"pong":true,"version":"v1"},"id":2}');
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"daemon.status","id":2}', h, "v1"), '{"jsonrpc":"2.0","result":{"mesh_ip":"10.53.46.186","pubkey":"A","uptime":1500000000,"interface":"wg0","version":"v1"},"id":2}');
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"daemon.status","id":2}', handlers(false), "v1"), '{"jsonrpc":"2.0","error":{"code":-32603,"message":"daemon status unavailable"},"id":2}');
  assert.match(handleRequestLine("{nope", h, "v1"), /^\{"jsonrpc":"2.0","error":\{"code":-32700,"message":"failed to parse request: .*"\},"id":null\}$/);
  assert.match(handleRequestLine('{"jsonrpc":"2.0","method":"peers.list","params":[1],"id":1}', h, "v1"), /"code":-32700.*"id":null/);
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"peers.list","id":4}', h, "v1"),
    '{"jsonrpc":"2.0","result":{"peers":[{"pubkey":"WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=","hostname":"node-b","mesh_ip":"10.53.112.189","endpoint":"198.51.100.7:51820","last_seen":"2027-01-15T08:00:00Z","discovered_via":["dht","lan"],"routable_networks":["192.168.50.0/24"],"latency_ms":1}]},"id":4}');
});

test("PeerInfo omits hostname, routes and latency when empty; endpoint always present", () => {
  process.env["TZ"] = "UTC";
  assert.equal(encodePeerInfo({ pubkey: B, mesh_ip: "10.0.0.1", endpoint: "", last_seen_ms: 0, discovered_via: ["dht"] }),
    `{"pubkey":"${B}","mesh_ip":"10.0.0.1","endpoint":"","last_seen":"1970-01-01T00:00:00Z","discovered_via":["dht"]}`);
});

test("server: 0600 socket, stale socket replaced, non-socket refused, many requests per connection, client ids from 2", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgm-rpc-"));
  const sockPath = path.join(dir, "sub", "wgmesh.sock");
  try {
    // a stale socket left by a process that died without cleaning up
    fs.mkdirSync(path.dirname(sockPath));
    spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(sockPath)}, () => process.kill(process.pid, "SIGKILL"))`]);
    assert.ok(fs.lstatSync(sockPath).isSocket(), "stale socket present");
    const server = new RpcServer(sockPath, handlers(), "v-test");
    await server.start();
    try {
      assert.equal(fs.statSync(sockPath).mode & 0o777, 0o600);
      const raw = net.createConnection(sockPath);
      const lines: string[] = [];
      raw.setEncoding("utf8");
      let acc = "";
      raw.on("data", (c: string) => { acc += c; });
      // Both answers, however long a busy machine takes (a fixed 100 ms wait saw only the first under load).
      const both = new Promise<void>((r) => raw.on("data", () => { if (acc.split("\n").length > 2) r(); }));
      raw.write('{"jsonrpc":"2.0","method":"daemon.ping","id":1}\n{"jsonrpc":"2.0","method":"peers.count","id":2}\n');
      await both;
      lines.push(...acc.trim().split("\n"));
      assert.equal(lines.length, 2);
      assert.equal(lines[0], '{"jsonrpc":"2.0","result":{"pong":true,"version":"v-test"},"id":1}');
      raw.destroy();
      // a line longer than the limit closes that connection only
      const big = net.createConnection(sockPath);
      const closed = new Promise<void>((r) => big.on("close", () => r()));
      big.on("error", () => undefined);
      big.write("x".repeat(70000));
      await closed;
      const c = await RpcClient.connect(sockPath);
      assert.deepEqual(await c.call("peers.count"), { active: 2, total: 3, dead: 1 });
      await assert.rejects(c.call("peers.get", { pubkey: "nope" }), (e: unknown) => e instanceof RpcError && e.message === "RPC error -32602: peer not found: nope");
      c.close();
    } finally {
      await server.stop();
    }
    assert.ok(!fs.existsSync(sockPath), "socket removed on stop");
    fs.writeFileSync(sockPath, "not a socket");
    await assert.rejects(new RpcServer(sockPath, handlers(), "v").start(), /not a socket/);
    await assert.rejects(RpcClient.connect(path.join(dir, "missing.sock")), /^Error: failed to connect to socket: dial unix .*missing\.sock: connect: no such file or directory$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("client sends Go's request shape with ids from 2", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgm-rpc-"));
  const sockPath = path.join(dir, "s.sock");
  const seen: string[] = [];
  const srv = net.createServer((s) => {
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      for (const line of d.split("\n").filter(Boolean)) {
        seen.push(line);
        const id = JSON.parse(line).id;
        s.write(`{"jsonrpc":"2.0","result":{},"id":${id}}\n`);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(sockPath, () => r()));
  try {
    const c = await RpcClient.connect(sockPath);
    await c.call("peers.list");
    await c.call("peers.get", { pubkey: "K" });
    c.close();
    assert.deepEqual(seen, ['{"jsonrpc":"2.0","method":"peers.list","id":2}', '{"jsonrpc":"2.0","method":"peers.get","params":{"pubkey":"K"},"id":3}']);
  } finally {
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("socket path rules", () => {
  const no = (): boolean => false;
  const yes = (): boolean => true;
  assert.equal(serverSocketPath("/x.sock", { WGMESH_SOCKET: "/y.sock" }, yes), "/x.sock");
  assert.equal(serverSocketPath(undefined, { WGMESH_SOCKET: "/y.sock" }, yes), "/y.sock");
  assert.equal(serverSocketPath("", {}, yes), "/var/run/wgmesh.sock");
  assert.equal(serverSocketPath(undefined, { XDG_RUNTIME_DIR: "/run/user/1000" }, no), "/run/user/1000/wgmesh.sock");
  assert.equal(clientSocketPath({}, no), "/tmp/wgmesh.sock");
  assert.equal(clientSocketPath({ WGMESH_SOCKET: "/z" }, no), "/z");
});

test("daemon.drops extension, and no request line ever throws", () => {
  const h = { ...handlers(), drops: () => ({ replay: 2, "auth-failed": 5 }) };
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"daemon.drops","id":1}', h, "v"), '{"jsonrpc":"2.0","result":{"auth-failed":5,"replay":2},"id":1}');
  assert.equal(handleRequestLine('{"jsonrpc":"2.0","method":"daemon.drops","id":1}', handlers(), "v"), '{"jsonrpc":"2.0","error":{"code":-32601,"message":"method not found: daemon.drops"},"id":1}');
  fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.record({ jsonrpc: fc.constantFrom("2.0", 2, null), method: fc.constantFrom("peers.list", "peers.get", "peers.count", "daemon.status", "daemon.ping", 5), params: fc.jsonValue(), id: fc.jsonValue() }).map((o) => JSON.stringify(o))), (line) => {
    const out = handleRequestLine(line, h, "v");
    const r = JSON.parse(out) as { jsonrpc: string };
    assert.equal(r.jsonrpc, "2.0");
  }), { numRuns: 3000 });
});
