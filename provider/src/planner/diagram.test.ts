import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { meshDiagram, mermaidText, type DiagramMesh } from "./diagram";
import { compileMesh } from "../core/compile";
import { generateKeyPair } from "../core/keys";
import type { MeshInput } from "../core/model";

/** Mermaid's own parser (the renderer GitHub uses), with a DOM for its label sanitizer. */
async function mermaidParse(): Promise<(text: string) => Promise<unknown>> {
  const { JSDOM } = require("jsdom") as { JSDOM: new (html: string) => { window: { document: unknown } } };
  const g = globalThis as Record<string, unknown>;
  if (!g.window) {
    const dom = new JSDOM("");
    g.window = dom.window;
    g.document = dom.window.document;
  }
  const mod = (await import("mermaid")) as unknown as { default: { parse(text: string): Promise<unknown> } };
  return (text) => mod.default.parse(text);
}

const THREE_TIER: DiagramMesh = {
  nodes: [
    { hostname: "web1", meshIp: "10.99.0.1" },
    { hostname: "web2", meshIp: "10.99.0.2", behindNat: true },
    { hostname: "app1", meshIp: "10.99.0.3", routableNetworks: ["192.168.10.0/24"] },
    { hostname: "db1", meshIp: "10.99.0.4" },
  ],
  groups: [
    { name: "web", members: ["web1", "web2"] },
    { name: "app", members: ["app1"] },
    { name: "db", members: ["db1"] },
  ],
  policies: [
    { name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], allowRoutableNetworks: true },
    { name: "app-to-web", fromGroups: ["app"], toGroups: ["web"] },
    { name: "app-to-db", fromGroups: ["app"], toGroups: ["db"] },
  ],
};

