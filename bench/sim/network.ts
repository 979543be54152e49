/**
 * An in-memory UDP network for the simulation. Sockets have node:dgram's shape (the parts the daemon's
 * exchange and k-rpc-socket use); a datagram is delivered after a seeded latency as a virtual timer, or
 * lost: the loss rate is per IP packet, and a datagram larger than one 1500-byte MTU travels as fragments,
 * lost if any one is (as on a real path). What a kernel would refuse is refused the same way: a payload
 * above the UDP maximum (65,507 bytes) fails with EMSGSIZE, a datagram to an address nobody listens on
 * vanishes (ICMP is not modelled). Datagrams to a mesh address travel "through the tunnel": the network
 * asks `tunnel(fromIp, meshIp)` which node, if any, WireGuard would carry them to, and the receiver sees
 * the sender's mesh address as source, as on a real host.
 */
import { EventEmitter } from "node:events";
import { ipv4Fragments, MAX_UDP_PAYLOAD } from "../../provider/src/daemon/envelope";
import type { RemoteInfo } from "../../provider/src/daemon/transport";
import type { SimRandom } from "./random";

export interface NetworkOptions {
  rng: SimRandom;
  /** Probability (0–1) that a datagram is lost. */
  loss: number;
  /** One-way latency range (ms). */
  minLatencyMs: number;
  maxLatencyMs: number;
  /** Tunnel routing: where a datagram from `fromIp` to mesh address `meshIp` ends up (node IP + source mesh IP). */
  tunnel?: (fromIp: string, meshIp: string) => { nodeIp: string; sourceIp: string } | undefined;
  /** Is this a mesh (tunnel) address? */
  isMeshAddress?: (ip: string) => boolean;
}

export interface TrafficCounters {
  datagrams: number;
  bytes: number;
  lost: number;
  oversize: number;
  unreachable: number;
}

function emptyCounters(): TrafficCounters {
  return { datagrams: 0, bytes: 0, lost: 0, oversize: 0, unreachable: 0 };
}

export class SimNetwork {
  private readonly sockets = new Map<string, SimSocket>();
  private nextEphemeral = 40000;
  /** Traffic by socket label ("exchange", "dht", "bootstrap", …). */
  readonly traffic = new Map<string, TrafficCounters>();
  /** Hosts cut off (crashed): they send nothing and receive nothing. */
  readonly down = new Set<string>();

  constructor(readonly o: NetworkOptions) {}

  /** A new unbound socket on host `ip`; `label` groups its traffic in the counters. */
  socket(ip: string, label: string): SimSocket {
    return new SimSocket(this, ip, label);
  }

  counters(label: string): TrafficCounters {
    let c = this.traffic.get(label);
    if (!c) this.traffic.set(label, (c = emptyCounters()));
    return c;
  }

  /** @internal */
  bind(s: SimSocket, port: number): number {
    let p = port;
    if (p === 0) {
      do p = this.nextEphemeral++;
      while (this.sockets.has(`${s.ip}:${p}`));
    }
    const key = `${s.ip}:${p}`;
    if (this.sockets.has(key)) {
      const e = new Error(`bind EADDRINUSE ${key}`) as NodeJS.ErrnoException;
      e.code = "EADDRINUSE";
      throw e;
    }
    this.sockets.set(key, s);
    return p;
  }

  /** @internal */
  unbind(s: SimSocket): void {
    const key = `${s.ip}:${s.port}`;
    if (this.sockets.get(key) === s) this.sockets.delete(key);
  }

