/**
 * Progress of the lifecycles through the engine's Log RPC, attached to the resource (its URN), so
 * `pulumi up` shows per resource what happens on its host. Messages never carry secrets (the engine's
 * loggers guarantee it). Without an engine address (unit tests) messages go nowhere.
 */
import type { Logger, LogLevel } from "../engine/ssh/log";

type EngineClient = { log(req: unknown, cb: (err: Error | null) => void): void };

const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export class EngineLog {
  private client: EngineClient | null = null;
  private readonly pending = new Set<Promise<void>>();

  constructor(engineAddress: string | undefined) {
    if (!engineAddress) return;
    const grpc = require("@grpc/grpc-js");
    const { EngineClient: Ctor } = require("@pulumi/pulumi/proto/engine_grpc_pb");
    this.client = new Ctor(engineAddress, grpc.credentials.createInsecure()) as EngineClient;
  }

  /** A logger for one resource. */
  forResource(urn: string): Logger {
    return (level, message) => {
      const c = this.client;
      if (!c) return;
      const { LogRequest } = require("@pulumi/pulumi/proto/engine_pb");
      const req = new LogRequest();
      // Errors are what the failed operation reports; progress stays below warning.
      req.setSeverity(Math.min(SEVERITY[level], 2));
      req.setMessage(message);
      req.setUrn(urn);
      req.setEphemeral(false);
      const p = new Promise<void>((resolve) => c.log(req, () => resolve()));
      this.pending.add(p);
      void p.then(() => this.pending.delete(p));
    };
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
