import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { compileMesh } from "./compile";
import { normalizeMesh } from "./model";
import { buildPeerRelations } from "./policy";
import type { MeshInput, NodeInput, PolicyInput } from "./model";
import type { NodeDesiredState } from "./desired";

/** A deterministic, well-formed public key per hostname. */
const key = (h: string) => createHash("sha256").update(h).digest("base64");

function node(hostname: string, i: number, extra: Partial<NodeInput> = {}): NodeInput {
  return { hostname, meshIp: `10.99.0.${i}`, sshHost: `192.0.2.${i}`, publicKey: key(hostname), ...extra };
}

function plan(input: MeshInput): Map<string, NodeDesiredState> {
  const r = compileMesh(input);
  if (!r.ok) assert.fail(`unexpected errors: ${r.errors.map((e) => e.message).join("; ")}`);
  return new Map(r.plan.nodes.map((n) => [n.hostname, n]));
}

/** hostname → { peer hostname → allowedIps } */
function peerTable(p: Map<string, NodeDesiredState>): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  for (const [h, n] of p) out[h] = Object.fromEntries(n.peers.map((x) => [x.hostname, [...x.allowedIps]]));
  return out;
}

const get = (p: Map<string, NodeDesiredState>, h: string) => p.get(h) ?? assert.fail(`no node ${h}`);

describe("access control switch", () => {
  test("no groups and no policies: every pair is peered, routable networks always allowed", () => {
    const p = plan({ nodes: [node("a", 1, { routableNetworks: ["192.168.1.0/24"] }), node("b", 2), node("c", 3)] });
    assert.deepEqual(peerTable(p), {
      a: { b: ["10.99.0.2/32"], c: ["10.99.0.3/32"] },
      b: { a: ["10.99.0.1/32", "192.168.1.0/24"], c: ["10.99.0.3/32"] },
      c: { a: ["10.99.0.1/32", "192.168.1.0/24"], b: ["10.99.0.2/32"] },
    });
  });

  test("groups but no policies: deny by default, nobody has a peer", () => {
    const p = plan({ nodes: [node("a", 1), node("b", 2)], groups: [{ name: "g", members: ["a", "b"] }] });
    assert.deepEqual(peerTable(p), { a: {}, b: {} });
  });

  test("with access control, a node in no group has no peers and nobody peers it", () => {
    const p = plan({
      nodes: [node("a", 1), node("b", 2), node("loner", 3)],
      groups: [{ name: "g", members: ["a", "b"] }],
      policies: [{ name: "p", fromGroups: ["g"], toGroups: ["g"] }],
    });
    assert.deepEqual(peerTable(p), { a: { b: ["10.99.0.2/32"] }, b: { a: ["10.99.0.1/32"] }, loner: {} });
  });
});

describe("peering", () => {
  const nodes = [node("a1", 1), node("a2", 2), node("b1", 3), node("c1", 4)];
  const groups = [{ name: "A", members: ["a1", "a2"] }, { name: "B", members: ["b1"] }, { name: "C", members: ["c1"] }];

  test("a policy from A to B peers A and B members in both directions, and nothing else", () => {
    const p = plan({ nodes, groups, policies: [{ name: "ab", fromGroups: ["A"], toGroups: ["B"] }] });
    assert.deepEqual(peerTable(p), {
      a1: { b1: ["10.99.0.3/32"] },
      a2: { b1: ["10.99.0.3/32"] },
      b1: { a1: ["10.99.0.1/32"], a2: ["10.99.0.2/32"] },
      c1: {},
    });
  });

  test("a policy from A to A peers A's members with each other, never a node with itself", () => {
    const p = plan({ nodes, groups, policies: [{ name: "aa", fromGroups: ["A"], toGroups: ["A"] }] });
    assert.deepEqual(peerTable(p), { a1: { a2: ["10.99.0.2/32"] }, a2: { a1: ["10.99.0.1/32"] }, b1: {}, c1: {} });
  });

  test("a node in two groups gets the union of both groups' peers", () => {
    const p = plan({
      nodes,
      groups: [...groups, { name: "D", members: ["a1", "c1"] }],
      policies: [{ name: "ab", fromGroups: ["A"], toGroups: ["B"] }, { name: "dd", fromGroups: ["D"], toGroups: ["D"] }],
    });
    assert.deepEqual(Object.keys(peerTable(p)["a1"] ?? {}), ["b1", "c1"]);
    assert.deepEqual(Object.keys(peerTable(p)["c1"] ?? {}), ["a1"]);
  });

  test("multi-group from/to lists relate every from-group with every to-group", () => {
    const p = plan({ nodes, groups, policies: [{ name: "x", fromGroups: ["A", "C"], toGroups: ["B"] }] });
    assert.deepEqual(Object.keys(peerTable(p)["b1"] ?? {}), ["a1", "a2", "c1"]);
    assert.deepEqual(peerTable(p)["c1"], { b1: ["10.99.0.3/32"] });
    assert.deepEqual(peerTable(p)["a1"], { b1: ["10.99.0.3/32"] });
  });
});

