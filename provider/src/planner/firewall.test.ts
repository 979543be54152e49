import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { compileMesh } from "../core/compile";
import { accessDecision } from "../core/access";
import type { Mesh, MeshInput } from "../core/model";
import { cidrRange } from "../core/cidr";
import { parsePortSpec, type PortSpec } from "../core/ports";
import { planFirewalls, withFirewalls } from "./firewall";
import { renderNftRuleset, parseNftListing, assertFirewallPlan, nftMatches, parseNftProbe } from "./nft";
import type { FirewallPlan } from "./types";

const key = (h: string) => createHash("sha256").update(h).digest("base64");

function compiled(input: MeshInput): Mesh {
  const r = compileMesh(input);
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("; "));
  return r.mesh;
}

/** An independent evaluator of the planner's rule vocabulary: does `fw` accept a NEW packet? */
function accepts(fw: FirewallPlan, chain: "input" | "forward", pkt: { src: string; dst: string; probe: PortSpec }): boolean {
  const inSet = (set: string, addr: string): boolean => (fw.sets[set] ?? []).some((e) => {
    const r = cidrRange(e.includes("/") ? e : `${e}/${e.includes(":") ? 128 : 32}`);
    const a = cidrRange(`${addr}/${addr.includes(":") ? 128 : 32}`);
    return r.family === a.family && a.first >= r.first && a.first <= r.last;
  });
  for (const [label, rule] of Object.entries(fw.rules)) {
    if (!label.startsWith(`${chain} `)) continue;
    const m = /^(ip6?) saddr @(\w+) (?:(ip6?) daddr @(\w+) )?(?:(tcp|udp) dport (\d+|\d+-\d+|\{ [^}]+ \}) |meta l4proto (icmp|ipv6-icmp) )?accept$/.exec(rule);
    assert.ok(m, `rule ${label} has an unexpected form: ${rule}`);
    if ((m[1] === "ip6") !== pkt.src.includes(":") || !inSet(m[2] as string, pkt.src)) continue;
    if (m[4] && !inSet(m[4], pkt.dst)) continue;
    if (m[5]) {
      if (pkt.probe.proto !== m[5]) continue;
      const port = (pkt.probe as { first: number }).first;
      const ok = (m[6] as string).replace(/[{}]/g, "").split(",").map((s) => s.trim()).some((r) => {
        const [a, b] = r.split("-").map(Number);
        return port >= (a as number) && port <= (b ?? a as number);
      });
      if (!ok) continue;
    }
    if (m[7] && pkt.probe.proto !== "icmp") continue;
    return true;
  }
  return false;
}

const three: MeshInput = {
  nodes: ["web1", "web2", "app1", "db1", "stg1"].map((h, i) => ({ hostname: h, sshHost: `192.0.2.${i + 1}`, publicKey: key(h), routableNetworks: h === "db1" ? ["192.168.10.0/24"] : [] })),
  groups: [{ name: "web", members: ["web1", "web2"] }, { name: "app", members: ["app1"] }, { name: "db", members: ["db1"] }, { name: "staging", members: ["stg1"] }],
  policies: [
    { name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], ports: ["tcp/8080", "icmp"] },
    { name: "app-to-db", fromGroups: ["app"], toGroups: ["db"], allowRoutableNetworks: true, ports: ["tcp/5432"] },
    { name: "db-to-app", fromGroups: ["db"], toGroups: ["app"] },
  ],
};

