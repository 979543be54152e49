/**
 * DecentralizedNode: one host running the decentralized daemon (`wgmesh join` as wgmesh.service), installed
 * over SSH by the engine (engine/daemon.ts): the self-contained `wgmesh` executable, the mesh secret in a
 * 0600 file, the unit. The daemon makes its own WireGuard key on the host (it never leaves) and finds its
 * peers from the secret; this resource reports the node's mesh IP and public key.
 *
 * Changing advertised routes or the log level is applied live (reload file + SIGHUP, no restart); any
 * other option or the secret rewrites the unit/secret and restarts the daemon (the node's tunnels drop for
 * the restart; its key stays, and its mesh IP too unless the secret changed). Another host replaces the resource (the old host
 * is cleaned first). Refresh notices a binary, unit or secret changed by hand, or a stopped service, and the
 * next `up` repairs it.
 */
import { installDaemon, readDaemon, removeDaemon, PLANNED_DAEMON_STATE, type DaemonArtifact, type DaemonHostState } from "../../engine/daemon";
import { locateDaemonArtifact } from "../../daemon/artifact";
import { parseDaemonOptions, type DaemonOptions } from "../../daemon/options";
import type { Connection } from "../../engine/ssh/connection";
import { isDnsLabel, isHost } from "../../core/names";
import { absent, compact, containsUnknown, deepEqual, sshOptions, withoutUnknowns } from "./common";
import { UNKNOWN, type CheckFailure, type Lifecycle, type LifecycleContext } from "./types";

export interface DecentralizedNodeInputs extends DaemonOptions {
  /** Name of the node in logs and errors (default: the resource name). */
  hostname: string;
  /** SSH connection: exactly @pulumi/command's remote.ConnectionArgs (secret). */
  connection: Connection;
  /** The mesh secret (secret), e.g. a MeshSecret's `secret`. */
  secret: string;
}

export interface DecentralizedNodeOutputs extends DecentralizedNodeInputs {
  /** The node's WireGuard public key (its private key stays on the host). */
  publicKey: string;
  /** The node's IPv4 address in the mesh. */
  meshIp: string;
  meshIpv6: string | null;
  /** SHA-256 of the daemon executable installed. */
  daemonSha256: string;
  /** How the host's daemon compares with the plan (read at create/update/refresh). */
  hostState: DaemonHostState;
}

const OPTION_KEYS = ["interfaceName", "listenPort", "advertiseRoutes", "gossip", "lanDiscovery", "dht", "dhtBootstrap", "meshSubnet", "logLevel"] as const;

function optionsOf(i: DaemonOptions): DaemonOptions {
  const o: DaemonOptions = {};
  for (const k of OPTION_KEYS) if (!absent(i[k])) (o as Record<string, unknown>)[k] = i[k];
  return o;
}

function who(i: { hostname?: unknown }): string {
  return `decentralized node ${JSON.stringify(typeof i.hostname === "string" ? i.hostname : "?")}`;
}

export function checkDecentralizedNode(news: DecentralizedNodeInputs): CheckFailure[] {
  const n = withoutUnknowns(news);
  const failures: CheckFailure[] = [];
  if (typeof n.hostname !== "string" || !isDnsLabel(n.hostname)) {
    failures.push({ property: "hostname", reason: `${who(n)}: hostname must be a DNS label (letters, digits, '-', at most 63 characters); rename the resource or set hostname` });
  }
  if (!containsUnknown(news.connection)) {
    const c = (n.connection ?? {}) as Partial<Connection>;
    if (!isHost(c.host)) failures.push({ property: "connection", reason: `${who(n)}: connection.host ${JSON.stringify(c.host ?? null)} is not a host name or IP address; set it to the address sshd listens on` });
    if (c.port !== undefined && c.port !== null && (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)) failures.push({ property: "connection", reason: `${who(n)}: connection.port ${c.port} is not a TCP port (1-65535)` });
  }
  if (absent(news.secret)) failures.push({ property: "secret", reason: `${who(n)}: secret is missing; pass a MeshSecret's secret output (or 'wgmesh init --secret')` });
  const secret = absent(news.secret) || containsUnknown(news.secret) ? undefined : (news.secret as string);
  const opts = optionsOf(news);
  if (!containsUnknown(opts)) {
    const r = parseDaemonOptions(opts, secret);
    if ("problem" in r) failures.push({ property: r.problem.property, reason: `${who(n)}: ${r.problem.message}` });
  }
  return failures;
}

function artifact(): DaemonArtifact {
  return locateDaemonArtifact();
}

