/**
 * The TCP health probe (§5.7) on gossip_port + 2000: a line protocol where `ping` is answered `pong`.
 * Go peers evict a peer whose probe fails 8 times (after 150 s without handshake), so TS nodes must
 * answer it. Server: answers each `ping` line, ignores other lines, closes after 10 s idle or on a line
 * longer than 1 KiB. Client: one persistent connection, 1.2 s dial and reply timeouts, latency in ms.
 */
import * as net from "node:net";

export const PROBE_PORT_OFFSET = 2000;
export const PROBE_IDLE_MS = 10_000;
export const PROBE_TIMEOUT_MS = 1200;
const MAX_LINE = 1024;

export class ProbeServer {
  private readonly servers: net.Server[] = [];
  private readonly conns = new Set<net.Socket>();

  constructor(private readonly idleMs = PROBE_IDLE_MS) {}

  /** Listen on each address (the mesh IPv4 and IPv6); returns the bound ports. */
  async start(addresses: string[], port: number): Promise<number[]> {
    const ports: number[] = [];
    for (const host of addresses) {
      const srv = net.createServer((s) => this.serve(s));
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(port, host, () => {
          srv.off("error", reject);
          resolve();
        });
      });
      this.servers.push(srv);
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  }

  private serve(s: net.Socket): void {
    this.conns.add(s);
    s.setTimeout(this.idleMs, () => s.destroy());
    s.on("error", () => undefined);
    s.on("close", () => this.conns.delete(s));
    let buf = "";
    s.setEncoding("latin1");
    s.on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "").trim();
        buf = buf.slice(nl + 1);
        if (line === "ping") s.write("pong\n");
      }
      if (buf.length > MAX_LINE) s.destroy();
    });
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await Promise.all(this.servers.splice(0).map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  }
}

/** A persistent probe connection to one peer. */
export class ProbeClient {
  private sock: net.Socket | undefined;
  private buf = "";
  private waiter: ((ok: boolean) => void) | undefined;

  constructor(private readonly host: string, private readonly port: number, private readonly timeoutMs = PROBE_TIMEOUT_MS, private readonly localAddress?: string) {}

  private connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ host: this.host, port: this.port, ...(this.localAddress ? { localAddress: this.localAddress } : {}) });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error("dial timeout"));
      }, this.timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        s.setEncoding("latin1");
        s.on("data", (d: string) => {
          this.buf += d;
          let nl: number;
          while ((nl = this.buf.indexOf("\n")) >= 0) {
            const line = this.buf.slice(0, nl).trim();
            this.buf = this.buf.slice(nl + 1);
            if (line === "pong" && this.waiter) {
              const w = this.waiter;
              this.waiter = undefined;
              w(true);
            }
          }
        });
        const gone = (): void => {
          if (this.sock === s) this.sock = undefined;
          const w = this.waiter;
          this.waiter = undefined;
          w?.(false);
        };
        s.on("close", gone);
        s.on("error", gone);
        resolve(s);
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** One ping; resolves to the round-trip in ms, or undefined on failure. */
  async ping(): Promise<number | undefined> {
    try {
      if (!this.sock) this.sock = await this.connect();
    } catch {
      return undefined;
    }
    const s = this.sock;
    const t0 = process.hrtime.bigint();
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(false);
      }, this.timeoutMs);
      this.waiter = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      s.write("ping\n");
    });
    if (!ok) {
      this.close();
      return undefined;
    }
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }

  close(): void {
    this.sock?.destroy();
    this.sock = undefined;
  }
}