describe("firewall plan", () => {
  test("direction: web may reach app on its ports, app may not open connections to web", () => {
    const mesh = compiled(three);
    const fw = planFirewalls(mesh);
    const ip = (h: string) => mesh.nodes.find((n) => n.hostname === h)!.meshIp as string;
    const tcp = (p: number): PortSpec => ({ proto: "tcp", first: p, last: p });
    assert.ok(accepts(fw.get("app1")!, "input", { src: ip("web1"), dst: ip("app1"), probe: tcp(8080) }));
    assert.ok(accepts(fw.get("app1")!, "input", { src: ip("web2"), dst: ip("app1"), probe: { proto: "icmp" } }));
    assert.ok(!accepts(fw.get("app1")!, "input", { src: ip("web1"), dst: ip("app1"), probe: tcp(22) }));
    assert.ok(!accepts(fw.get("web1")!, "input", { src: ip("app1"), dst: ip("web1"), probe: tcp(80) }));
    assert.deepEqual(fw.get("web1")!.rules, {}, "web accepts nothing new from the mesh");
    assert.ok(accepts(fw.get("db1")!, "forward", { src: ip("app1"), dst: "192.168.10.7", probe: tcp(5432) }));
    assert.ok(!accepts(fw.get("db1")!, "forward", { src: ip("app1"), dst: "192.168.10.7", probe: tcp(22) }));
    assert.ok(!accepts(fw.get("db1")!, "forward", { src: ip("app1"), dst: "192.168.99.7", probe: tcp(5432) }), "only into its own networks");
    assert.equal(fw.get("stg1")!.table, "inet wgmesh_wg0");
  });

  test("allowMeshIps false: no input rule, the forward rule stays", () => {
    const mesh = compiled({ ...three, policies: [{ name: "app-to-db", fromGroups: ["app"], toGroups: ["db"], allowMeshIps: false, allowRoutableNetworks: true }] });
    const db = planFirewalls(mesh).get("db1")!;
    assert.deepEqual(Object.keys(db.rules), ["forward app-to-db from app"]);
    assert.deepEqual(db.sets, { src_app: [mesh.nodes.find((n) => n.hostname === "app1")!.meshIp], routed: ["192.168.10.0/24"] });
  });

  test("enforcement none, or no access control: no firewall at all", () => {
    assert.deepEqual([...planFirewalls(compiled({ ...three, enforcement: "none" })).values()], [null, null, null, null, null]);
    assert.deepEqual([...planFirewalls(compiled({ nodes: three.nodes, enforcement: "nftables" })).values()], [null, null, null, null, null]);
    const plan = compileMesh(three);
    assert.ok(plan.ok);
    assert.ok(withFirewalls(plan.mesh, plan.plan).nodes.every((d) => d.firewall !== undefined));
  });

  test("the table text is canonical: same plan → same bytes, whatever the declaration order", () => {
    const a = planFirewalls(compiled(three)).get("app1")!;
    const b = planFirewalls(compiled({ ...three, policies: [...three.policies!].reverse(), groups: [...three.groups!].reverse() })).get("app1")!;
    assert.equal(renderNftRuleset("wg0", a), renderNftRuleset("wg0", b));
  });

  test("a live listing reads back into the plan's shape (labels from the rule comments)", () => {
    const fw = planFirewalls(compiled(three)).get("db1")!;
    // Listing form of nft 1.0.6: blank lines between blocks, 4-space continuation of long element lists.
    const listing = renderNftRuleset("wg0", fw).split("\n").slice(5).join("\n").replace(/\n\t}/g, "\n\t}\n");
    assert.deepEqual(parseNftListing(listing, fw.table), fw);
    const app = planFirewalls(compiled(three)).get("app1")!;
    const appListing = renderNftRuleset("wg0", app).split("\n").slice(5).join("\n");
    assert.match(appListing, /meta l4proto icmp/, "positive control");
    assert.deepEqual(parseNftListing(appListing.replace("meta l4proto icmp", "meta l4proto 1"), app.table).rules, app.rules, "nft's numeric ICMP read back");
    const edited = listing.replace(/\t\tip saddr @src_app ip daddr[^\n]*\n/, "\t\tip saddr 0.0.0.0/0 accept\n");
    assert.deepEqual(parseNftListing(edited, fw.table).rules, { "input app-to-db from app tcp": fw.rules["input app-to-db from app tcp"], "forward #1": "ip saddr 0.0.0.0/0 accept" });
  });

  test("nothing unsafe reaches the text", () => {
    const fw = planFirewalls(compiled(three)).get("db1")!;
    assert.throws(() => assertFirewallPlan({ ...fw, rules: { "input x": "accept; flush ruleset" } }, "wg0"), /not an accept rule/);
    assert.throws(() => assertFirewallPlan({ ...fw, rules: { "input x\n": "ip saddr @src_app accept" } }, "wg0"), /label/);
    assert.throws(() => assertFirewallPlan({ ...fw, sets: { ...fw.sets, "x;y": ["10.0.0.1"] } }, "wg0"), /identifier/);
    assert.throws(() => assertFirewallPlan({ ...fw, sets: { src_app: ["fd00::1"] } }, "wg0"), /not an IPv4/);
    assert.throws(() => assertFirewallPlan({ ...fw, rules: { "input x": "ip saddr @nope accept" } }, "wg0"), /does not define/);
    assert.throws(() => assertFirewallPlan(fw, "wg1"), /must be "inet wgmesh_wg1"/);
    const odd = planFirewalls(compiled({ ...three, groups: [...three.groups!.slice(0, 3), { name: "stg \"x\"; flush", members: ["stg1"] }], policies: [{ name: "p\"; drop", fromGroups: ["stg \"x\"; flush"], toGroups: ["stg \"x\"; flush"] }] })).get("stg1")!;
    assert.doesNotThrow(() => renderNftRuleset("wg0", odd));
    assert.doesNotMatch(JSON.stringify(odd), /;/);
  });

  test("drift: the file's body, mode and the recorded listing digest decide", () => {
    const probe = (lines: string[]) => parseNftProbe(["@@WGMESH-NFT-BEGIN@@", ...lines, "@@WGMESH-NFT-END@@"].join("\n"));
    const d = "a".repeat(64);
    const l = "b".repeat(64);
    const ok = probe(["nftTool=1", "nftFile=1", "nftMode=600", "nftOwner=0:0", `nftBody=${d}`, `nftRecorded=${l}`, "nftTable=1", `nftLive=${l}`]);
    assert.equal(nftMatches(ok, d), "as planned");
    assert.equal(nftMatches(ok, "c".repeat(64)), "differs from the plan");
    assert.equal(nftMatches(ok, null), "present but not planned");
    const flushed = probe(["nftTool=1", "nftFile=1", "nftMode=600", "nftOwner=0:0", `nftBody=${d}`, `nftRecorded=${l}`, "nftTable=1", `nftLive=${"e".repeat(64)}`, "nft| table inet wgmesh_wg0 {", "nft| }"]);
    assert.equal(nftMatches(flushed, d), "differs from the plan");
    assert.equal(flushed.listing, "table inet wgmesh_wg0 {\n}\n");
    assert.equal(nftMatches(probe(["nftTool=1", "nftFile=0", "nftTable=0"]), d), "missing");
    assert.equal(nftMatches(probe(["nftTool=0", "nftFile=0", "nftTable=0"]), null), "as planned");
  });
});

