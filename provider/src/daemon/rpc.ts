/**
 * Control RPC (§6.1–6.3): newline-delimited JSON-RPC 2.0 over a unix stream socket.
 * Server: methods peers.list / peers.get / peers.count / daemon.status / daemon.ping with the Go daemon's
 * exact result JSON and error codes; socket mode 0600; a stale socket is removed (anything else at the
 * path is refused). Client: one connection, ids from 2 like the Go client.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { goInt, goJsonValue, goObject, goString, goStringArray } from "./gojson";
import { PeerRecord } from "./store";
import { rfc3339Local } from "./timefmt";

export const ERR_PARSE = -32700;
export const ERR_INVALID_REQUEST = -32600;
export const ERR_METHOD_NOT_FOUND = -32601;
export const ERR_INVALID_PARAMS = -32602;
export const ERR_INTERNAL = -32603;
/** Longest request line we buffer before closing the connection (Go's scanner stops at 64 KiB). */
export const MAX_LINE_BYTES = 65536;

export interface PeerInfo {
  pubkey: string;
  hostname?: string;
  mesh_ip: string;
  endpoint: string;
  /** Unix ms; written as RFC 3339 in the local zone. */
  last_seen_ms: number;
  discovered_via: string[];
  routable_networks?: string[];
  latency_ms?: number;
}

export interface DaemonStatus {
  mesh_ip: string;
  pubkey: string;
  uptime_ns: number;
  interface: string;
}

export interface RpcHandlers {
  listPeers(): PeerInfo[];
  getPeer(pubkey: string): PeerInfo | undefined;
  counts(): { active: number; total: number; dead: number };
  /** undefined before the daemon is initialised (→ -32603 "daemon status unavailable"). */
  status(): DaemonStatus | undefined;
  /** Our extension `daemon.drops` (Go answers -32601): dropped inbound messages by reason. */
  drops?(): Record<string, number>;
}

export function peerInfoFromRecord(p: PeerRecord): PeerInfo {
  const info: PeerInfo = {
    pubkey: p.wg_pubkey, mesh_ip: p.mesh_ip, endpoint: p.endpoint, last_seen_ms: p.last_seen_ms, discovered_via: [...p.discovered_via],
  };
  if (p.hostname) info.hostname = p.hostname;
  if (p.routable_networks.length) info.routable_networks = [...p.routable_networks];
  if (p.latency_ms !== undefined) info.latency_ms = p.latency_ms;
  return info;
}

export function encodePeerInfo(p: PeerInfo): string {
  const m: [string, string][] = [["pubkey", goString(p.pubkey)]];
  if (p.hostname) m.push(["hostname", goString(p.hostname)]);
  m.push(["mesh_ip", goString(p.mesh_ip)], ["endpoint", goString(p.endpoint)], ["last_seen", goString(rfc3339Local(p.last_seen_ms))]);
  m.push(["discovered_via", goStringArray(p.discovered_via)]);
  if (p.routable_networks && p.routable_networks.length) m.push(["routable_networks", goStringArray(p.routable_networks)]);
  if (p.latency_ms !== undefined) m.push(["latency_ms", goInt(Math.round(p.latency_ms))]);
  return goObject(m);
}

/** The id as Go echoes it (any JSON value; absent → null). */
function encodeId(id: unknown): string {
  return goJsonValue(id);
}

function errorLine(code: number, message: string, id: unknown): string {
  return `{"jsonrpc":"2.0","error":${goObject([["code", String(code)], ["message", goString(message)]])},"id":${encodeId(id)}}`;
}

function resultLine(result: string, id: unknown): string {
  return `{"jsonrpc":"2.0","result":${result},"id":${encodeId(id)}}`;
}