describe("AllowedIPs", () => {
  const nodes = [
    node("a1", 1, { routableNetworks: ["192.168.1.0/24"] }),
    node("b1", 2, { routableNetworks: ["192.168.2.0/24", "172.16.0.0/16"] }),
  ];
  const groups = [{ name: "A", members: ["a1"] }, { name: "B", members: ["b1"] }];

  test("allowRoutableNetworks on A→B: A gets B's networks; B gets only A's mesh /32", () => {
    const p = plan({ nodes, groups, policies: [{ name: "ab", fromGroups: ["A"], toGroups: ["B"], allowRoutableNetworks: true }] });
    assert.deepEqual(peerTable(p), {
      a1: { b1: ["10.99.0.2/32", "172.16.0.0/16", "192.168.2.0/24"] },
      b1: { a1: ["10.99.0.1/32"] },
    });
  });

  test("allowRoutableNetworks off: only the mesh /32 either way", () => {
    const p = plan({ nodes, groups, policies: [{ name: "ab", fromGroups: ["A"], toGroups: ["B"], allowRoutableNetworks: false }] });
    assert.deepEqual(peerTable(p), { a1: { b1: ["10.99.0.2/32"] }, b1: { a1: ["10.99.0.1/32"] } });
  });

  test("allowMeshIps does not change AllowedIPs, but is kept in the model", () => {
    const input = (allowMeshIps: boolean): MeshInput => ({ nodes, groups, policies: [{ name: "ab", fromGroups: ["A"], toGroups: ["B"], allowMeshIps, allowRoutableNetworks: true }] });
    const on = compileMesh(input(true));
    const off = compileMesh(input(false));
    assert.ok(on.ok && off.ok);
    assert.deepEqual(on.plan, off.plan);
    assert.equal(off.mesh.policies[0]?.allowMeshIps, false);
    assert.equal(on.mesh.policies[0]?.allowMeshIps, true);
  });

  test("defaults: allowMeshIps true, allowRoutableNetworks false", () => {
    const r = compileMesh({ nodes, groups, policies: [{ name: "ab", fromGroups: ["A"], toGroups: ["B"] }] });
    assert.ok(r.ok);
    assert.equal(r.mesh.policies[0]?.allowMeshIps, true);
    assert.equal(r.mesh.policies[0]?.allowRoutableNetworks, false);
  });

  test("any one granting policy is enough; the reverse policy grants the other direction", () => {
    const p = plan({
      nodes, groups,
      policies: [
        { name: "ab-no", fromGroups: ["A"], toGroups: ["B"], allowRoutableNetworks: false },
        { name: "ab-yes", fromGroups: ["A"], toGroups: ["B"], allowRoutableNetworks: true },
        { name: "ba-yes", fromGroups: ["B"], toGroups: ["A"], allowRoutableNetworks: true },
      ],
    });
    assert.deepEqual(peerTable(p), {
      a1: { b1: ["10.99.0.2/32", "172.16.0.0/16", "192.168.2.0/24"] },
      b1: { a1: ["10.99.0.1/32", "192.168.1.0/24"] },
    });
  });
});

describe("endpoints and keepalive", () => {
  test("endpoint: publicEndpoint, else sshHost:listenPort (node override), none behind NAT, IPv6 bracketed", () => {
    const p = plan({
      listenPort: 51000,
      nodes: [
        node("a", 1),
        node("b", 2, { listenPort: 40000 }),
        node("c", 3, { behindNat: true }),
        node("d", 4, { behindNat: true, publicEndpoint: "198.51.100.9:7777" }),
        node("e", 5, { publicEndpoint: "vpn.example.com:51820" }),
        node("f", 6, { sshHost: "2001:db8::6" }),
      ],
    });
    const eps = Object.fromEntries(get(p, "a").peers.map((x) => [x.hostname, x.endpoint]));
    assert.deepEqual(eps, { b: "192.0.2.2:40000", c: null, d: "198.51.100.9:7777", e: "vpn.example.com:51820", f: "[2001:db8::6]:51000" });
    assert.equal(get(p, "b").interface.listenPort, 40000);
    assert.equal(get(p, "a").interface.listenPort, 51000);
  });

  test("a node behind NAT sets the mesh keepalive on every peer; others set none", () => {
    const p = plan({ persistentKeepalive: 17, nodes: [node("a", 1, { behindNat: true }), node("b", 2), node("c", 3)] });
    assert.deepEqual(get(p, "a").peers.map((x) => x.persistentKeepalive), [17, 17]);
    assert.deepEqual(get(p, "b").peers.map((x) => x.persistentKeepalive), [null, null]);
    const d = plan({ nodes: [node("a", 1, { behindNat: true }), node("b", 2)] });
    assert.deepEqual(get(d, "a").peers.map((x) => x.persistentKeepalive), [25]);
    const off = plan({ persistentKeepalive: 0, nodes: [node("a", 1, { behindNat: true }), node("b", 2)] });
    assert.deepEqual(get(off, "a").peers.map((x) => x.persistentKeepalive), [null]);
  });

  test("presharedKey is false on every peer", () => {
    const p = plan({ nodes: [node("a", 1), node("b", 2)] });
    assert.equal(get(p, "a").peers[0]?.presharedKey, false);
  });
});

