/**
 * `wgmesh migrate <mesh-state.json> [--password-file F] --stack S --out DIR [--project NAME]`: turn a Go
 * wgmesh state file into a TypeScript Pulumi project (pulumi/migrate.ts renders it) and store every node's
 * existing WireGuard private key as a secret config value of stack S — through `pulumi config set --secret`
 * with the key on stdin (never in argv, never in the program text). `pulumi up` then adopts the running
 * mesh without re-keying anything.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { compileMesh } from "../core/compile";
import { messages } from "../core/validate";
import { privateKeyConfigKey, projectFiles, renderProgram } from "../pulumi/migrate";
import { UsageError, type CliIO, type Command } from "./commands";
import { loadMeshInput, StateInputError, STATE_READ_OPTIONS, STATE_READ_HELP, stateReadOptions } from "./stateinput";

const USAGE = [
  "Usage: wgmesh migrate <mesh-state.json> --stack STACK --out DIR [--password-file FILE] [--project NAME] [--mesh NAME]",
  "",
  "Writes a TypeScript Pulumi project to DIR declaring the nodes, groups and access policies of a Go wgmesh",
  "state file, and stores every node's WireGuard private key as a secret config value of STACK",
  "(`pulumi config set --secret`, key on stdin; the backend and passphrase come from your environment:",
  "PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE). Then: set sshPrivateKey, install, and `pulumi up`.",
  "",
  "Options:",
  "  --stack STACK          Stack to create (or select) and store the keys in (required)",
  "  --out DIR              Directory for the project (created; must be empty if it exists)",
  "  --password-file FILE   The state file is encrypted (wgmesh -encrypt); FILE holds the password",
  "  --project NAME         Pulumi project name (default: wgmesh-mesh)",
  "  --mesh NAME            Name of the Mesh resource (default: mesh)",
  STATE_READ_HELP,
  "",
  "The program sets enforcement: \"none\" (the Go tool has no firewall), so adopting the running mesh changes",
  "nothing on the hosts; change it to \"nftables\" to enforce the policies.",
  "",
].join("\n");

function pulumiCli(args: string[], cwd: string, env: NodeJS.ProcessEnv, input?: string): { status: number | null; out: string } {
  const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd, env, input, encoding: "utf8" });
  if (r.error) throw new UsageError(`cannot run the pulumi CLI: ${r.error.message} (is it on PATH? source scripts/pulumi-env.sh)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export const migrateCommand: Command = {
  name: "migrate",
  summary: "Turn a Go wgmesh state file into a Pulumi project (keys → secret stack config)",
  usage: USAGE,
  async run(argv: string[], io: CliIO): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { stack: { type: "string" }, out: { type: "string" }, "password-file": { type: "string" }, project: { type: "string" }, mesh: { type: "string" }, ...STATE_READ_OPTIONS },
      });
    } catch (e) {
      throw new UsageError(String((e as Error).message).replace(/\. To specify.*$/, ""), true);
    }
    if (parsed.positionals.length !== 1) throw new UsageError("migrate needs exactly one state file", true);
    const stack = parsed.values.stack;
    const outArg = parsed.values.out;
    if (!stack) throw new UsageError("migrate needs --stack STACK", true);
    if (!outArg) throw new UsageError("migrate needs --out DIR", true);
    const project = parsed.values.project ?? "wgmesh-mesh";
    const meshName = parsed.values.mesh ?? "mesh";
    if (!/^[A-Za-z0-9_.-]+$/.test(project)) throw new UsageError(`--project ${JSON.stringify(project)}: use letters, digits, '_', '.', '-'`);

    let input;
    try {
      input = await loadMeshInput(parsed.positionals[0] as string, parsed.values["password-file"], io, stateReadOptions(parsed.values));
    } catch (e) {
      if (!(e instanceof StateInputError)) throw e; // an unreadable file: "wgmesh migrate: cannot read state file …"
      io.stderr.write(`wgmesh migrate: ${JSON.stringify(parsed.positionals[0])} is not a usable state file:\n${e.problems.map((p) => `  - ${p}`).join("\n")}\n`);
      return 1;
    }
    const compiled = compileMesh(input, { policyTests: false });
    if (!compiled.ok) {
      io.stderr.write(`wgmesh migrate: the mesh is invalid:\n${messages(compiled.errors).map((m) => `  - ${m}`).join("\n")}\n`);
      return 1;
    }
    const mesh = compiled.mesh;
    const out = path.resolve(io.cwd, outArg);
    if (fs.existsSync(out) && fs.readdirSync(out).length > 0) {
      io.stderr.write(`wgmesh migrate: ${out} is not empty; choose a new directory for the project\n`);
      return 1;
    }
    fs.mkdirSync(out, { recursive: true });
    const repoRoot = path.resolve(__dirname, "../../../..");
    const files = { ...projectFiles(project, `file:${repoRoot}`), "index.ts": renderProgram(mesh, meshName) };
    for (const [f, t] of Object.entries(files)) fs.writeFileSync(path.join(out, f), t);

    const env = io.env;
    const sel = pulumiCli(["stack", "select", "--create", stack], out, env);
    if (sel.status !== 0) {
      io.stderr.write(`wgmesh migrate: pulumi stack select --create ${stack} failed:\n${sel.out}`);
      return 1;
    }
    let stored = 0;
    for (const n of mesh.nodes) {
      if (!n.privateKey) continue;
      const r = pulumiCli(["config", "set", "--secret", "--stack", stack, privateKeyConfigKey(n.hostname)], out, env, n.privateKey);
      if (r.status !== 0) {
        io.stderr.write(`wgmesh migrate: storing the key of node ${n.hostname} failed:\n${r.out.split(n.privateKey).join("[secret]")}`);
        return 1;
      }
      stored++;
    }
    io.stdout.write(
      `Wrote ${out} (${mesh.nodes.length} nodes, ${mesh.groups.length} groups, ${mesh.policies.length} policies); ` +
      `stored ${stored} private key(s) as secret config of stack ${stack}.\n` +
      `Next: cd ${out} && pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519 && npm install && pulumi up\n`,
    );
    return 0;
  },
};
