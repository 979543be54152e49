// Regression test for issue 12 (the Pulumi front door at fleet size): building a Mesh must cost
// O(nodes + peer entries). Pulumi's `output()`/`pulumi.all()` deep-copy what they are given, so one Output
// per peer entry built from the whole-mesh topology cost O(peer entries × mesh size) — O(N⁴) for a full
// mesh. Counted here, not timed: the Outputs the composition creates, and the objects Pulumi's runtime
// walks while the program is built and every resource registered (Object.keys calls: the SDK's copy,
// unknown scan and serialization each call it once per object they visit).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { generateKeyPair } from "../core/keys";
import { checkMesh, type MeshInputs } from "./lifecycle/mesh";
import { unwrapSecret } from "./lifecycle/common";
import { isValidKey } from "../core/keys";
import { parsePeerLines } from "./lifecycle/peerLines";
import { unpackSpec } from "./spec";

/** Resource name → its inputs as the provider's check sees them. */
const registered = new Map<string, Record<string, unknown>>();

// A preview against state: the Mesh's check allocates mesh IPs, every Node has its key and NAT status —
// every value known, so every apply runs (the most work a program does).
pulumi.runtime.setMocks(
  {
    newResource(args) {
      // What the provider's check does first: the packed inputs back at the top level (spec.ts).
      const inputs = unpackSpec(args.inputs as Record<string, unknown>, pulumi.runtime.unknownValue).props;
      registered.set(args.name, inputs);
      if (Array.isArray(inputs.nodes) && "network" in inputs) {
        const checked = checkMesh(undefined, inputs as unknown as MeshInputs).inputs;
        return { id: undefined, state: { ...inputs, meshIps: checked.meshIps, ...(checked.presharedKeyTable ? { presharedKeyTable: checked.presharedKeyTable } : {}) } };
      }
      if (inputs.connection !== undefined && inputs.hostname !== undefined && inputs.peers === undefined) {
        return { id: undefined, state: { ...inputs, publicKey: generateKeyPair().publicKey, natDetected: false } };
      }
      return { id: undefined, state: inputs };
    },
    call: () => ({}),
  },
  "wgmesh-test",
  "dev",
  true,
);

// Loaded after setMocks, as a program would be.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const wgmesh = require("./resources") as typeof import("./resources");

const settled = (o: pulumi.Output<unknown>) => new Promise<void>((resolve) => { o.apply(() => resolve()); });

/** Build a mesh of n nodes (full mesh, or `groups` groups in a ring); count Outputs and objects walked. */
async function build(prefix: string, n: number, groups = 0, presharedKeys = false): Promise<{ peerEntries: number; outputs: number; walked: number; configs: InstanceType<typeof wgmesh.NodeConfig>[] }> {
  const keys = Object.keys;
  let walked = 0;
  Object.keys = ((o: object) => {
    walked++;
    return keys(o);
  }) as typeof Object.keys;
  try {
    const nodes = Array.from({ length: n }, (_, i) => new wgmesh.Node(`${prefix}n${i + 1}`, {
      connection: { host: `127.0.2.${(i % 250) + 1}`, port: 9, user: "root", privateKey: "unused" },
    }));
    const gs = Array.from({ length: groups }, (_, g) => new wgmesh.Group(`${prefix}g${g}`, { members: nodes.filter((_, i) => i % groups === g) }));
    const ps = gs.flatMap((g, i) => [
      new wgmesh.Policy(`${prefix}p${i}-self`, { from: [g], to: [g] }),
      new wgmesh.Policy(`${prefix}p${i}-next`, { from: [g], to: [gs[(i + 1) % groups] as typeof g] }),
    ]);
    const mesh = new wgmesh.Mesh(`${prefix}m`, { network: "10.99.0.0/16", nodes, groups: gs, policies: ps, presharedKeys });
    const configs = Object.values(mesh.nodeConfigs);
    await Promise.all([...nodes, ...gs, ...ps, mesh, ...configs].map((r) => settled(r.urn)));
    await Promise.all([settled(mesh.publicKeys), ...configs.map((c) => settled(c.peers))]);
    const peerEntries = await new Promise<number>((resolve) => {
      pulumi.all(configs.map((c) => c.peers)).apply((all) => resolve(all.reduce((s, p) => {
        const d = parsePeerLines(p);
        if (!d.ok) throw new Error(d.errors.join("; "));
        return s + keys(d.peers).length;
      }, 0)));
    });
    return { peerEntries, outputs: mesh.compositionOutputs, walked, configs };
  } finally {
    Object.keys = keys;
  }
}

