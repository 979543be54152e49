/**
 * Progress messages to the engine's `Log` RPC, attached to the resource they belong to (its URN), so
 * `pulumi up` shows them under that resource's row ("[web1] connecting to root@…", "installing
 * wireguard-tools", "3 operation(s) applied"). Used by the dynamic providers (whose process the engine starts
 * with its address as first argument; ./dynamic.ts) and by the provider plugin (../plugin/provider.ts).
 * Messages never carry secrets (the engine's loggers guarantee it). Without an engine (tests, the CLI)
 * messages go nowhere but to the optional fallback sink.
 */
import type { Logger, LogLevel } from "../engine/ssh/log";

type EngineClient = { log(req: unknown, cb: (err: Error | null) => void): void };

/** Errors are what the failed operation reports itself: progress stays below error (an error log fails the step). */
const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 2 };

/** The engine address when this process is Pulumi's dynamic-provider host. */
export function dynamicProviderEngineAddress(argv = process.argv, mainFile = require.main?.filename ?? ""): string | null {
  if (!/dynamic-provider/.test(mainFile)) return null;
  const addr = argv[2];
  return addr && /^[\w.\-[\]:]+:\d+$/.test(addr) ? addr : null;
}

export class EngineLog {
  private readonly client: EngineClient | null = null;
  private readonly pending = new Set<Promise<void>>();

  constructor(engineAddress: string | null | undefined) {
    if (!engineAddress) return;
    try {
      const grpc = require("@grpc/grpc-js");
      const { EngineClient: Ctor } = require("@pulumi/pulumi/proto/engine_grpc_pb");
      this.client = new Ctor(engineAddress, grpc.credentials.createInsecure()) as EngineClient;
    } catch {
      this.client = null;
    }
  }

  /**
   * A logger for the resource `urn`. Without a URN (a resource whose state predates it) only warnings go to
   * the engine, at stack level: progress without its row would be noise. `fallback` sees every message.
   */
  forResource(urn: string | undefined, fallback?: Logger): Logger {
    return (level, message) => {
      fallback?.(level, message);
      const c = this.client;
      if (!c || (!urn && SEVERITY[level] < SEVERITY.warn)) return;
      const { LogRequest } = require("@pulumi/pulumi/proto/engine_pb");
      const req = new LogRequest();
      req.setSeverity(SEVERITY[level]);
      req.setMessage(message);
      if (urn) req.setUrn(urn);
      req.setEphemeral(false);
      const p = new Promise<void>((resolve) => c.log(req, () => resolve()));
      this.pending.add(p);
      void p.then(() => this.pending.delete(p));
    };
  }

  /** Wait until every message sent so far reached the engine. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
