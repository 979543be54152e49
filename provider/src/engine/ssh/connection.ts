/**
 * Opening an SSH connection: the `Connection` arguments of @pulumi/command's `remote.Connection` (plain
 * values), dial retries (`dialErrorLimit`, `perDialTimeout`), host key verification, authentication, and one
 * optional bastion hop (`proxy`, tunnelled with a direct-tcpip channel; its host key verified too).
 */
import * as net from "node:net";
import { Client, type ClientChannel } from "ssh2";
import { buildAuthMethods, type AuthEnv, type AuthMethod } from "./auth";
import { SshError } from "./errors";
import { HostKeyVerifier, parsePinnedHostKey, type HostKeyPolicy } from "./hostkeys";
import { newCounters, type HostCounters } from "./counters";
import { silentLogger, type Logger } from "./log";
import { SshSession } from "./session";

/** The bastion of a connection: the same fields, without a further proxy (as @pulumi/command). */
export interface ProxyConnection {
  /** The address of the host to connect to. */
  host: string;
  /** Default 22. */
  port?: number;
  /** Default "root". */
  user?: string;
  password?: string;
  /** The contents of a private key (takes preference over the password). */
  privateKey?: string;
  /** Passphrase of an encrypted privateKey. */
  privateKeyPassword?: string;
  /** SSH agent socket; default $SSH_AUTH_SOCK when no other credential is given. */
  agentSocketPath?: string;
  /** Max dial errors before giving up; -1 = unlimited. Default 10. */
  dialErrorLimit?: number;
  /** Max seconds per dial attempt (TCP + handshake + auth); 0 = no maximum. Default 15. */
  perDialTimeout?: number;
  /** The expected host key ("ssh-ed25519 AAAA…" or the base64 blob). Without it, known_hosts is used. */
  hostKey?: string;
}

/** How to reach a host: exactly the fields of @pulumi/command's `remote.Connection`. */
export interface Connection extends ProxyConnection {
  /** One bastion hop. */
  proxy?: ProxyConnection;
}

export const CONNECTION_DEFAULTS = { port: 22, user: "root", dialErrorLimit: 10, perDialTimeout: 15 } as const;

type Resolved = ProxyConnection & { port: number; user: string; dialErrorLimit: number; perDialTimeout: number };

function resolve(c: ProxyConnection, field: string): Resolved {
  if (typeof c.host !== "string" || c.host.trim() === "") {
    throw new SshError("config", `${field}.host is empty`, "set the host name or address to connect to");
  }
  const r: Resolved = {
    ...c,
    host: c.host.trim(),
    port: c.port ?? CONNECTION_DEFAULTS.port,
    user: c.user ?? CONNECTION_DEFAULTS.user,
    dialErrorLimit: c.dialErrorLimit ?? CONNECTION_DEFAULTS.dialErrorLimit,
    perDialTimeout: c.perDialTimeout ?? CONNECTION_DEFAULTS.perDialTimeout,
  };
  if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
    throw new SshError("config", `${field}.port ${r.port} for host ${r.host} is not a TCP port`, "use 1-65535 (default 22)");
  }
  if (r.user === "") throw new SshError("config", `${field}.user for host ${r.host} is empty`, "set the login user (default root)");
  if (!Number.isInteger(r.dialErrorLimit) || r.dialErrorLimit < -1) {
    throw new SshError("config", `${field}.dialErrorLimit ${r.dialErrorLimit} for host ${r.host} is invalid`, "use -1 (unlimited) or a count ≥ 0 (default 10)");
  }
  if (!(r.perDialTimeout >= 0)) {
    throw new SshError("config", `${field}.perDialTimeout ${r.perDialTimeout} for host ${r.host} is invalid`, "use seconds ≥ 0 (0 = no maximum; default 15)");
  }
  return r;
}

export interface ConnectOptions {
  /** known_hosts file (default ~/.ssh/known_hosts); used for the target and the proxy unless they pin hostKey. */
  knownHostsPath?: string;
  /** Accept and record unknown host keys in knownHostsPath. Changed/revoked keys are refused regardless. */
  trustOnFirstUse?: boolean;
  logger?: Logger;
  /** Counters to add to (one object per host across an apply); a new one by default. */
  counters?: HostCounters;
  /** Delay before retry n (1-based), in ms. Default min(500·2^(n-1), 5000). */
  retryDelayMs?: (attempt: number) => number;
  /** Environment for credential defaults (HOME for ~/.ssh/id_*, SSH_AUTH_SOCK); default process.env. */
  env?: AuthEnv;
  /** SSH keepalive interval in ms (default 15000; 0 disables). */
  keepaliveIntervalMs?: number;
}

function defaultDelay(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 5000);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function who(c: Resolved): string {
  return `${c.user}@${c.host}:${c.port}`;
}

