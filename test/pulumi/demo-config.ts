/**
 * `node dist/test/pulumi/demo-config.js <testbed.json> <project-dir> [--names a,b,c] [--link]`: point a
 * project such as examples/full-mesh at testbed hosts — sets `hosts` (address, port, user and the host key
 * from the testbed's known_hosts) and `sshPrivateKey` (on stdin) in the project's selected stack.
 * `--link` first gives the project a node_modules resolving `@pulumi/pulumi` and `@wgmesh/pulumi` to this
 * repository (no npm install needed).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { linkNodeModules } from "./harness";

interface TbHost { name: string; address: string; sshPort: number; user: string; privateKeyPath: string; knownHostsPath: string }

export function hostKeyFor(knownHosts: string, address: string, port: number): string | undefined {
  const name = port === 22 ? address : `[${address}]:${port}`;
  for (const line of knownHosts.split("\n")) {
    const [hosts, type, key] = line.trim().split(/\s+/);
    if (hosts && type && key && hosts.split(",").includes(name)) return `${type} ${key}`;
  }
  return undefined;
}

function main(argv: string[]): number {
  const [file, dir] = argv;
  if (!file || !dir) {
    process.stderr.write("usage: demo-config <testbed.json> <project-dir> [--names a,b,c]\n");
    return 2;
  }
  const i = argv.indexOf("--names");
  if (argv.includes("--link") && !fs.existsSync(`${dir}/node_modules`)) linkNodeModules(dir);
  const tb = JSON.parse(fs.readFileSync(file, "utf8")) as { hosts: TbHost[] };
  const names = i >= 0 ? (argv[i + 1] ?? "").split(",") : tb.hosts.map((_, k) => `node${k + 1}`);
  const hosts = tb.hosts.map((h, k) => ({
    name: names[k] ?? `node${k + 1}`,
    host: h.address,
    port: h.sshPort,
    user: h.user,
    hostKey: hostKeyFor(fs.readFileSync(h.knownHostsPath, "utf8"), h.address, h.sshPort),
  }));
  const set = (args: string[], input?: string) => {
    const r = spawnSync("pulumi", ["config", "set", ...args, "--non-interactive"], { cwd: dir, input, stdio: ["pipe", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error(`pulumi config set ${args[0]} failed`);
  };
  set(["hosts", JSON.stringify(hosts)]);
  set(["--secret", "sshPrivateKey"], fs.readFileSync(tb.hosts[0]!.privateKeyPath, "utf8"));
  process.stdout.write(`configured ${hosts.length} hosts: ${hosts.map((h) => h.name).join(", ")}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