function outputs(i: DecentralizedNodeInputs, r: { publicKey: string; meshIp: string; meshIpv6: string | null; state: DaemonHostState }, sha: string): DecentralizedNodeOutputs {
  return compact({ ...i, publicKey: r.publicKey, meshIp: r.meshIp, meshIpv6: r.meshIpv6, daemonSha256: sha, hostState: r.state });
}

async function converge(i: DecentralizedNodeInputs, ctx: LifecycleContext): Promise<DecentralizedNodeOutputs> {
  const art = artifact();
  const r = await installDaemon({ node: i.hostname, connection: i.connection, secret: i.secret, options: optionsOf(i), artifact: art }, sshOptions(ctx));
  return outputs(i, r, art.sha256);
}

export const decentralizedNodeLifecycle: Lifecycle<DecentralizedNodeInputs, DecentralizedNodeOutputs> = {
  async check(_olds, news) {
    return { inputs: news, failures: checkDecentralizedNode(news) };
  },

  async diff(_id, olds, news) {
    const changed: string[] = [];
    const replaces: string[] = [];
    const host = (c: unknown) => {
      const x = (c ?? {}) as Partial<Connection>;
      return { host: x.host, port: x.port ?? 22 };
    };
    if (containsUnknown(news.connection) || !deepEqual(olds.connection, news.connection)) {
      changed.push("connection");
      if (containsUnknown(news.connection) || !deepEqual(host(olds.connection), host(news.connection))) replaces.push("connection");
    }
    if (containsUnknown(news.secret) || olds.secret !== news.secret) changed.push("secret");
    for (const k of OPTION_KEYS) if (containsUnknown(news[k]) || !deepEqual(olds[k], news[k])) changed.push(k);
    if (olds.hostname !== news.hostname) changed.push("hostname");
    if (!deepEqual(olds.hostState, PLANNED_DAEMON_STATE)) changed.push("hostState");
    let sha: string | null = null;
    try {
      sha = artifact().sha256;
    } catch {
      sha = null; // no artifact here: the apply will say so
    }
    if (sha !== null && sha !== olds.daemonSha256) changed.push("daemonSha256");
    // Same host, other settings: converge in place. Another host: clean the old one first (a replacement on
    // the same host must never remove what the new resource just installed).
    return { changes: changed.length > 0, changed, replaces, deleteBeforeReplace: replaces.length > 0 };
  },

  async create(inputs, ctx) {
    const outs = await converge(inputs, ctx);
    return { id: inputs.hostname, outs };
  },

  async read(id, props, ctx) {
    const art = artifact();
    const r = await readDaemon({ node: props.hostname, connection: props.connection, secret: props.secret, options: optionsOf(props), artifact: art }, sshOptions(ctx));
    if (!r.installed) {
      ctx.log("warn", `[${props.hostname}] the daemon is not installed on the host any more; the next up installs it again`);
      return { id: "", props };
    }
    const ident = r.identity ?? { publicKey: props.publicKey, meshIp: props.meshIp, meshIpv6: props.meshIpv6 };
    const daemonSha = r.state.binary === "as planned" ? art.sha256 : props.daemonSha256;
    return { id, props: outputs(props, { ...ident, state: r.state }, daemonSha) };
  },

  async update(_id, olds, news, ctx) {
    if (ifname(olds) !== ifname(news)) ctx.log("info", `[${news.hostname}] interface ${ifname(olds)} → ${ifname(news)}: the daemon restarts on the new one`);
    return { outs: await converge(news, ctx) };
  },

  async delete(_id, props, ctx) {
    await removeDaemon(props.hostname, props.connection, ifname(props), sshOptions(ctx));
  },

  preview(olds, news) {
    // The daemon keeps its key across updates; its mesh IP derives from the key and the secret/subnet.
    const sameMesh = olds !== undefined && !containsUnknown([news.secret, news.meshSubnet]) && olds.secret === news.secret && deepEqual(olds.meshSubnet, news.meshSubnet);
    let sha: string = UNKNOWN;
    try {
      sha = artifact().sha256;
    } catch {
      sha = UNKNOWN; // no artifact here: the apply will say so
    }
    return outputs(news, {
      publicKey: olds?.publicKey ?? UNKNOWN,
      meshIp: sameMesh ? olds.meshIp : UNKNOWN,
      meshIpv6: sameMesh ? olds.meshIpv6 : UNKNOWN,
      state: { ...PLANNED_DAEMON_STATE },
    }, sha);
  },
};

function ifname(i: DaemonOptions): string {
  return i.interfaceName ?? "wg0";
}
