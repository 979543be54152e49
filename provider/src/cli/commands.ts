/**
 * The `wgmesh` command registry. Every front door of the CLI (plan, genkey, pubkey, and later deploy,
 * teardown, migrate, and the daemon's init/status/join/peers/test-peer) is one `Command` registered here;
 * `main.ts` dispatches on the first argument and builds the usage text from this table.
 *
 * To add a command: write `cli/<name>.ts` exporting a `Command`, and add one `registerCommand(...)` line
 * to `cli/builtins.ts`.
 */

import type { CommandIO } from "../daemon/io";

/** What a command may touch of the outside world (injectable for in-process tests): see daemon/io.ts. */
export type CliIO = CommandIO;

export interface Command {
  /** The word after `wgmesh`, e.g. "plan". Subcommands ("peers list") are the command's own business. */
  name: string;
  /** One line for the command list in `wgmesh help`. */
  summary: string;
  /** Full usage text shown by `wgmesh help <name>` / `wgmesh <name> --help` (first line: the synopsis). */
  usage: string;
  /** Run with the arguments after the command name; resolves to the exit code. */
  run(args: string[], io: CliIO): Promise<number>;
}

const registry = new Map<string, Command>();

/** Add a command; a name can be registered once. */
export function registerCommand(command: Command): void {
  if (!/^[a-z][a-z0-9-]*$/.test(command.name)) throw new Error(`invalid command name '${command.name}'`);
  if (registry.has(command.name)) throw new Error(`command '${command.name}' is already registered`);
  registry.set(command.name, command);
}

export function findCommand(name: string): Command | undefined {
  return registry.get(name);
}

/** Registered commands in registration order. */
export function listCommands(): Command[] {
  return [...registry.values()];
}

/** The top-level usage text. */
let usageTitle = "wgmesh — WireGuard mesh for Pulumi: plan, deploy over SSH, migrate, and the decentralized daemon";

/** The first line of the usage text (an entry point with fewer commands says so). */
export function setUsageTitle(title: string): void {
  usageTitle = title;
}

export function usageText(): string {
  const cmds = listCommands();
  const width = Math.max(8, ...cmds.map((c) => c.name.length));
  return [
    usageTitle,
    "",
    "Usage: wgmesh <command> [arguments]",
    "",
    "Commands:",
    ...cmds.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"help".padEnd(width)}  Show this text, or a command's usage: wgmesh help <command>`,
    "",
  ].join("\n");
}

/** The I/O of the running process. */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    readStdin: () =>
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        process.stdin.on("data", (c: Buffer) => chunks.push(c));
        process.stdin.on("end", () => resolve(Buffer.concat(chunks)));
        process.stdin.on("error", reject);
      }),
    env: process.env,
    cwd: process.cwd(),
    stdoutFd: 1,
  };
}

/** Thrown by commands for a user error: main prints the message (no stack) and exits 1. */
export class UsageError extends Error {
  constructor(message: string, readonly showUsage = false) {
    super(message);
    this.name = "UsageError";
  }
}
