import { test } from "node:test";
import assert from "node:assert/strict";
import { cidrHasAddress } from "../core/cidr";
import { generateKeyPair } from "../core/keys";
import { DaemonCore } from "./core";
import { sealEnvelope } from "./envelope";
import { GossipLayer } from "./gossip";
import { Logger } from "./log";
import { encodeAnnouncement } from "./messages";

const SECRET = "wgmesh-test-vector-secret-0001"; // mesh 10.53.0.0/16

function core(): DaemonCore {
  return new DaemonCore({
    secret: SECRET, interfaceName: "wg0", publicKey: generateKeyPair().publicKey, meshIp: "10.53.1.1", wgListenPort: 51820, version: "t", gossip: true,
    isTunnelSource: (ip) => cidrHasAddress("10.53.0.0/16", ip),
  });
}

test("gossip ANNOUNCE from a mesh address never puts the endpoint inside the tunnel (weakness 13)", () => {
  const c = core();
  const key = generateKeyPair().publicKey;
  const ann = (ep: string): Buffer => sealEnvelope("ANNOUNCE", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: key, mesh_ip: "10.53.2.2", wg_endpoint: ep, timestamp: Math.floor(Date.now() / 1000) }), c.params.gossipKey);
  c.exchange.handleDatagram(ann("0.0.0.0:51820"), "10.53.2.2", 52311);
  const p = c.store.get(key);
  assert.ok(p);
  assert.equal(p.endpoint, "", "Go would store 10.53.2.2:51820 — its own tunnel");
  assert.deepEqual(p.discovered_via, ["gossip"]);
  c.exchange.handleDatagram(ann("198.51.100.7:51820"), "10.53.2.2", 52311);
  assert.equal(c.store.get(key)?.endpoint, "198.51.100.7:51820", "a real announced endpoint is kept");
  const key2 = generateKeyPair().publicKey;
  c.exchange.handleDatagram(sealEnvelope("ANNOUNCE", encodeAnnouncement({ protocol: "wgmesh-v1", wg_pubkey: key2, mesh_ip: "10.53.3.3", wg_endpoint: "0.0.0.0:51820", timestamp: Math.floor(Date.now() / 1000) }), c.params.gossipKey), "172.31.0.9", 52311);
  assert.equal(c.store.get(key2)?.endpoint, "172.31.0.9:51820", "outside the tunnel: source IP, as Go");
});

test("a gossip round picks an active peer with a mesh IP and sends to its mesh IP", () => {
  const c = core();
  const sent: string[] = [];
  (c.exchange as unknown as { sendAnnounce: (ip: string, port: number) => void }).sendAnnounce = (ip, port) => sent.push(`${ip}:${port}`);
  const g = new GossipLayer({ log: new Logger("error", () => undefined), random: () => 0.99 });
  assert.equal(g.round(c), undefined, "nobody to gossip to");
  c.store.upsert({ wg_pubkey: generateKeyPair().publicKey, mesh_ip: "10.53.9.9", endpoint: "172.31.0.2:51820" }, "lan");
  c.store.upsert({ wg_pubkey: generateKeyPair().publicKey, endpoint: "172.31.0.3:51820" }, "lan"); // no mesh IP
  assert.equal(g.round(c), "10.53.9.9");
  assert.deepEqual(sent, [`10.53.9.9:${c.params.gossipPort}`]);
});