// ---- the property: the rulesets implement exactly the directional policy rule -----------------------------

const HOSTS = ["a1", "a2", "b1", "b2", "c1", "d1"];
const GROUPS = ["A", "B", "C", "D"];
const PORTS = ["tcp/22", "tcp/5432", "tcp/8000-8100", "udp/53", "icmp"];
const arbMesh = fc.record({
  members: fc.array(fc.subarray(HOSTS), { minLength: GROUPS.length, maxLength: GROUPS.length }),
  policies: fc.array(fc.record({
    from: fc.subarray(GROUPS, { minLength: 1 }),
    to: fc.subarray(GROUPS, { minLength: 1 }),
    allowMeshIps: fc.boolean(),
    allowRoutableNetworks: fc.boolean(),
    ports: fc.option(fc.subarray(PORTS, { minLength: 1 }), { nil: undefined }),
  }), { maxLength: 5 }),
  nets: fc.array(fc.boolean(), { minLength: HOSTS.length, maxLength: HOSTS.length }),
});
const arbProbe = fc.oneof(
  fc.constant("icmp"),
  fc.tuple(fc.constantFrom("tcp", "udp"), fc.constantFrom(22, 53, 5432, 8000, 8050, 8100, 8101, 443)).map(([p, n]) => `${p}/${n}`),
);