  /** @internal Send from socket `s`; returns the error a kernel would return, if any. */
  send(s: SimSocket, data: Buffer, port: number, host: string): Error | undefined {
    if (this.down.has(s.ip)) return undefined;
    const c = this.counters(s.label);
    if (data.length > MAX_UDP_PAYLOAD) {
      c.oversize++;
      const e = new Error(`send EMSGSIZE ${host}:${port}`) as NodeJS.ErrnoException;
      e.code = "EMSGSIZE";
      return e;
    }
    c.datagrams++;
    c.bytes += data.length;
    const ip = host.startsWith("::ffff:") ? host.slice(7) : host;
    let toIp = ip;
    let sourceIp = s.ip;
    if (this.o.isMeshAddress?.(ip)) {
      const t = this.o.tunnel?.(s.ip, ip);
      if (!t) {
        c.unreachable++;
        return undefined;
      }
      toIp = t.nodeIp;
      sourceIp = t.sourceIp;
    }
    if (this.down.has(toIp) || !this.sockets.has(`${toIp}:${port}`)) {
      c.unreachable++; // nobody listens there (left, crashed, never was): the datagram vanishes
      return undefined;
    }
    // loss is per IP packet: a datagram is lost when any of its fragments is
    if (this.o.loss > 0 && this.o.rng.float() >= (1 - this.o.loss) ** ipv4Fragments(data.length)) {
      c.lost++;
      return undefined;
    }
    const delay = this.o.minLatencyMs + this.o.rng.float() * (this.o.maxLatencyMs - this.o.minLatencyMs);
    // Delivered as sent, without the kernel's copy: nothing here changes a buffer it has sent (the exchange
    // resends the same sealed HELLO, k-rpc encodes each message anew) or one it has received.
    const copy = data;
    const fromPort = s.port;
    setTimeout(() => {
      const dst = this.down.has(toIp) ? undefined : this.sockets.get(`${toIp}:${port}`);
      if (!dst) {
        c.unreachable++;
        return;
      }
      dst.deliver(copy, { address: sourceIp, port: fromPort });
    }, delay);
    return undefined;
  }
}

/** node:dgram's Socket, as far as the daemon's exchange and k-rpc-socket use it. */
export class SimSocket extends EventEmitter {
  port = 0;
  private bound = false;
  private closed = false;

  constructor(private readonly net: SimNetwork, readonly ip: string, readonly label: string) {
    super();
  }

  /** bind([port], [address], [callback]) as dgram accepts it; the address is always this host's. */
  bind(...args: unknown[]): this {
    const cb = args.find((a): a is () => void => typeof a === "function");
    const port = typeof args[0] === "number" ? args[0] : typeof args[0] === "object" && args[0] !== null ? Number((args[0] as { port?: number }).port ?? 0) : 0;
    try {
      this.port = this.net.bind(this, port);
      this.bound = true;
    } catch (e) {
      queueMicrotask(() => this.emit("error", e));
      return this;
    }
    queueMicrotask(() => {
      this.emit("listening");
      cb?.();
    });
    return this;
  }

  /** send(msg, port, address, cb) or send(msg, offset, length, port, address, cb). */
  send(msg: Buffer, ...rest: unknown[]): void {
    let data = msg;
    let port: number;
    let host: string;
    let cb: ((err: Error | null) => void) | undefined;
    if (typeof rest[2] === "number") {
      const [offset, length] = rest as [number, number];
      data = msg.subarray(offset, offset + length);
      port = rest[2];
      host = rest[3] as string;
      cb = rest[4] as typeof cb;
    } else {
      port = rest[0] as number;
      host = rest[1] as string;
      cb = rest[2] as typeof cb;
    }
    if (!this.bound) this.bind(0);
    const err = this.closed ? new Error("Not running") : this.net.send(this, data, port, host);
    if (cb) queueMicrotask(() => cb?.(err ?? null));
    else if (err) queueMicrotask(() => this.emit("error", err));
  }

  /** @internal */
  deliver(data: Buffer, from: RemoteInfo): void {
    if (!this.closed) this.emit("message", data, { ...from, family: "IPv4", size: data.length });
  }

  address(): RemoteInfo & { family: string } {
    return { address: this.ip, port: this.port, family: "IPv4" };
  }

  close(cb?: () => void): this {
    if (!this.closed) {
      this.closed = true;
      this.net.unbind(this);
      queueMicrotask(() => {
        this.emit("close");
        cb?.();
      });
    }
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}