describe("routes, forwarding, interface", () => {
  test("routes are the non-mesh CIDRs of the node's AllowedIPs, sorted; never its own networks; forwarding when it has networks", () => {
    const p = plan({
      nodes: [
        node("a", 1, { routableNetworks: ["192.168.1.0/24"] }),
        node("b", 2, { routableNetworks: ["10.5.0.0/16", "192.168.0.0/24"] }),
        node("c", 3),
      ],
    });
    assert.deepEqual(get(p, "a").routes, ["10.5.0.0/16", "192.168.0.0/24"]);
    assert.deepEqual(get(p, "b").routes, ["192.168.1.0/24"]);
    assert.deepEqual(get(p, "c").routes, ["10.5.0.0/16", "192.168.0.0/24", "192.168.1.0/24"]);
    assert.deepEqual([get(p, "a").forwarding, get(p, "b").forwarding, get(p, "c").forwarding], [true, true, false]);
  });

  test("routes follow the directional AllowedIPs under access control", () => {
    const p = plan({
      nodes: [node("a", 1, { routableNetworks: ["192.168.1.0/24"] }), node("b", 2, { routableNetworks: ["192.168.2.0/24"] })],
      groups: [{ name: "A", members: ["a"] }, { name: "B", members: ["b"] }],
      policies: [{ name: "ab", fromGroups: ["A"], toGroups: ["B"], allowRoutableNetworks: true }],
    });
    assert.deepEqual(get(p, "a").routes, ["192.168.2.0/24"]);
    assert.deepEqual(get(p, "b").routes, []);
  });

  test("interface: meshIp with the network prefix, listen port, MTU, public key, name", () => {
    const p = plan({ interfaceName: "mesh0", network: "10.42.0.0/20", mtu: 1380, nodes: [node("a", 1, { meshIp: "10.42.3.7" })] });
    assert.deepEqual(get(p, "a").interface, { name: "mesh0", address: "10.42.3.7/20", listenPort: 51820, mtu: 1380, publicKey: key("a") });
    const d = plan({ nodes: [node("a", 1)] });
    assert.equal(get(d, "a").interface.mtu, null);
  });

  test("peers are sorted by hostname, AllowedIPs by address, nodes by hostname", () => {
    const r = compileMesh({ nodes: [node("zeta", 1), node("alpha", 2, { routableNetworks: ["192.168.9.0/24", "10.1.0.0/16", "172.16.0.0/12"] }), node("mid", 3)] });
    assert.ok(r.ok);
    assert.deepEqual(r.plan.nodes.map((n) => n.hostname), ["alpha", "mid", "zeta"]);
    const z = r.plan.nodes[2] as NodeDesiredState;
    assert.deepEqual(z.peers.map((x) => x.hostname), ["alpha", "mid"]);
    assert.deepEqual(z.peers[0]?.allowedIps, ["10.1.0.0/16", "10.99.0.2/32", "172.16.0.0/12", "192.168.9.0/24"]);
  });

  test("mesh IPs are allocated (lowest free) for nodes without one", () => {
    const p = plan({ nodes: [{ hostname: "x", sshHost: "192.0.2.1", publicKey: key("x") }, node("a", 1), { hostname: "b", sshHost: "192.0.2.2", publicKey: key("b") }] });
    assert.equal(get(p, "a").interface.address, "10.99.0.1/16");
    assert.equal(get(p, "b").interface.address, "10.99.0.2/16");
    assert.equal(get(p, "x").interface.address, "10.99.0.3/16");
  });
});

