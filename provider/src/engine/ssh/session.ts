/**
 * One open SSH connection to one host, used for a whole apply. `run()` sends a complete shell script on the
 * exec channel's STDIN to `sh -s` (as root directly, otherwise through `sudo -n`), so nothing of the script
 * — secrets included — ever appears in a process's argv on the host. Each `run()` is one exec round trip.
 */
import { randomBytes } from "node:crypto";
import type { Client, ClientChannel } from "ssh2";
import { shellCommand, shellQuote } from "../../planner/shell";
import { SshError } from "./errors";
import type { HostCounters } from "./counters";
import { silentLogger, type Logger } from "./log";

export interface RunOptions {
  /**
   * Text handed to the script as its standard input (delivered as a quoted here-document inside the stdin
   * stream: never in argv; a trailing newline is added when missing; no NUL bytes). Without it the script's
   * stdin is /dev/null, so no command inside can swallow the script text.
   */
  stdin?: string;
  /** Run as root through `sudo -n` (default: when the connection's user is not root). */
  sudo?: boolean;
  /** Short description for logs ("facts", "apply wg0"). Never put secrets here. */
  label?: string;
  /**
   * When given, the debug log shows `redact(script)` (it must remove every secret). By default only a summary
   * (label, size) is logged, never the script body, its stdin, stdout or stderr.
   */
  redact?: (script: string) => string;
  /**
   * Reject after this many milliseconds, sending SIGKILL to the remote shell and closing the channel; default
   * no limit. Commands the shell already started may run to their end (no pty, so no process-group kill).
   */
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** The script's exit status; null when it died from a signal or the channel closed without a status. */
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
}

/** Exit status and stderr prefix the sudo wrapper uses when it cannot become root. */
const SUDO_FAILED_STATUS = 125;
const SUDO_FAILED_MARK = "wgmesh-sudo-failed:";

/**
 * The remote command: a POSIX `sh` (independent of the user's login shell), through `sudo -n` when asked.
 * `inner` is the command to run: `sh -s` (the script arrives on stdin) unless given.
 */
export function execCommand(sudo: boolean, inner = "sh -s"): string {
  if (!sudo) return inner;
  const wrapper =
    `command -v sudo >/dev/null 2>&1 || { echo ${shellQuote(`${SUDO_FAILED_MARK} sudo is not installed`)} >&2; exit ${SUDO_FAILED_STATUS}; }; ` +
    `out=$(sudo -n true 2>&1) || { printf '%s %s\\n' ${shellQuote(SUDO_FAILED_MARK)} "$out" >&2; exit ${SUDO_FAILED_STATUS}; }; ` +
    `exec sudo -n ${inner}`;
  return shellCommand("sh", "-c", wrapper);
}

/**
 * Wrap a script for `sh -s`: one `{ … }` group, so the shell parses ALL of it before running any of it (a
 * connection cut mid-transfer runs nothing), with its stdin bound to the given text or /dev/null.
 */
export function wrapScript(script: string, stdin?: string): string {
  const body = script.endsWith("\n") ? script : script + "\n";
  if (body.includes("\0")) throw new SshError("config", "a remote script cannot contain NUL bytes", "");
  if (stdin === undefined) return `{\n${body}} </dev/null\n`;
  if (stdin.includes("\0")) throw new SshError("config", "the stdin of a remote script cannot contain NUL bytes", "");
  const data = stdin.endsWith("\n") ? stdin : stdin + "\n";
  let mark: string;
  do mark = `WGMESH_STDIN_${randomBytes(8).toString("hex")}`;
  while (data.split("\n").includes(mark));
  return `{\n${body}} <<'${mark}'\n${data}${mark}\n`;
}

export interface SessionInfo {
  host: string;
  port: number;
  user: string;
  /** The address the SSH connection reached (TCP peer of a direct dial; the target host via a proxy). */
  reachedAddress: string;
  viaProxy: boolean;
  /** How the host key was verified ("hostKey", "<known_hosts>:<line>", "trust-on-first-use"). */
  hostKeyVerifiedBy: string;
}

export class SshSession {
  readonly info: SessionInfo;
  readonly counters: HostCounters;
  private closed = false;
  private lostReason: string | null = null;
  private readonly log: Logger;
  private readonly closedAll: Array<Promise<void>>;

  constructor(
    private readonly client: Client,
    info: SessionInfo,
    counters: HostCounters,
    logger: Logger = silentLogger,
    /** Extra connections to close with this one (the proxy hop). */
    private readonly underlying: Client[] = [],
  ) {
    this.info = info;
    this.counters = counters;
    this.log = logger;
    client.on("error", (err: Error) => {
      this.lostReason = err.message;
      this.log("debug", `ssh ${this.who}: connection error: ${err.message}`);
    });
    client.on("close", () => {
      if (!this.closed) this.lostReason ??= "connection closed by the host";
      this.closed = true;
    });
    for (const hop of underlying) {
      hop.on("error", (err: Error) => this.log("debug", `ssh ${this.who}: proxy connection error: ${err.message}`));
    }
    this.closedAll = [client, ...underlying].map((c) => new Promise<void>((resolve) => c.once("close", () => resolve())));
  }

  get who(): string {
    return `${this.info.user}@${this.info.host}:${this.info.port}`;
  }

  /** Whether privileged runs go through sudo by default. */
  get usesSudo(): boolean {
    return this.info.user !== "root";
  }

