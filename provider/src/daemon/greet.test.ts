import { test } from "node:test";
import assert from "node:assert/strict";
import { Greeter, GREET_INTERVAL_MS, REFUSED_GREET_INTERVAL_MS, REFUSED_GREETS_PER_MESSAGE } from "./greet";
import type { DaemonCore } from "./core";
import type { PeerRecord, StoreEvent } from "./store";

const K = (i: number): string => Buffer.alloc(32, i).toString("base64");

function peer(i: number, endpoint = `198.51.100.${i}:51820`): PeerRecord {
  return { wg_pubkey: K(i), hostname: "", mesh_ip: `10.53.0.${i}`, mesh_ipv6: "", endpoint, endpoint_method: "dht", introducer: false, routable_networks: [], nat_type: "", last_seen_ms: 0, discovered_via: [] };
}

test("greets a peer that announced itself (LAN, gossip) at once, once per interval; second-hand and direct ones are left to the other layers", () => {
  let now = 1_000_000;
  const hellos: string[] = [];
  const core = {
    controlEndpoint: (p: PeerRecord) => ({ ip: p.endpoint.split(":")[0] as string, port: 52311 }),
    exchange: { exchange: (ip: string, port: number) => { hellos.push(`${ip}:${port}`); return Promise.resolve(undefined); } },
  } as unknown as DaemonCore;
  const g = new Greeter(() => core, () => now);
  const ev = (kind: "new" | "updated", i: number, method: string, endpoint?: string): StoreEvent => ({ kind, peer: peer(i, endpoint), method });
  g.onStoreEvent(ev("new", 1, "lan"));
  g.onStoreEvent(ev("updated", 2, "gossip"));
  assert.deepEqual(hellos, ["198.51.100.1:52311", "198.51.100.2:52311"]);
  g.onStoreEvent(ev("updated", 2, "gossip"));
  g.onStoreEvent(ev("new", 3, "dht-transitive")); // passed on in its first minute with us; the keep-alive round HELLOs it
  g.onStoreEvent(ev("new", 4, "dht")); // it contacted us itself
  g.onStoreEvent(ev("new", 5, "lan", "")); // no endpoint to greet
  g.onStoreEvent({ kind: "removed", pubkey: K(6), reason: "goodbye" });
  assert.equal(hellos.length, 2);
  now += GREET_INTERVAL_MS;
  g.onStoreEvent(ev("updated", 2, "gossip"));
  assert.equal(hellos.length, 3);
});

test("HELLOs peers the store refused at its maximum, only while a direct contact would be stored; once per interval, a few per message", () => {
  let now = 1_000_000;
  let admits = false;
  const hellos: string[] = [];
  const core = {
    store: { admitsDirect: () => admits },
    controlEndpoint: (p: Pick<PeerRecord, "endpoint">) => ({ ip: p.endpoint.split(":")[0] as string, port: 52311 }),
    exchange: { exchange: (ip: string) => { hellos.push(ip); return Promise.resolve(undefined); } },
  } as unknown as DaemonCore;
  const g = new Greeter(() => core, () => now);
  const refused = (...ids: number[]) => ids.map((i) => ({ wg_pubkey: K(i), endpoint: i === 9 ? "" : `198.51.100.${i}:51820` }));
  g.onRefused(refused(1, 2));
  assert.deepEqual(hellos, [], "no room and nothing dead: its REPLY would be refused too");
  admits = true;
  g.onRefused(refused(9, 1, 2, 3, 4, 5, 6));
  assert.deepEqual(hellos, ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"], `at most ${REFUSED_GREETS_PER_MESSAGE} per message; none without an endpoint`);
  g.onRefused(refused(1, 5));
  assert.deepEqual(hellos.slice(4), ["198.51.100.5"], "1 was greeted within the interval");
  now += REFUSED_GREET_INTERVAL_MS;
  g.onRefused(refused(1));
  assert.equal(hellos.at(-1), "198.51.100.1");
});
