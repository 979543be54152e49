/**
 * Progress messages from inside a dynamic provider: the provider process is started by the engine with its
 * gRPC address as first argument, so messages go to the engine's `Log` RPC and show in `pulumi up` output
 * (as diagnostics). Outside such a process (tests, the plugin) messages go to the fallback sink.
 * Messages never carry secrets (the engine's loggers guarantee it).
 */
import type { Logger, LogLevel } from "../engine/ssh/log";

type EngineClient = { log(req: unknown, cb: (err: Error | null) => void): void };

let client: EngineClient | null | undefined;
const pending = new Set<Promise<void>>();

/** The engine address when this process is Pulumi's dynamic-provider host. */
export function dynamicProviderEngineAddress(argv = process.argv, mainFile = require.main?.filename ?? ""): string | null {
  if (!/dynamic-provider/.test(mainFile)) return null;
  const addr = argv[2];
  return addr && /^[\w.\-[\]:]+:\d+$/.test(addr) ? addr : null;
}

function engineClient(): EngineClient | null {
  if (client !== undefined) return client;
  const addr = dynamicProviderEngineAddress();
  if (!addr) return (client = null);
  try {
    const grpc = require("@grpc/grpc-js");
    const { EngineClient: Ctor } = require("@pulumi/pulumi/proto/engine_grpc_pb");
    client = new Ctor(addr, grpc.credentials.createInsecure()) as EngineClient;
  } catch {
    client = null;
  }
  return client;
}

const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 2 };

/** A logger writing to the engine (when there is one) and to `fallback`. */
export function engineLogger(fallback?: Logger): Logger {
  return (level, message) => {
    fallback?.(level, message);
    const c = engineClient();
    if (!c) return;
    const { LogRequest } = require("@pulumi/pulumi/proto/engine_pb");
    const req = new LogRequest();
    req.setSeverity(SEVERITY[level]);
    req.setMessage(`wgmesh ${message}`);
    req.setEphemeral(false);
    const p = new Promise<void>((resolve) => c.log(req, () => resolve()));
    pending.add(p);
    void p.then(() => pending.delete(p));
  };
}

/** Wait until every message sent so far reached the engine. */
export async function flushEngineLog(): Promise<void> {
  await Promise.all([...pending]);
}