  /** Run one batched script (one exec round trip). Resolves with its output and status; rejects on SSH/sudo failure. */
  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    const sudo = opts.sudo ?? this.usesSudo;
    const payload = wrapScript(script, opts.stdin);
    const shown = opts.redact ? `:\n${opts.redact(script)}` : "";
    return this.exec(execCommand(sudo), sudo, opts.label ?? "script", `${Buffer.byteLength(script)} bytes`, shown, opts.timeoutMs,
      (channel) => channel.end(payload));
  }

  /**
   * Stream bytes (e.g. a binary file, never a secret) into the stdin of ONE fixed shell command on the host:
   * `sh -c <command>` (as root, or through `sudo -n`). `command` is built by the caller with shellQuote and is
   * visible in the host's process list, so it must hold no secret. One exec round trip.
   */
  async pipe(command: string, source: NodeJS.ReadableStream, opts: Omit<RunOptions, "stdin" | "redact"> & { bytes?: number } = {}): Promise<RunResult> {
    const sudo = opts.sudo ?? this.usesSudo;
    const size = opts.bytes === undefined ? "a stream" : `${opts.bytes} bytes`;
    return this.exec(execCommand(sudo, shellCommand("sh", "-c", command)), sudo, opts.label ?? "upload", `${size} on stdin`, `: ${command}`, opts.timeoutMs,
      (channel) => {
        source.on("error", (e: Error) => {
          this.log("debug", `ssh ${this.who}: local read failed during upload: ${e.message}`);
          channel.close();
        });
        source.pipe(channel);
      });
  }

  private async exec(command: string, sudo: boolean, label: string, size: string, shown: string, timeoutMs: number | undefined,
    feed: (channel: ClientChannel) => void): Promise<RunResult> {
    if (this.closed) {
      throw new SshError("closed", `ssh ${this.who}: session is closed${this.lostReason ? ` (${this.lostReason})` : ""}`,
        "open a new session (re-run the apply)");
    }
    this.counters.execRoundTrips++;
    this.log("debug", `ssh ${this.who}: run ${label} (${size}${sudo ? ", sudo" : ""}, exec #${this.counters.execRoundTrips})${shown}`);
    const started = Date.now();
    const result = await new Promise<RunResult>((resolve, reject) => {
      this.client.exec(command, (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          if (this.lostReason !== null || /No response from server|Not connected/i.test(err.message)) {
            // The connection died before the shell started: the script was never sent, nothing of it ran.
            reject(new SshError("closed", `ssh ${this.who}: connection lost before ${label} started (${this.lostReason ?? err.message}); nothing of it ran`,
              "re-run once the host is reachable again: the engine's steps converge"));
            return;
          }
          reject(new SshError("exec", `ssh ${this.who}: cannot start a remote shell: ${err.message}`,
            "check that the host allows exec sessions (sshd MaxSessions, ForceCommand) and that its shell is POSIX sh"));
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let exitCode: number | null = null;
        let signal: string | null = null;
        let timer: NodeJS.Timeout | undefined;
        let timedOut = false;
        if (timeoutMs !== undefined && timeoutMs > 0) {
          timer = setTimeout(() => {
            timedOut = true;
            try {
              channel.signal("KILL"); // OpenSSH ≥ 7.9 delivers it to the remote shell
            } catch {
              /* channel already closing */
            }
            channel.close();
            reject(new SshError("exec", `ssh ${this.who}: ${label} did not finish within ${timeoutMs} ms and was aborted`,
              "look at the host (a hung package manager or a lock) and re-run"));
          }, timeoutMs);
        }
        channel.on("data", (d: Buffer) => out.push(d));
        channel.stderr.on("data", (d: Buffer) => errOut.push(d));
        channel.on("exit", (code: number | null, sig?: string) => {
          exitCode = typeof code === "number" ? code : null;
          signal = sig ?? null;
        });
        channel.on("close", () => {
          if (timer) clearTimeout(timer);
          if (timedOut) return; // already rejected
          if (exitCode === null && signal === null && this.lostReason !== null) {
            reject(new SshError("closed", `ssh ${this.who}: connection lost during ${label} (${this.lostReason}); ` +
              "it may have run partly (a script cut during transfer runs not at all)", "re-run: the engine's steps converge"));
            return;
          }
          resolve({
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(errOut).toString("utf8"),
            exitCode,
            signal,
            durationMs: Date.now() - started,
          });
        });
        feed(channel);
      });
    });
    this.log("debug", `ssh ${this.who}: ${label} exited ${result.exitCode ?? `by signal ${result.signal}`} in ${result.durationMs} ms ` +
      `(stdout ${result.stdout.length} bytes, stderr ${result.stderr.length} bytes)`);
    if (sudo && result.exitCode === SUDO_FAILED_STATUS) {
      const line = result.stderr.split("\n").find((l) => l.startsWith(SUDO_FAILED_MARK));
      if (line !== undefined) {
        const why = line.slice(SUDO_FAILED_MARK.length).trim();
        const u = this.info.user;
        throw new SshError("sudo",
          `user ${u} on host ${this.info.host} needs passwordless sudo (sudo -n failed: ${why})`,
          /not installed/.test(why)
            ? `install sudo on the host and add '${u} ALL=(ALL) NOPASSWD:ALL' to /etc/sudoers.d/${u} (visudo -f), or connect as root`
            : /tty/.test(why)
            ? `add 'Defaults:${u} !requiretty' and '${u} ALL=(ALL) NOPASSWD:ALL' to /etc/sudoers.d/${u} on the host (visudo -f), or connect as root`
            : `add '${u} ALL=(ALL) NOPASSWD:ALL' to /etc/sudoers.d/${u} on the host (visudo -f /etc/sudoers.d/${u}), or connect as root`);
      }
    }
    return result;
  }

  /** Close the connection (and the proxy hop). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of [this.client, ...this.underlying]) {
      try {
        c.end();
      } catch {
        /* already gone */
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.closedAll),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000))),
    ]);
    if (timer) clearTimeout(timer);
  }
}
