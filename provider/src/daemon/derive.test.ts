import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deriveParams, networkIdShort, defaultSubnetCidr, ipv6PrefixText, multicastGroup, pskBase64, infohashes,
  meshIPv4, meshIPv6, meshIPv4WithNonce, parseMeshSubnet, membershipToken, pairId, meshIpStillValid, SubnetError,
} from "./derive";
import { parseSecret } from "./secret";

const PUB_A = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
const PUB_B = "WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=";
const T = 1800000000;

interface Vector {
  input: string;
  networkId: string; gossipKey: string; subnet: string; subnetCidr: string; prefix: string; prefixText?: string;
  mcast: string; group: string; psk: string; port: number; rv: string; membership: string; epoch: string;
  ih: string; ihPrev: string; ipA: string; ipB: string; ip6A: string; ip6B?: string; collA: string;
}

const vectors: Record<string, Vector> = {
  A: {
    input: "wgmesh-test-vector-secret-0001",
    networkId: "ae3a1c1e971083dd2b7ba0117a3b60348f251138",
    gossipKey: "a7caed3e6cf2f928cfe1b96616819855a142f2fdfe28e257885af73993310d5f",
    subnet: "35f2", subnetCidr: "10.53.0.0/16",
    prefix: "fd961a43232a2a66", prefixText: "fd96:1a43:232a:2a66::/64",
    mcast: "c37e05ca", group: "239.192.195.126",
    psk: "fba026d81c4de6b1df9e5ae92a3cc85afb3df898d78194aaf8e1c7c97988dd18",
    port: 52311, rv: "64b6e29845090a14",
    membership: "904761a73f19074b9d320492c846b3a2ee439656c27911f1d482775bcab4181b",
    epoch: "fea26efc817b9e70899535c053ac6655058b1155e401b3862e2f452edb917a7b",
    ih: "7e09be45f0266ca05913e1598dc6db856614b525", ihPrev: "1dd3e256c56de938b53c87b218a7ce1e67a5cf84",
    ipA: "10.53.46.186", ipB: "10.53.112.189",
    ip6A: "fd96:1a43:232a:2a66:6626:ad6b:c95d:6791", ip6B: "fd96:1a43:232a:2a66:5a03:1297:f167:b997",
    collA: "10.53.219.169",
  },
  B: {
    input: "test-secret-that-is-long-enough",
    networkId: "99a6ba99fb00b3bf3288ec61cd973158aacc2ca7",
    gossipKey: "2f285cecd46ef8f8b4aade3c7991fc17586f5d41d4adb3e26cd6b7196c3f4461",
    subnet: "1436", subnetCidr: "10.20.0.0/16", prefix: "fd7d16f863e51756",
    mcast: "3035f554", group: "239.192.48.53",
    psk: "97e07f060945788b4992c13ef3b1ae898aa52560d1dad7d9fff16fa973f58d6b",
    port: 52316, rv: "e70a3b3785126e17",
    membership: "adb6bae5f8e8bc5f40d4b12887e9911ba5b8c36961fb259de835c7fbe88b01b8",
    epoch: "20bb060ce68dd2c0e23918d44efe7e8a88f8190ed6e3a2c1b892e4323dae489b",
    ih: "01235bf650cb1e5b850888f74de233a7fa0c404a", ihPrev: "4e9169a0b22417ab477de2a94a620f7097cc1423",
    ipA: "10.20.192.91", ipB: "10.20.155.215", ip6A: "fd7d:16f8:63e5:1756:ee91:776:654b:9e8a", collA: "10.20.15.230",
  },
  C: {
    input: "wgmesh://v1/SGVsbG8gV29ybGQhIFRoaXMgaXMgYSB0ZXN0IHNlY3JldCB0aGF0IGlzIGxvbmcgZW5vdWdoIGZvciB0aGUga2V5IGRlcml2YXRpb24u",
    networkId: "70565bbf619314afaf9a4a8a6196ff22e7f495a0",
    gossipKey: "420ea829481e60b7632d8ff5eb47671f7464580418641fd36bbcfe9eff4f808c",
    subnet: "bcc3", subnetCidr: "10.188.0.0/16", prefix: "fd30406d245cdfb5",
    mcast: "1b465f68", group: "239.192.27.70",
    psk: "8d1cff01ab78060ba5c987e490957e970ad4cec2f56d09785eb4b7d92ac18a30",
    port: 52613, rv: "259567bb7cfcd703",
    membership: "cf3db573db2e7563a20a31abc315268a265bc42a1939a8528a3103e2890815fb",
    epoch: "fba098b199065aa9b3d55c2de4e7f7a68b93e798466e073e1a1a8e8864fe643f",
    ih: "d5b5800438f0425efd7701aa285f4c84f9589155", ihPrev: "c3821454a54c465ad3d7bf1289efa2d3067e874b",
    ipA: "10.188.20.44", ipB: "10.188.213.138", ip6A: "fd30:406d:245c:dfb5:66d4:62a6:69ee:5eac", collA: "10.188.74.183",
  },
};

