import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { keySwitchPartners, keySwitchParty, type KeyHolding } from "./keySwitch";

const K = (c: string) => c.repeat(43) + "=";
const node = (publicKey: string, peers: Record<string, string>, psks: Record<string, string> = {}): KeyHolding => ({
  publicKey,
  peers: Object.fromEntries(Object.entries(peers).map(([h, k]) => [h, { publicKey: k }])),
  presharedKeys: Object.keys(psks).length ? Object.fromEntries(Object.entries(psks).map(([h, k]) => [h, { key: k }])) : undefined,
});

describe("key-switch partners of a NodeConfig update", () => {
  const before = node(K("a"), { web2: K("b"), web3: K("c") }, { web2: K("p"), web3: K("q") });

  it("nothing about keys changed: no partners (an AllowedIPs or endpoint change switches nothing)", () => {
    assert.deepEqual(keySwitchPartners(before, node(K("a"), { web2: K("b"), web3: K("c") }, { web2: K("p"), web3: K("q") })), []);
  });

  it("the node's own key rotated: every peer", () => {
    assert.deepEqual(keySwitchPartners(before, node(K("A"), { web3: K("c"), web2: K("b") }, { web2: K("p"), web3: K("q") })), ["web2", "web3"]);
  });

  it("a peer's key rotated: that peer", () => {
    assert.deepEqual(keySwitchPartners(before, node(K("a"), { web2: K("b"), web3: K("C") }, { web2: K("p"), web3: K("q") })), ["web3"]);
  });

  it("a pair's preshared key changed, set or removed: that peer", () => {
    assert.deepEqual(keySwitchPartners(before, node(K("a"), { web2: K("b"), web3: K("c") }, { web2: K("P"), web3: K("q") })), ["web2"]);
    assert.deepEqual(keySwitchPartners(before, node(K("a"), { web2: K("b"), web3: K("c") }, { web3: K("q") })), ["web2"]);
    assert.deepEqual(keySwitchPartners(node(K("a"), { web2: K("b") }), node(K("a"), { web2: K("b") }, { web2: K("p") })), ["web2"]);
  });

  it("a peer added or removed switches nothing (its tunnel starts or ends)", () => {
    assert.deepEqual(keySwitchPartners(before, node(K("a"), { web2: K("b"), web4: K("d") }, { web2: K("p"), web4: K("r") })), []);
  });
});

describe("keySwitchParty: one rendezvous per mesh and update", () => {
  /** The wait's result, or "still waiting" after 1 s (a shared rendezvous would hold it 5 s, then say 2 hosts). */
  const within1s = <T>(p: Promise<T>) => Promise.race([p, new Promise<"still waiting">((r) => setTimeout(() => r("still waiting"), 1_000).unref())]);

  it("parties of different meshes never wait for each other", async () => {
    // web1 of mesh-one switches with web2 and is still reading; web2 of mesh-two is another host altogether.
    const a = keySwitchParty("mesh-one", "web1", ["web2"]);
    a.start();
    const b = keySwitchParty("mesh-two", "web2", []);
    b.start();
    const w = await within1s(b.planned(true));
    assert.notEqual(w, "still waiting", "mesh-two's web2 waited for mesh-one's web1");
    assert.equal((w as { hosts: number }).hosts, 1);
    a.abandoned();
  });

  it("a hostname seen again (the next update in the same process) starts a new rendezvous", async () => {
    const first = keySwitchParty("mesh-three", "web1", ["web2"]);
    first.start();
    first.abandoned();
    // Were the first rendezvous reused, web1 would be "arrived" already and its class would still wait for web2.
    const again = keySwitchParty("mesh-three", "web1", []);
    again.start();
    const w = await within1s(again.planned(true));
    assert.notEqual(w, "still waiting", "the second update of web1 waited on the first one's partner");
    assert.equal((w as { hosts: number }).hosts, 1);
  });
});
