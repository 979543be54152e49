/**
 * The package's functions (data sources), one implementation for the TypeScript package and the plugin
 * (which serves them as `wgmesh:index:getMeshPlan`, `…:getNodeStatus`, `…:generateKeyPair` to every SDK):
 *
 *  - getMeshPlan: a declaration (nodes, groups, policies) or a Go state file → every node's peers, AllowedIPs,
 *    routes, and the mesh as a Mermaid diagram (planner/meshplan.ts). Pure: no host is contacted.
 *  - getNodeStatus: one host's live WireGuard interface — peers, latest handshake and its age, bytes moved —
 *    read over SSH by the engine's read-only round trip (the same read `pulumi refresh` does). It runs
 *    whenever the program runs, previews included; it never changes the host.
 *  - generateKeyPair: a new X25519 key pair (the private key a secret). A function runs at every program run,
 *    so each run returns a new pair: keep one you want to reuse (e.g. `pulumi config set --secret`).
 */
import * as pulumi from "@pulumi/pulumi";
import { generateKeyPair as newKeyPair } from "../core/keys";
import type { Connection } from "../engine/ssh/connection";
import { silentLogger, type Logger } from "../engine/ssh/log";
import { meshPlan, type MeshPlanArgs, type MeshPlanDoc, type PlanFailure } from "../planner/meshplan";
import { readNodeHost } from "./lifecycle/hosts";
import type { ConnectionArgs } from "./resources";

export type { MeshPlanArgs, MeshPlanDoc, PlannedNode, PlannedPeer } from "../planner/meshplan";

/** A function's arguments were refused: every failure names the argument, the culprit and the fix. */
export class FunctionArgumentsError extends Error {
  constructor(readonly fn: string, readonly failures: PlanFailure[]) {
    super(`${fn}: ${failures.map((f) => f.reason).join("; ")}`);
    this.name = "FunctionArgumentsError";
  }
}

/** The plan of a mesh (see planner/meshplan.ts); throws FunctionArgumentsError for an invalid mesh. */
export async function getMeshPlan(args: MeshPlanArgs): Promise<MeshPlanDoc> {
  const r = meshPlan(args);
  if (!r.ok) throw new FunctionArgumentsError("getMeshPlan", r.failures);
  return r.plan;
}

/** getMeshPlan with Inputs (e.g. hosts from config Outputs). */
export type MeshPlanOutputArgs = { [K in keyof MeshPlanArgs]?: pulumi.Input<MeshPlanArgs[K]> };

export function getMeshPlanOutput(args: MeshPlanOutputArgs): pulumi.Output<MeshPlanDoc> {
  return pulumi.output(args).apply((a) => getMeshPlan(a as MeshPlanArgs));
}

export interface NodeStatusArgs {
  /** How to reach the host over SSH (as a Node's connection); host keys are verified the same way. */
  connection: Connection;
  /** The WireGuard interface (default "wg0"). */
  interfaceName?: string | null;
  /** hostname → public key of the peers you know (e.g. a Mesh's publicKeys): their status then names them. */
  knownPeers?: Record<string, string> | null;
}

export interface PeerStatus {
  publicKey: string;
  /** The peer's hostname, when knownPeers names its key. */
  hostname?: string;
  endpoint?: string;
  allowedIps: string[];
  /** Unix seconds of the latest handshake; 0 = never. */
  latestHandshake: number;
  /** Seconds since the latest handshake (by this machine's clock at the read); absent when there was none. */
  handshakeAgeSeconds?: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive?: number;
}

export interface NodeStatus {
  /** The host's own hostname. */
  hostname: string;
  os?: string;
  /** The address used to reach the host is not one of its own (NAT in between). */
  natDetected?: boolean;
  interfaceName: string;
  /** The interface exists. */
  up: boolean;
  publicKey?: string;
  listenPort?: number;
  addresses: string[];
  routes: string[];
  forwarding: boolean;
  /** Sorted by public key. */
  peers: PeerStatus[];
  /** Unix seconds of the read (this machine's clock). */
  readAt: number;
}

/** The live status of one host's WireGuard interface: one SSH connection, one read-only round trip. */
export async function getNodeStatus(args: NodeStatusArgs, log: Logger = silentLogger): Promise<NodeStatus> {
  const ifname = args.interfaceName ?? "wg0";
  const { reading, natDetected } = await readNodeHost(args.connection.host, args.connection, ifname, { log });
  const f = reading.facts;
  const live = f.live;
  const readAt = Math.floor(Date.now() / 1000);
  const names = new Map(Object.entries(args.knownPeers ?? {}).map(([h, k]) => [k, h]));
  const status: NodeStatus = {
    hostname: f.hostname,
    interfaceName: ifname,
    up: live.interface !== null,
    addresses: [...(live.interface?.addresses ?? [])],
    routes: [...live.routes],
    forwarding: live.forwarding,
    peers: [...live.peers].sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0)).map((p) => {
      const s: PeerStatus = { publicKey: p.publicKey, allowedIps: [...p.allowedIps], latestHandshake: p.latestHandshake, rxBytes: p.rxBytes, txBytes: p.txBytes };
      const h = names.get(p.publicKey);
      if (h !== undefined) s.hostname = h;
      if (p.endpoint !== null) s.endpoint = p.endpoint;
      if (p.latestHandshake > 0) s.handshakeAgeSeconds = Math.max(0, readAt - p.latestHandshake);
      if (p.persistentKeepalive !== null && p.persistentKeepalive > 0) s.persistentKeepalive = p.persistentKeepalive;
      return s;
    }),
    readAt,
  };
  if (f.os.prettyName) status.os = f.os.prettyName;
  if (natDetected !== null) status.natDetected = natDetected;
  if (live.interface?.publicKey) status.publicKey = live.interface.publicKey;
  if (live.interface) status.listenPort = live.interface.listenPort;
  return status;
}

/** getNodeStatus with Inputs: a Node's connection (secret Outputs inside), a Mesh's publicKeys. */
export interface NodeStatusOutputArgs {
  connection: pulumi.Input<ConnectionArgs>;
  interfaceName?: pulumi.Input<string>;
  knownPeers?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export function getNodeStatusOutput(args: NodeStatusOutputArgs): pulumi.Output<NodeStatus> {
  return pulumi.output(args).apply((a) => getNodeStatus(a as unknown as NodeStatusArgs));
}

export interface KeyPair {
  /** Secret. */
  privateKey: string;
  publicKey: string;
}

/** A new WireGuard key pair. */
export async function generateKeyPair(): Promise<KeyPair> {
  return newKeyPair();
}

/** A new WireGuard key pair with the private key as a secret Output. */
export function generateKeyPairOutput(): pulumi.Output<KeyPair> {
  const kp = newKeyPair();
  return pulumi.output({ publicKey: kp.publicKey, privateKey: pulumi.secret(kp.privateKey) }) as unknown as pulumi.Output<KeyPair>;
}
