/**
 * Helpers for interop tests against the Go binary (../shared/peers/wgmesh-go, relative to the repo).
 * Tests skip with a clear message when it is absent.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
/** ../shared/peers/wgmesh-go next to the repository; WGMESH_GO_BINARY overrides it. */
export const GO_BINARY = process.env["WGMESH_GO_BINARY"] || path.resolve(REPO_ROOT, "../shared/peers/wgmesh-go");

/** undefined when the Go binary is present, else the reason to skip. */
export function goSkipReason(): string | undefined {
  try {
    fs.accessSync(GO_BINARY, fs.constants.X_OK);
    return undefined;
  } catch {
    return `Go reference binary not found at ${GO_BINARY} (interop tests need it; see ../shared/peers/README.md)`;
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runGo(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(GO_BINARY, args, { env, timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === "number" ? ((err as unknown as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** In-process run of one of our commands with captured output. */
export async function runOurs(run: (args: string[], io: import("../../provider/src/cli/commands").CliIO) => Promise<number>, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => Buffer.alloc(0),
    env,
    cwd: process.cwd(),
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

/** Go's log lines start with "YYYY/MM/DD HH:MM:SS "; drop that so outputs compare byte for byte. */
export function stripLogTime(s: string): string {
  return s.replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /gm, "");
}
