/**
 * The WireGuard side of `wgmesh join`: the interface's lifecycle and the reconciler (a `PeerSink`).
 *
 * Interface (§5.4): `ip link add dev IF type wireguard`; when the kernel lacks WireGuard, `wireguard-go IF`
 * (it daemonises itself and exits when the interface is deleted), exactly as wg-quick does. An existing
 * interface is reused. Private key and listen port via `wg set` with the key on stdin; mesh IPv4 with the
 * mesh prefix length and mesh IPv6 /64 (nodad, so the probe can bind at once); link up.
 * Teardown: `ip link del dev IF` (the interface's routes go with it).
 *
 * Reconcile (every 5 s and shortly after each store event): read the live state with the planner's probe
 * script, compute `desiredState`, `diff` it, run the planner's rendered operations as one `sh -s` script
 * (PSK in a here-document on stdin). Never restarts the interface. IPv6 addresses are managed at setup
 * only (the planner's interface carries one address).
 */
import * as fs from "node:fs";
import { sortCidrs } from "../core/cidr";
import { diff } from "../planner/diff";
import { presharedKeyFingerprint } from "../planner/live";
import { parseLiveProbe, renderLiveProbe } from "../planner/probe";
import { redactSecrets, renderScript, withSecretOnStdin } from "../planner/commands";
import { shellCommand } from "../planner/shell";
import type { LiveState, Operation } from "../planner/types";
import type { PeerSink } from "./core";
import type { Logger } from "./log";
import { runSh } from "./sh";
import type { PeerRecord, StoreEvent } from "./store";
import { desiredState, HostRoute, LocalWg } from "./wgdesired";

export const RECONCILE_INTERVAL_MS = 5000;

export class WireGuardError extends Error {}

export function interfaceExists(iface: string): boolean {
  return fs.existsSync(`/sys/class/net/${iface}`);
}

export interface InterfaceSetup {
  iface: string;
  privateKey: string;
  listenPort: number;
  meshIp: string;
  meshPrefix: number;
  meshIpv6?: string;
}

/** Create (or reuse) and configure the interface. Returns how it was made. */
export async function setupInterface(s: InterfaceSetup, log: Logger): Promise<"kernel" | "wireguard-go" | "existing"> {
  let how: "kernel" | "wireguard-go" | "existing" = "existing";
  if (!interfaceExists(s.iface)) {
    const k = await runSh(shellCommand("ip", "link", "add", "dev", s.iface, "type", "wireguard"));
    if (k.code === 0) how = "kernel";
    else {
      log.info("kernel WireGuard unavailable, starting wireguard-go", { interface: s.iface, reason: k.stderr.trim() });
      const g = await runSh(`${shellCommand("wireguard-go", s.iface)} </dev/null >/dev/null 2>&1`, 30_000);
      if (g.code !== 0 || !interfaceExists(s.iface)) {
        throw new WireGuardError(`cannot create WireGuard interface ${s.iface}: the kernel has no WireGuard (${k.stderr.trim()}) and wireguard-go failed (exit ${g.code}); install wireguard-go or the wireguard kernel module`);
      }
      how = "wireguard-go";
    }
  } else {
    log.info("reusing existing interface", { interface: s.iface });
  }
  const lines = [
    "set -e",
    withSecretOnStdin(shellCommand("wg", "set", s.iface, "private-key", "/dev/stdin", "listen-port", s.listenPort), s.privateKey),
    `${shellCommand("ip", "-4", "address", "flush", "dev", s.iface)}`,
    shellCommand("ip", "-4", "address", "replace", `${s.meshIp}/${s.meshPrefix}`, "dev", s.iface),
    `${shellCommand("ip", "-6", "address", "flush", "dev", s.iface, "scope", "global")} 2>/dev/null || true`,
    ...(s.meshIpv6 ? [`${shellCommand("ip", "-6", "address", "replace", `${s.meshIpv6}/64`, "dev", s.iface, "nodad")} || echo 'wgmesh: IPv6 address not set' >&2`] : []),
    shellCommand("ip", "link", "set", "dev", s.iface, "up"),
  ];
  const r = await runSh(`${lines.join("\n")}\n`);
  if (r.code !== 0) throw new WireGuardError(`configuring ${s.iface} failed: ${r.stderr.trim()}`);
  if (r.stderr.trim()) log.warn("interface setup", { interface: s.iface, detail: r.stderr.trim() });
  return how;
}

export async function teardownInterface(iface: string): Promise<void> {
  if (!interfaceExists(iface)) return;
  await runSh(`${shellCommand("ip", "link", "set", "dev", iface, "down")} 2>/dev/null\n${shellCommand("ip", "link", "del", "dev", iface)} 2>/dev/null || true\n`);
}

interface IpRouteJson {
  dst?: string;
  dev?: string;
  type?: string;
}

