/**
 * `npm run bench:pulumi` — the Pulumi front door at fleet size (issue 12), through the real CLI.
 *
 * Fresh previews (a new stack; hosts on 127.0.x.y:9 where nothing listens — a preview never connects):
 *   - TypeScript full mesh at N = --sizes (default 10,50,100,200,500), each against a floor program of the
 *     same number of trivial dynamic resources, measured in the same run;
 *   - TypeScript policy-segmented mesh (100 nodes in 5 groups in a ring) against its floor;
 *   - through the provider plugin: a YAML and a Python program of 100 nodes against floors of the same
 *     number of trivial resources of the same plugin (wgmesh:MeshSecret).
 * Converged previews (--converged N, root: boots an N-host testbed): `pulumi up` of the TypeScript full mesh
 * on real hosts, then `pulumi preview` of the converged stack against a converged floor, and the
 * `pulumi stack export` size; repeated at --converged-sizes (default: N/4, N/2, N).
 * Per run: wall, CPU (all processes), peak RSS of the program, provider and engine processes, and the ratio
 * to the floor. A benchmark, not a test: it prints figures (and one JSON line) and cleans up after itself.
 * With --psk (issue 16) only: fresh previews of the TypeScript full mesh with per-pair preshared keys at each
 * size, against the same mesh without them (as the floor): the cost of the PSK table and per-pair secrets.
 * Usage: node dist/bench/pulumi.js [--sizes 10,50,100] [--no-plugin] [--converged 100] [--converged-sizes 25,50,100] [--psk] [--keep]
 */
import { parseArgs } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import { Workspace, pulumiEnv, toolchainMissing } from "../test/pulumi/harness";
import { installPlugin, installPythonSdk, ok, runMeasured, unreachableHosts, writeProgram, type FleetHost, type MeasuredRun, type ProgramKind, type ProgramOptions } from "../test/pulumi/fleet";
import { down, up } from "../test/testbed";

interface Row {
  case: string;
  nodes: number;
  resources: number;
  wallS: number;
  cpuS: number;
  programRssMB: number;
  providerRssMB: number;
  engineRssMB: number;
  floorWallS: number;
  floorCpuS: number;
  floorProgramRssMB: number;
  wallRatio: number;
  cpuRatio: number;
  stateBytes?: number;
  upWallS?: number;
}

const env = pulumiEnv();

function row(label: string, nodes: number, resources: number, m: MeasuredRun, f: MeasuredRun): Row {
  return {
    case: label,
    nodes,
    resources,
    wallS: m.wallS,
    cpuS: m.cpuS,
    programRssMB: m.roles.program.peakRssMB,
    providerRssMB: m.roles.provider.peakRssMB,
    engineRssMB: m.roles.engine.peakRssMB,
    floorWallS: f.wallS,
    floorCpuS: f.cpuS,
    floorProgramRssMB: f.roles.program.peakRssMB,
    wallRatio: +(m.wallS / f.wallS).toFixed(2),
    cpuRatio: +(m.cpuS / f.cpuS).toFixed(2),
  };
}

function print(r: Row): void {
  const extra = r.stateBytes !== undefined ? `; state ${r.stateBytes} B; up ${r.upWallS} s` : "";
  console.log(
    `${r.case.padEnd(34)} N=${String(r.nodes).padStart(3)} res=${String(r.resources).padStart(4)}  wall ${r.wallS.toFixed(1).padStart(6)} s (floor ${r.floorWallS.toFixed(1)} s, ×${r.wallRatio})  ` +
      `cpu ${r.cpuS.toFixed(1)} s (floor ${r.floorCpuS.toFixed(1)} s, ×${r.cpuRatio})  rss program ${r.programRssMB} MB (floor ${r.floorProgramRssMB}) provider ${r.providerRssMB} MB engine ${r.engineRssMB} MB${extra}`,
  );
}

