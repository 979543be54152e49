/**
 * The e2e scenario every multi-language example runs, through the real CLI, the language host of the
 * example and the `pulumi-resource-wgmesh` plugin, against 3 testbed hosts:
 *   pulumi up → mesh up (every host pings every other over mesh IPs) → state conforms to schema.json and
 *   holds every private key as a secret (0 plaintext hits in `pulumi stack export`, in up/preview output)
 *   → `pulumi preview --expect-no-changes` → `pulumi destroy` leaves no interface, unit or conf.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { down, up, type Testbed } from "../../testbed";
import { outputViolations, unwrappedSecrets, type SchemaDoc } from "../../../provider/src/plugin/conform";
import { pulumiEnv, repoRoot } from "../harness";

export { repoRoot, pulumiEnv };

export const baseEnv = pulumiEnv();
export const pluginWrapper = path.join(repoRoot, "dist", "pulumi-resource-wgmesh");

/** Why the plugin tests cannot run here, or false. Writes the plugin wrapper next to the compiled code if it is missing. */
export function missing(needHosts: boolean): string | false {
  const cli = path.join(baseEnv.WGMESH_PULUMI_BIN ?? "", "pulumi");
  if (!fs.existsSync(cli)) return `Pulumi toolchain not built (no ${cli}); run: bash scripts/pulumi-toolchain.sh`;
  if (!fs.existsSync(pluginWrapper)) {
    const r = spawnSync("bash", [path.join(repoRoot, "scripts/plugin-build.sh"), "--wrapper-only"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`scripts/plugin-build.sh --wrapper-only failed:\n${r.stderr}`);
  }
  if (needHosts && process.getuid?.() !== 0) return "the testbed needs root";
  return false;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A temp dir with a file backend, a random passphrase and a private PULUMI_HOME. */
export class Workspace {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-plugin-"));
  readonly env: NodeJS.ProcessEnv;

  constructor(extra: NodeJS.ProcessEnv = {}) {
    fs.mkdirSync(path.join(this.root, "state"));
    this.env = {
      ...baseEnv,
      PULUMI_HOME: path.join(this.root, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${path.join(this.root, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(18).toString("base64"),
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      GOPROXY: "off",
      GOFLAGS: "-mod=mod",
      ...extra,
    };
    delete this.env.PULUMI_CONFIG_PASSPHRASE_FILE;
    // The plugin comes from PATH only when a test asks for it (usePluginFromPath), else from PULUMI_HOME.
    const dist = path.dirname(pluginWrapper);
    this.env.PATH = (this.env.PATH ?? "").split(":").filter((d) => d !== "" && path.resolve(d) !== dist).join(":");
  }

  /** Put the repo's plugin wrapper (dist/) first on PATH. */
  usePluginFromPath(): void {
    this.env.PATH = `${path.dirname(pluginWrapper)}:${this.env.PATH}`;
  }

  run(cmd: string, args: string[], cwd: string, input?: string): Run {
    const t0 = Date.now();
    const r = spawnSync(cmd, args, { cwd, env: this.env, encoding: "utf8", input, timeout: 900_000, maxBuffer: 64 << 20 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
  }

  ok(cmd: string, args: string[], cwd: string, input?: string): Run {
    const r = this.run(cmd, args, cwd, input);
    assert.equal(r.status, 0, `${cmd} ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  }

  pulumi(cwd: string, args: string[], input?: string): Run {
    return this.run("pulumi", [...args, "--non-interactive"], cwd, input);
  }

  pulumiOk(cwd: string, args: string[], input?: string): Run {
    return this.ok("pulumi", [...args, "--non-interactive"], cwd, input);
  }

  /** Copy an example project into the workspace (without stack files). */
  project(example: string): string {
    const dir = path.join(this.root, path.basename(example));
    fs.cpSync(example, dir, { recursive: true, filter: (src) => !/\/Pulumi\.[^/]+\.yaml$/.test(src) || src.endsWith("/Pulumi.yaml") });
    return dir;
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export function loadSchema(): SchemaDoc {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, "schema.json"), "utf8")) as SchemaDoc;
}

interface Log {
  diagnostic(message: string): void;
}

/**
 * Install the plugin as users get it: the tarball of scripts/plugin-package.sh (which carries the daemon
 * artifact), installed into this workspace's PULUMI_HOME. Returns the tarball's path.
 */
export function installPluginTarball(ws: Workspace): string {
  const r = ws.ok("bash", [path.join(repoRoot, "scripts/plugin-package.sh"), path.join(ws.root, "pkg")], repoRoot);
  const tgz = r.stdout.trim().split("\n").pop() as string;
  const version = /-v([^-]+)-linux/.exec(tgz)?.[1] as string;
  ws.ok("pulumi", ["plugin", "install", "resource", "wgmesh", version, "--file", tgz, "--non-interactive"], ws.root);
  return tgz;
}

/** Configure the stack with the testbed's hosts: hosts[i].{name,host,port,hostKey} and the SSH key (secret, on stdin). */
export function configure(ws: Workspace, dir: string, tb: Testbed): void {
  tb.hosts.forEach((h, i) => {
    ws.pulumiOk(dir, ["config", "set", "--path", `hosts[${i}].name`, h.name]);
    ws.pulumiOk(dir, ["config", "set", "--path", `hosts[${i}].host`, h.address]);
    ws.pulumiOk(dir, ["config", "set", "--path", `hosts[${i}].port`, String(h.sshPort)]);
    ws.pulumiOk(dir, ["config", "set", "--path", `hosts[${i}].hostKey`, h.hostPublicKey]);
  });
  ws.pulumiOk(dir, ["config", "set", "--secret", "sshPrivateKey"], fs.readFileSync(tb.privateKeyPath, "utf8"));
}

/** Number of WireGuard peers of wg0 on each host. */
export async function peerCounts(tb: Testbed): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const h of tb.hosts) {
    const peers = await tb.execOk(h.name, ["wg", "show", "wg0", "peers"]);
    out[h.name] = peers.split("\n").filter((l) => l.trim() !== "").length;
  }
  return out;
}

async function assertPings(tb: Testbed, meshIps: Record<string, string>): Promise<number> {
  let pings = 0;
  for (const from of tb.hosts) {
    for (const [to, ip] of Object.entries(meshIps)) {
      if (to === from.name) continue;
      const r = await tb.exec(from.name, ["ping", "-c", "1", "-i", "0.5", "-w", "20", ip]);
      assert.equal(r.code, 0, `${from.name} cannot ping ${to} at ${ip} over the mesh:\n${r.stdout}${r.stderr}`);
      pings++;
    }
  }
  return pings;
}

async function assertClean(tb: Testbed): Promise<void> {
  for (const h of tb.hosts) {
    const link = await tb.exec(h.name, ["ip", "link", "show", "wg0"]);
    assert.notEqual(link.code, 0, `${h.name}: wg0 still exists after destroy`);
    const conf = await tb.exec(h.name, "ls /etc/wireguard/wg0.conf");
    assert.notEqual(conf.code, 0, `${h.name}: /etc/wireguard/wg0.conf still exists after destroy`);
    const unit = await tb.exec(h.name, "systemctl is-enabled wg-quick@wg0 || systemctl is-active wg-quick@wg0");
    assert.notEqual(unit.code, 0, `${h.name}: wg-quick@wg0 still enabled or active after destroy: ${unit.stdout}`);
  }
}

type HostInfoLike = { name: string };

const PRIVATE_TYPES = ["wgmesh:index:Node", "wgmesh:index:NodeConfig"];

export interface ScenarioOptions {
  /** Testbed name (p7…). */
  testbed: string;
  /** examples/<name>. */
  example: string;
  /** Language-specific preparation of the copied project (SDK install, go.mod). */
  prepare?(ws: Workspace, dir: string): void;
  /** Plugin from PATH (default) or installed by the caller into ws.env.PULUMI_HOME. */
  installPlugin?(ws: Workspace): void;
  /** More steps after the no-change preview; returns the stack's resource count for the destroy assert. */
  afterUp?(c: { t: Log; ws: Workspace; dir: string; tb: Testbed; meshIps: Record<string, string> }): Promise<number>;
}

export async function fullMeshScenario(t: Log, o: ScenarioOptions): Promise<void> {
  const ws = new Workspace();
  let tb: Testbed | undefined;
  try {
    if (o.installPlugin) o.installPlugin(ws);
    else ws.usePluginFromPath();
    tb = await up(3, { name: o.testbed });
    const dir = ws.project(path.join(repoRoot, "examples", o.example));
    o.prepare?.(ws, dir);
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    configure(ws, dir, tb);

    const upRun = ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
    t.diagnostic(`${o.example}: pulumi up (3 nodes, create): ${upRun.ms} ms wall`);
    assert.match(upRun.stdout, /9 created/, upRun.stdout);
    const outs = JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout) as Record<string, Record<string, unknown>>;
    const meshIps = outs.meshIps as Record<string, string>;
    assert.deepEqual(Object.keys(meshIps).sort(), tb.hosts.map((h) => h.name).sort());
    assert.equal(new Set(Object.values(meshIps)).size, 3, "distinct mesh IPs");
    const pings = await assertPings(tb, meshIps);
    t.diagnostic(`${o.example}: ${pings} pings over the mesh succeeded`);

    // State: conforms to schema.json; private keys secret everywhere.
    const schema = loadSchema();
    const plainExport = ws.pulumiOk(dir, ["stack", "export"]).stdout;
    const secretExport = JSON.parse(ws.pulumiOk(dir, ["stack", "export", "--show-secrets"]).stdout);
    const plainState = JSON.parse(plainExport);
    const privateKeys: string[] = [];
    const byType = new Map<string, number>();
    for (const r of secretExport.deployment.resources as Array<{ type: string; urn: string; outputs: Record<string, unknown> }>) {
      if (!r.type.startsWith("wgmesh:") || r.type === "wgmesh:index:Mesh") continue;
      byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
      assert.deepEqual(outputViolations(schema, r.type, r.outputs), [], `${r.urn} outputs conform to schema.json`);
      if (PRIVATE_TYPES.includes(r.type)) {
        const pk = r.outputs.privateKey as { plaintext: string };
        privateKeys.push(JSON.parse(pk.plaintext) as string);
      }
    }
    assert.deepEqual(Object.fromEntries(byType), { "wgmesh:index:Node": 3, "wgmesh:index:MeshDeclaration": 1, "wgmesh:index:NodeConfig": 3 });
    for (const r of plainState.deployment.resources as Array<{ type: string; urn: string; outputs: Record<string, unknown> }>) {
      if (r.type.startsWith("wgmesh:") && r.type !== "wgmesh:index:Mesh") {
        assert.deepEqual(unwrappedSecrets(schema, r.type, r.outputs), [], `${r.urn}: schema-secret outputs stored as secrets`);
      }
    }
    assert.equal(new Set(privateKeys).size, 3, "three distinct node private keys");
    for (const k of privateKeys) {
      assert.match(k, /^[A-Za-z0-9+/]{43}=$/);
      assert.ok(!plainExport.includes(k), "a WireGuard private key appears in plaintext in `pulumi stack export`");
      assert.ok(!upRun.stdout.includes(k) && !upRun.stderr.includes(k), "a private key appears in the `pulumi up` output");
    }
    assert.ok(!plainExport.includes("OPENSSH PRIVATE KEY"), "the SSH private key appears in plaintext in `pulumi stack export`");

    const noChange = ws.pulumi(dir, ["preview", "--expect-no-changes", "--diff"]);
    assert.equal(noChange.status, 0, `preview --expect-no-changes after up:\n${noChange.stdout}\n${noChange.stderr}`);
    t.diagnostic(`${o.example}: pulumi preview (no changes): ${noChange.ms} ms wall`);
    for (const k of privateKeys) assert.ok(!noChange.stdout.includes(k), "a private key appears in the preview output");

    // Drift: a peer removed by hand shows in `pulumi refresh` (the NodeConfig's read over SSH) and `up` repairs it.
    const [a, b] = tb.hosts as unknown as [HostInfoLike, HostInfoLike];
    const keyB = (JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout).publicKeys as Record<string, string>)[b.name] as string;
    await tb.execOk(a.name, ["wg", "set", "wg0", "peer", keyB, "remove"]);
    assert.notEqual((await tb.exec(a.name, ["ping", "-c", "1", "-W", "2", meshIps[b.name] as string])).code, 0, "positive control: the removed peer is unreachable");
    const refresh = ws.pulumiOk(dir, ["refresh", "--yes", "--skip-preview"]);
    assert.match(refresh.stdout, new RegExp(`NodeConfig +\\S*${a.name} +updated`), `refresh reports the drift on ${a.name}:\n${refresh.stdout}`);
    assert.match(refresh.stdout, /1 updated/, refresh.stdout);
    const repair = ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
    assert.match(repair.stdout, /1 updated/, repair.stdout);
    t.diagnostic(`${o.example}: refresh shows a removed peer, up repairs it (${repair.ms} ms wall)`);
    assert.equal((await tb.exec(a.name, ["ping", "-c", "1", "-i", "0.5", "-w", "20", meshIps[b.name] as string])).code, 0, "the repaired peer pings again");

    const count = o.afterUp ? await o.afterUp({ t, ws, dir, tb, meshIps }) : 9;

    const destroy = ws.pulumiOk(dir, ["destroy", "--yes", "--skip-preview"]);
    t.diagnostic(`${o.example}: pulumi destroy: ${destroy.ms} ms wall`);
    assert.match(destroy.stdout, new RegExp(`${count} deleted`), destroy.stdout);
    await assertClean(tb);
    ws.pulumiOk(dir, ["stack", "rm", "--yes", "dev"]);
  } finally {
    if (tb) await down(o.testbed);
    ws.cleanup();
  }
}
