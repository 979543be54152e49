/**
 * NodeConfig: one node's planned WireGuard state (a child of the Mesh, named `<mesh>-<hostname>`), applied
 * to its host through the engine. Its INPUTS are the plan — peers keyed by hostname, AllowedIPs, routes —
 * so `pulumi preview --diff` shows per node which peers/AllowedIPs/routes change, from state alone.
 *
 * create/update: the engine's per-host apply (one SSH connection; install, conf, online operations, verify).
 * delete: the engine's teardown of this host (interface, unit, conf, on-host key, sysctl file).
 * read: the live `wg show dump`/addresses/routes mapped back onto the same shape, so refresh shows drift;
 * the live firewall table too (as planned, or the rules really there), and the node's policy tests are run
 * from its host (TCP connect / ICMP), so a failing one shows as drift of `policyTests`.
 */
import { sortCidrs } from "../../core/cidr";
import { applyHost } from "../../engine/apply";
import { renderConf } from "../../engine/changes";
import type { HostReading } from "../../engine/probe";
import { confDigest } from "../../planner/wgquick";
import { teardownHost } from "../../engine/teardown";
import type { Connection } from "../../engine/ssh/connection";
import { endpointMatches } from "../../planner/diff";
import { presharedKeyFingerprint } from "../../planner/live";
import { isValidKey } from "../../core/keys";
import type { PairKey } from "../../core/psk";
import type { FirewallPlan, LiveState, NodeDesiredState } from "../../planner/types";
import { assertFirewallPlan, parseNftListing } from "../../planner/nft";
import { firewallState, firewallStatus } from "../../engine/firewall";
import { runPolicyTests } from "../../engine/verify";
import { assertInterfaceName } from "../../planner/commands";
import { absent, compact, containsUnknown, deepEqual, sshOptions } from "./common";
import { readNodeHost } from "./hosts";
import { PLANNED_HOST_FILES, UNKNOWN, type CheckFailure, type Lifecycle, type LifecycleContext } from "./types";
import { healthCheckProblems, resolveHealthCheck, type HealthCheck, type HealthMode, type NodeHealth } from "../../planner/health";
import { healthOfReading } from "../../engine/gated";
import { healthLines, type NodeHealthLines } from "./healthLines";
import { firewallPlanOf, firewallText, type FirewallWire } from "./firewallText";
import { decodePeers, formatPeerLines, type PeerInputs } from "./peerLines";
import { keySwitchPartners, keySwitchParty } from "./keySwitch";
export { PLANNED_HOST_FILES };
export type { PeerInputs };

/** One policy test whose source is this node (keyed "<to> <port>" in `policyTests`). */
export interface NodePolicyTest {
  /** The destination's mesh IP. */
  address: string;
  /** "tcp/5432", "udp/53" or "icmp". */
  port: string;
  expect: "allow" | "deny";
  /** "pass" as planned; a refresh reports what the host saw ("fail: …"). */
  result: string;
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
  /** Peers keyed by hostname (on the wire: one line per peer, see peerLines.ts and `NodeConfigWire`). */
  peers: Record<string, PeerInputs>;
  routes: string[];
  forwarding: boolean;
  keyOnHost: boolean;
  /** Secret; absent with keyOnHost. */
  privateKey?: string | null;
  /** Secret. */
  connection: Connection;
  /**
   * Per-pair preshared keys (issue 16): peer hostname → the pair's key (core/psk.ts PairKey: `key` a secret,
   * `id` not — a preview shows which pairs' keys change). Kept apart from `peers` so that the peers stay
   * readable in a preview. Absent: none.
   */
  presharedKeys?: Record<string, PairKey> | null;
  /**
   * The node's firewall (planner/firewall.ts) when the mesh's policies are enforced: the nftables table, its
   * named source sets and its accept rules by label. Absent: no table of ours on the host.
   */
  firewall?: FirewallPlan | null;
  /** Policy tests from this node, run on its host at refresh (key: "<destination> <port>"). */
  policyTests?: Record<string, NodePolicyTest> | null;
  /**
   * The host's persistent files as planned: `{ wgQuickConf: "as planned", unit: "enabled", firewall: "as planned" }`. `read`
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
  /**
   * The firewall table and /etc/wireguard/<if>.nft: "as planned" (also: neither, when none is planned), else
   * "missing", "differs from the plan" (a flushed or edited table) or "present but not planned". Optional.
   */
  firewall?: string | null;
}


/** What a host reading says about the files (the wg-quick file compared by digest with the planned one). */
export function hostFilesFrom(inputs: NodeConfigInputs, reading: HostReading): HostFiles {
  const key = inputs.keyOnHost ? { onHost: true as const } : { privateKey: inputs.privateKey as string };
  const conf = reading.facts.conf;
  return {
    wgQuickConf: !conf.exists ? "missing" : conf.sha256 === confDigest(renderConf(desiredState(inputs), key, presharedKeysByPublicKey(inputs))) ? "as planned" : "differs from the plan",
    unit: reading.facts.unit.enabled || "unknown",
    firewall: firewallStatus(desiredState(inputs), reading),
  };
}

