// The persisted description of a testbed (/var/lib/wgmesh-testbed/<P>/state.json) and its types.
import * as fs from "node:fs";
import * as path from "node:path";
import { CgroupPlan } from "./cgroups";
import { Bind } from "./container";
import { stateDir } from "./naming";
import { LinkSpec } from "./network";

export const DEFAULT_NAT_SUBNET = "192.168.77.0/24";
/** First public port of the router's SSH port forwards (NAT host i gets NAT_SSH_PORT_BASE + i). */
export const NAT_SSH_PORT_BASE = 2200;
export const SSH_WAIT_MS = 90_000;

export interface BehindNetwork {
  /** The routable network behind the host, e.g. 192.168.101.0/24. */
  cidr: string;
  /** The host's own address on it (interface lan0 in the host). */
  gateway: string;
  /** A device on that network (its own namespace, default route via the host). */
  device: string;
  /** Namespace of the device (run commands there with Testbed.execBehind). */
  ns: string;
}

export interface HostInfo {
  name: string;
  kind: "public" | "nat";
  index: number;
  /** SSH endpoint as reached from the machine (for NAT'd hosts: the router's public address). */
  address: string;
  sshPort: number;
  /** The host's own address on its segment (public segment, or the private segment behind the router). */
  segmentAddress: string;
  user: "root";
  sudoUser: string;
  privateKeyPath: string;
  knownHostsPath: string;
  /** "ssh-ed25519 AAAA…" and its SHA256 fingerprint. */
  hostPublicKey: string;
  hostKeyFingerprint: string;
  behindNat: boolean;
  behind?: BehindNetwork;
  /** internals */
  ns: string;
  link: LinkSpec;
  dir: string;
  root: string;
  rootKind: "overlay" | "copy";
  pid?: number;
  cgroup?: CgroupPlan;
}

export interface TestbedState {
  version: 1;
  name: string;
  subnet: string;
  natSubnet: string;
  machineAddress: string;
  routerAddress?: string;
  rootfs: string;
  repo: string;
  privateKeyPath: string;
  clientPublicKey: string;
  knownHostsPath: string;
  hosts: HostInfo[];
  binds: Bind[];
  segmentNodes: SegmentNode[];
  /** the options of `up`, to decide whether `acquire` can reuse this testbed */
  spec: { hosts: number; nat: number; subnet?: string; natSubnet?: string; behind: UpOptions["behind"]; binds: Bind[] };
  createdAt: string;
}

/** An extra namespace plugged into the public segment (e.g. a DHT bootstrap node), no container. */
export interface SegmentNode {
  label: string;
  ns: string;
  address: string;
}

export interface UpOptions {
  /** Hosts behind the NAT router (default 0). */
  nat?: number;
  /** Run prefix (default "tb"): hosts are named <name>-h1…, NAT'd ones <name>-n1…. */
  name?: string;
  /** Public segment (default: a free /24 of 198.18.0.0/15). Use an RFC 1918 range for DHT tests (BEP 42). */
  subnet?: string;
  /** Private segment behind the NAT router (default 192.168.77.0/24). */
  natSubnet?: string;
  /** Networks behind hosts: host names (a /24 is chosen) or {host, cidr}. */
  behind?: Array<string | { host: string; cidr?: string }>;
  /** Extra bind mounts into every host (e.g. a daemon build to run there), applied at every boot. */
  binds?: Bind[];
}

/** The JSON document of the CLI contract. */
export interface TestbedJson {
  name: string;
  hosts: Array<{
    name: string;
    address: string;
    sshPort: number;
    user: string;
    sudoUser: string;
    privateKeyPath: string;
    knownHostsPath: string;
    behindNat: boolean;
  }>;
}

export function statePath(prefix: string): string {
  return path.join(stateDir(prefix), "state.json");
}

export function readState(prefix: string): TestbedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath(prefix), "utf8")) as TestbedState;
  } catch {
    return undefined;
  }
}

export function writeState(s: TestbedState): void {
  const p = statePath(s.name);
  fs.writeFileSync(`${p}.tmp`, JSON.stringify(s, null, 2));
  fs.renameSync(`${p}.tmp`, p);
}