describe("meshDiagram", () => {
  test("groups as subgraphs, NAT and routed networks marked, edges with direction, policies and ports", () => {
    assert.equal(meshDiagram(THREE_TIER, { ports: { "app-to-db": ["tcp/5432"] } }), [
      "flowchart LR",
      '  subgraph g_web["web"]',
      '    n_web1["web1<br/>10.99.0.1"]',
      '    n_web2["web2<br/>10.99.0.2<br/>behind NAT"]:::nat',
      "  end",
      '  subgraph g_app["app"]',
      '    n_app1["app1<br/>10.99.0.3"]',
      "  end",
      '  subgraph g_db["db"]',
      '    n_db1["db1<br/>10.99.0.4"]',
      "  end",
      '  net0{{"192.168.10.0/24"}}',
      "  n_app1 -.- net0",
      '  n_web1 -->|"web-to-app, + networks"| n_app1',
      '  n_app1 -->|"app-to-web"| n_web1',
      '  n_web2 -->|"web-to-app, + networks"| n_app1',
      '  n_app1 -->|"app-to-web"| n_web2',
      '  n_app1 -->|"app-to-db tcp/5432"| n_db1',
      "  classDef nat stroke-dasharray: 5 5",
      "",
    ].join("\n"));
  });

  test("a full mesh: every pair once, both ways, unlabelled; mesh IPs from the allocation; the effective NAT status wins", () => {
    const d = meshDiagram({ nodes: [{ hostname: "a" }, { hostname: "b", behindNat: true }, { hostname: "c" }] }, { meshIps: { a: "10.0.0.1", b: "10.0.0.2", c: "10.0.0.3" }, behindNat: { b: false, c: true } });
    assert.equal(d, [
      "flowchart LR",
      '  n_a["a<br/>10.0.0.1"]',
      '  n_b["b<br/>10.0.0.2"]',
      '  n_c["c<br/>10.0.0.3<br/>behind NAT"]:::nat',
      "  n_a <--> n_b",
      "  n_a <--> n_c",
      "  n_b <--> n_c",
      "  classDef nat stroke-dasharray: 5 5",
      "",
    ].join("\n"));
  });

  test("one policy both ways is one two-headed edge; a node in two groups sits in the first and names the other", () => {
    const d = meshDiagram({
      nodes: [{ hostname: "hub" }, { hostname: "s1" }, { hostname: "s2" }],
      groups: [{ name: "hubs", members: ["hub"] }, { name: "spokes", members: ["s1", "s2", "hub"] }],
      policies: [{ name: "star", fromGroups: ["spokes"], toGroups: ["hubs"] }, { name: "back", fromGroups: ["hubs"], toGroups: ["spokes"] }],
    });
    assert.match(d, /subgraph g_hubs\["hubs"\]\n {4}n_hub\["hub<br\/>also in spokes"\]\n {2}end/);
    assert.match(d, /n_hub -->\|"back"\| n_s1\n {2}n_s1 -->\|"star"\| n_hub/);
    const same = meshDiagram({ nodes: [{ hostname: "x" }, { hostname: "y" }], groups: [{ name: "all", members: ["x", "y"] }], policies: [{ name: "inside", fromGroups: ["all"], toGroups: ["all"] }] });
    assert.match(same, /\n {2}n_x <-->\|"inside"\| n_y\n/);
  });

  test("a policy's own ports label its edges (options.ports overrides)", () => {
    const mesh: DiagramMesh = { ...THREE_TIER, policies: THREE_TIER.policies?.map((p) => (p.name === "app-to-db" ? { ...p, ports: ["tcp/5432"] } : p)) };
    assert.match(meshDiagram(mesh), /n_app1 -->\|"app-to-db tcp\/5432"\| n_db1/);
    assert.match(meshDiagram(mesh, { ports: { "app-to-db": ["tcp/6432"] } }), /n_app1 -->\|"app-to-db tcp\/6432"\| n_db1/);
  });

  test("user text is escaped into Mermaid entity codes (no label can break the syntax)", () => {
    assert.equal(mermaidText('a"b<c>#d&e\nf'), "a#34;b#60;c#62;#35;d#38;e f");
    const d = meshDiagram({ nodes: [{ hostname: "n1" }, { hostname: "n2" }], groups: [{ name: 'ops "core" <1>', members: ["n1", "n2"] }], policies: [{ name: "p#1", fromGroups: ['ops "core" <1>'], toGroups: ['ops "core" <1>'] }] });
    assert.match(d, /subgraph g0\["ops #34;core#34; #60;1#62;"\]/);
    assert.match(d, /<-->\|"p#35;1"\|/);
  });

  const meshArb = fc.integer({ min: 1, max: 8 }).chain((n) => {
    const hosts = Array.from({ length: n }, (_, i) => `n-${i}`);
    return fc.record({
      nat: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      nets: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      groups: fc.array(fc.subarray(hosts), { maxLength: 4 }),
      policies: fc.array(fc.record({ from: fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), to: fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), routes: fc.boolean() }), { maxLength: 4 }),
    }).map(({ nat, nets, groups, policies }): MeshInput => {
      const names = groups.map((_, i) => `g ${i}`);
      return {
        nodes: hosts.map((h, i) => ({ hostname: h, sshHost: `192.0.2.${i + 1}`, publicKey: generateKeyPair().publicKey, behindNat: nat[i], routableNetworks: nets[i] ? [`172.16.${i}.0/24`] : [] })),
        groups: groups.map((members, i) => ({ name: names[i] as string, members })),
        policies: names.length === 0 ? [] : policies.map((p, i) => ({
          name: `p${i}`,
          fromGroups: [...new Set(p.from.map((k) => names[k % names.length] as string))],
          toGroups: [...new Set(p.to.map((k) => names[k % names.length] as string))],
          allowRoutableNetworks: p.routes,
        })),
      };
    });
  });

  /** Unordered node pairs joined by an edge, and the node ids' hostnames. */
  function edgePairs(d: string): Set<string> {
    const out = new Set<string>();
    for (const m of d.matchAll(/^ {2}n_(\S+) (?:<-->|-->)(?:\|"[^"]*"\|)? n_(\S+)$/gm)) {
      const [a, b] = [(m[1] as string).replace(/_/g, "-"), (m[2] as string).replace(/_/g, "-")].sort();
      out.add(`${a}~${b}`);
    }
    return out;
  }

  test("property: the edges are exactly the compiled plan's peerings, and every node and network is drawn once", () => {
    fc.assert(fc.property(meshArb, (input) => {
      const c = compileMesh(input);
      assert.ok(c.ok, c.ok ? "" : JSON.stringify(c.errors));
      const d = meshDiagram(input, { meshIps: Object.fromEntries(c.mesh.nodes.map((n) => [n.hostname, n.meshIp as string])) });
      const want = new Set<string>();
      for (const node of c.plan.nodes) for (const p of node.peers) want.add([node.hostname, p.hostname].sort().join("~"));
      assert.deepEqual([...edgePairs(d)].sort(), [...want].sort());
      for (const n of input.nodes) assert.equal(d.split("\n").filter((l) => l.trimStart().startsWith(`n_${n.hostname.replace(/-/g, "_")}[`)).length, 1, `${n.hostname} drawn once`);
      assert.equal((d.match(/\{\{"/g) ?? []).length, input.nodes.reduce((k, n) => k + (n.routableNetworks?.length ?? 0), 0));
    }), { numRuns: 200 });
  });

  test("Mermaid's own parser accepts the diagrams (and rejects a broken one: the check can fail)", { timeout: 120_000 }, async () => {
    const parse = await mermaidParse();
    await parse(meshDiagram(THREE_TIER, { ports: { "app-to-db": ["tcp/5432", "udp/53"] } }));
    await parse(meshDiagram({ nodes: [{ hostname: "n1" }, { hostname: "n2" }], groups: [{ name: 'ops "core" <1> #x; end', members: ["n1", "n2"] }], policies: [{ name: "end", fromGroups: ['ops "core" <1> #x; end'], toGroups: ['ops "core" <1> #x; end'] }] }));
    const samples = fc.sample(meshArb, { numRuns: 25, seed: 15 });
    for (const input of samples) {
      const c = compileMesh(input);
      if (c.ok) await parse(meshDiagram(input));
    }
    await assert.rejects(parse(meshDiagram(THREE_TIER).replace("  end\n", "")), /Parse error/);
  });
});
