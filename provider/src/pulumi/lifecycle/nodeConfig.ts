/**
 * NodeConfig: one node's planned WireGuard state (a child of the Mesh, named `<mesh>-<hostname>`), applied
 * to its host through the engine. Its INPUTS are the plan — peers keyed by hostname, AllowedIPs, routes —
 * so `pulumi preview --diff` shows per node which peers/AllowedIPs/routes change, from state alone.
 *
 * create/update: the engine's per-host apply (one SSH connection; install, conf, online operations, verify).
 * delete: the engine's teardown of this host (interface, unit, conf, on-host key, sysctl file).
 * read: the live `wg show dump`/addresses/routes mapped back onto the same shape, so refresh shows drift.
 */
import { sortCidrs } from "../../core/cidr";
import { applyHost } from "../../engine/apply";
import { renderConf } from "../../engine/changes";
import type { HostReading } from "../../engine/probe";
import { confDigest } from "../../planner/wgquick";
import { teardownHost } from "../../engine/teardown";
import type { Connection } from "../../engine/ssh/connection";
import { endpointMatches } from "../../planner/diff";
import type { LiveState, NodeDesiredState } from "../../planner/types";
import { assertInterfaceName } from "../../planner/commands";
import { absent, compact, containsUnknown, deepEqual, sshOptions } from "./common";
import { readNodeHost } from "./hosts";
import { PLANNED_HOST_FILES, type CheckFailure, type Lifecycle, type LifecycleContext } from "./types";
import { healthCheckProblems, resolveHealthCheck, type HealthCheck, type HealthMode, type NodeHealth } from "../../planner/health";
import { healthOfReading } from "../../engine/gated";
export { PLANNED_HOST_FILES };

export interface PeerInputs {
  publicKey: string;
  /** "host:port"; absent when the peer is behind NAT (it dials in). */
  endpoint?: string | null;
  allowedIps: string[];
  persistentKeepalive?: number | null;
}

export interface NodeConfigInputs {
  /** Name of the Mesh this belongs to. */
  mesh: string;
  hostname: string;
  interfaceName: string;
  /** Mesh address with the mesh prefix, e.g. "10.99.0.1/16". */
  address: string;
  listenPort: number;
  mtu?: number | null;
  publicKey: string;
  /** Peers keyed by hostname. */
  peers: Record<string, PeerInputs>;
  routes: string[];
  forwarding: boolean;
  keyOnHost: boolean;
  /** Secret; absent with keyOnHost. */
  privateKey?: string | null;
  /** Secret. */
  connection: Connection;
  /**
   * The host's persistent files as planned: `{ wgQuickConf: "as planned", unit: "enabled" }`. `read`
   * reports what it finds, so a hand-edited wg-quick file or a disabled unit shows as drift on refresh.
   * Optional (compared only when given).
   */
  hostFiles?: HostFiles | null;
  /**
   * The health gate after each change (the Mesh's `healthCheck`): mode "handshake" (default), "ping" or
   * "off", and the bound of the wait (default 15 s). Not compared by diff: it changes nothing on the host.
   */
  healthCheck?: HealthCheckInputs | null;
}

export interface HealthCheckInputs {
  mode?: HealthMode | null;
  timeoutSeconds?: number | null;
}

export interface HostFiles {
  /** "as planned", or "differs from the plan" / "missing" after a refresh. */
  wgQuickConf: string;
  /** `systemctl is-enabled wg-quick@<if>`: "enabled" as planned. */
  unit: string;
}


/** What a host reading says about the files (the wg-quick file compared by digest with the planned one). */
export function hostFilesFrom(inputs: NodeConfigInputs, reading: HostReading): HostFiles {
  const key = inputs.keyOnHost ? { onHost: true as const } : { privateKey: inputs.privateKey as string };
  const conf = reading.facts.conf;
  return {
    wgQuickConf: !conf.exists ? "missing" : conf.sha256 === confDigest(renderConf(desiredState(inputs), key)) ? "as planned" : "differs from the plan",
    unit: reading.facts.unit.enabled || "unknown",
  };
}

