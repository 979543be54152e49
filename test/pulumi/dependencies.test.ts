// Issue 12, "one composition": both front doors register each NodeConfig depending on its own Node and the
// mesh declaration only — never on every peer's Node (O(N) URNs per NodeConfig, O(N²) in the state, rewritten
// at every checkpoint). Read from the real engine's side: PULUMI_DEBUG_GRPC logs every RegisterResource
// request of a fresh `pulumi preview` of a 4-node mesh, from the TypeScript program (dynamic resources) and
// from a YAML program (the provider plugin's Mesh component, constructed inside the plugin). Until this test,
// the plugin path still recorded every Node under address, listenPort, routes, forwarding and peers.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, pulumiEnv, toolchainMissing } from "./harness";
import { installPlugin, unreachableHosts, writeProgram, type ProgramKind } from "./fleet";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv);

interface Registration { type: string; name: string; urns: string[] }

/** The RegisterResource requests in a PULUMI_DEBUG_GRPC log: each resource's dependency URNs (all of them). */
function registrations(logFile: string): Registration[] {
  const out: Registration[] = [];
  for (const line of fs.readFileSync(logFile, "utf8").split("\n")) {
    if (!line.includes("RegisterResource")) continue;
    let d: { method?: string; request?: { type?: string; name?: string; dependencies?: string[]; propertyDependencies?: Record<string, { urns?: string[] }> } };
    try {
      d = JSON.parse(line);
    } catch {
      continue;
    }
    if (!d.method?.endsWith("/RegisterResource") || !d.request?.type || !d.request.name) continue;
    const urns = new Set(d.request.dependencies ?? []);
    for (const v of Object.values(d.request.propertyDependencies ?? {})) for (const u of v.urns ?? []) urns.add(u);
    out.push({ type: d.request.type, name: d.request.name, urns: [...urns] });
  }
  return out;
}

describe("a NodeConfig depends on its own Node and the mesh declaration only, through either front door (real engine)", { skip }, () => {
  let ws: Workspace;
  before(() => {
    ws = new Workspace(baseEnv);
    installPlugin(ws);
  });
  after(() => ws?.cleanup());

  for (const kind of ["ts-mesh", "yaml-mesh"] as ProgramKind[]) {
    test(kind, () => {
      const hosts = unreachableHosts(4);
      const { dir } = writeProgram(ws, kind, kind, hosts);
      ws.pulumiOk(dir, ["stack", "init", "dev"]);
      const log = path.join(ws.root, `${kind}.grpc.json`);
      ws.env.PULUMI_DEBUG_GRPC = log;
      try {
        ws.pulumiOk(dir, ["preview"]);
      } finally {
        delete ws.env.PULUMI_DEBUG_GRPC;
      }
      const regs = registrations(log);
      const nodeUrn = (h: string) => regs.find((r) => r.name === h && /Node$|dynamic:Resource$/.test(r.type) && !r.name.startsWith("fleet"));
      const declaration = kind === "ts-mesh" ? "::fleet" : "wgmesh:index:MeshDeclaration::fleet";
      let configs = 0;
      for (const h of hosts) {
        const cfg = regs.find((r) => r.name === `fleet-${h.name}`);
        assert.ok(cfg, `NodeConfig fleet-${h.name} registered (${regs.map((r) => r.name).join(", ")})`);
        assert.ok(nodeUrn(h.name), `Node ${h.name} registered`);
        configs++;
        const own = cfg.urns.filter((u) => u.endsWith(`::${h.name}`));
        const decl = cfg.urns.filter((u) => u.endsWith(declaration));
        assert.equal(own.length, 1, `fleet-${h.name} depends on its own Node: ${cfg.urns.join(", ")}`);
        assert.equal(decl.length, 1, `fleet-${h.name} depends on the declaration: ${cfg.urns.join(", ")}`);
        assert.deepEqual(cfg.urns.filter((u) => !own.includes(u) && !decl.includes(u)), [], `fleet-${h.name} depends on nothing else`);
      }
      assert.equal(configs, 4);
    });
  }
});