/** A fresh stack's preview of `kind` over `hosts`. */
async function freshPreview(ws: Workspace, name: string, kind: ProgramKind, hosts: FleetHost[], o: ProgramOptions & { count?: number } = {}): Promise<{ run: MeasuredRun; resources: number }> {
  const { dir, resources } = writeProgram(ws, name, kind, hosts, o);
  ws.pulumiOk(dir, ["stack", "init", "dev"]);
  const run = ok(await runMeasured(ws, dir, ["preview"]), `pulumi preview (${name})`);
  if (!new RegExp(`\\+ ${resources + 1} to create`).test(run.stdout)) throw new Error(`${name}: expected ${resources + 1} resources to create:\n${run.stdout.slice(-2000)}`);
  return { run, resources };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string" },
      "no-plugin": { type: "boolean" },
      converged: { type: "string" },
      "converged-sizes": { type: "string" },
      keep: { type: "boolean" },
      psk: { type: "boolean" },
    },
  });
  const why = toolchainMissing(env);
  if (why) throw new Error(why);
  const sizes = (values.sizes ?? "10,50,100,200,500").split(",").map(Number);
  const rows: Row[] = [];
  const ws = new Workspace(env);
  console.log(`bench:pulumi — ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; workspace ${ws.root}`);
  try {
    if (values.psk) {
      for (const n of sizes) {
        const psk = await freshPreview(ws, `ts-psk-${n}`, "ts-mesh", unreachableHosts(n), { presharedKeys: true });
        const plain = await freshPreview(ws, `ts-nopsk-${n}`, "ts-mesh", unreachableHosts(n));
        const r = row("fresh preview, TS full mesh + PSKs (floor: without)", n, psk.resources, psk.run, plain.run);
        rows.push(r);
        print(r);
      }
      console.log(JSON.stringify({ bench: "pulumi", rows }));
      return;
    }
    // 1. TypeScript full mesh vs floor, fresh stacks.
    for (const n of sizes) {
      const mesh = await freshPreview(ws, `ts-full-${n}`, "ts-mesh", unreachableHosts(n));
      const floor = await freshPreview(ws, `ts-floor-${n}`, "ts-floor", [], { count: mesh.resources });
      const r = row("fresh preview, TS full mesh", n, mesh.resources, mesh.run, floor.run);
      rows.push(r);
      print(r);
    }
    // 2. Policy-segmented: 100 nodes in 5 groups.
    {
      const mesh = await freshPreview(ws, "ts-seg-100", "ts-mesh", unreachableHosts(100), { groups: 5 });
      const floor = await freshPreview(ws, "ts-seg-floor-100", "ts-floor", [], { count: mesh.resources });
      const r = row("fresh preview, TS 5 groups", 100, mesh.resources, mesh.run, floor.run);
      rows.push(r);
      print(r);
    }
    // 3. Through the provider plugin: YAML and Python, 100 nodes.
    if (!values["no-plugin"]) {
      installPlugin(ws);
      installPythonSdk(ws);
      for (const lang of ["yaml", "python"] as const) {
        const mesh = await freshPreview(ws, `${lang}-full-100`, `${lang}-mesh`, unreachableHosts(100));
        const floor = await freshPreview(ws, `${lang}-floor-100`, `${lang}-floor`, [], { count: mesh.resources });
        const r = row(`fresh preview, ${lang === "yaml" ? "YAML" : "Python"} (plugin) full mesh`, 100, mesh.resources, mesh.run, floor.run);
        rows.push(r);
        print(r);
      }
    }
    // 4. Converged previews on real hosts.
    if (values.converged) {
      const max = Number(values.converged);
      const convergedSizes = (values["converged-sizes"] ?? [Math.max(2, Math.round(max / 4)), Math.round(max / 2), max].join(",")).split(",").map(Number);
      if (process.getuid?.() !== 0) throw new Error("--converged needs root (it boots a testbed)");
      const tbName = "bpfleet";
      const t0 = Date.now();
      const tb = await up(max, { name: tbName });
      console.log(`testbed: ${max} hosts up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      try {
        const key = fs.readFileSync(tb.privateKeyPath, "utf8");
        for (const n of convergedSizes) {
          const hosts = tb.hosts.slice(0, n).map((h) => ({ name: h.name, host: h.address, port: h.sshPort, hostKey: h.hostPublicKey }));
          const { dir, resources } = writeProgram(ws, `conv-${n}`, "ts-mesh", hosts);
          ws.pulumiOk(dir, ["stack", "init", "dev"]);
          ws.pulumiOk(dir, ["config", "set", "--secret", "sshPrivateKey"], { input: key });
          const upRun = ok(await runMeasured(ws, dir, ["up", "--yes", "--skip-preview"]), `pulumi up (${n} hosts)`);
          const preview = ok(await runMeasured(ws, dir, ["preview", "--expect-no-changes"]), `converged preview (${n} hosts)`);
          const state = ws.pulumiOk(dir, ["stack", "export"]).stdout.length;
          const floorProject = writeProgram(ws, `conv-floor-${n}`, "ts-floor", [], { count: resources });
          ws.pulumiOk(floorProject.dir, ["stack", "init", "dev"]);
          ok(await runMeasured(ws, floorProject.dir, ["up", "--yes", "--skip-preview"]), "floor up");
          const floor = ok(await runMeasured(ws, floorProject.dir, ["preview", "--expect-no-changes"]), "floor preview");
          const r = { ...row("converged preview, TS full mesh", n, resources, preview, floor), stateBytes: state, upWallS: upRun.wallS };
          rows.push(r);
          print(r);
          ok(await runMeasured(ws, dir, ["destroy", "--yes", "--skip-preview"]), `pulumi destroy (${n} hosts)`);
        }
      } finally {
        if (!values.keep) await down(tbName);
      }
    }
  } finally {
    if (!values.keep) ws.cleanup();
  }
  console.log(JSON.stringify({ bench: "pulumi", rows }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