export interface NodeConfigOutputs extends NodeConfigInputs {
  /** Every peer's health as last seen (after create/update, and at refresh): planner/health.ts NodeHealth. */
  health?: NodeHealth | null;
}

/** The effective health check of the inputs (defaults filled in; invalid values were refused at check). */
export function healthCheckOf(i: Pick<NodeConfigInputs, "healthCheck">): HealthCheck {
  const h = i.healthCheck;
  return resolveHealthCheck(h ? { ...(h.mode ? { mode: h.mode } : {}), ...(h.timeoutSeconds ? { timeoutSeconds: h.timeoutSeconds } : {}) } : undefined);
}

/** The engine's desired state from the inputs. */
export function desiredState(i: NodeConfigInputs): NodeDesiredState {
  const hostnames = Object.keys(i.peers ?? {}).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    hostname: i.hostname,
    interface: { name: i.interfaceName, address: i.address, listenPort: i.listenPort, mtu: i.mtu ?? null, publicKey: i.publicKey },
    peers: hostnames.map((h) => {
      const p = i.peers[h] as PeerInputs;
      return {
        hostname: h,
        publicKey: p.publicKey,
        endpoint: p.endpoint ?? null,
        allowedIps: [...p.allowedIps],
        persistentKeepalive: p.persistentKeepalive ?? null,
        presharedKey: false,
      };
    }),
    routes: [...(i.routes ?? [])],
    forwarding: i.forwarding === true,
  };
}

/**
 * The live state in the inputs' shape. Where live and planned mean the same thing (a DNS endpoint that
 * resolved, keepalive 0 vs none, forwarding on although not needed) the planned value is kept, so only
 * real drift shows.
 */
export function liveToInputs(planned: NodeConfigInputs, live: LiveState): NodeConfigInputs {
  if (live.interface === null) {
    return { ...planned, address: "", listenPort: 0, publicKey: "", peers: {}, routes: [], forwarding: planned.forwarding && live.forwarding };
  }
  const byKey = new Map(Object.entries(planned.peers ?? {}).map(([h, p]) => [p.publicKey, { h, p }]));
  const peers: Record<string, PeerInputs> = {};
  for (const lp of live.peers) {
    const known = byKey.get(lp.publicKey);
    const name = known ? known.h : `unknown-peer-${lp.publicKey.slice(0, 8).replace(/[^A-Za-z0-9]/g, "_")}`;
    const desiredEndpoint = known?.p.endpoint ?? null;
    const endpoint = known && endpointMatches(desiredEndpoint, lp.endpoint) ? desiredEndpoint : lp.endpoint;
    const keepalive = lp.persistentKeepalive === 0 ? null : lp.persistentKeepalive;
    peers[name] = compact({
      publicKey: lp.publicKey,
      endpoint: endpoint ?? undefined,
      allowedIps: sortCidrs([...lp.allowedIps]),
      persistentKeepalive: keepalive ?? undefined,
    });
  }
  const address = live.interface.addresses.includes(planned.address) ? planned.address : (live.interface.addresses[0] ?? "");
  return compact({
    ...planned,
    address,
    listenPort: live.interface.listenPort,
    mtu: planned.mtu === null || planned.mtu === undefined ? planned.mtu : live.interface.mtu,
    publicKey: live.interface.publicKey ?? "",
    peers,
    routes: sortCidrs([...live.routes]),
    forwarding: planned.forwarding ? live.forwarding : false,
  });
}

export function checkNodeConfig(news: NodeConfigInputs): CheckFailure[] {
  const failures: CheckFailure[] = [];
  if (!containsUnknown(news.interfaceName)) {
    try {
      assertInterfaceName(news.interfaceName);
    } catch (e) {
      failures.push({ property: "interfaceName", reason: `node ${JSON.stringify(news.hostname)}: ${(e as Error).message}` });
    }
  }
  if (!containsUnknown(news.healthCheck)) {
    for (const reason of healthCheckProblems(news.healthCheck)) {
      failures.push({ property: "healthCheck", reason: `${news.mesh && !containsUnknown(news.mesh) ? `mesh ${JSON.stringify(news.mesh)}: ` : ""}node ${JSON.stringify(news.hostname)}: ${reason}` });
    }
  }
  if (!news.keyOnHost && absent(news.privateKey)) {
    failures.push({ property: "privateKey", reason: `node ${JSON.stringify(news.hostname)}: no private key and keyOnHost is false; pass the Node's privateKey or set keyOnHost` });
  }
  return failures;
}