export interface NodeConfigOutputs extends NodeConfigInputs {
  /** Every peer's health as last seen (after create/update, and at refresh): planner/health.ts NodeHealth. */
  health?: NodeHealth | null;
}

/**
 * A NodeConfig's inputs and outputs as Pulumi carries them: `peers` is the text of peer lines
 * (peerLines.ts; one property value per node, issue 12), or the object map of older states and programs.
 */
export type NodeConfigWire = Omit<NodeConfigInputs, "peers" | "firewall"> & { peers: string | Record<string, PeerInputs>; firewall?: FirewallWire | FirewallPlan | null };
export type NodeConfigWireOutputs = Omit<NodeConfigOutputs, "peers" | "health" | "firewall"> & {
  peers: string | Record<string, PeerInputs>;
  firewall?: FirewallWire | FirewallPlan | null;
  health?: NodeHealthLines | NodeHealth | null;
};

/** The effective health check of the inputs (defaults filled in; invalid values were refused at check). */
export function healthCheckOf(i: Pick<NodeConfigInputs, "healthCheck">): HealthCheck {
  const h = i.healthCheck;
  return resolveHealthCheck(h ? { ...(h.mode ? { mode: h.mode } : {}), ...(h.timeoutSeconds ? { timeoutSeconds: h.timeoutSeconds } : {}) } : undefined);
}

/** The live firewall in the inputs' shape: the planned one when it is as planned, else what the table holds. */
export function liveFirewall(inputs: NodeConfigInputs, reading: HostReading): FirewallPlan | undefined {
  const status = firewallStatus(desiredState(inputs), reading);
  if (status === "as planned") return inputs.firewall ?? undefined;
  const s = firewallState(reading);
  if (!s.table.exists) return undefined;
  const table = inputs.firewall?.table ?? `inet wgmesh_${inputs.interfaceName}`;
  // No listing printed: the table is the one recorded when the file was loaded (only the file differs).
  return s.listing ? parseNftListing(s.listing, table) : inputs.firewall ?? { table, sets: {}, rules: {} };
}

function hasPsk(i: Pick<NodeConfigInputs, "presharedKeys">, peer: string): boolean {
  return !!i.presharedKeys && Object.prototype.hasOwnProperty.call(i.presharedKeys, peer);
}

/** The node's preshared keys as the engine takes them: by peer public key (undefined: none). */
export function presharedKeysByPublicKey(i: Pick<NodeConfigInputs, "presharedKeys" | "peers">): Record<string, string> | undefined {
  const psks = i.presharedKeys;
  if (!psks || Object.keys(psks).length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [h, k] of Object.entries(psks)) {
    const peer = i.peers?.[h];
    if (peer) out[peer.publicKey] = k.key;
  }
  return out;
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
        presharedKey: hasPsk(i, h),
      };
    }),
    routes: [...(i.routes ?? [])],
    forwarding: i.forwarding === true,
    firewall: i.firewall ?? null,
  };
}

/**
 * The live state in the inputs' shape. Where live and planned mean the same thing (a DNS endpoint that
 * resolved, keepalive 0 vs none, forwarding on although not needed) the planned value is kept, so only
 * real drift shows.
 */
export function liveToInputs(planned: NodeConfigInputs, live: LiveState): NodeConfigInputs {
  if (live.interface === null) {
    return { ...planned, address: "", listenPort: 0, publicKey: "", peers: {}, presharedKeys: absent(planned.presharedKeys) ? undefined : {}, routes: [], forwarding: planned.forwarding && live.forwarding };
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
    presharedKeys: livePresharedKeys(planned, live, peers),
    address,
    listenPort: live.interface.listenPort,
    mtu: planned.mtu === null || planned.mtu === undefined ? planned.mtu : live.interface.mtu,
    publicKey: live.interface.publicKey ?? "",
    peers,
    routes: sortCidrs([...live.routes]),
    forwarding: planned.forwarding ? live.forwarding : false,
  });
}

/** Ids in a refreshed `presharedKeys` (never a key read from the host: the probe keeps only fingerprints). */
export const PSK_DIFFERS = "(differs from the plan)";
export const PSK_UNPLANNED = "(set on the host, not planned)";

/**
 * The live PSKs in the inputs' shape: a planned key the host has (same fingerprint) is kept; one that
 * differs keeps the planned key with the id PSK_DIFFERS; a missing one is left out; a PSK the plan does not
 * have shows as id PSK_UNPLANNED (no key).
 */
