import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { generateKeyPair } from "../core/keys";
import { DaemonCore } from "./core";
import { openEnvelope, sealEnvelope } from "./envelope";
import { LanLayer, lanAnnouncement, LAN_MAX_BYTES } from "./lan";
import { Logger } from "./log";
import { encodeAnnouncement } from "./messages";

const SECRET = "wgmesh-test-vector-secret-0001";
const quiet = new Logger("error", () => undefined);

function setup(): { core: DaemonCore; lan: LanLayer } {
  const kp = generateKeyPair();
  const core = new DaemonCore({ secret: SECRET, interfaceName: "wg0", publicKey: kp.publicKey, meshIp: "10.53.1.1", wgListenPort: 51820, version: "t" });
  const lan = new LanLayer({ log: quiet });
  (lan as unknown as { core: DaemonCore }).core = core;
  return { core, lan };
}

test("LAN announcement: an ANNOUNCE without known_peers, under 4096 bytes even with 100 IPv6 routes", () => {
  const { core } = setup();
  const routes = Array.from({ length: 100 }, (_, i) => `2001:db8:${i.toString(16)}:ffff:ffff:ffff:ffff:0/112`);
  const full = { ...core.exchange.buildAnnouncement(), routable_networks: routes, known_peers: [{ wg_pubkey: generateKeyPair().publicKey, mesh_ip: "10.53.2.2", wg_endpoint: "" }] };
  const { data, trimmed } = lanAnnouncement(full, core.params.gossipKey);
  assert.ok(data.length < LAN_MAX_BYTES);
  assert.ok(trimmed > 0);
  const o = openEnvelope(data, core.params.gossipKey, Math.floor(Date.now() / 1000));
  assert.ok(o.ok);
  assert.equal(o.type, "ANNOUNCE");
  assert.equal(o.payload["known_peers"], undefined);
});

test("LAN receive: endpoint = source IP + announced port, method lan; replays, own key and other secrets dropped", () => {
  const { core, lan } = setup();
  const other = generateKeyPair().publicKey;
  const now = Math.floor(Date.now() / 1000);
  const msg = sealEnvelope("ANNOUNCE", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: other, mesh_ip: "10.53.4.4", wg_endpoint: "203.0.113.9:51999", timestamp: now }), core.params.gossipKey);
  lan.handle(msg, "172.31.0.7");
  const p = core.store.get(other);
  assert.ok(p);
  assert.equal(p.endpoint, "172.31.0.7:51999");
  assert.deepEqual(p.discovered_via, ["lan"]);
  lan.handle(msg, "172.31.0.7");
  assert.equal(core.counters.get("replay"), 1);
  lan.handle(sealEnvelope("ANNOUNCE", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: other, mesh_ip: "10.53.4.4", wg_endpoint: "x", timestamp: now }), Buffer.alloc(32, 7)), "172.31.0.8");
  assert.equal(core.counters.get("auth-failed"), 1);
  const mine = sealEnvelope("ANNOUNCE", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: core.localNode().pubkey, mesh_ip: "10.53.1.1", wg_endpoint: "0.0.0.0:51820", timestamp: now }), core.params.gossipKey);
  lan.handle(mine, "172.31.0.1");
  assert.equal(core.store.size, 1);
});

test("LAN receive never throws on arbitrary bytes", () => {
  const { core, lan } = setup();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.ipV4(), (bytes, ip) => {
    lan.handle(Buffer.from(bytes), ip);
  }), { numRuns: 300 });
  assert.equal(core.store.size, 0);
});
