// Running host processes for the testbed: argv arrays only (no shell), captured output, clear errors.
import { spawn } from "node:child_process";

export interface RunOptions {
  input?: string | Buffer;
  /** Throw when the exit code is not 0 (default true). */
  check?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(
      `command failed (exit ${result.code}): ${argv.join(" ")}` +
        (result.stderr.trim() ? `\n${result.stderr.trim().split("\n").slice(-15).join("\n")}` : ""),
    );
    this.name = "CommandError";
  }
}

/** Runs argv[0] with the rest as arguments and resolves with its exit code and output. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, opts.timeoutMs);
    }
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot start ${argv[0]}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const result: RunResult = {
        code: code ?? (signal ? 128 + 9 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (timedOut ? `\n(timed out after ${opts.timeoutMs} ms)` : ""),
      };
      if ((opts.check ?? true) && result.code !== 0) reject(new CommandError(argv, result));
      else resolve(result);
    });
    child.stdin.on("error", () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Progress goes to stderr only: stdout of the CLI carries exactly one JSON document. */
export function log(msg: string): void {
  if (process.env.TESTBED_QUIET === "1") return;
  process.stderr.write(`[testbed ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs fn over items with at most `limit` in flight; rejects with the first error after all settle. */
export async function parallel<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const errors: unknown[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        errors.push(e);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length) throw errors[0];
  return results;
}
