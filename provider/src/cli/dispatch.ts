/**
 * The `wgmesh` dispatcher: help, command lookup, `--help`, and error reporting. Shared by both entry
 * points — `main.ts` (every command) and `daemon-main.ts` (the daemon-only artifact) — which differ only in
 * which commands they register before calling it.
 */
import { findCommand, processIO, usageText, UsageError, type CliIO } from "./commands";

const HELP = new Set(["help", "--help", "-h"]);

/** Run `wgmesh` with its arguments (without node and script) against the registered commands; resolves to the exit status. */
export async function dispatch(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.stderr.write(usageText());
    return 1;
  }
  if (HELP.has(name)) {
    const topic = args[0];
    if (topic === undefined) {
      io.stdout.write(usageText());
      return 0;
    }
    const cmd = findCommand(topic);
    if (!cmd) {
      io.stderr.write(`wgmesh: unknown command ${JSON.stringify(topic)}\n\n${usageText()}`);
      return 1;
    }
    io.stdout.write(cmd.usage);
    return 0;
  }
  const cmd = findCommand(name);
  if (!cmd) {
    io.stderr.write(`wgmesh: unknown command ${JSON.stringify(name)}\n\n${usageText()}`);
    return 1;
  }
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout.write(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(args, io);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    io.stderr.write(`wgmesh ${cmd.name}: ${message}\n`);
    if (e instanceof UsageError && e.showUsage) io.stderr.write(`\n${cmd.usage}`);
    if (io.env["WGMESH_DEBUG"] && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
