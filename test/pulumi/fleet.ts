/**
 * Fleet-size Pulumi programs and measured CLI runs, shared by `npm run bench:pulumi` and the slow suite's
 * 50-host test (issue 12).
 *
 * Programs (written into a project dir, hosts read from hosts.json so 500 nodes need no stack config):
 *   ts-mesh       N wgmesh.Node + one Mesh (full mesh, or `groups` groups in a ring: each group reaches
 *                 itself and the next one) — TypeScript, the dynamic-provider path
 *   ts-floor      the same number of trivial dynamic resources (Pulumi's own cost per resource)
 *   ts-floor-data the same, N of them carrying a full mesh's peers maps (Pulumi's own cost of the data)
 *   ts-floor-compact the same data, each peer entry one string (what a compact peers input would cost)
 *   yaml-mesh / python-mesh   N wgmesh:Node + one wgmesh:Mesh through the provider plugin
 *   yaml-floor / python-floor the same number of wgmesh:MeshSecret (a trivial resource of the same plugin)
 * Runs: the real `pulumi` CLI, sampled every 100 ms through /proc: wall, CPU and peak RSS (VmHWM) of the
 * program, the provider and the engine processes.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot, type Workspace } from "./harness";

export interface FleetHost { name: string; host: string; port: number; hostKey?: string }

export type ProgramKind = "ts-mesh" | "ts-floor" | "ts-floor-data" | "ts-floor-compact" | "yaml-mesh" | "yaml-floor" | "python-mesh" | "python-floor";

export interface ProgramOptions {
  /** Policy-segmented: this many groups in a ring (0: full mesh). */
  groups?: number;
  /** Mesh resource name (NodeConfigs are `<mesh>-<host>`). */
  meshName?: string;
  /** Per-pair preshared keys on (issue 16). */
  presharedKeys?: boolean;
}

/** Hosts where nothing listens (a preview never connects): 127.0.2.x:9. */
export function unreachableHosts(n: number): FleetHost[] {
  return Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, host: `127.0.${2 + (i >> 8)}.${(i & 255) + 1}`, port: 9 }));
}

const TSCONFIG = { compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] };

function tsMesh(o: ProgramOptions): string {
  return `import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";
const hosts: { name: string; host: string; port: number; hostKey?: string }[] = require("./hosts.json");
const key = new pulumi.Config().getSecret("sshPrivateKey") ?? "unused";
const nodes = hosts.map((h) => new wgmesh.Node(h.name, { connection: { host: h.host, port: h.port, user: "root", privateKey: key, hostKey: h.hostKey } }));
const G = ${o.groups ?? 0};
const groups = Array.from({ length: G }, (_, g) => new wgmesh.Group(\`seg\${g}\`, { members: nodes.filter((_, i) => i % G === g) }));
const policies = groups.flatMap((g, i) => [
  new wgmesh.Policy(\`seg\${i}-internal\`, { from: [g], to: [g] }),
  new wgmesh.Policy(\`seg\${i}-to-next\`, { from: [g], to: [groups[(i + 1) % G]!] }),
]);
const mesh = new wgmesh.Mesh(${JSON.stringify(o.meshName ?? "fleet")}, { network: "10.99.0.0/16", nodes, groups, policies${o.presharedKeys ? ", presharedKeys: true" : ""} });
export const meshIps = mesh.meshIps;
`;
}

/**
 * The floor with the mesh's data: the same resources, trivial provider, but N of them carry a full mesh's
 * peers map (N-1 entries shaped like a NodeConfig's) — Pulumi's own cost of moving that much data.
 */
