/**
 * `npm run bench:pulumi` — the Pulumi front door at fleet size (issue 12), through the real CLI.
 *
 * Every case is a fresh stack's `pulumi preview` (hosts on 127.0.x.y:9 where nothing listens — a preview never
 * connects) of a program, measured against, in the same run and the same checkpoint mode:
 *   - floor: a program with the same number of trivial dynamic resources (Pulumi's own cost per resource);
 *   - data floor (full meshes): the same trivial resources, N of them carrying a full mesh's peers maps
 *     (Pulumi's own cost of moving that many peer entries: the part of the cost no provider can avoid while
 *     it shows every node's peers in the preview).
 * Cases:
 *   - TypeScript full mesh at N = --sizes (default 10,50,100,200) with Pulumi's default checkpointing, and at
 *     N = --skip-sizes (default 100,200,500) with PULUMI_SKIP_CHECKPOINTS=true (Pulumi 3.274 serializes the
 *     whole state after every step — also in a preview — unless that is set);
 *   - TypeScript policy-segmented meshes: 100 nodes in 5 groups (default mode), 500 nodes in 50 groups (skip);
 *     groups in a ring, each reaching itself and the next;
 *   - through the provider plugin: a YAML and a Python program of 100 nodes, against floors of the same
 *     number of trivial resources of the same plugin (wgmesh:MeshSecret), and against the issue's floor taken
 *     literally — trivial dynamic resources (a TypeScript program's: YAML has none, Python's needs a plugin the
 *     toolchain lacks).
 * Converged previews (--converged N, root: boots an N-host testbed): `pulumi up` of the TypeScript full mesh
 * on real hosts, then `pulumi preview --expect-no-changes` against a converged floor, and the
 * `pulumi stack export` size, at --converged-sizes (default N/4, N/2, N).
 * Per run: wall, CPU of each process role (program, provider, engine) and of all, peak RSS per role.
 * A benchmark, not a test: it prints figures and one JSON line, and cleans up after itself.
 * With --psk (issue 16) only: the TypeScript full mesh with per-pair preshared keys at --sizes (default
 * checkpointing) and --skip-sizes (skipped checkpoints), against the same mesh without them as the floor:
 * what the PSK table and the per-pair secrets add.
 * With --compact: the full-mesh rows also measure the data floor with each peer entry flattened to one
 * string — an experiment sizing what a compact NodeConfig peers input would save.
 * Usage: node dist/bench/pulumi.js [--sizes 10,50] [--skip-sizes 500] [--no-plugin] [--no-segmented] [--repeat N]
 *                                  [--converged 100] [--converged-sizes 25,50,100] [--psk] [--compact] [--keep]
 *        node dist/bench/pulumi.js --reuse ROOT [--repeat 3]
 * --repeat N previews every fresh case N times, the mesh and its floors taking turns, and reports each from
 * its run of median wall time (the runs are printed too): one run each is at the mercy of this machine's noise.
 * --keep leaves the workspace (its passphrase in ROOT/passphrase, 0600), the testbed and the converged stacks;
 * --reuse ROOT re-measures those converged previews (mesh and floor alternately, --repeat times each, medians)
 * without hosts — a preview never connects — e.g. after `npm run -s testbed -- down bpfleet`.
 */
import { parseArgs } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Workspace, pulumiEnv, toolchainMissing } from "../test/pulumi/harness";
import { installPlugin, installPythonSdk, meshResources, ok, runMeasured, unreachableHosts, writeProgram, type FleetHost, type MeasuredRun, type ProgramKind, type ProgramOptions } from "../test/pulumi/fleet";
import { down, up } from "../test/testbed";

type Mode = "default" | "skip";

interface Measure { wallS: number; cpuS: number; programCpuS: number; providerCpuS: number; engineCpuS: number; programRssMB: number; providerRssMB: number; engineRssMB: number }

interface Row {
  case: string;
  /** Pulumi's checkpointing: "default" (the state serialized after every step) or "skip" (PULUMI_SKIP_CHECKPOINTS=true). */
  checkpoints: Mode;
  nodes: number;
  peerEntries: number;
  resources: number;
  mesh: Measure;
  floor: Measure;
  dataFloor?: Measure;
  wallRatio: number;
  cpuRatio: number;
  /** Against the data floor (full meshes). */
  dataWallRatio?: number;
  dataCpuRatio?: number;
  /** --compact: the data floor with each peer entry one string (what a compact peers input would cost). */
  compactFloor?: Measure;
  compactWallRatio?: number;
  stateBytes?: number;
  upWallS?: number;
}