function livePresharedKeys(planned: NodeConfigInputs, live: LiveState, livePeers: Record<string, PeerInputs>): Record<string, PairKey> | undefined {
  const byKey = new Map(live.peers.map((p) => [p.publicKey, p]));
  const out: Record<string, PairKey> = {};
  for (const [h, peer] of Object.entries(livePeers)) {
    const lp = byKey.get(peer.publicKey);
    if (!lp?.presharedKey) continue;
    const want = planned.presharedKeys?.[h];
    const same = want !== undefined && planned.peers?.[h]?.publicKey === peer.publicKey && lp.presharedKeyFingerprint === presharedKeyFingerprint(want.key);
    out[h] = same ? (want as PairKey) : want !== undefined ? { id: PSK_DIFFERS, key: want.key } : { id: PSK_UNPLANNED, key: "" };
  }
  return Object.keys(out).length > 0 || !absent(planned.presharedKeys) ? out : undefined;
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
  if (!absent(news.firewall) && !containsUnknown(news.firewall) && !containsUnknown(news.interfaceName)) {
    try {
      assertFirewallPlan(news.firewall as FirewallPlan, news.interfaceName);
    } catch (e) {
      failures.push({ property: "firewall", reason: `node ${JSON.stringify(news.hostname)}: ${(e as Error).message}` });
    }
  }
  if (!absent(news.presharedKeys) && !containsUnknown(news.presharedKeys)) {
    for (const [peer, k] of Object.entries(news.presharedKeys as Record<string, Partial<PairKey> | null>)) {
      // The message names the peer, never the value.
      if (!isValidKey(k?.key)) failures.push({ property: "presharedKeys", reason: `node ${JSON.stringify(news.hostname)}: the preshared key for peer ${JSON.stringify(peer)} is not a WireGuard key (44 base64 characters, as 'wg genpsk' prints); value withheld` });
      else if (!containsUnknown(news.peers) && !Object.prototype.hasOwnProperty.call(news.peers ?? {}, peer)) failures.push({ property: "presharedKeys", reason: `node ${JSON.stringify(news.hostname)}: a preshared key is given for ${JSON.stringify(peer)}, which is not one of its peers; give keys only for the hostnames in peers` });
    }
  }
  if (!news.keyOnHost && absent(news.privateKey)) {
    failures.push({ property: "privateKey", reason: `node ${JSON.stringify(news.hostname)}: no private key and keyOnHost is false; pass the Node's privateKey or set keyOnHost` });
  }
  return failures;
}

const PLAN_PROPS = ["interfaceName", "address", "listenPort", "mtu", "publicKey", "peers", "presharedKeys", "routes", "forwarding", "firewall", "policyTests", "keyOnHost", "privateKey", "connection"] as const;

/**
 * Converge the node's host. `olds` (an update): the state it had — the nodes whose tunnels with it switch a key
 * (keySwitch.ts) are then switched together with it.
 */
