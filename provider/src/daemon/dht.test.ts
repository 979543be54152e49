import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { generateKeyPair } from "../core/keys";
import { DaemonCore } from "./core";
import { DhtLayer, parseBootstrapList } from "./dht";
import { Logger } from "./log";

test("--dht-bootstrap parsing", () => {
  assert.deepEqual(parseBootstrapList("10.0.0.2:6881, router.example:25401,[fd00::1]:6881"), ["10.0.0.2:6881", "router.example:25401", "[fd00::1]:6881"]);
  for (const bad of ["", "10.0.0.2", "10.0.0.2:0", "10.0.0.2:70000", "a b:1", "http://x:1"]) assert.throws(() => parseBootstrapList(bad), /--dht-bootstrap/);
});

test("DHT values: only IP literals on gossip_port are contacted, each at most once per 60 s; junk never throws", async () => {
  const kp = generateKeyPair();
  const core = new DaemonCore({ secret: "wgmesh-test-vector-secret-0001", interfaceName: "wg0", publicKey: kp.publicKey, meshIp: "10.53.1.1", wgListenPort: 51820, version: "t" });
  const contacted: string[] = [];
  (core.exchange as unknown as { exchange: (ip: string, port: number) => Promise<undefined> }).exchange = async (ip, port) => {
    contacted.push(`${ip}:${port}`);
    return undefined;
  };
  const dht = new DhtLayer({ bootstrap: ["127.0.0.1:1"], log: new Logger("error", () => undefined) });
  (dht as unknown as { core: DaemonCore }).core = core;
  const onValue = (v: unknown, ih: unknown = Buffer.alloc(20)): void => (dht as unknown as { onValue: (v: unknown, ih: unknown) => void }).onValue(v, ih);
  const gp = core.params.gossipPort;
  onValue({ host: "192.0.2.10", port: gp });
  onValue({ host: "192.0.2.10", port: gp }); // within 60 s: not again
  onValue({ host: "192.0.2.11", port: 22 }); // not the mesh's port: never a HELLO cannon
  onValue({ host: "not-an-ip", port: gp });
  assert.deepEqual(contacted, [`192.0.2.10:${gp}`]);
  // a member we exchanged with recently needs no HELLO for its value
  (core.exchange as unknown as { lastExchangeFrom: (ip: string) => number | undefined }).lastExchangeFrom = (ip) => (ip === "192.0.2.12" ? Date.now() : undefined);
  onValue({ host: "192.0.2.12", port: gp });
  onValue({ host: "192.0.2.13", port: gp });
  assert.deepEqual(contacted, [`192.0.2.10:${gp}`, `192.0.2.13:${gp}`]);
  fc.assert(fc.property(fc.anything(), fc.anything(), (v, ih) => {
    try {
      onValue(v, ih);
    } catch (e) {
      // onValue is wrapped by the 'peer' listener; it must still not throw for junk
      throw new Error(`threw ${(e as Error).message}`);
    }
  }), { numRuns: 300 });
});

test("DHT values: an address that does not answer is retried after 2, 4, 8 … min", async () => {
  let now = 1_800_000_000_000;
  const kp = generateKeyPair();
  const core = new DaemonCore({ secret: "wgmesh-test-vector-secret-0001", interfaceName: "wg0", publicKey: kp.publicKey, meshIp: "10.53.1.1", wgListenPort: 51820, version: "t" });
  const contacted: number[] = [];
  let answer = false;
  (core.exchange as unknown as { exchange: () => Promise<unknown> }).exchange = async () => {
    contacted.push(now);
    return answer ? { from: "x", announcement: { wg_pubkey: kp.publicKey, mesh_ip: "10.53.1.2" } } : undefined;
  };
  const dht = new DhtLayer({ bootstrap: ["127.0.0.1:1"], log: new Logger("error", () => undefined), nowMs: () => now });
  (dht as unknown as { core: DaemonCore }).core = core;
  const value = (): void => (dht as unknown as { onValue: (v: unknown, ih: unknown) => void }).onValue({ host: "192.0.2.20", port: core.params.gossipPort }, Buffer.alloc(20));
  const t0 = now;
  for (let m = 0; m <= 20; m++) {
    now = t0 + m * 60_000;
    value();
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(contacted.map((t) => (t - t0) / 60_000), [0, 2, 6, 14], "2, 4, 8 min after each silent try");
  answer = true;
  now = t0 + 31 * 60_000;
  value();
  await new Promise((r) => setImmediate(r));
  now += 60_000;
  value();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(contacted.slice(4).map((t) => (t - t0) / 60_000), [31, 32], "an answer resets the wait to 1 min");
});