describe("firewall property", () => {
  test("for every mesh and probe, a node's rules accept a NEW connection iff the policy rule allows it", () => {
    fc.assert(fc.property(arbMesh, fc.constantFrom(...HOSTS), fc.constantFrom(...HOSTS), arbProbe, (m, x, y, port) => {
      fc.pre(x !== y);
      const input: MeshInput = {
        nodes: HOSTS.map((h, i) => ({ hostname: h, sshHost: `192.0.2.${i + 1}`, publicKey: key(h), routableNetworks: m.nets[i] ? [`192.168.${i}.0/24`] : [] })),
        groups: GROUPS.map((g, i) => ({ name: g, members: m.members[i] ?? [] })),
        policies: m.policies.map((p, i) => ({ name: `p${i}`, fromGroups: p.from, toGroups: p.to, allowMeshIps: p.allowMeshIps, allowRoutableNetworks: p.allowRoutableNetworks, ports: p.ports })),
      };
      const mesh = compiled(input);
      const fw = planFirewalls(mesh);
      const probe = (parsePortSpec(port) as { spec: PortSpec }).spec;
      const ipOf = (h: string) => mesh.nodes.find((n) => n.hostname === h)!.meshIp as string;
      const fy = fw.get(y)!;
      // input: to y's mesh IP, from x's mesh IP (and from an address in x's network: a node speaks for it)
      const expected = accessDecision(mesh, x, y, probe).allowed;
      assert.equal(accepts(fy, "input", { src: ipOf(x), dst: ipOf(y), probe }), expected);
      const xi = HOSTS.indexOf(x);
      if (m.nets[xi]) assert.equal(accepts(fy, "input", { src: `192.168.${xi}.9`, dst: ipOf(y), probe }), expected);
      // forward: into y's network, an independent statement of the rule
      const yi = HOSTS.indexOf(y);
      const inG = (h: string, gs: string[]) => gs.some((g) => (m.members[GROUPS.indexOf(g)] ?? []).includes(h));
      const fwd = m.nets[yi] === true && m.policies.some((p) => p.allowRoutableNetworks && inG(x, p.from) && inG(y, p.to) &&
        (p.ports === undefined || p.ports.some((s) => {
          const a = (parsePortSpec(s) as { spec: PortSpec }).spec;
          if (a.proto !== probe.proto) return false;
          return a.proto === "icmp" || (probe.proto !== "icmp" && probe.first >= a.first && probe.first <= a.last);
        })));
      assert.equal(accepts(fy, "forward", { src: ipOf(x), dst: `192.168.${yi}.7`, probe }), fwd);
      assert.ok(!accepts(fy, "forward", { src: ipOf(x), dst: "203.0.113.9", probe }), "never forwards elsewhere");
      // canonical and loadable text (no throw), stable across a re-plan
      assert.equal(renderNftRuleset("wg0", fy), renderNftRuleset("wg0", planFirewalls(compiled(input)).get(y)!));
    }), { numRuns: 300 });
  });

  test("rules grow with groups and policies, not with nodes", () => {
    const make = (n: number): MeshInput => ({
      nodes: Array.from({ length: n }, (_, i) => ({ hostname: `n${i}`, sshHost: "192.0.2.1", publicKey: key(`n${i}`) })),
      groups: Array.from({ length: 5 }, (_, g) => ({ name: `g${g}`, members: Array.from({ length: n }, (_, i) => `n${i}`).filter((_, i) => i % 5 === g) })),
      policies: Array.from({ length: 5 }, (_, g) => ({ name: `p${g}`, fromGroups: [`g${g}`], toGroups: [`g${(g + 1) % 5}`], ports: ["tcp/443"] })),
    });
    const rules = (n: number) => Object.keys(planFirewalls(compiled(make(n))).get("n1")!.rules).length;
    assert.equal(rules(10), rules(500));
    assert.equal(planFirewalls(compiled(make(500))).get("n1")!.sets["src_g0"]!.length, 100);
  });
});