async function apply(inputs: NodeConfigInputs, ctx: LifecycleContext, olds?: NodeConfigInputs): Promise<NodeConfigOutputs> {
  const sync = keySwitchParty(inputs.mesh, inputs.hostname, olds ? keySwitchPartners(olds, inputs) : []);
  const result = await applyHost(
    {
      node: inputs.hostname,
      connection: inputs.connection,
      desired: desiredState(inputs),
      key: inputs.keyOnHost ? { onHost: true } : { privateKey: inputs.privateKey as string },
      healthCheck: healthCheckOf(inputs),
      presharedKey: presharedKeysByPublicKey(inputs),
    },
    sshOptions(ctx),
    sync,
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

const objectLifecycle: Lifecycle<NodeConfigInputs, NodeConfigOutputs> = {
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
    const tests = Object.entries(props.policyTests ?? {});
    let results: Record<string, NodePolicyTest> | undefined;
    const { reading } = await readNodeHost(props.hostname, props.connection, props.interfaceName, ctx, async (session) => {
      if (tests.length === 0) return;
      const ran = await runPolicyTests(session, tests.map(([k, t]) => ({ id: k, address: t.address, port: t.port, expect: t.expect })));
      results = Object.fromEntries(tests.map(([k, t], i) => [k, { ...t, result: ran[i]?.result === "pass" || ran[i]?.result.startsWith("pass ") ? t.result : ran[i]?.result ?? "fail: not run" }]));
    });
    const live: NodeConfigOutputs = compact({ ...liveToInputs(props, reading.facts.live), firewall: liveFirewall(props, reading), policyTests: results ?? props.policyTests ?? undefined, health: healthFromReading(props, reading) });
    return { id, props: absent(props.hostFiles) ? live : { ...live, hostFiles: hostFilesFrom(props, reading) } };
  },

  async update(_id, olds, news, ctx) {
    return { outs: await apply(news, ctx, olds) };
  },

  async delete(_id, props, ctx) {
    const r = await teardownHost({ node: props.hostname, connection: props.connection, interfaceName: props.interfaceName }, sshOptions(ctx));
    if (r.status === "failed") throw new Error(r.error ?? `node ${props.hostname}: teardown failed`);
  },

  preview(_olds, news) {
    // An apply makes the host match the inputs, which are the outputs; the peers' health is the host's to tell.
    return compact({ ...news, health: UNKNOWN as unknown as NodeHealth });
  },
};

/** The wire form's peers as the object map (the text decoded), its firewall sets as lists; throws naming the node and the line. */
function decoded<T extends { peers: string | Record<string, PeerInputs>; hostname?: unknown; firewall?: FirewallWire | FirewallPlan | null }>(v: T): Omit<T, "peers" | "firewall"> & { peers: Record<string, PeerInputs>; firewall?: FirewallPlan | null } {
  const d = decodePeers(v.peers);
  if (!d.ok) throw new Error(`node ${JSON.stringify(v.hostname)}: peers: ${d.errors.join("; ")}`);
  const out = { ...v, peers: d.peers } as Omit<T, "peers" | "firewall"> & { peers: Record<string, PeerInputs>; firewall?: FirewallPlan | null };
  if (v.firewall !== undefined) out.firewall = firewallPlanOf(v.firewall) as FirewallPlan | null;
  return out;
}

/** Stored outputs for the object lifecycle: peers decoded; the health dropped (an output only: read anew, never diffed). */
function decodedState(v: NodeConfigWireOutputs): NodeConfigOutputs {
  const { health: _h, ...rest } = v;
  return decoded(rest);
}

/** Outputs as Pulumi stores them: the peers, the firewall sets and the peers' health as text (unknowns stay unknown). */
function encoded(o: NodeConfigOutputs): NodeConfigWireOutputs {
  const health = healthLines(o.health);
  const out: NodeConfigWireOutputs = (o.peers as unknown) === UNKNOWN ? { ...o, health } : { ...o, peers: formatPeerLines(o.peers ?? {}), health };
  if (o.firewall !== undefined) out.firewall = firewallText(o.firewall);
  return out;
}

/**
 * The NodeConfig lifecycle on the wire form: `peers` decoded on the way in (text or object map), written as
 * text on the way out; in between, the object lifecycle above. `check` returns the peers as they came (a
 * text stays the caller's text) and turns a text that does not read into a failure naming the line.
 */
export const nodeConfigLifecycle: Lifecycle<NodeConfigWire, NodeConfigWireOutputs> = {
  async check(_olds, news, ctx) {
    const d = decodePeers(news.peers);
    if (!d.ok) return { inputs: news, failures: d.errors.map((e) => ({ property: "peers", reason: `node ${JSON.stringify(news.hostname)}: peers: ${e}; one line per peer: "<hostname> key=<public key> allowedIps=<cidr>,… [endpoint=<host:port>] [keepalive=<seconds>]"` })) };
    const firewall = news.firewall === undefined ? {} : { firewall: firewallPlanOf(news.firewall) as FirewallPlan | null };
    // The object check reads the new inputs only: the old ones are not decoded (a converged preview checks
    // every node, each with a peer line per peer).
    const r = await objectLifecycle.check(undefined, { ...news, ...firewall, peers: d.peers } as NodeConfigInputs, ctx);
    return { inputs: { ...r.inputs, peers: news.peers, ...(news.firewall === undefined ? {} : { firewall: news.firewall }) } as NodeConfigWire, failures: r.failures };
  },
  async diff(id, olds, news, ctx) {
    const n = decoded(news);
    if (typeof olds.peers === "string" && olds.peers === news.peers) {
      // The same text (a converged node): decoded once, and the comparison finds the same object on both sides.
      const { health: _h, ...rest } = olds;
      return objectLifecycle.diff(id, { ...decoded({ ...rest, peers: "" }), peers: n.peers } as NodeConfigOutputs, n, ctx);
    }
    return objectLifecycle.diff(id, decodedState(olds), n, ctx);
  },
  async create(inputs, ctx) {
    const r = await objectLifecycle.create(decoded(inputs), ctx);
    return { id: r.id, outs: encoded(r.outs) };
  },
  async read(id, props, ctx) {
    const r = await objectLifecycle.read(id, decodedState(props), ctx);
    return { id: r.id, props: encoded(r.props) };
  },
  async update(id, olds, news, ctx) {
    return { outs: encoded((await objectLifecycle.update(id, decodedState(olds), decoded(news), ctx)).outs) };
  },
  async delete(id, props, ctx) {
    await objectLifecycle.delete(id, decodedState(props), ctx);
  },
  preview(olds, news) {
    return encoded(objectLifecycle.preview(olds ? decodedState(olds) : undefined, decoded(news)));
  },
};