const PLAN_PROPS = ["interfaceName", "address", "listenPort", "mtu", "publicKey", "peers", "routes", "forwarding", "keyOnHost", "privateKey", "connection"] as const;

async function apply(inputs: NodeConfigInputs, ctx: LifecycleContext): Promise<NodeConfigOutputs> {
  const result = await applyHost(
    {
      node: inputs.hostname,
      connection: inputs.connection,
      desired: desiredState(inputs),
      key: inputs.keyOnHost ? { onHost: true } : { privateKey: inputs.privateKey as string },
      healthCheck: healthCheckOf(inputs),
    },
    sshOptions(ctx),
  );
  if (result.status === "failed") throw new Error(result.error ?? `node ${inputs.hostname}: apply failed`);
  return compact({ ...inputs, health: result.health });
}

/** The node's health from a read (refresh): peers named from the planned peers. */
export function healthFromReading(props: NodeConfigInputs, reading: HostReading): NodeHealth {
  const names = new Map(Object.entries(props.peers ?? {}).map(([h, p]) => [p.publicKey, h]));
  return healthOfReading(reading, names, healthCheckOf(props).mode);
}

function sameHost(a: Connection, b: Connection): boolean {
  return a.host === b.host && (a.port ?? 22) === (b.port ?? 22);
}

export const nodeConfigLifecycle: Lifecycle<NodeConfigInputs, NodeConfigOutputs> = {
  async check(_olds, news) {
    return { inputs: news, failures: checkNodeConfig(news) };
  },

  async diff(_id, olds, news) {
    const changed: string[] = [];
    const replaces: string[] = [];
    if (!deepEqual(olds.hostname, news.hostname)) { changed.push("hostname"); replaces.push("hostname"); }
    if (!deepEqual(olds.mesh, news.mesh)) changed.push("mesh");
    for (const p of PLAN_PROPS) {
      if (containsUnknown(news[p]) || !deepEqual(olds[p], news[p])) changed.push(p);
    }
    if (!absent(news.hostFiles) && !deepEqual(olds.hostFiles ?? PLANNED_HOST_FILES, news.hostFiles)) changed.push("hostFiles");
    if (changed.includes("interfaceName")) replaces.push("interfaceName");
    const connectionKnown = !containsUnknown(news.connection);
    if (changed.includes("connection") && (!connectionKnown || !sameHost(olds.connection, news.connection))) replaces.push("connection");
    // The same host under another interface name or identity: remove the old one first (ports, routes).
    const deleteBeforeReplace = replaces.includes("interfaceName") || replaces.includes("hostname");
    return { changes: changed.length > 0, changed, replaces, deleteBeforeReplace: deleteBeforeReplace && !replaces.includes("connection") };
  },

  async create(inputs, ctx) {
    const outs = await apply(inputs, ctx);
    return { id: `${inputs.mesh}/${inputs.hostname}`, outs };
  },

  async read(id, props, ctx) {
    const { reading } = await readNodeHost(props.hostname, props.connection, props.interfaceName, ctx);
    const live: NodeConfigOutputs = { ...liveToInputs(props, reading.facts.live), health: healthFromReading(props, reading) };
    return { id, props: absent(props.hostFiles) ? live : { ...live, hostFiles: hostFilesFrom(props, reading) } };
  },

  async update(_id, _olds, news, ctx) {
    return { outs: await apply(news, ctx) };
  },

  async delete(_id, props, ctx) {
    const r = await teardownHost({ node: props.hostname, connection: props.connection, interfaceName: props.interfaceName }, sshOptions(ctx));
    if (r.status === "failed") throw new Error(r.error ?? `node ${props.hostname}: teardown failed`);
    },
};
