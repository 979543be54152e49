import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadOrCreateNodeState, restorePeerCache, savePeerCache, StateError } from "./state";
import { deriveParams, meshIPv4, meshIPv6, meshIPv4WithNonce, parseMeshSubnet } from "./derive";
import { PeerStore } from "./store";
import { findCollisions, resolveLocalCollision } from "./collisions";
import { generateKeyPair } from "../core/keys";

const P = deriveParams("wgmesh-test-vector-secret-0001");
const PRIV_A = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
const PUB_A = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";

test("node state: created 0600 in a 0700 dir, reloaded with the same identity and mesh IP", () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wgm-state-")), "lib");
  try {
    const a = loadOrCreateNodeState(dir, "wg0", P);
    assert.ok(a.created);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, "wg0.json")).mode & 0o777, 0o600);
    assert.equal(a.state.mesh_ip, meshIPv4(P, a.state.wg_pubkey));
    assert.equal(a.state.mesh_ipv6, meshIPv6(P, a.state.wg_pubkey));
    const b = loadOrCreateNodeState(dir, "wg0", P);
    assert.ok(!b.created && !b.changed);
    assert.deepEqual(b.state, a.state);
    // vector A key: public key recomputed from the private key; a foreign mesh IP is re-derived
    fs.writeFileSync(path.join(dir, "wg1.json"), JSON.stringify({ wg_pubkey: "junk", wg_private_key: PRIV_A, mesh_ip: "10.99.1.1" }));
    const c = loadOrCreateNodeState(dir, "wg1", P);
    assert.equal(c.state.wg_pubkey, PUB_A);
    assert.equal(c.state.mesh_ip, "10.53.46.186");
    assert.ok(c.changed);
    // a kept address inside the network survives (e.g. an earlier collision move)
    fs.writeFileSync(path.join(dir, "wg2.json"), JSON.stringify({ wg_private_key: PRIV_A, mesh_ip: "10.53.219.169" }));
    assert.equal(loadOrCreateNodeState(dir, "wg2", P).state.mesh_ip, "10.53.219.169");
    assert.equal(loadOrCreateNodeState(dir, "wg2", P, parseMeshSubnet("192.168.100.0/24")).state.mesh_ip, "192.168.100.136");
    fs.writeFileSync(path.join(dir, "bad.json"), "{");
    assert.throws(() => loadOrCreateNodeState(dir, "bad", P), StateError);
    fs.writeFileSync(path.join(dir, "bad2.json"), "{}");
    assert.throws(() => loadOrCreateNodeState(dir, "bad2", P), /wg_private_key/);
  } finally {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});

test("peer cache: saved 0600, restored as 'cache' with last_seen kept, stale and invalid entries skipped", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgm-cache-"));
  try {
    const nowS = 1_800_000_000;
    const s = new PeerStore(() => nowS * 1000 - 30_000);
    const k1 = generateKeyPair().publicKey;
    s.upsert({ wg_pubkey: k1, hostname: "n1", mesh_ip: "10.53.1.1", endpoint: "198.51.100.1:51820", routable_networks: ["192.168.9.0/24"], introducer: true }, "dht");
    savePeerCache(dir, "wg0", s, nowS);
    const file = path.join(dir, "wg0-peers.json");
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    doc.peers.push({ wg_pubkey: generateKeyPair().publicKey, mesh_ip: "10.53.1.2", endpoint: "", last_seen: nowS - 24 * 3600 - 1 });
    doc.peers.push({ wg_pubkey: "test-pubkey", mesh_ip: "10.53.1.3", endpoint: "test:51820", last_seen: nowS });
    doc.peers.push({ wg_pubkey: generateKeyPair().publicKey, mesh_ip: "10.53.1.4", endpoint: "", routable_networks: ["0.0.0.0/0"], last_seen: nowS });
    const t = new PeerStore(() => nowS * 1000);
    const r = restorePeerCache(JSON.stringify(doc), t, nowS, "own");
    assert.deepEqual(r, { restored: 1, skipped: 3 });
    const p = t.get(k1);
    assert.ok(p);
    assert.deepEqual(p.discovered_via, ["cache"]);
    assert.equal(p.last_seen_ms, (nowS - 30) * 1000);
    assert.deepEqual(p.routable_networks, ["192.168.9.0/24"]);
    assert.equal(p.introducer, true);
    assert.deepEqual(restorePeerCache("nonsense", t, nowS, "own"), { restored: 0, skipped: 1 });
    // A peer that said GOODBYE moments ago is not brought back by the cache (and is counted as skipped).
    assert.ok(t.remove(k1, "goodbye"));
    assert.deepEqual(restorePeerCache(JSON.stringify(doc), t, nowS, "own"), { restored: 0, skipped: 4 });
    assert.equal(t.get(k1), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("collisions: lower pubkey wins; the local loser moves to a free nonce address", () => {
  const peers = [{ wg_pubkey: "b", mesh_ip: "10.53.1.1" }, { wg_pubkey: "a", mesh_ip: "10.53.1.1" }, { wg_pubkey: "c", mesh_ip: "10.53.1.2" }];
  assert.deepEqual(findCollisions(peers), [{ meshIp: "10.53.1.1", winner: "a", losers: ["b"] }]);
  const self = { pubkey: PUB_A, meshIp: "10.53.46.186" };
  assert.equal(resolveLocalCollision(P, self, [{ wg_pubkey: "A-lower", mesh_ip: "10.53.46.186" }]), "10.53.219.169");
  assert.equal(resolveLocalCollision(P, self, [{ wg_pubkey: "A-lower", mesh_ip: "10.53.46.186" }, { wg_pubkey: "x", mesh_ip: "10.53.219.169" }]), meshIPv4WithNonce(P, PUB_A, 2));
  assert.equal(resolveLocalCollision(P, self, [{ wg_pubkey: "zzz", mesh_ip: "10.53.46.186" }]), undefined, "we hold the lower key: we keep it");
});