const env = pulumiEnv();

function measure(m: MeasuredRun): Measure {
  return {
    wallS: m.wallS, cpuS: m.cpuS,
    programCpuS: m.roles.program.cpuS, providerCpuS: m.roles.provider.cpuS, engineCpuS: m.roles.engine.cpuS,
    programRssMB: m.roles.program.peakRssMB, providerRssMB: m.roles.provider.peakRssMB, engineRssMB: m.roles.engine.peakRssMB,
  };
}

const ratio = (a: number, b: number) => +(a / b).toFixed(2);

function row(label: string, mode: Mode, nodes: number, peerEntries: number, resources: number, m: MeasuredRun, f: MeasuredRun, d?: MeasuredRun): Row {
  const r: Row = {
    case: label, checkpoints: mode, nodes, peerEntries, resources,
    mesh: measure(m), floor: measure(f),
    wallRatio: ratio(m.wallS, f.wallS), cpuRatio: ratio(m.cpuS, f.cpuS),
  };
  if (d) {
    r.dataFloor = measure(d);
    r.dataWallRatio = ratio(m.wallS, d.wallS);
    r.dataCpuRatio = ratio(m.cpuS, d.cpuS);
  }
  return r;
}

function print(r: Row): void {
  const cpu = (x: Measure) => `cpu ${x.cpuS.toFixed(1)} s (program ${x.programCpuS.toFixed(1)}, provider ${x.providerCpuS.toFixed(1)}, engine ${x.engineCpuS.toFixed(1)})`;
  const lines = [
    `${r.case} — ${r.checkpoints === "skip" ? "PULUMI_SKIP_CHECKPOINTS=true" : "default checkpoints"}; ${r.nodes} nodes, ${r.peerEntries} peer entries, ${r.resources} resources`,
    `  mesh        wall ${r.mesh.wallS.toFixed(1)} s, ${cpu(r.mesh)}; peak RSS program ${r.mesh.programRssMB} MB, provider ${r.mesh.providerRssMB} MB, engine ${r.mesh.engineRssMB} MB`,
    `  floor       wall ${r.floor.wallS.toFixed(1)} s, ${cpu(r.floor)}; program ${r.floor.programRssMB} MB   → mesh/floor: wall ×${r.wallRatio}, cpu ×${r.cpuRatio}`,
  ];
  if (r.dataFloor) lines.push(`  data floor  wall ${r.dataFloor.wallS.toFixed(1)} s, ${cpu(r.dataFloor)}; program ${r.dataFloor.programRssMB} MB   → mesh/data floor: wall ×${r.dataWallRatio}, cpu ×${r.dataCpuRatio}`);
  if (r.compactFloor) lines.push(`  compact     wall ${r.compactFloor.wallS.toFixed(1)} s, ${cpu(r.compactFloor)}; program ${r.compactFloor.programRssMB} MB   → compact/floor: wall ×${r.compactWallRatio}, cpu ×${ratio(r.compactFloor.cpuS, r.floor.cpuS)}`);
  if (r.stateBytes !== undefined) lines.push(`  state ${r.stateBytes} bytes (${Math.round(r.stateBytes / r.nodes)} per node); pulumi up ${r.upWallS} s`);
  console.log(lines.join("\n"));
}

interface FreshStack { name: string; dir: string; resources: number }

/** A fresh stack of `kind` over `hosts`, written and initialised (previewed by `previews`). */
function freshStack(ws: Workspace, name: string, kind: ProgramKind, hosts: FleetHost[], o: ProgramOptions & { count?: number } = {}): FreshStack {
  const { dir, resources } = writeProgram(ws, name, kind, hosts, o);
  ws.pulumiOk(dir, ["stack", "init", "dev"]);
  return { name, dir, resources };
}

/**
 * `repeat` previews of each stack, the stacks taking turns (a mesh and its floors see the same machine), and
 * of each the run of median wall time. A stack stays fresh: a preview creates nothing.
 */