test("Mesh construction is linear in nodes + peer entries: Outputs created and objects walked", async (t) => {
  const small = await build("a", 20);
  const large = await build("b", 40);
  assert.equal(small.peerEntries, 20 * 19);
  assert.equal(large.peerEntries, 40 * 39);
  for (const [n, r] of [[20, small], [40, large]] as const) {
    assert.ok(r.outputs <= 13 * n + r.peerEntries + 8, `${n} nodes: ${r.outputs} Outputs > 13·nodes + peer entries + 8`);
  }
  const size = (n: number, r: { peerEntries: number }) => n + r.peerEntries;
  const growth = large.walked / small.walked;
  const linear = size(40, large) / size(20, small);
  t.diagnostic(`objects walked: ${small.walked} (20 nodes) → ${large.walked} (40 nodes): ×${growth.toFixed(2)}; nodes + peer entries ×${linear.toFixed(2)}`);
  // Linear work grows ×4.0 here; the old per-peer copy of the topology grew ×16.
  assert.ok(growth <= linear * 1.3, `work grew ×${growth.toFixed(2)} for ×${linear.toFixed(2)} nodes + peer entries`);
});

test("a policy-segmented mesh (5 groups in a ring) costs what its peer entries cost", async (t) => {
  const small = await build("c", 30, 5);
  const large = await build("d", 60, 5);
  const growth = large.walked / small.walked;
  const linear = (60 + large.peerEntries) / (30 + small.peerEntries);
  t.diagnostic(`5 groups: peer entries ${small.peerEntries} → ${large.peerEntries}; objects walked ×${growth.toFixed(2)} for ×${linear.toFixed(2)}`);
  assert.ok(large.outputs <= 13 * 60 + large.peerEntries + 8);
  assert.ok(growth <= linear * 1.3, `work grew ×${growth.toFixed(2)} for ×${linear.toFixed(2)} nodes + peer entries`);
});

test("with per-pair PSKs: two Outputs more per node, the work still linear; each node gets exactly its peers' keys, the same from both ends", async (t) => {
  const small = await build("e", 20, 0, true);
  const large = await build("f", 40, 0, true);
  for (const [n, r] of [[20, small], [40, large]] as const) {
    assert.ok(r.outputs <= 15 * n + r.peerEntries + 8, `${n} nodes: ${r.outputs} Outputs > 15·nodes + peer entries + 8`);
  }
  const growth = large.walked / small.walked;
  const linear = (40 + large.peerEntries) / (20 + small.peerEntries);
  t.diagnostic(`with PSKs: objects walked ×${growth.toFixed(2)} for ×${linear.toFixed(2)} nodes + peer entries`);
  assert.ok(growth <= linear * 1.3, `work grew ×${growth.toFixed(2)} for ×${linear.toFixed(2)} nodes + peer entries`);
  const psks = await new Promise<Array<Record<string, { id: string; key: string }>>>((resolve) => {
    pulumi.all(small.configs.map((c) => (c as unknown as { presharedKeys: pulumi.Output<Record<string, { id: string; key: unknown }>> }).presharedKeys)).apply((all) => resolve(all.map((m) => Object.fromEntries(Object.entries(m ?? {}).map(([peer, k]) => [peer, { id: k.id, key: unwrapSecret(k.key as never) as string }])))));
  });
  assert.equal(psks.length, 20);
  const byNode = new Map<string, Record<string, { id: string; key: string }>>();
  await Promise.all(small.configs.map(async (c, i) => {
    const name = await new Promise<string>((resolve) => c.urn.apply((u) => resolve(u.slice(u.lastIndexOf("::") + 2).replace(/^em-/, ""))));
    byNode.set(name, psks[i]!);
  }));
  for (const [x, mine] of byNode) {
    assert.equal(Object.keys(mine).length, 19, `${x} has a key for each of its 19 peers`);
    for (const [y, k] of Object.entries(mine)) {
      assert.ok(isValidKey(k.key) && /^[0-9a-f]{8}$/.test(k.id));
      assert.deepEqual(byNode.get(y)?.[x], k, `${x}–${y}: the same key and id on both ends`);
    }
  }
});

