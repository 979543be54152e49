/**
 * The outside world of a command-line front door: its standard streams, standard input, environment and
 * working directory — injectable, so commands run in-process in tests. It lives here, in the lowest layer
 * whose code takes it (the daemon's `join` and `install-service` run as commands); the CLI's `CliIO`
 * (cli/commands.ts) is this type.
 */
export interface CommandIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  /** All of standard input as bytes (read on demand). */
  readStdin(): Promise<Buffer>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** File descriptor behind `stdout`, when it is a real one (lets `genkey` warn like `wg genkey`). */
  stdoutFd?: number;
}
