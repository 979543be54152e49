import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DaemonCore } from "./core";
import { deriveParams, meshIPv4 } from "./derive";
import { generateKeyPair } from "../core/keys";
import { formatPeersCount, formatPeersGet } from "./format";
import { RpcClient, RpcError } from "./rpc";
import { Greeter } from "./greet";
import { PEER_DEAD_MS, StoreEvent } from "./store";

const SECRET = "wgmesh-test-vector-secret-0001";
const params = deriveParams(SECRET);

test("two cores on loopback: exchange, RPC (peers.count/get), keepalive, GOODBYE on stop", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgm-core-"));
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const events: StoreEvent[] = [];
  // one host: both exchange sockets on 127.0.0.1, B on a fixed free port that A treats as "gossip_port"
  const b = new DaemonCore({ secret: SECRET, interfaceName: "wg0", publicKey: kb.publicKey, meshIp: meshIPv4(params, kb.publicKey), hostname: "node-b", wgListenPort: 51820, version: "test", exchangeHost: "127.0.0.1", exchangePort: 0, socketPath: path.join(dir, "b.sock"), sinks: [{ onStoreEvent: (e) => events.push(e) }] });
  await b.start();
  const bPort = b.exchange.port as number;
  const a = new DaemonCore({ secret: SECRET, interfaceName: "wg0", publicKey: ka.publicKey, meshIp: meshIPv4(params, ka.publicKey), hostname: "node-a", wgListenPort: 51999, version: "test", exchangeHost: "127.0.0.1", exchangePort: 0, peerControlPort: bPort, advertiseRoutes: ["192.168.77.0/24"] });
  await a.start();
  try {
    const r = await a.exchange.exchange("127.0.0.1", bPort);
    assert.ok(r);
    assert.equal(b.store.get(ka.publicKey)?.endpoint, "127.0.0.1:51999");
    assert.deepEqual(b.store.get(ka.publicKey)?.routable_networks, ["192.168.77.0/24"]);
    assert.equal(events[0]?.kind, "new", "sinks see store events");
    // RPC against B's socket: what `wgmesh peers count|get` prints (cli/daemon.ts) from the same calls
    const client = await RpcClient.connect(path.join(dir, "b.sock"));
    try {
      assert.equal(formatPeersCount(await client.call("peers.count")), "Peer Statistics\n===============\nActive peers: 1\nTotal peers:  1\nDead peers:   0\n");
      assert.match(formatPeersGet(await client.call("peers.get", { pubkey: ka.publicKey })), /Routes:         192\.168\.77\.0\/24\n/);
      await assert.rejects(client.call("peers.get", { pubkey: "nope" }), (e: unknown) => e instanceof RpcError && e.message === "RPC error -32602: peer not found: nope");
    } finally {
      client.close();
    }
    // keepalive: A HELLOs every active peer's control endpoint (host of its WG endpoint + gossip port)
    assert.equal(await a.keepalive(), 1);
    // the periodic round skips a peer exchanged with in the last KEEPALIVE_FRESH_MS (either side's HELLO)
    assert.equal(await a.keepalive({ staleOnly: true }), 0);
    assert.equal(await b.keepalive({ staleOnly: true }), 0, "B answered A's HELLO: A is fresh for B too");
    // stop A: B receives a GOODBYE and forgets A
    await a.stop();
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(b.store.get(ka.publicKey), undefined);
    assert.ok(events.some((ev) => ev.kind === "removed" && ev.reason === "goodbye"));
  } finally {
    await a.stop().catch(() => undefined);
    await b.stop();
    assert.ok(!fs.existsSync(path.join(dir, "b.sock")));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("observed public endpoint sets our announced endpoint (own WG port); private ones do not", () => {
  const k = generateKeyPair();
  const c = new DaemonCore({ secret: SECRET, interfaceName: "wg0", publicKey: k.publicKey, meshIp: "10.53.1.1", wgListenPort: 51820, version: "t" });
  assert.equal(c.announcedEndpoint, "0.0.0.0:51820");
  c.setPublicIp("203.0.113.5");
  assert.equal(c.announcedEndpoint, "203.0.113.5:51820");
  c.setPublicIp("2001:db8::5");
  assert.equal(c.announcedEndpoint, "[2001:db8::5]:51820");
  c.setPublicIp("203.0.113.6");
  assert.equal(c.announcedEndpoint, "[2001:db8::5]:51820", "IPv6 is never downgraded");
  assert.equal(c.rpcHandlers().status(), undefined, "status unavailable before start");
});

test("at the store maximum a peer mentioned second-hand is greeted and takes a dead record's slot when it answers (the pair would stay apart otherwise)", async () => {
  const kc = generateKeyPair();
  const kb = generateKeyPair();
  const core = (kp: { publicKey: string }, name: string, extra: Partial<ConstructorParameters<typeof DaemonCore>[0]> = {}): DaemonCore =>
    new DaemonCore({ secret: SECRET, interfaceName: "wg0", publicKey: kp.publicKey, meshIp: meshIPv4(params, kp.publicKey), hostname: name, wgListenPort: 51820, version: "test", exchangeHost: "127.0.0.1", exchangePort: 0, ...extra });
  const c = core(kc, "node-c");
  const b = core(kb, "node-b");
  await c.start();
  await b.start();
  const cPort = c.exchange.port as number;
  const bPort = b.exchange.port as number;
  const started: DaemonCore[] = [];
  // A: store maximum 2, both slots held by dead records; C's control port is where A looks for mentioned peers
  const full = async (greet: boolean): Promise<DaemonCore> => {
    const ka = generateKeyPair();
    let a: DaemonCore | undefined;
    a = core(ka, "node-a", { maxPeers: 2, peerControlPort: cPort, ...(greet ? { sinks: [new Greeter(() => a)] } : {}) });
    for (let i = 0; i < 2; i++) {
      const k = generateKeyPair().publicKey;
      a.store.upsert({ wg_pubkey: k, mesh_ip: meshIPv4(params, k), endpoint: `127.0.0.1:9`, last_seen_ms: Date.now() - PEER_DEAD_MS - 1000 }, "cache");
    }
    await a.start();
    started.push(a);
    return a;
  };
  try {
    assert.ok(await b.exchange.exchange("127.0.0.1", cPort), "B meets C directly: B's announcements mention C");
    const control = await full(false);
    assert.ok(await control.exchange.exchange("127.0.0.1", bPort));
    assert.ok(control.store.get(kb.publicKey), "B answered itself: it took a dead record's slot");
    assert.equal(control.counters.get("store-full"), 1, "C, mentioned by B, was refused: a mention may not take a dead record's slot");
    const a = await full(true);
    assert.ok(await a.exchange.exchange("127.0.0.1", bPort));
    const deadline = Date.now() + 15_000;
    while (!a.store.get(kc.publicKey) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(a.store.get(kc.publicKey), "the greeter HELLOed C; C's REPLY took the other dead record's slot");
    assert.ok(c.store.get(a.localNode().pubkey), "and C now holds A");
    assert.equal(a.store.size, 2);
    assert.equal(control.store.get(kc.publicKey), undefined, "without the greeting the pair stays apart");
  } finally {
    for (const x of [...started, b, c]) await x.stop().catch(() => undefined);
  }
});