function parseHostRoutes(json: string): HostRoute[] {
  let v: unknown;
  try {
    v = JSON.parse(json.trim() || "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const out: HostRoute[] = [];
  for (const r of v as IpRouteJson[]) {
    if (!r.dst || !r.dev || (r.type !== undefined && r.type !== "unicast")) continue;
    if (r.dst === "default") continue;
    out.push({ cidr: r.dst.includes("/") ? r.dst : `${r.dst}/${r.dst.includes(":") ? 128 : 32}`, dev: r.dev });
  }
  return out;
}

export interface ReconcilerOptions {
  local: () => LocalWg;
  peers: () => PeerRecord[];
  psk: string;
  log: Logger;
  intervalMs?: number;
  /** Called after each pass with the number of operations applied (tests, bench). */
  onPass?: (applied: number) => void;
}

export class Reconciler implements PeerSink {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly pskFp: string;
  private lastRejected = "";
  private readonly seen = new Map<string, string>();
  /** Endpoint we last set per peer: WireGuard roaming (NAT rebinding) is not undone unless ours changes. */
  private readonly appliedEndpoint = new Map<string, string>();
  readonly stats = { passes: 0, operations: 0, failures: 0 };

  constructor(private readonly o: ReconcilerOptions) {
    this.pskFp = presharedKeyFingerprint(o.psk);
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.trigger(), this.o.intervalMs ?? RECONCILE_INTERVAL_MS);
    this.timer.unref();
    this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = this.soon = undefined;
    await this.running;
  }

  /** Store events trigger a pass only when something WireGuard carries changed (not on every refresh). */
  onStoreEvent(e: StoreEvent): void {
    if (e.kind === "removed") this.seen.delete(e.pubkey);
    else {
      const p = e.peer;
      const fp = `${p.endpoint}|${p.mesh_ip}|${p.mesh_ipv6}|${p.routable_networks.join(",")}`;
      if (this.seen.get(p.wg_pubkey) === fp) return;
      this.seen.set(p.wg_pubkey, fp);
    }
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.trigger();
    }, 150);
    this.soon.unref();
  }

  /** Run a pass now (or right after the current one). */
  trigger(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async readLive(iface: string): Promise<{ live: LiveState; hostRoutes: HostRoute[] }> {
    const script = `${renderLiveProbe(iface)}\necho '@@main4@@'\nip -j -4 route show table main 2>/dev/null || echo '[]'\necho '@@main6@@'\nip -j -6 route show table main 2>/dev/null || echo '[]'\n`;
    const r = await runSh(script);
    if (r.code !== 0) throw new Error(`reading live state of ${iface} failed: ${r.stderr.trim()}`);
    const live = parseLiveProbe(r.stdout, iface);
    const m4 = r.stdout.indexOf("@@main4@@\n");
    const m6 = r.stdout.indexOf("@@main6@@\n");
    const hostRoutes = m4 >= 0 && m6 > m4 ? [...parseHostRoutes(r.stdout.slice(m4 + 10, m6)), ...parseHostRoutes(r.stdout.slice(m6 + 10))] : [];
    return { live, hostRoutes };
  }

  private async pass(): Promise<void> {
    const local = this.o.local();
    const log = this.o.log;
    this.stats.passes++;
    try {
      const { live, hostRoutes } = await this.readLive(local.iface);
      if (live.interface === null) {
        log.warn("interface is gone; nothing to reconcile", { interface: local.iface });
        return;
      }
      // IPv6 addresses are set up once; the planner's interface models the IPv4 mesh address only
      live.interface.addresses = live.interface.addresses.filter((a) => !a.includes(":"));
      const { desired, rejected } = desiredState(local, this.o.peers(), hostRoutes);
      // Like Go (which re-applies a peer only when its desired endpoint changes), leave a roamed live
      // endpoint alone while our desired endpoint is the one we already set: WireGuard moved it after an
      // authenticated packet (e.g. a NAT rebinding), and setting it back every pass would cut the peer off.
      const liveByKey = new Map(live.peers.map((p) => [p.publicKey, p]));
      for (const p of desired.peers) {
        const lp = liveByKey.get(p.publicKey);
        if (lp && lp.endpoint !== null && p.endpoint !== null && this.appliedEndpoint.get(p.publicKey) === p.endpoint) p.endpoint = null;
      }
      for (const k of [...this.appliedEndpoint.keys()]) if (!desired.peers.some((p) => p.publicKey === k)) this.appliedEndpoint.delete(k);
      const rej = JSON.stringify(rejected);
      if (rej !== this.lastRejected) {
        for (const x of rejected) log.warn("refusing a peer's routable network", { peer: x.peer.slice(0, 16), network: x.cidr, reason: x.why });
        this.lastRejected = rej;
      }
      const ops: Operation[] = diff(desired, live, { presharedKeyFingerprint: this.pskFp }).filter((op) => op.kind !== "interface-up");
      if (ops.length === 0) {
        this.o.onPass?.(0);
        return;
      }
      const script = renderScript(ops, local.iface, { presharedKey: this.o.psk });
      const r = await runSh(script);
      for (const op of ops) {
        const f: Record<string, unknown> = { op: op.kind };
        if ("publicKey" in op && op.publicKey) f["peer"] = op.publicKey.slice(0, 16);
        if (op.kind === "peer-set") {
          if (op.endpoint) f["endpoint"] = op.endpoint;
          if (op.allowedIps) f["allowed_ips"] = sortCidrs(op.allowedIps).join(",");
        }
        if (op.kind === "route-add" || op.kind === "route-del") f["network"] = op.cidr;
        if (op.kind === "address-set") f["address"] = op.add;
        log.debug("wireguard operation", f);
      }
      if (r.code !== 0) {
        this.stats.failures++;
        log.warn("reconcile failed", { interface: local.iface, error: r.stderr.trim().slice(0, 500), script: redactSecrets(script).slice(0, 300) });
      } else {
        for (const op of ops) if (op.kind === "peer-set" && op.endpoint !== undefined) this.appliedEndpoint.set(op.publicKey, op.endpoint);
        this.stats.operations += ops.length;
        log.info("reconciled", { interface: local.iface, operations: ops.length, peers: desired.peers.length, routes: desired.routes.length });
      }
      this.o.onPass?.(ops.length);
    } catch (e) {
      this.stats.failures++;
      log.warn("reconcile error", { interface: local.iface, error: (e as Error).message });
    }
  }
}
