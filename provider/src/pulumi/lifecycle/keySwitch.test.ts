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
  it("parties of different meshes never wait for each other; a hostname seen again starts a new rendezvous", async () => {
    const a = keySwitchParty("mesh-one", "web1", ["web2"]);
    const b = keySwitchParty("mesh-two", "web1", []);
    a.start(); b.start();
    const w = await b.planned(true);
    assert.equal(w.hosts, 1, "mesh-two's web1 is alone in its switch");
    // web1 of mesh-one again (the next update in this process): not held by the first one's missing web2.
    const again = keySwitchParty("mesh-one", "web1", []);
    again.start();
    assert.equal((await again.planned(true)).hosts, 1);
    a.abandoned();
  });
});