async function previews(ws: Workspace, stacks: FreshStack[], repeat: number): Promise<MeasuredRun[]> {
  const runs: MeasuredRun[][] = stacks.map(() => []);
  for (let i = 0; i < repeat; i++) {
    for (const [k, s] of stacks.entries()) {
      const run = ok(await runMeasured(ws, s.dir, ["preview"]), `pulumi preview (${s.name})`);
      if (!new RegExp(`\\+ ${s.resources + 1} to create`).test(run.stdout)) throw new Error(`${s.name}: expected ${s.resources + 1} resources to create:\n${run.stdout.slice(-2000)}`);
      runs[k]?.push(run);
    }
  }
  if (repeat > 1) {
    const fmt = (ms: MeasuredRun[]) => ms.map((m) => `${m.wallS.toFixed(1)}/${m.cpuS.toFixed(1)}`).join(", ");
    console.log(`  runs (wall/cpu s): ${stacks.map((s, k) => `${s.name} ${fmt(runs[k] ?? [])}`).join("; ")}`);
  }
  return runs.map(median);
}

/** Peer entries of a ring of `groups` groups (each reaching itself and the next): symmetric peer sets. */
function ringPeerEntries(n: number, groups: number): number {
  if (groups === 0) return n * (n - 1);
  const size = (g: number) => Math.floor(n / groups) + (g < n % groups ? 1 : 0);
  let total = 0;
  for (let g = 0; g < groups; g++) {
    const peersOfMember = groups === 1 ? size(g) - 1 : groups === 2 ? size(g) - 1 + size((g + 1) % groups) : size(g) - 1 + size((g + 1) % groups) + size((g + groups - 1) % groups);
    total += size(g) * peersOfMember;
  }
  return total;
}

/**
 * Where a stack's state bytes are: per resource kind (by name: `<mesh>-<node>` NodeConfigs, the rest), the
 * mean bytes of each part of a resource (inputs.<field>, outputs.<field>, dependencies, …), largest first.
 */