/** Answer one request line (without the newline). Pure apart from calling the handlers. */
export function handleRequestLine(line: string, h: RpcHandlers, version: string): string {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return errorLine(ERR_PARSE, `failed to parse request: ${e instanceof Error ? e.message : "invalid JSON"}`, null);
  }
  if (typeof req !== "object" || req === null || Array.isArray(req)) {
    return errorLine(ERR_PARSE, "failed to parse request: request is not a JSON object", null);
  }
  const r = req as Record<string, unknown>;
  const badType = (k: string, t: string): boolean => r[k] !== undefined && r[k] !== null && typeof r[k] !== t;
  const params = r["params"];
  if (badType("jsonrpc", "string") || badType("method", "string") || (params !== undefined && params !== null && (typeof params !== "object" || Array.isArray(params)))) {
    return errorLine(ERR_PARSE, "failed to parse request: member of the wrong type", null);
  }
  const id = r["id"];
  if (r["jsonrpc"] !== "2.0") return errorLine(ERR_INVALID_REQUEST, "invalid jsonrpc version, must be 2.0", id);
  const p = (params ?? {}) as Record<string, unknown>;
  const method = (r["method"] ?? "") as string;
  try {
    switch (method) {
      case "peers.list":
        return resultLine(`{"peers":[${h.listPeers().map(encodePeerInfo).join(",")}]}`, id);
      case "peers.get": {
        const key = p["pubkey"];
        if (typeof key !== "string" || key === "") return errorLine(ERR_INVALID_PARAMS, "missing or invalid 'pubkey' parameter", id);
        const peer = h.getPeer(key);
        if (!peer) return errorLine(ERR_INVALID_PARAMS, `peer not found: ${key}`, id);
        return resultLine(encodePeerInfo(peer), id);
      }
      case "peers.count": {
        const c = h.counts();
        return resultLine(goObject([["active", goInt(c.active)], ["total", goInt(c.total)], ["dead", goInt(c.dead)]]), id);
      }
      case "daemon.status": {
        const s = h.status();
        if (!s) return errorLine(ERR_INTERNAL, "daemon status unavailable", id);
        return resultLine(goObject([
          ["mesh_ip", goString(s.mesh_ip)], ["pubkey", goString(s.pubkey)], ["uptime", goInt(Math.round(s.uptime_ns))],
          ["interface", goString(s.interface)], ["version", goString(version)],
        ]), id);
      }
      case "daemon.drops": {
        if (!h.drops) return errorLine(ERR_METHOD_NOT_FOUND, `method not found: ${method}`, id);
        const d = h.drops();
        return resultLine(goObject(Object.keys(d).sort().map((k) => [k, goInt(d[k] as number)])), id);
      }
      case "daemon.ping":
        return resultLine(`{"pong":true,"version":${goString(version)}}`, id);
      default:
        return errorLine(ERR_METHOD_NOT_FOUND, `method not found: ${method}`, id);
    }
  } catch {
    return errorLine(ERR_INTERNAL, "internal error", id);
  }
}

// ----------------------------------------------------------------------------------------------
// Socket paths