const TS_FLOOR_DATA = `import * as pulumi from "@pulumi/pulumi";
const hosts: { name: string }[] = require("./hosts.json");
const count: number = require("./count.json");
const provider: pulumi.dynamic.ResourceProvider = { async create(inputs: any) { return { id: String(inputs.i), outs: inputs }; } };
class Trivial extends pulumi.dynamic.Resource {}
const key = (i: number) => Buffer.alloc(32, i).toString("base64");
const ip = (i: number) => \`10.99.\${(i + 1) >> 8}.\${(i + 1) & 255}\`;
hosts.forEach((h, i) => {
  const peers: Record<string, unknown> = {};
  hosts.forEach((p, j) => { if (j !== i) peers[p.name] = { publicKey: key(j), allowedIps: [\`\${ip(j)}/32\`], endpoint: \`192.0.2.\${j & 255}:51820\` }; });
  new Trivial(provider, \`cfg-\${h.name}\`, { i, peers }, {});
});
for (let i = hosts.length; i < count; i++) new Trivial(provider, \`r\${i}\`, { i }, {});
`;

/**
 * The data floor with each peer entry flattened to one string ("key allowedIps endpoint"): an experiment
 * measuring what a compact NodeConfig peers input would cost Pulumi (one property value per peer, not five).
 */
const DATA_PEER = "peers[p.name] = { publicKey: key(j), allowedIps: [`${ip(j)}/32`], endpoint: `192.0.2.${j & 255}:51820` }";
if (!TS_FLOOR_DATA.includes(DATA_PEER)) throw new Error("fleet: TS_FLOOR_DATA's peer entry changed; update TS_FLOOR_COMPACT");
const TS_FLOOR_COMPACT = TS_FLOOR_DATA.replace(DATA_PEER, "peers[p.name] = `${key(j)} ${ip(j)}/32 192.0.2.${j & 255}:51820`");

const TS_FLOOR = `import * as pulumi from "@pulumi/pulumi";
const count: number = require("./count.json");
const provider: pulumi.dynamic.ResourceProvider = { async create(inputs: any) { return { id: String(inputs.i), outs: inputs }; } };
class Trivial extends pulumi.dynamic.Resource {}
for (let i = 0; i < count; i++) new Trivial(provider, \`r\${i}\`, { i }, {});
`;

function yamlMesh(hosts: FleetHost[], o: ProgramOptions): string {
  const lines = ["resources:"];
  for (const h of hosts) {
    lines.push(`  ${h.name}:`, "    type: wgmesh:Node", "    properties:", "      connection:", `        host: ${JSON.stringify(h.host)}`, `        port: ${h.port}`, "        user: root", "        privateKey: unused");
    if (h.hostKey) lines.push(`        hostKey: ${JSON.stringify(h.hostKey)}`);
  }
  lines.push(`  ${o.meshName ?? "fleet"}:`, "    type: wgmesh:Mesh", "    properties:", "      network: 10.99.0.0/16", "      nodes:", ...hosts.map((h) => `        - \${${h.name}}`));
  lines.push("outputs:", `  meshIps: \${${o.meshName ?? "fleet"}.meshIps}`);
  return lines.join("\n") + "\n";
}

function yamlFloor(count: number): string {
  const lines = ["resources:"];
  for (let i = 0; i < count; i++) lines.push(`  s${i}:`, "    type: wgmesh:MeshSecret");
  return lines.join("\n") + "\n";
}

function pythonMesh(o: ProgramOptions): string {
  return `import json
import pulumi
import pulumi_wgmesh as wgmesh

hosts = json.load(open("hosts.json"))
key = pulumi.Config().get_secret("sshPrivateKey") or "unused"
nodes = [wgmesh.Node(h["name"], connection=wgmesh.ConnectionArgs(host=h["host"], port=h["port"], user="root", private_key=key, host_key=h.get("hostKey"))) for h in hosts]
mesh = wgmesh.Mesh(${JSON.stringify(o.meshName ?? "fleet")}, network="10.99.0.0/16", nodes=nodes)
pulumi.export("meshIps", mesh.mesh_ips)
`;
}

const PYTHON_FLOOR = `import json
import pulumi_wgmesh as wgmesh

for i in range(json.load(open("count.json"))):
    wgmesh.MeshSecret(f"s{i}")
`;

