/**
 * Driving the real Pulumi CLI the way users do, for the e2e tests of the resources: the environment of
 * `source scripts/pulumi-env.sh`, a file backend and passphrase in a temp dir, and example projects copied
 * there with a node_modules that resolves `@pulumi/pulumi` and `@wgmesh/pulumi` to this repository.
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const repoRoot = findRepoRoot(__dirname);

function findRepoRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, "scripts", "pulumi-env.sh"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`scripts/pulumi-env.sh not found above ${start}`);
    dir = parent;
  }
  return dir;
}

/** The environment `source scripts/pulumi-env.sh` produces, captured from a real bash. */
export function pulumiEnv(): NodeJS.ProcessEnv {
  const r = spawnSync("bash", ["-c", 'source "$1" >/dev/null && env -0', "bash", path.join(repoRoot, "scripts/pulumi-env.sh")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`sourcing scripts/pulumi-env.sh failed: ${r.stderr}`);
  const env: NodeJS.ProcessEnv = {};
  for (const entry of r.stdout.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Why the e2e suite cannot run here, or false. */
export function toolchainMissing(env: NodeJS.ProcessEnv): string | false {
  const cli = path.join(env.WGMESH_PULUMI_BIN ?? "", "pulumi");
  if (!fs.existsSync(cli)) return `Pulumi toolchain not built (no ${cli}); run: bash scripts/pulumi-toolchain.sh`;
  if (!fs.existsSync(path.join(repoRoot, "dist/provider/src/index.js"))) return "package not built; run: npx tsc -p .";
  return false;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A Pulumi workspace: temp dir with a file backend, a passphrase and a private PULUMI_HOME. */
export class Workspace {
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly passphrase = crypto.randomBytes(18).toString("base64");

  constructor(base: NodeJS.ProcessEnv, extraEnv: NodeJS.ProcessEnv = {}) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-pulumi-"));
    const state = path.join(this.root, "state");
    fs.mkdirSync(state);
    this.env = {
      ...base,
      PULUMI_HOME: path.join(this.root, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${state}`,
      PULUMI_CONFIG_PASSPHRASE: this.passphrase,
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      ...extraEnv,
    };
    delete this.env.PULUMI_CONFIG_PASSPHRASE_FILE;
  }

  /** Copy a project (e.g. examples/full-mesh) into the workspace, with a node_modules resolving to this repo. */
  project(name: string, source: string | Record<string, string>): string {
    const dir = path.join(this.root, name);
    fs.mkdirSync(dir, { recursive: true });
    if (typeof source === "string") {
      for (const f of fs.readdirSync(source)) {
        if (f === "node_modules" || f.startsWith("Pulumi.") && f !== "Pulumi.yaml") continue;
        fs.cpSync(path.join(source, f), path.join(dir, f), { recursive: true });
      }
    } else {
      for (const [f, text] of Object.entries(source)) fs.writeFileSync(path.join(dir, f), text);
    }
    linkNodeModules(dir);
    return dir;
  }

  run(cmd: string, args: string[], cwd: string, opts: { input?: string; timeoutMs?: number } = {}): RunResult {
    const t0 = Date.now();
    const r = spawnSync(cmd, args, { cwd, env: this.env, encoding: "utf8", input: opts.input, timeout: opts.timeoutMs ?? 900_000, maxBuffer: 64 << 20 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
  }

  pulumi(cwd: string, args: string[], opts: { input?: string } = {}): RunResult {
    return this.run("pulumi", [...args, "--non-interactive"], cwd, opts);
  }

  /** Runs pulumi; throws with the full output unless it exits 0. */
  pulumiOk(cwd: string, args: string[], opts: { input?: string } = {}): RunResult {
    const r = this.pulumi(cwd, args, opts);
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * `dir/node_modules`: every package of the repo's node_modules (symlinked) plus `@wgmesh/pulumi` → the repo.
 * Node resolves symlinks to real paths, so the program, our package and the dynamic-provider host share one
 * copy of `@pulumi/pulumi`.
 */
export function linkNodeModules(dir: string): void {
  const nm = path.join(dir, "node_modules");
  fs.mkdirSync(nm, { recursive: true });
  const src = path.join(repoRoot, "node_modules");
  for (const e of fs.readdirSync(src)) {
    if (e === "@wgmesh") continue;
    fs.symlinkSync(path.join(src, e), path.join(nm, e));
  }
  fs.mkdirSync(path.join(nm, "@wgmesh"), { recursive: true });
  fs.symlinkSync(repoRoot, path.join(nm, "@wgmesh", "pulumi"), "dir");
}

/** Every leaf string of a JSON value. */
export function allStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => allStrings(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => allStrings(v, out));
  return out;
}
