// Command line of the testbed (contract used by other tooling; progress on stderr, results on stdout):
//   up --hosts N [--nat M] [--name P] [--subnet CIDR] [--nat-subnet CIDR] [--behind HOST[=CIDR]]…
//        prints one JSON document {"name", "hosts": [{name,address,sshPort,user,sudoUser,privateKeyPath,knownHostsPath,behindNat}]}
//   exec P HOST -- CMD…   runs CMD in HOST, passes its exit code on
//   down [P]              removes testbed P (default tb); idempotent
//   status [--json]       lists the testbeds on this machine
//   show [P]              prints the JSON document of `up` again for a testbed that is up
//   prepare               builds the rootfs and apt repository caches (prints their paths as JSON)
import { ensureAptRepo } from "./aptrepo";
import { ensureRootfs } from "./rootfs";
import { down, execInteractive, status, Testbed, up } from "./testbed";

const USAGE = `usage:
  testbed up --hosts N [--nat M] [--name P] [--subnet CIDR] [--nat-subnet CIDR] [--behind HOST[=CIDR]]...
  testbed exec P HOST -- CMD...
  testbed down [P]
  testbed status [--json]
  testbed show [P]
  testbed prepare`;

class UsageError extends Error {}

function parseFlags(args: string[]): { flags: Map<string, string[]>; rest: string[] } {
  const flags = new Map<string, string[]>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      let value: string;
      if (eq > 0) value = a.slice(eq + 1);
      else if (key === "json") value = "true";
      else {
        if (i + 1 >= args.length) throw new UsageError(`--${key} needs a value`);
        value = args[++i];
      }
      flags.set(key, [...(flags.get(key) ?? []), value]);
    } else rest.push(a);
  }
  return { flags, rest };
}

function intFlag(flags: Map<string, string[]>, key: string, dflt: number): number {
  const v = flags.get(key)?.at(-1);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${key} must be a whole number (got '${v}')`);
  return Number(v);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "up": {
      const { flags, rest } = parseFlags(args);
      const known = new Set(["hosts", "nat", "name", "subnet", "nat-subnet", "behind"]);
      for (const k of flags.keys()) if (!known.has(k)) throw new UsageError(`up: unknown flag --${k}`);
      if (rest.length) throw new UsageError(`up: unexpected argument '${rest[0]}'`);
      if (!flags.has("hosts")) throw new UsageError("up: --hosts N is required");
      const tb = await up(intFlag(flags, "hosts", 0), {
        nat: intFlag(flags, "nat", 0),
        name: flags.get("name")?.at(-1),
        subnet: flags.get("subnet")?.at(-1),
        natSubnet: flags.get("nat-subnet")?.at(-1),
        behind: (flags.get("behind") ?? []).map((b) => {
          const [host, cidr] = b.split("=");
          return cidr ? { host, cidr } : host;
        }),
      });
      process.stdout.write(JSON.stringify(tb.toJSON(), null, 2) + "\n");
      return 0;
    }
    case "exec": {
      const sep = args.indexOf("--");
      const head = sep >= 0 ? args.slice(0, sep) : args.slice(0, 2);
      const command = sep >= 0 ? args.slice(sep + 1) : args.slice(2);
      if (head.length !== 2 || command.length === 0) throw new UsageError("exec: usage: exec P HOST -- CMD...");
      return execInteractive(head[0], head[1], command);
    }
    case "down": {
      if (args.length > 1) throw new UsageError("down: at most one testbed name");
      await down(args[0] ?? "tb");
      return 0;
    }
    case "status": {
      const { flags } = parseFlags(args);
      const entries = await status();
      if (flags.has("json")) {
        process.stdout.write(JSON.stringify(entries, null, 2) + "\n");
        return 0;
      }
      if (entries.length === 0) process.stdout.write("no testbeds\n");
      for (const e of entries) {
        process.stdout.write(`${e.name}${e.subnet ? ` (${e.subnet})` : ""}\n`);
        for (const h of e.hosts) {
          process.stdout.write(
            `  ${h.name.padEnd(12)} ${`${h.address}:${h.sshPort}`.padEnd(22)} ${h.running ? "running" : "stopped"}${h.behindNat ? "  behind NAT" : ""}\n`,
          );
        }
        for (const l of e.leftovers) process.stdout.write(`  leftover: ${l}\n`);
      }
      return 0;
    }
    case "prepare": {
      const rootfs = await ensureRootfs();
      const repo = await ensureAptRepo(rootfs.path);
      process.stdout.write(
        JSON.stringify({ rootfs: rootfs.path, rootfsBuildSeconds: rootfs.seconds, repo: repo.path, repoBuildSeconds: repo.seconds }) + "\n",
      );
      return 0;
    }
    case "show": {
      // the JSON document of `up` for a testbed that is already up
      process.stdout.write(JSON.stringify(Testbed.attach(args[0] ?? "tb").toJSON(), null, 2) + "\n");
      return 0;
    }
    default:
      throw new UsageError(cmd ? `unknown command '${cmd}'` : "no command");
  }
}

if (require.main === module) {
  if (process.getuid && process.getuid() !== 0) {
    process.stderr.write("testbed: must run as root (network namespaces, mounts, systemd-nspawn)\n");
    process.exit(1);
  }
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) process.stderr.write(`testbed: ${e.message}\n${USAGE}\n`);
      else process.stderr.write(`testbed: ${(e as Error).message}\n`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}
