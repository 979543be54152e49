/**
 * Run a POSIX sh script locally with the script on stdin (`sh -s`), never as `sh -c SCRIPT`: secrets
 * inside its here-documents stay off every process's argv. Scripts are built by the planner
 * (`planner/commands.ts`, `planner/shell.ts`), so every word is quoted there.
 */
import { spawn } from "node:child_process";

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runSh(script: string, timeoutMs = 20_000): Promise<ShResult> {
  return new Promise((resolve) => {
    const c = spawn("sh", ["-s"], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    c.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    c.stdin.on("error", () => undefined);
    c.stdin.end(script);
  });
}