describe("README examples", () => {
  test("three-tier architecture", () => {
    const names = ["web1", "web2", "app1", "db1", "web3", "app2", "db2"];
    const nets: Record<string, string[]> = { app1: ["192.168.20.0/24"], db1: ["192.168.30.0/24"], web1: ["192.168.10.0/24"], db2: ["192.168.40.0/24"] };
    const p = plan({
      nodes: names.map((h, i) => node(h, i + 1, { routableNetworks: nets[h] ?? [] })),
      groups: [
        { name: "web", members: ["web1", "web2"] },
        { name: "app", members: ["app1"] },
        { name: "db", members: ["db1"] },
        { name: "staging", members: ["web3", "app2", "db2"] },
      ],
      policies: [
        { name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], allowMeshIps: true, allowRoutableNetworks: false },
        { name: "app-to-db", fromGroups: ["app"], toGroups: ["db"], allowMeshIps: true, allowRoutableNetworks: true },
        { name: "db-to-app", fromGroups: ["db"], toGroups: ["app"], allowMeshIps: true, allowRoutableNetworks: false },
        { name: "staging-isolated", fromGroups: ["staging"], toGroups: ["staging"], allowMeshIps: true, allowRoutableNetworks: true },
      ],
    });
    // ip: web1 .1, web2 .2, app1 .3, db1 .4, web3 .5, app2 .6, db2 .7
    assert.deepEqual(peerTable(p), {
      web1: { app1: ["10.99.0.3/32"] },
      web2: { app1: ["10.99.0.3/32"] },
      app1: { db1: ["10.99.0.4/32", "192.168.30.0/24"], web1: ["10.99.0.1/32"], web2: ["10.99.0.2/32"] },
      db1: { app1: ["10.99.0.3/32"] },
      web3: { app2: ["10.99.0.6/32"], db2: ["10.99.0.7/32", "192.168.40.0/24"] },
      app2: { db2: ["10.99.0.7/32", "192.168.40.0/24"], web3: ["10.99.0.5/32"] },
      db2: { app2: ["10.99.0.6/32"], web3: ["10.99.0.5/32"] },
    });
    assert.deepEqual(get(p, "app1").routes, ["192.168.30.0/24"]);
    assert.deepEqual(get(p, "web1").routes, []);
    assert.deepEqual(get(p, "db1").routes, []);
    assert.deepEqual(get(p, "web3").routes, ["192.168.40.0/24"]);
    assert.deepEqual(get(p, "db2").routes, []);
  });

  test("hub-and-spoke", () => {
    const names = ["hq1", "hq2", "office1", "office2", "office3"];
    const p = plan({
      nodes: names.map((h, i) => node(h, i + 1, { routableNetworks: [`192.168.${i + 1}.0/24`] })),
      groups: [{ name: "hq", members: ["hq1", "hq2"] }, { name: "office", members: ["office1", "office2", "office3"] }],
      policies: [
        { name: "office-to-hq", fromGroups: ["office"], toGroups: ["hq"], allowMeshIps: true, allowRoutableNetworks: true },
        { name: "hq-to-office", fromGroups: ["hq"], toGroups: ["office"], allowMeshIps: true, allowRoutableNetworks: false },
      ],
    });
    const office = { hq1: ["10.99.0.1/32", "192.168.1.0/24"], hq2: ["10.99.0.2/32", "192.168.2.0/24"] };
    const hq = { office1: ["10.99.0.3/32"], office2: ["10.99.0.4/32"], office3: ["10.99.0.5/32"] };
    assert.deepEqual(peerTable(p), { hq1: hq, hq2: hq, office1: office, office2: office, office3: office });
    assert.deepEqual(get(p, "office2").routes, ["192.168.1.0/24", "192.168.2.0/24"]);
    assert.deepEqual(get(p, "hq1").routes, []);
    assert.equal(get(p, "hq1").forwarding, true);
  });
});

// ---------------------------------------------------------------- properties

/** Straight transcription of "Policy semantics", O(N²·P), as the reference. */
function reference(input: MeshInput): Record<string, Record<string, string[]>> {
  const groups = input.groups ?? [];
  const policies = input.policies ?? [];
  const acl = groups.length > 0 || policies.length > 0;
  const inGroup = (h: string, g: string) => groups.some((x) => x.name === g && (x.members ?? []).includes(h));
  const inAny = (h: string, gs: string[]) => gs.some((g) => inGroup(h, g));
  const fromTo = (x: string, y: string, p: PolicyInput) => inAny(x, p.fromGroups) && inAny(y, p.toGroups);
  const out: Record<string, Record<string, string[]>> = {};
  for (const x of input.nodes) {
    out[x.hostname] = {};
    for (const y of input.nodes) {
      if (x.hostname === y.hostname) continue;
      const peered = !acl || policies.some((p) => fromTo(x.hostname, y.hostname, p) || fromTo(y.hostname, x.hostname, p));
      if (!peered) continue;
      const routes = !acl || policies.some((p) => fromTo(x.hostname, y.hostname, p) && p.allowRoutableNetworks === true);
      const ips = [`${y.meshIp}/32`, ...(routes ? y.routableNetworks ?? [] : [])];
      (out[x.hostname] as Record<string, string[]>)[y.hostname] = ips;
    }
  }
  return out;
}

