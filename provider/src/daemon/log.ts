/**
 * Structured logs for the daemon: one logfmt line per event on stderr, in the shape of Go's slog text
 * handler (`time=… level=INFO msg="…" key=value`), so operators can grep both implementations alike.
 * Callers never pass secrets (mesh secret, private key, PSK) to the logger.
 */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function isLevel(s: string): s is Level {
  return s in ORDER;
}

function fmtValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return /^[A-Za-z0-9_.:/@+,\-[\]=]+$/.test(s) ? s : JSON.stringify(s);
}

export class Logger {
  constructor(private level: Level, private readonly write: (line: string) => void = (l) => process.stderr.write(l), private readonly nowMs: () => number = Date.now) {}

  setLevel(l: Level): void {
    this.level = l;
  }

  enabled(l: Level): boolean {
    return ORDER[l] >= ORDER[this.level];
  }

  log(l: Level, msg: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(l)) return;
    let line = `time=${new Date(this.nowMs()).toISOString()} level=${l.toUpperCase()} msg=${JSON.stringify(msg)}`;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${fmtValue(v)}`;
    this.write(`${line}\n`);
  }

  debug(msg: string, f?: Record<string, unknown>): void { this.log("debug", msg, f); }
  info(msg: string, f?: Record<string, unknown>): void { this.log("info", msg, f); }
  warn(msg: string, f?: Record<string, unknown>): void { this.log("warn", msg, f); }
  error(msg: string, f?: Record<string, unknown>): void { this.log("error", msg, f); }

  /** Adapter for the protocol modules' `LogFn`. */
  fn(): (level: "debug" | "info" | "warn", msg: string) => void {
    return (level, msg) => this.log(level, msg);
  }
}