function isWritableDir(dir: string): boolean {
  try {
    if (!fs.statSync(dir).isDirectory()) return false;
    const probe = fs.mkdtempSync(path.join(dir, ".wgmesh-test-"));
    fs.rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** Fallback chain shared by server and client: /var/run if writable, $XDG_RUNTIME_DIR, /tmp. */
export function defaultSocketPath(env: NodeJS.ProcessEnv, writable: (dir: string) => boolean = isWritableDir): string {
  if (writable("/var/run")) return "/var/run/wgmesh.sock";
  const xdg = env["XDG_RUNTIME_DIR"];
  if (xdg) return path.join(xdg, "wgmesh.sock");
  return "/tmp/wgmesh.sock";
}

/** Server: --socket-path, else WGMESH_SOCKET, else the fallbacks. */
export function serverSocketPath(flag: string | undefined, env: NodeJS.ProcessEnv, writable?: (dir: string) => boolean): string {
  if (flag) return flag;
  return clientSocketPath(env, writable);
}

/** Client (`peers …`, no flag): WGMESH_SOCKET, else the fallbacks. */
export function clientSocketPath(env: NodeJS.ProcessEnv, writable?: (dir: string) => boolean): string {
  const e = env["WGMESH_SOCKET"];
  if (e) return e;
  return defaultSocketPath(env, writable);
}

// ----------------------------------------------------------------------------------------------
// Server

export class RpcServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly socketPath: string, private readonly handlers: RpcHandlers, private readonly version: string) {}

  async start(): Promise<void> {
    try {
      const st = fs.lstatSync(this.socketPath);
      if (!st.isSocket()) throw new Error(`path exists but is not a socket: ${this.socketPath} (remove it or choose another --socket-path)`);
      fs.unlinkSync(this.socketPath); // stale socket from an earlier run
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    fs.mkdirSync(path.dirname(this.socketPath), { recursive: true, mode: 0o755 });
    const server = net.createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // the bind happens synchronously inside listen(): with this umask the socket is born 0600
      const oldMask = process.umask(0o177);
      try {
        server.listen(this.socketPath, () => {
          server.off("error", reject);
          resolve();
        });
      } finally {
        process.umask(oldMask);
      }
    });
    fs.chmodSync(this.socketPath, 0o600);
    this.server = server;
  }

  private serve(sock: net.Socket): void {
    this.sockets.add(sock);
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        sock.write(`${handleRequestLine(line, this.handlers, this.version)}\n`);
      }
      if (Buffer.byteLength(buf) > MAX_LINE_BYTES) sock.destroy();
    });
    sock.on("error", () => undefined);
    sock.on("close", () => this.sockets.delete(sock));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.sockets) c.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
  }
}

// ----------------------------------------------------------------------------------------------
// Client

export class RpcError extends Error {
  constructor(readonly code: number, readonly rpcMessage: string) {
    super(`RPC error ${code}: ${rpcMessage}`);
  }
}

function describeConnectError(socketPath: string, e: NodeJS.ErrnoException): string {
  const reason: Record<string, string> = {
    ENOENT: "no such file or directory", ECONNREFUSED: "connection refused", EACCES: "permission denied", ENOTSOCK: "socket operation on non-socket",
  };
  return `failed to connect to socket: dial unix ${socketPath}: connect: ${reason[e.code ?? ""] ?? e.message}`;
}

export class RpcClient {
  private nextId = 1;
  private buf = "";
  private readonly waiters: ((line: string | undefined) => void)[] = [];
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding("utf8");
    sock.on("data", (c: string) => {
      this.buf += c;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiters.shift()?.(line);
      }
    });
    const end = (): void => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    sock.on("close", end);
    sock.on("error", end);
  }

  static connect(socketPath: string): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socketPath);
      s.once("connect", () => {
        s.removeAllListeners("error");
        resolve(new RpcClient(s));
      });
      s.once("error", (e: NodeJS.ErrnoException) => reject(new Error(describeConnectError(socketPath, e))));
    });
  }

  /** Call a method; resolves to the parsed result or rejects with RpcError / a transport error. */
  async call(method: string, params?: Record<string, unknown>): Promise<unknown> {
    this.nextId += 1;
    const members: [string, string][] = [["jsonrpc", '"2.0"'], ["method", goString(method)]];
    if (params && Object.keys(params).length) members.push(["params", JSON.stringify(params)]);
    members.push(["id", String(this.nextId)]);
    if (this.closed) throw new Error("failed to read response: EOF");
    const line = await new Promise<string | undefined>((resolve) => {
      this.waiters.push(resolve);
      this.sock.write(`${goObject(members)}\n`);
    });
    if (line === undefined) throw new Error("failed to read response: EOF");
    let resp: { result?: unknown; error?: { code?: unknown; message?: unknown } };
    try {
      resp = JSON.parse(line) as typeof resp;
    } catch {
      throw new Error("failed to decode response: invalid JSON");
    }
    if (resp.error) throw new RpcError(Number(resp.error.code), String(resp.error.message));
    return resp.result;
  }

  close(): void {
    this.sock.destroy();
  }
}
