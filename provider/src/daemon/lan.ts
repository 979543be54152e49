/**
 * LAN multicast discovery (§4.1): an ANNOUNCE (our announcement without known_peers, < 4096 bytes,
 * fields that pass §2.5 validation) every 5 s — the first at once — to 239.192.m0.m1:51830 with TTL 1;
 * a listener bound to the group with address reuse (Go nodes on the same host share the port).
 * Received: opened with validation, rate limited per source before decryption, replays dropped, our own
 * key skipped. Endpoint = source IP + announced port (51820 if unparsable); method `lan`.
 * Joining the group fails without a route for 224/4; then the daemon runs without LAN (logged), as Go.
 */
import * as dgram from "node:dgram";
import type { DaemonCore, DiscoveryLayer } from "./core";
import { DropReason } from "./counters";
import { multicastGroup } from "./derive";
import { openEnvelope, sealEnvelope } from "./envelope";
import type { Logger } from "./log";
import { decodeAnnouncement, encodeAnnouncement, joinHostPort, PeerAnnouncement, splitHostPort } from "./messages";
import { normalizeIp } from "./netaddr";
import { SourceRateLimiter } from "./ratelimit";
import { senderUpdate } from "./store";
import { ReplayCache } from "./replay";

export const LAN_PORT = 51830;
export const LAN_INTERVAL_MS = 5000;
export const LAN_MAX_BYTES = 4096;

/** The LAN announcement: no known_peers; routable networks trimmed until the envelope fits. */
export function lanAnnouncement(full: PeerAnnouncement, key: Buffer): { data: Buffer; trimmed: number } {
  const a: PeerAnnouncement = { ...full };
  delete a.known_peers;
  delete a.observed_endpoint;
  let trimmed = 0;
  for (;;) {
    const data = sealEnvelope("ANNOUNCE", encodeAnnouncement(a), key);
    if (data.length < LAN_MAX_BYTES || !a.routable_networks?.length) return { data, trimmed };
    a.routable_networks = a.routable_networks.slice(0, -1);
    if (a.routable_networks.length === 0) delete a.routable_networks;
    trimmed++;
  }
}

export interface LanLayerOptions {
  log: Logger;
  port?: number;
  intervalMs?: number;
}

export class LanLayer implements DiscoveryLayer {
  readonly name = "lan";
  readonly stats = { sent: 0, received: 0, accepted: 0 };
  private rx: dgram.Socket | undefined;
  private tx: dgram.Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private core: DaemonCore | undefined;
  private readonly limiter = new SourceRateLimiter(10, 20, 4096);
  private readonly replay = new ReplayCache();
  private warnedTrim = false;

  constructor(private readonly o: LanLayerOptions) {}

  private get port(): number {
    return this.o.port ?? LAN_PORT;
  }

  async start(core: DaemonCore): Promise<void> {
    this.core = core;
    const group = multicastGroup(core.params);
    try {
      const rx = dgram.createSocket({ type: "udp4", reuseAddr: true });
      await new Promise<void>((resolve, reject) => {
        rx.once("error", reject);
        rx.bind({ port: this.port, address: group, exclusive: false }, () => {
          rx.off("error", reject);
          resolve();
        });
      });
      try {
        rx.addMembership(group);
      } catch (e) {
        rx.close();
        throw e;
      }
      rx.on("message", (msg, rinfo) => this.handle(msg, rinfo.address));
      rx.on("error", (e) => this.o.log.warn("[LAN] socket error", { error: e.message }));
      this.rx = rx;
    } catch (e) {
      this.o.log.warn("[LAN] failed to start LAN discovery; continuing without it (is there a route for 224.0.0.0/4?)", { group: `${group}:${this.port}`, error: (e as Error).message });
      return;
    }
    const tx = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((resolve) => tx.bind(0, () => resolve()));
    tx.setMulticastTTL(1);
    tx.on("error", (e) => this.o.log.debug("[LAN] send socket error", { error: e.message }));
    this.tx = tx;
    this.o.log.info("[LAN] discovery started", { group: `${group}:${this.port}` });
    this.send();
    this.timer = setInterval(() => this.send(), this.o.intervalMs ?? LAN_INTERVAL_MS);
    this.timer.unref();
  }

  private send(): void {
    const core = this.core;
    const tx = this.tx;
    if (!core || !tx) return;
    const { data, trimmed } = lanAnnouncement(core.exchange.buildAnnouncement(), core.params.gossipKey);
    if (trimmed && !this.warnedTrim) {
      this.warnedTrim = true;
      this.o.log.warn("[LAN] announcement too large for one LAN datagram; some advertised routes left out of LAN announcements", { left_out: trimmed });
    }
    tx.send(data, this.port, multicastGroup(core.params), (err) => {
      if (err) this.o.log.debug("[LAN] send failed", { error: err.message });
      else this.stats.sent++;
    });
  }

  private drop(reason: DropReason, from: string, detail: string): void {
    this.core?.counters.inc(reason);
    this.o.log.debug("[LAN] dropped packet", { from, reason, detail });
  }

  /** One received datagram. Never throws. */
  handle(msg: Buffer, address: string): void {
    const core = this.core;
    if (!core) return;
    const ip = normalizeIp(address) ?? address;
    try {
      this.stats.received++;
      if (!this.limiter.allow(ip)) return this.drop("rate-limited", ip, "token bucket empty");
      const nowS = Math.floor(Date.now() / 1000);
      const opened = openEnvelope(msg, core.params.gossipKey, nowS, { maxBytes: LAN_MAX_BYTES });
      if (!opened.ok) return this.drop(opened.reason, ip, opened.detail);
      if (opened.type !== "ANNOUNCE") return this.drop("type-mismatch", ip, `${opened.type} on the LAN group`);
      if (this.replay.check(opened.nonce, opened.timestamp, nowS) !== "fresh") return this.drop("replay", ip, "nonce seen before");
      const d = decodeAnnouncement(opened.payload);
      if (!d.ok) return this.drop("invalid-field", ip, d.message);
      const a = d.value;
      if (a.wg_pubkey === core.localNode().pubkey) return; // our own, looped back
      const hp = a.wg_endpoint ? splitHostPort(a.wg_endpoint) : undefined;
      const endpoint = joinHostPort(ip, hp && hp.port >= 1 ? hp.port : 51820);
      const r = core.store.upsert(senderUpdate(a, endpoint), "lan");
      if (r === "full") return this.drop("store-full", ip, a.wg_pubkey);
      this.stats.accepted++;
      if (r === "new") this.o.log.info("[LAN] discovered peer", { pubkey: a.wg_pubkey.slice(0, 16), mesh_ip: a.mesh_ip, endpoint });
    } catch (e) {
      this.drop("internal-error", ip, (e as Error).message);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const socks = [this.rx, this.tx].filter((s): s is dgram.Socket => s !== undefined);
    this.rx = this.tx = undefined;
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