test("Mesh.healthCheck reaches every NodeConfig as one shared value: no Output more", async () => {
  const nodes = Array.from({ length: 4 }, (_, i) => new wgmesh.Node(`hcn${i + 1}`, {
    connection: { host: `127.0.3.${i + 1}`, port: 9, user: "root", privateKey: "unused" },
  }));
  const healthCheck = { mode: "ping" as const, timeoutSeconds: 30 };
  const mesh = new wgmesh.Mesh("hcm", { network: "10.99.0.0/16", nodes, healthCheck });
  const plain = new wgmesh.Mesh("hcp", { network: "10.99.0.0/16", nodes: nodes.map((_, i) => new wgmesh.Node(`hcq${i + 1}`, { connection: { host: `127.0.4.${i + 1}`, port: 9, user: "root", privateKey: "unused" } })) });
  assert.equal(mesh.compositionOutputs, plain.compositionOutputs);
  const configs = Object.values(mesh.nodeConfigs);
  assert.equal(configs.length, 4);
  // The healthCheck each NodeConfig registered (`<mesh>-<hostname>`), as its provider's check sees it.
  const inputsOf = async (m: InstanceType<typeof wgmesh.Mesh>, meshName: string) => {
    await new Promise<void>((resolve) => { pulumi.all(Object.values(m.nodeConfigs).map((c) => c.urn)).apply(() => resolve()); });
    return Object.keys(m.nodeConfigs).map((h) => {
      const inputs = registered.get(`${meshName}-${h}`);
      assert.ok(inputs, `${meshName}-${h} registered`);
      return inputs.healthCheck;
    });
  };
  assert.deepEqual(await inputsOf(mesh, "hcm"), [healthCheck, healthCheck, healthCheck, healthCheck]);
  assert.deepEqual(await inputsOf(plain, "hcp"), [undefined, undefined, undefined, undefined], "absent: the NodeConfig's default applies");
});

test("a NodeConfig depends on its own Node and the Mesh, not on every peer's Node (O(N) URNs, not O(N²))", async () => {
  type Req = { getType(): string; getName(): string; getDependenciesList(): string[]; getPropertydependenciesMap(): { forEach(f: (v: { getUrnsList(): string[] }, k: string) => void): void } };
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: Req, cb: unknown): unknown };
  const register = monitor.registerResource.bind(monitor);
  const seen = new Map<string, { deps: string[]; props: Record<string, string[]> }>();
  monitor.registerResource = (req: Req, cb: unknown) => {
    const props: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v, k) => { props[k] = v.getUrnsList(); });
    seen.set(req.getName(), { deps: req.getDependenciesList(), props });
    return register(req, cb);
  };
  try {
    const nodes = Array.from({ length: 6 }, (_, i) => new wgmesh.Node(`depn${i + 1}`, { connection: { host: `127.0.5.${i + 1}`, port: 9, user: "root", privateKey: "unused" } }));
    const mesh = new wgmesh.Mesh("depm", { network: "10.99.0.0/16", nodes });
    const configs = Object.values(mesh.nodeConfigs);
    await Promise.all(configs.map((c) => settled(c.urn)));
    const nodeUrn = (i: number) => `urn:pulumi:dev::wgmesh-test::pulumi-nodejs:dynamic:Resource::depn${i}`;
    const own = seen.get("depm-depn1");
    assert.ok(own, "the NodeConfig of depn1 was registered");
    const all = new Set([...own.deps, ...Object.values(own.props).flat()]);
    assert.ok(all.has(nodeUrn(1)), `depends on its own Node: ${[...all].join(", ")}`);
    for (let i = 2; i <= 6; i++) assert.ok(!all.has(nodeUrn(i)), `does not depend on peer Node depn${i}`);
    assert.ok((own.props.peers ?? []).length <= 2, `peers depends on the declaration and its own Node only: ${(own.props.peers ?? []).join(", ")}`);
  } finally {
    monitor.registerResource = register;
  }
});