/** TCP connect with a deadline. */
function tcpConnect(c: Resolved, deadline: number | null): Promise<net.Socket> {
  return new Promise((resolveSock, reject) => {
    const sock = net.connect({ host: c.host, port: c.port });
    let timer: NodeJS.Timeout | undefined;
    if (deadline !== null) {
      timer = setTimeout(() => {
        sock.destroy();
        reject(new SshError("dial", `TCP connect to ${c.host}:${c.port} timed out after ${c.perDialTimeout}s`, ""));
      }, Math.max(1, deadline - Date.now()));
    }
    sock.once("connect", () => {
      if (timer) clearTimeout(timer);
      sock.removeAllListeners("error");
      sock.on("error", () => undefined); // ssh2 attaches its own handler; never an unhandled 'error'
      resolveSock(sock);
    });
    sock.once("error", (err) => {
      if (timer) clearTimeout(timer);
      reject(new SshError("dial", err.message, "", { cause: err }));
    });
  });
}

/** Open a direct-tcpip channel from the bastion to the target. */
function forwardThrough(bastion: Client, c: Resolved, deadline: number | null): Promise<ClientChannel> {
  return new Promise((resolveChan, reject) => {
    let timedOut = false;
    const timer = deadline === null ? undefined : setTimeout(() => {
      timedOut = true;
      reject(new SshError("proxy", `the proxy did not open a channel to ${c.host}:${c.port} within ${c.perDialTimeout}s`, ""));
    }, Math.max(1, deadline - Date.now()));
    bastion.forwardOut("127.0.0.1", 0, c.host, c.port, (err, stream) => {
      if (timer) clearTimeout(timer);
      if (timedOut) {
        stream?.destroy();
        return;
      }
      if (err) {
        reject(new SshError("proxy", `the proxy could not open a channel to ${c.host}:${c.port}: ${err.message}`, ""));
        return;
      }
      resolveChan(stream);
    });
  });
}

/** SSH handshake + host key check + auth over an established stream. */
function handshake(
  c: Resolved,
  sock: net.Socket | ClientChannel,
  verifier: HostKeyVerifier,
  methods: AuthMethod[],
  deadline: number | null,
  keepaliveIntervalMs: number,
): Promise<Client> {
  return new Promise((resolveClient, reject) => {
    const client = new Client();
    const tried: string[] = [];
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (e: SshError) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      client.removeAllListeners("ready");
      client.on("error", () => undefined); // late errors of a dead attempt
      client.end();
      sock.destroy();
      reject(e);
    };
    if (deadline !== null) {
      timer = setTimeout(() => fail(new SshError("dial", `SSH handshake with ${c.host}:${c.port} timed out after ${c.perDialTimeout}s`, "")),
        Math.max(1, deadline - Date.now()));
    }
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolveClient(client);
    });
    client.on("error", (err: Error & { level?: string }) => {
      if (verifier.error) return fail(verifier.error);
      if (err.level === "client-authentication") {
        return fail(new SshError("auth", `ssh ${who(c)}: authentication refused (tried: ${tried.join(", ") || "nothing"})`,
          `check the user name, that the public key is in ~${c.user}/.ssh/authorized_keys on ${c.host} ` +
            "(or the password, and that sshd allows that method), and privateKeyPassword for an encrypted key"));
      }
      return fail(new SshError("dial", `ssh ${who(c)}: ${err.message}`, ""));
    });
    client.on("close", () => fail(verifier.error ?? new SshError("dial", `ssh ${who(c)}: connection closed during the handshake`, "")));
    let next = 0;
    client.connect({
      sock,
      username: c.user,
      readyTimeout: 0, // our own deadline covers connect + handshake + auth
      keepaliveInterval: keepaliveIntervalMs,
      algorithms: { serverHostKey: verifier.algorithms() as never },
      hostVerifier: (key: Buffer) => verifier.verify(key),
      authHandler: (authsLeft, _partial, cb) => {
        while (next < methods.length) {
          const m = methods[next++]!;
          const type = m.entry.type;
          if (authsLeft !== null && authsLeft !== undefined && !authsLeft.includes(type)) continue;
          tried.push(m.describe);
          return cb(m.entry);
        }
        return cb(false as never);
      },
    });
  });
}