function stateBreakdown(exported: string): string {
  const deployment = (JSON.parse(exported) as { deployment: { resources?: Array<Record<string, unknown>> } }).deployment;
  const kinds = new Map<string, { count: number; parts: Map<string, number> }>();
  for (const r of deployment.resources ?? []) {
    const urn = String(r.urn ?? "");
    const kind = /::fleet-[^:]+$/.test(urn) ? "NodeConfig" : urn.split("::")[2] ?? "?";
    const k = kinds.get(kind) ?? { count: 0, parts: new Map<string, number>() };
    kinds.set(kind, k);
    k.count++;
    for (const [field, value] of Object.entries(r)) {
      const nested = (field === "inputs" || field === "outputs") && value !== null && typeof value === "object";
      const entries = nested ? Object.entries(value as Record<string, unknown>).map(([f, v]) => [`${field}.${f}`, v] as const) : [[field, value] as const];
      for (const [name, v] of entries) k.parts.set(name, (k.parts.get(name) ?? 0) + JSON.stringify(v).length);
    }
  }
  const lines = ["  state by resource kind (mean bytes per resource):"];
  for (const [kind, k] of [...kinds].sort((a, b) => b[1].count - a[1].count)) {
    const total = [...k.parts.values()].reduce((a, b) => a + b, 0);
    const top = [...k.parts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, b]) => `${n} ${Math.round(b / k.count)}`);
    lines.push(`    ${kind} ×${k.count}: ${Math.round(total / k.count)} — ${top.join(", ")}`);
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string" },
      "skip-sizes": { type: "string" },
      "no-plugin": { type: "boolean" },
      "no-segmented": { type: "boolean" },
      converged: { type: "string" },
      "converged-sizes": { type: "string" },
      keep: { type: "boolean" },
      reuse: { type: "string" },
      repeat: { type: "string" },
      psk: { type: "boolean" },
      compact: { type: "boolean" },
    },
  });
  const why = toolchainMissing(env);
  if (why) throw new Error(why);
  if (values.reuse) return remeasure(values.reuse, Number(values.repeat ?? 3));
  const list = (v: string | undefined, d: string) => (v ?? d).split(",").filter((x) => x !== "").map(Number);
  const sizes = list(values.sizes, "10,50,100,200");
  // --repeat N: every fresh case N times, the mesh and its floors taking turns; each row from the runs of median wall time.
  const repeat = Number(values.repeat ?? 1);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: a whole number ≥ 1, not ${JSON.stringify(values.repeat)}`);
  const of = repeat > 1 ? ` (median of ${repeat})` : "";
  const skipSizes = list(values["skip-sizes"], "100,200,500");
  const rows: Row[] = [];
  const ws = new Workspace(env);
  const setMode = (mode: Mode) => {
    if (mode === "skip") ws.env.PULUMI_SKIP_CHECKPOINTS = "true";
    else delete ws.env.PULUMI_SKIP_CHECKPOINTS;
  };
  const emit = (r: Row) => { rows.push(r); print(r); };
  if (values.keep) fs.writeFileSync(path.join(ws.root, "passphrase"), ws.passphrase, { mode: 0o600 });
  console.log(`bench:pulumi — ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; workspace ${ws.root}`);
  try {
    if (values.psk) {
      for (const mode of ["default", "skip"] as const) {
        setMode(mode);
        for (const n of mode === "default" ? sizes : skipSizes) {
          const hosts = unreachableHosts(n);
          const psk = freshStack(ws, `ts-psk-${mode}-${n}`, "ts-mesh", hosts, { presharedKeys: true });
          const plain = freshStack(ws, `ts-nopsk-${mode}-${n}`, "ts-mesh", hosts);
          const [p, q] = await previews(ws, [psk, plain], repeat);
          emit(row(`fresh preview, TS full mesh + PSKs (floor: without)${of}`, mode, n, n * (n - 1), psk.resources, p as MeasuredRun, q as MeasuredRun));
        }
      }
      console.log(JSON.stringify({ bench: "pulumi", rows }));
      return;
    }
    // 1. TypeScript full mesh, both checkpoint modes.
    for (const mode of ["default", "skip"] as const) {
      setMode(mode);
      for (const n of mode === "default" ? sizes : skipSizes) {
        const hosts = unreachableHosts(n);
        const mesh = freshStack(ws, `ts-full-${mode}-${n}`, "ts-mesh", hosts);
        const stacks = [
          mesh,
          freshStack(ws, `ts-floor-${mode}-${n}`, "ts-floor", [], { count: mesh.resources }),
          freshStack(ws, `ts-data-${mode}-${n}`, "ts-floor-data", hosts, { count: mesh.resources }),
          ...(values.compact ? [freshStack(ws, `ts-compact-${mode}-${n}`, "ts-floor-compact", hosts, { count: mesh.resources })] : []),
        ];
        const [m, floor, data, compact] = (await previews(ws, stacks, repeat)) as [MeasuredRun, MeasuredRun, MeasuredRun, MeasuredRun | undefined];
        const r = row(`fresh preview, TS full mesh${of}`, mode, n, n * (n - 1), mesh.resources, m, floor, data);
        if (compact) {
          r.compactFloor = measure(compact);
          r.compactWallRatio = ratio(compact.wallS, floor.wallS);
        }
        emit(r);
      }
    }
    // 2. Policy-segmented meshes.
    if (!values["no-segmented"]) {
      for (const [n, groups, mode] of [[100, 5, "default"], [500, 50, "skip"]] as const) {
        setMode(mode);
        const mesh = freshStack(ws, `ts-seg-${n}`, "ts-mesh", unreachableHosts(n), { groups });
        const floor = freshStack(ws, `ts-seg-floor-${n}`, "ts-floor", [], { count: mesh.resources });
        const [m, f] = await previews(ws, [mesh, floor], repeat);
        emit(row(`fresh preview, TS ${groups} groups${of}`, mode, n, ringPeerEntries(n, groups), mesh.resources, m as MeasuredRun, f as MeasuredRun));
      }
    }
    setMode("default");
    // 3. Through the provider plugin: YAML and Python, 100 nodes.
    if (!values["no-plugin"]) {
      installPlugin(ws);
      installPythonSdk(ws);
      for (const lang of ["yaml", "python"] as const) {
        const mesh = freshStack(ws, `${lang}-full-100`, `${lang}-mesh`, unreachableHosts(100));
        const label = lang === "yaml" ? "YAML" : "Python";
        const stacks = [
          mesh,
          freshStack(ws, `${lang}-floor-100`, `${lang}-floor`, [], { count: mesh.resources }),
          freshStack(ws, `${lang}-ts-floor-100`, "ts-floor", [], { count: mesh.resources }),
        ];
        const [m, floor, dyn] = (await previews(ws, stacks, repeat)) as [MeasuredRun, MeasuredRun, MeasuredRun];
        emit(row(`fresh preview, ${label} (plugin) full mesh${of}`, "default", 100, 9900, mesh.resources, m, floor));
        // The issue's floor taken literally — a program with as many trivial *dynamic* resources: YAML has none, and
        // a Python dynamic-resource floor needs pulumi-resource-pulumi-python, which the toolchain lacks — so a
        // TypeScript program's. (The stricter floor above: trivial resources of our plugin, no Node.js program at all.)
        emit(row(`fresh preview, ${label} (plugin) full mesh vs TypeScript trivial dynamic resources${of}`, "default", 100, 9900, mesh.resources, m, dyn));
      }
    }
    // 4. Converged previews on real hosts.
    if (values.converged) {
      const max = Number(values.converged);
      const convergedSizes = list(values["converged-sizes"], [Math.max(2, Math.round(max / 4)), Math.round(max / 2), max].join(","));
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
          const upRun = ok(await runMeasured(ws, dir, ["up", "--yes", "--skip-preview", "--parallel", "64"]), `pulumi up (${n} hosts)`);
          const preview = ok(await runMeasured(ws, dir, ["preview", "--expect-no-changes"]), `converged preview (${n} hosts)`);
          const exported = ws.pulumiOk(dir, ["stack", "export"]).stdout;
          const state = exported.length;
          console.log(stateBreakdown(exported));
          const floorProject = writeProgram(ws, `conv-floor-${n}`, "ts-floor", [], { count: resources });
          ws.pulumiOk(floorProject.dir, ["stack", "init", "dev"]);
          ok(await runMeasured(ws, floorProject.dir, ["up", "--yes", "--skip-preview"]), "floor up");
          const floor = ok(await runMeasured(ws, floorProject.dir, ["preview", "--expect-no-changes"]), "floor preview");
          emit({ ...row("converged preview, TS full mesh", "default", n, n * (n - 1), resources, preview, floor), stateBytes: state, upWallS: upRun.wallS });
          // --keep: the converged stack and its floor stay for re-measurement (a preview never connects: the
          // testbed may go down first).
          if (values.keep) console.log(`kept: converged stack ${dir}, floor ${floorProject.dir}`);
          else ok(await runMeasured(ws, dir, ["destroy", "--yes", "--skip-preview", "--parallel", "64"]), `pulumi destroy (${n} hosts)`);
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

/** The run of median wall time among `runs`. */
function median(runs: MeasuredRun[]): MeasuredRun {
  return [...runs].sort((a, b) => a.wallS - b.wallS)[Math.floor(runs.length / 2)] as MeasuredRun;
}

/** --reuse: the converged previews of a workspace kept by `--converged … --keep`, again, without hosts. */
async function remeasure(root: string, repeat: number): Promise<void> {
  const ws = {
    env: {
      ...env,
      PULUMI_HOME: path.join(root, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${path.join(root, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: fs.readFileSync(path.join(root, "passphrase"), "utf8"),
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_UPDATE_CHECK: "true",
    },
  } as unknown as Workspace;
  delete ws.env.PULUMI_CONFIG_PASSPHRASE_FILE;
  const rows: Row[] = [];
  console.log(`bench:pulumi --reuse — ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; workspace ${root}`);
  for (const d of fs.readdirSync(root).filter((f) => /^conv-\d+$/.test(f)).sort()) {
    const n = Number(d.slice("conv-".length));
    const dir = path.join(root, d);
    const floorDir = path.join(root, `conv-floor-${n}`);
    const mesh: MeasuredRun[] = [];
    const floor: MeasuredRun[] = [];
    for (let i = 0; i < repeat; i++) {
      mesh.push(ok(await runMeasured(ws, dir, ["preview", "--expect-no-changes"]), `converged preview (${n} hosts)`));
      floor.push(ok(await runMeasured(ws, floorDir, ["preview", "--expect-no-changes"]), "floor preview"));
    }
    const r = row(`converged preview, TS full mesh (kept stack, median of ${repeat})`, "default", n, n * (n - 1), meshResources("ts-mesh", n), median(mesh), median(floor));
    rows.push(r);
    print(r);
    const runs = (ms: MeasuredRun[]) => ms.map((m) => `${m.wallS.toFixed(1)}/${m.cpuS.toFixed(1)}`).join(", ");
    const cpuMedian = (ms: MeasuredRun[]) => [...ms].map((m) => m.cpuS).sort((a, b) => a - b)[Math.floor(ms.length / 2)] as number;
    console.log(`  runs (wall/cpu s): mesh ${runs(mesh)}; floor ${runs(floor)}; median cpu ×${ratio(cpuMedian(mesh), cpuMedian(floor))}`);
  }
  console.log(JSON.stringify({ bench: "pulumi", rows }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
