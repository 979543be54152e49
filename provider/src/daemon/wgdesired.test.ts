import { test } from "node:test";
import assert from "node:assert/strict";
import { desiredState, LocalWg } from "./wgdesired";
import type { PeerRecord } from "./store";

const K = (c: string): string => `${c.repeat(43)}=`;
const local: LocalWg = {
  iface: "wg0", publicKey: K("L"), meshIp: "10.53.1.1", meshPrefix: 16, meshCidr: "10.53.0.0/16", meshV6Cidr: "fd96:1a43:232a:2a66::/64",
  listenPort: 51820, advertiseRoutes: ["192.168.10.0/24"], hostname: "me",
};
function peer(key: string, over: Partial<PeerRecord> = {}): PeerRecord {
  return {
    wg_pubkey: key, hostname: "", mesh_ip: "10.53.2.2", mesh_ipv6: "", endpoint: "172.31.0.2:51820", endpoint_method: "dht",
    introducer: false, routable_networks: [], nat_type: "", last_seen_ms: 0, discovered_via: ["dht"], ...over,
  };
}

test("peers: PSK, keepalive 25, mesh /32 + /128 + routes; endpoint-less and mesh-IP-less peers left out", () => {
  const { desired } = desiredState(local, [
    peer(K("A"), { mesh_ipv6: "fd96:1a43:232a:2a66::5", routable_networks: ["192.168.50.0/24"], hostname: "a" }),
    peer(K("B"), { endpoint: "", mesh_ip: "10.53.3.3" }),
    peer(K("C"), { mesh_ip: "" }),
    peer(local.publicKey),
  ]);
  assert.equal(desired.peers.length, 1);
  assert.deepEqual(desired.peers[0], {
    hostname: "a", publicKey: K("A"), endpoint: "172.31.0.2:51820", allowedIps: ["10.53.2.2/32", "192.168.50.0/24", "fd96:1a43:232a:2a66::5/128"],
    persistentKeepalive: 25, presharedKey: true,
  });
  assert.deepEqual(desired.routes, ["192.168.50.0/24"]);
  assert.equal(desired.interface.address, "10.53.1.1/16");
  assert.equal(desired.forwarding, true, "forwarding only because this node advertises a network");
  assert.equal(desiredState({ ...local, advertiseRoutes: [] }, []).desired.forwarding, false);
});

test("routable networks: hijacks and nonsense refused, a network goes to one peer only", () => {
  const { desired, rejected } = desiredState(local, [
    peer(K("A"), { routable_networks: ["0.0.0.0/1", "10.53.7.0/24", "192.168.10.0/25", "172.31.0.0/24", "198.51.100.0/24", "fd96:1a43:232a:2a66::/80", "nonsense"] }),
    peer(K("B"), { mesh_ip: "10.53.2.3", routable_networks: ["198.51.100.0/24", "203.0.113.0/24"] }),
  ], [{ cidr: "172.31.0.0/24", dev: "eth0" }, { cidr: "0.0.0.0/0", dev: "eth0" }]);
  assert.deepEqual(desired.routes, ["198.51.100.0/24", "203.0.113.0/24"]);
  const why = Object.fromEntries(rejected.map((r) => [`${r.peer[0]}:${r.cidr}`, r.why]));
  assert.match(why["A:0.0.0.0/1"] as string, /prefix too short/);
  assert.match(why["A:10.53.7.0/24"] as string, /mesh/);
  assert.match(why["A:192.168.10.0/25"] as string, /advertises/);
  assert.match(why["A:172.31.0.0/24"] as string, /eth0/);
  assert.match(why["A:fd96:1a43:232a:2a66::/80"] as string, /mesh/);
  assert.match(why["A:nonsense"] as string, /CIDR/);
  assert.match(why["B:198.51.100.0/24"] as string, /lower key/);
});

test("mesh-IP collisions: the lower key keeps the /32, and nobody gets our own address", () => {
  const { desired } = desiredState(local, [
    peer(K("A"), { mesh_ip: "10.53.9.9" }),
    peer(K("B"), { mesh_ip: "10.53.9.9", mesh_ipv6: "fd96:1a43:232a:2a66::b" }),
    peer(K("C"), { mesh_ip: local.meshIp, mesh_ipv6: "fd96:1a43:232a:2a66::c" }),
  ]);
  const allowed = Object.fromEntries(desired.peers.map((p) => [p.publicKey[0], p.allowedIps]));
  assert.deepEqual(allowed["A"], ["10.53.9.9/32"]);
  assert.deepEqual(allowed["B"], ["fd96:1a43:232a:2a66::b/128"]);
  assert.deepEqual(allowed["C"], ["fd96:1a43:232a:2a66::c/128"]);
});