for (const [name, v] of Object.entries(vectors)) {
  test(`vector ${name}: every derived parameter matches the Go daemon`, () => {
    const p = deriveParams(parseSecret(v.input).secret);
    assert.equal(p.networkId.toString("hex"), v.networkId);
    assert.equal(networkIdShort(p), v.networkId.slice(0, 16));
    assert.equal(p.meshId, v.networkId.slice(0, 12));
    assert.equal(p.gossipKey.toString("hex"), v.gossipKey);
    assert.equal(p.meshSubnet.toString("hex"), v.subnet);
    assert.equal(defaultSubnetCidr(p), v.subnetCidr);
    assert.equal(p.meshPrefixV6.toString("hex"), v.prefix);
    if (v.prefixText) assert.equal(ipv6PrefixText(p), v.prefixText);
    assert.equal(p.multicastId.toString("hex"), v.mcast);
    assert.equal(multicastGroup(p), v.group);
    assert.equal(p.psk.toString("hex"), v.psk);
    assert.equal(p.gossipPort, v.port);
    assert.equal(p.rendezvousId.toString("hex"), v.rv);
    assert.equal(p.membershipKey.toString("hex"), v.membership);
    assert.equal(p.epochSeed.toString("hex"), v.epoch);
    const ih = infohashes(p.secret, T);
    assert.equal(ih.current.toString("hex"), v.ih);
    assert.equal(ih.previous.toString("hex"), v.ihPrev);
    assert.equal(meshIPv4(p, PUB_A), v.ipA);
    assert.equal(meshIPv4(p, PUB_B), v.ipB);
    assert.equal(meshIPv6(p, PUB_A), v.ip6A);
    if (v.ip6B) assert.equal(meshIPv6(p, PUB_B), v.ip6B);
    assert.equal(meshIPv4WithNonce(p, PUB_A, 1), v.collA);
  });
}

test("vector A: extras (psk base64, gossip port bytes, custom subnet, membership token, pair id, hour edges)", () => {
  const p = deriveParams("wgmesh-test-vector-secret-0001");
  assert.equal(pskBase64(p), "+6Am2BxN5rHfnlrpKjzIWvs9+JjXgZSq+OHHyXmI3Rg=");
  const sub = parseMeshSubnet("192.168.100.0/24");
  assert.equal(meshIPv4(p, PUB_A, sub), "192.168.100.136");
  assert.equal(meshIPv4WithNonce(p, PUB_A, 1, sub), "192.168.100.53");
  const rawA = Buffer.from(PUB_A, "base64");
  assert.equal(membershipToken(p, rawA, 500000).toString("hex"), "96a266600ff3959c7af18123e3384147388d3f733b2dfd024ccb9bd113e58a5a");
  assert.equal(pairId(PUB_A, PUB_B), "2cb82cb0effa1637");
  assert.equal(pairId(PUB_B, PUB_A), "2cb82cb0effa1637");
  // hour boundary: the last second of hour 499999 has 499999 as current
  assert.equal(infohashes(p.secret, T - 1).current.toString("hex"), "1dd3e256c56de938b53c87b218a7ce1e67a5cf84");
  assert.equal(infohashes(p.secret, T + 3599).current.toString("hex"), "7e09be45f0266ca05913e1598dc6db856614b525");
});

test("vector D: repository fixture secret gives the documented gossip key", () => {
  assert.equal(deriveParams("wgmesh-envelope-compatibility-secret").gossipKey.toString("hex"),
    "07480669f5e7c309b6612bbae2f0832ad6fb66fc06d4200c09706d084ec65355");
});

test("custom mesh subnet: Go's rules and messages", () => {
  assert.equal(parseMeshSubnet("192.168.100.7/24").cidr, "192.168.100.0/24");
  assert.equal(parseMeshSubnet("10.0.0.0/30").cidr, "10.0.0.0/30");
  assert.throws(() => parseMeshSubnet("192.168.100.0/31"), { message: "mesh subnet /31 is too small (need at least /30 for 2 host addresses)" });
  assert.throws(() => parseMeshSubnet("fd00::/64"), { message: 'mesh subnet must be an IPv4 CIDR, got "fd00::/64"' });
  assert.throws(() => parseMeshSubnet("garbage"), { message: 'invalid mesh subnet: invalid subnet CIDR "garbage": invalid CIDR address: garbage' });
  assert.throws(() => parseMeshSubnet("10.0.0.0/33"), SubnetError);
  assert.throws(() => parseMeshSubnet("10.0.0/8"), SubnetError);
});

test("addresses in a /30 are always one of the two host addresses; /16 default never .0 or .255", () => {
  const sub = parseMeshSubnet("10.9.9.8/30");
  for (let i = 0; i < 200; i++) {
    const p = deriveParams(`secret-number-${i}-long-enough`);
    const ip = meshIPv4(p, PUB_A, sub);
    assert.ok(ip === "10.9.9.9" || ip === "10.9.9.10", ip);
    const d = meshIPv4(p, PUB_B);
    const last = Number(d.split(".")[3]);
    assert.ok(last >= 1 && last <= 254);
    assert.ok(meshIpStillValid(p, d));
    assert.ok(meshIpStillValid(p, ip, sub));
    assert.ok(!meshIpStillValid(p, "10.9.9.12", sub));
  }
  const p = deriveParams("wgmesh-test-vector-secret-0001");
  assert.ok(!meshIpStillValid(p, "10.54.1.1"));
  assert.ok(!meshIpStillValid(p, "not-an-ip"));
});
