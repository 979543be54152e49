import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { Greeter, GREET_INTERVAL_MS, GREET_SPREAD_MS } from "./greet";
import { KEEPALIVE_FRESH_MS, type DaemonCore } from "./core";
import type { PeerRecord, StoreEvent } from "./store";

const K = (i: number): string => Buffer.alloc(32, i).toString("base64");

function peer(i: number, endpoint = `198.51.100.${i}:51820`): PeerRecord {
  return { wg_pubkey: K(i), hostname: "", mesh_ip: `10.53.0.${i}`, mesh_ipv6: "", endpoint, endpoint_method: "dht", introducer: false, routable_networks: [], nat_type: "", last_seen_ms: 0, discovered_via: [] };
}

function rig(random = () => 0.5) {
  let now = 1_000_000;
  const hellos: string[] = [];
  const held = new Map<string, PeerRecord>();
  const exchanged = new Map<string, number>();
  const core = {
    store: { get: (k: string) => held.get(k) },
    controlEndpoint: (p: PeerRecord) => ({ ip: p.endpoint.split(":")[0] as string, port: 52311 }),
    exchange: {
      exchange: (ip: string, port: number) => { hellos.push(`${ip}:${port}`); return Promise.resolve(undefined); },
      lastExchange: (k: string) => exchanged.get(k),
    },
  } as unknown as DaemonCore;
  const g = new Greeter(() => core, () => now, random);
  const ev = (kind: "new" | "updated", i: number, method: string, endpoint?: string): StoreEvent => {
    const p = peer(i, endpoint);
    held.set(p.wg_pubkey, p);
    return { kind, peer: p, method };
  };
  return { g, hellos, ev, exchanged, now: () => now, advance: (ms: number) => { now += ms; mock.timers.tick(ms); } };
}

test("greets a peer that announced itself (LAN, gossip) at once, once per interval", (t) => {
  mock.timers.enable({ apis: ["setTimeout"] });
  t.after(() => mock.timers.reset());
  const { g, hellos, ev, advance } = rig();
  g.onStoreEvent(ev("new", 1, "lan"));
  g.onStoreEvent(ev("updated", 2, "gossip"));
  assert.deepEqual(hellos, ["198.51.100.1:52311", "198.51.100.2:52311"]);
  g.onStoreEvent(ev("updated", 2, "gossip"));
  assert.equal(hellos.length, 2, "greeted moments ago");
  advance(GREET_INTERVAL_MS);
  g.onStoreEvent(ev("updated", 2, "gossip"));
  assert.equal(hellos.length, 3);
});

test("greets a peer first heard of second-hand after a random delay within GREET_SPREAD_MS, unless we exchanged meanwhile", (t) => {
  mock.timers.enable({ apis: ["setTimeout"] });
  t.after(() => mock.timers.reset());
  const delays = [0.2, 0.9, 0.5];
  const { g, hellos, ev, exchanged, now, advance } = rig(() => delays.shift() ?? 0);
  g.onStoreEvent(ev("new", 3, "dht-transitive"));
  g.onStoreEvent(ev("new", 4, "gossip-transitive"));
  g.onStoreEvent(ev("new", 5, "dht-transitive"));
  assert.deepEqual(hellos, [], "not at once");
  advance(0.2 * GREET_SPREAD_MS);
  assert.deepEqual(hellos, ["198.51.100.3:52311"]);
  exchanged.set(K(5), now()); // peer 5 HELLOed us first
  advance(0.8 * GREET_SPREAD_MS);
  assert.deepEqual(hellos, ["198.51.100.3:52311", "198.51.100.4:52311"], "peer 5 skipped: we met meanwhile");
  exchanged.set(K(6), now() - KEEPALIVE_FRESH_MS);
  g.onStoreEvent(ev("new", 6, "dht-transitive"));
  advance(GREET_SPREAD_MS);
  assert.equal(hellos.at(-1), "198.51.100.6:52311", "an exchange older than the keep-alive freshness does not count");
  hellos.length = 0;
  g.onStoreEvent(ev("updated", 7, "dht-transitive")); // a change to a peer we hold already: the keep-alive round's
  g.onStoreEvent(ev("new", 8, "dht")); // it contacted us itself: HELLO/REPLY went both ways already
  g.onStoreEvent(ev("new", 9, "cache"));
  g.onStoreEvent(ev("new", 10, "dht-transitive", "")); // no endpoint to greet
  g.onStoreEvent({ kind: "removed", pubkey: K(11), reason: "goodbye" });
  g.onStoreEvent(ev("new", 3, "dht-transitive")); // greeted moments ago
  advance(GREET_SPREAD_MS);
  assert.deepEqual(hellos, []);
});