const meshArb = fc.integer({ min: 1, max: 10 }).chain((n) => {
  const hosts = Array.from({ length: n }, (_, i) => `n${i}`);
  const groupArb = fc.record({ members: fc.subarray(hosts) });
  return fc.record({
    nat: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    nets: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    groups: fc.array(groupArb, { maxLength: 4 }),
    policies: fc.array(fc.record({ from: fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), to: fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), routes: fc.boolean() }), { maxLength: 4 }),
    seed: fc.integer(),
  }).map(({ nat, nets, groups, policies, seed }): MeshInput & { seed: number } => {
    const gNames = groups.map((_, i) => `g${i}`);
    return {
      seed,
      nodes: hosts.map((h, i) => node(h, i + 1, { behindNat: nat[i] ?? false, routableNetworks: nets[i] ? [`172.16.${i}.0/24`] : [] })),
      groups: groups.map((g, i) => ({ name: gNames[i] as string, members: g.members })),
      policies: gNames.length === 0 ? [] : policies.map((p, i) => ({
        name: `p${i}`,
        fromGroups: [...new Set(p.from.map((k) => gNames[k % gNames.length] as string))],
        toGroups: [...new Set(p.to.map((k) => gNames[k % gNames.length] as string))],
        allowRoutableNetworks: p.routes,
      })),
    };
  });
});

function shuffle<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("properties", () => {
  test("the plan equals a direct transcription of the policy semantics", () => {
    fc.assert(fc.property(meshArb, (input) => {
      const got = peerTable(plan(input));
      const want = reference(input);
      for (const h of Object.keys(want)) for (const y of Object.keys(want[h] ?? {})) (want[h] as Record<string, string[]>)[y]?.sort();
      assert.deepEqual(got, want);
    }), { numRuns: 300 });
  });

  test("relations answer the same in any call order (their per-signature cache is transparent)", () => {
    fc.assert(fc.property(meshArb, (input) => {
      const rel = buildPeerRelations(normalizeMesh(input));
      const inOrder = Array.from(rel.order, (i) => [i, rel.peersOf(i), rel.peersOf(i).map((j) => rel.routesAllowed(i, j))] as const);
      for (const [i, peers, routes] of shuffle(inOrder, input.seed)) {
        assert.deepEqual(rel.peersOf(i), peers);
        assert.deepEqual(peers.map((j) => rel.routesAllowed(i, j)), routes);
      }
      assert.deepEqual(Array.from(rel.order).sort((a, b) => a - b), rel.nodes.map((_, i) => i));
    }), { numRuns: 300 });
  });

  test("the peer relation is symmetric and no node peers itself", () => {
    fc.assert(fc.property(meshArb, (input) => {
      const t = peerTable(plan(input));
      for (const [x, peers] of Object.entries(t)) {
        assert.ok(!(x in peers), `${x} peers itself`);
        for (const y of Object.keys(peers)) assert.ok(x in (t[y] ?? {}), `${x}→${y} but not ${y}→${x}`);
      }
    }), { numRuns: 300 });
  });

  test("planning is deterministic: shuffling nodes, groups, members, policies and their lists changes nothing", () => {
    fc.assert(fc.property(meshArb, (input) => {
      const a = compileMesh(input);
      const shuffled: MeshInput = {
        nodes: shuffle(input.nodes, input.seed),
        groups: shuffle(input.groups ?? [], input.seed + 1).map((g, i) => ({ ...g, members: shuffle(g.members ?? [], input.seed + i) })),
        policies: shuffle(input.policies ?? [], input.seed + 2).map((p, i) => ({ ...p, fromGroups: shuffle(p.fromGroups, i), toGroups: shuffle(p.toGroups, i + 7) })),
      };
      const b = compileMesh(shuffled);
      assert.ok(a.ok && b.ok);
      assert.deepEqual(b.plan, a.plan);
      assert.deepEqual(b.warnings.map((w) => w.message).sort(), a.warnings.map((w) => w.message).sort());
    }), { numRuns: 200 });
  });
});