/** Retry `attempt` up to dialErrorLimit times (only for retryable errors). */
async function withRetries<T>(
  c: Resolved,
  field: string,
  opts: ConnectOptions,
  counters: HostCounters,
  attempt: (deadline: number | null) => Promise<T>,
): Promise<T> {
  const log = opts.logger ?? silentLogger;
  const delay = opts.retryDelayMs ?? defaultDelay;
  const limit = c.dialErrorLimit < 0 ? Infinity : Math.max(1, c.dialErrorLimit);
  let n = 0;
  let last: SshError | null = null;
  while (n < limit) {
    n++;
    counters.dialAttempts++;
    const deadline = c.perDialTimeout > 0 ? Date.now() + c.perDialTimeout * 1000 : null;
    try {
      return await attempt(deadline);
    } catch (e) {
      const err = e instanceof SshError ? e : new SshError("dial", (e as Error).message, "", { cause: e });
      if (!err.retryable) throw err;
      last = err;
      if (n >= limit) break;
      const d = delay(n);
      log("debug", `ssh ${who(c)}: attempt ${n} failed (${err.message}); retrying in ${d} ms`);
      await sleep(d);
    }
  }
  const tries = `${n} attempt${n === 1 ? "" : "s"}`;
  const limits = `${field}.dialErrorLimit ${c.dialErrorLimit}, perDialTimeout ${c.perDialTimeout}s`;
  if (last!.code === "auth") {
    throw new SshError("auth", `${last!.message.replace(/\. Fix:.*$/s, "")} (${tries}; ${limits})`, last!.fix);
  }
  throw new SshError(last!.code, `could not connect to ${who(c)} after ${tries} (${limits}): ${last!.message.replace(/\. Fix:.*$/s, "")}`,
    last!.code === "proxy"
      ? `check that the proxy host can reach ${c.host}:${c.port} (sshd running, firewall) and that the proxy's sshd allows TCP forwarding (AllowTcpForwarding yes)`
      : `check that ${c.host} is up and sshd listens on port ${c.port} (and no firewall drops it); for slow-booting hosts raise dialErrorLimit or perDialTimeout`);
}

/** Dial one hop: TCP (or a channel through `via`), then handshake; retried per the hop's own limits. */
async function dialHop(c: Resolved, field: string, opts: ConnectOptions, counters: HostCounters, via: Client | null) {
  const policy: HostKeyPolicy = { knownHostsPath: opts.knownHostsPath, trustOnFirstUse: opts.trustOnFirstUse };
  if (c.hostKey !== undefined && c.hostKey !== "") {
    try {
      parsePinnedHostKey(c.hostKey); // a malformed hostKey is a config error before any dial
    } catch (e) {
      const err = e as SshError;
      throw new SshError("config", `${field}.hostKey of host ${c.host}: ${err.message.replace(/\. Fix:.*$/s, "")}`, err.fix);
    }
    policy.hostKey = c.hostKey;
  }
  const log = opts.logger ?? silentLogger;
  const methods = buildAuthMethods(c, { ...opts.env, debug: (m) => log("debug", `ssh ${who(c)}: ${m}`) });
  return withRetries(c, field, opts, counters, async (deadline) => {
    const verifier = new HostKeyVerifier(c.host, c.port, policy);
    const sock = via === null ? await tcpConnect(c, deadline) : await forwardThrough(via, c, deadline);
    const reachedAddress = via === null ? ((sock as net.Socket).remoteAddress ?? c.host) : c.host;
    const client = await handshake(c, sock, verifier, methods, deadline, opts.keepaliveIntervalMs ?? 15000);
    counters.sshConnections++;
    log("debug", `ssh ${who(c)}: connected (${reachedAddress}${via ? " via proxy" : ""}; host key verified by ${verifier.acceptedBy})`);
    return { client, reachedAddress, verifiedBy: verifier.acceptedBy ?? "?" };
  });
}

/**
 * Connect to a host (through its proxy when given) and return the session. Rejects with an SshError whose
 * message names the host and the fix: `dial` after dialErrorLimit failures, `auth`, `host-key-*`, `config`.
 */
export async function connect(conn: Connection, opts: ConnectOptions = {}): Promise<SshSession> {
  const target = resolve(conn, "connection");
  const counters = opts.counters ?? newCounters();
  const logger = opts.logger ?? silentLogger;
  let bastion: Client | null = null;
  if (conn.proxy !== undefined) {
    const p = resolve(conn.proxy, "connection.proxy");
    bastion = (await dialHop(p, "connection.proxy", opts, counters, null)).client;
  }
  try {
    const hop = await dialHop(target, "connection", opts, counters, bastion);
    return new SshSession(hop.client, {
      host: target.host,
      port: target.port,
      user: target.user,
      reachedAddress: hop.reachedAddress,
      viaProxy: bastion !== null,
      hostKeyVerifiedBy: hop.verifiedBy,
    }, counters, logger, bastion ? [bastion] : []);
  } catch (e) {
    bastion?.end();
    throw e;
  }
}

/** Connect, run `fn` with the session, and always close it (the one-connection-per-host-per-apply shape). */
export async function withSession<T>(conn: Connection, opts: ConnectOptions, fn: (s: SshSession) => Promise<T>): Promise<T> {
  const session = await connect(conn, opts);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