/** Resource count of a mesh program (Stack excluded): nodes, groups, policies, the Mesh (+ its declaration in the plugin), NodeConfigs. */
export function meshResources(kind: ProgramKind, n: number, o: ProgramOptions = {}): number {
  const g = o.groups ?? 0;
  return n + g + 2 * g + 1 + n + (kind.startsWith("ts") ? 0 : 1);
}

/**
 * Write a program into `dir` (a project of `ws`): the mesh over `hosts`, or a floor of `count` trivial resources.
 * Returns its resource count (Stack excluded).
 */
export function writeProgram(ws: Workspace, name: string, kind: ProgramKind, hosts: FleetHost[], o: ProgramOptions & { count?: number } = {}): { dir: string; resources: number } {
  const count = o.count ?? meshResources(kind, hosts.length, o);
  const files: Record<string, string> = { "hosts.json": JSON.stringify(hosts), "count.json": String(count) };
  if (kind === "ts-mesh" || kind === "ts-floor" || kind === "ts-floor-data" || kind === "ts-floor-compact") {
    files["Pulumi.yaml"] = `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`;
    files["package.json"] = JSON.stringify({ name, version: "0.0.0", private: true, main: "index.ts" });
    files["tsconfig.json"] = JSON.stringify(TSCONFIG);
    files["index.ts"] = kind === "ts-mesh" ? tsMesh(o) : kind === "ts-floor-data" ? TS_FLOOR_DATA : kind === "ts-floor-compact" ? TS_FLOOR_COMPACT : TS_FLOOR;
  } else if (kind === "yaml-mesh" || kind === "yaml-floor") {
    files["Pulumi.yaml"] = `name: ${name}\nruntime: yaml\n` + (kind === "yaml-mesh" ? yamlMesh(hosts, o) : yamlFloor(count));
  } else {
    files["Pulumi.yaml"] = `name: ${name}\nruntime: python\n`;
    files["__main__.py"] = kind === "python-mesh" ? pythonMesh(o) : PYTHON_FLOOR;
  }
  const dir = ws.project(name, files);
  return { dir, resources: kind.includes("floor") ? count : meshResources(kind, hosts.length, o) };
}

/** Build the plugin tarball once and install it into the workspace's PULUMI_HOME (as users do). */
export function installPlugin(ws: Workspace): void {
  const pkgDir = path.join(ws.root, "pkg");
  const r = ws.run("bash", [path.join(repoRoot, "scripts/plugin-package.sh"), pkgDir], repoRoot);
  if (r.status !== 0) throw new Error(`plugin-package.sh failed:\n${r.stderr}`);
  const tgz = r.stdout.trim().split("\n").pop() as string;
  const version = /-v([^-]+)-linux/.exec(tgz)?.[1] as string;
  const i = ws.run("pulumi", ["plugin", "install", "resource", "wgmesh", version, "--file", tgz, "--non-interactive"], ws.root);
  if (i.status !== 0) throw new Error(`pulumi plugin install failed:\n${i.stdout}${i.stderr}`);
}

/** pip-install the generated Python SDK into the workspace (offline) and put it on PYTHONPATH. */
export function installPythonSdk(ws: Workspace): void {
  const pylib = path.join(ws.root, "pylib");
  fs.cpSync(path.join(repoRoot, "sdk/python"), path.join(ws.root, "sdk-python"), { recursive: true });
  const r = ws.run("python3", ["-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation", "--target", pylib, path.join(ws.root, "sdk-python")], ws.root);
  if (r.status !== 0) throw new Error(`pip install of sdk/python failed:\n${r.stderr}`);
  ws.env.PYTHONPATH = pylib;
}

export type ProcessRole = "program" | "provider" | "engine" | "other";

export interface RoleUsage { cpuS: number; peakRssMB: number; processes: number }

export interface MeasuredRun {
  status: number | null;
  stdout: string;
  stderr: string;
  wallS: number;
  /** CPU of every process of the run (user + system), from /proc samples. */
  cpuS: number;
  roles: Record<ProcessRole, RoleUsage>;
}

function role(cmdline: string): ProcessRole {
  if (/@pulumi\/pulumi\/cmd\/run\b|pulumi-language-python-exec|pulumi-language-yaml|pulumi\.runtime|__main__/.test(cmdline)) return "program";
  if (/cmd\/dynamic-provider|pulumi-resource-wgmesh|plugin\/main\.js/.test(cmdline)) return "provider";
  if (/(^|\/)pulumi(\0|$)/.test(cmdline)) return "engine";
  return "other";
}

const TICK = 100; // USER_HZ on Linux

interface Sample { role: ProcessRole; ticks: number; hwmKB: number }

function readProc(pid: number): { ppid: number; ticks: number; hwmKB: number; cmdline: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]),
      hwmKB: hwm ? Number(hwm[1]) : 0,
      cmdline: fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"),
    };
  } catch {
    return null;
  }
}

/** The process tree under `root`, sampled: last CPU ticks and highest VmHWM per pid. */
function sampleTree(root: number, seen: Map<number, Sample>): void {
  const procs = new Map<number, ReturnType<typeof readProc>>();
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    procs.set(Number(e), null);
  }
  const parent = new Map<number, number>();
  for (const pid of procs.keys()) {
    const p = readProc(pid);
    if (!p) continue;
    procs.set(pid, p);
    parent.set(pid, p.ppid);
  }
  for (const [pid, p] of procs) {
    if (!p) continue;
    let cur: number | undefined = pid;
    let inTree = false;
    for (let depth = 0; cur !== undefined && cur > 1 && depth < 20; depth++) {
      if (cur === root) { inTree = true; break; }
      cur = parent.get(cur);
    }
    if (!inTree) continue;
    const prev = seen.get(pid);
    seen.set(pid, { role: prev?.role ?? role(p.cmdline), ticks: Math.max(prev?.ticks ?? 0, p.ticks), hwmKB: Math.max(prev?.hwmKB ?? 0, p.hwmKB) });
  }
}

/** Run `pulumi args` in `dir` with the workspace's environment, sampling its processes. */
export function runMeasured(ws: Workspace, dir: string, args: string[], timeoutMs = 3_600_000): Promise<MeasuredRun> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: dir, env: ws.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const seen = new Map<number, Sample>();
    const tick = () => { if (child.pid) sampleTree(child.pid, seen); };
    const timer = setInterval(tick, 100);
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => { clearInterval(timer); clearTimeout(killer); reject(e); });
    child.on("close", (status) => {
      clearInterval(timer);
      clearTimeout(killer);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      const roles: Record<ProcessRole, RoleUsage> = {
        program: { cpuS: 0, peakRssMB: 0, processes: 0 },
        provider: { cpuS: 0, peakRssMB: 0, processes: 0 },
        engine: { cpuS: 0, peakRssMB: 0, processes: 0 },
        other: { cpuS: 0, peakRssMB: 0, processes: 0 },
      };
      let cpuS = 0;
      for (const s of seen.values()) {
        const r = roles[s.role];
        r.cpuS += s.ticks / TICK;
        r.peakRssMB = Math.max(r.peakRssMB, Math.round(s.hwmKB / 1024));
        r.processes++;
        cpuS += s.ticks / TICK;
      }
      for (const r of Object.values(roles)) r.cpuS = +r.cpuS.toFixed(2);
      resolve({ status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), wallS: +wallS.toFixed(2), cpuS: +cpuS.toFixed(2), roles });
    });
  });
}

/** Throws with the output unless the run exited 0. */
export function ok(r: MeasuredRun, what: string): MeasuredRun {
  if (r.status !== 0) {
    // A fleet's output is long: its error lines first (each names its resource), then the tails.
    const errors = r.stdout.split("\n").filter((l) => /\berror\b/i.test(l)).slice(0, 60).join("\n");
    throw new Error(`${what} exited ${r.status}\n--- error lines\n${errors}\n--- stdout (tail)\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
  }
  return r;
}
