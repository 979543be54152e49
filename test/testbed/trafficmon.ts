/**
 * Traffic monitor run INSIDE a testbed host (the key-rotation tests, issue 16): measures, towards every other
 * node, what a user's traffic sees while keys change — copied into the host and run with the machine's Node
 * (bound in as /usr/local/bin/node); only Node's own modules.
 *
 *   node trafficmon.js '{"self":"a","peers":{"b":"10.9.0.2"},"port":7777,"out":"/run/trafficmon.json"}'
 *
 * - ICMP: `ping -D -i 0.1` to every peer's mesh IP; each gap between two replies longer than GAP_MS is
 *   recorded (start = the last reply before it, length).
 * - TCP: one long-lived connection per pair (the node with the lower name dials, the other echoes), a line
 *   every 100 ms each way; gaps between echoes recorded likewise; any error or close is recorded (a
 *   connection is never re-opened: it must survive).
 * The status goes to `out` (atomically) every 250 ms: `{ now, pairs: { peer: { ping, tcp } } }`.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";

/** A gap longer than this is recorded (traffic runs every 100 ms). */
export const GAP_MS = 300;

export interface Gap {
  /** Epoch ms of the last packet before the gap. */
  at: number;
  ms: number;
}

export interface Stream {
  /** Packets (ping replies / TCP echo chunks) received. */
  received: number;
  /** Epoch ms of the last one (0: none yet). */
  lastRx: number;
  gaps: Gap[];
}

export interface TcpStream extends Stream {
  role: "client" | "server";
  connected: boolean;
  /** Errors and closes, in order ("ECONNRESET at …", "closed at …"). */
  events: string[];
}

export interface PairStatus {
  ping: Stream;
  tcp: TcpStream | null;
}

export interface MonitorStatus {
  self: string;
  now: number;
  pairs: Record<string, PairStatus>;
}

interface Config {
  self: string;
  peers: Record<string, string>;
  port: number;
  out: string;
}

function stream(): Stream {
  return { received: 0, lastRx: 0, gaps: [] };
}

function seen(s: Stream, at: number): void {
  if (s.lastRx > 0 && at - s.lastRx > GAP_MS) s.gaps.push({ at: s.lastRx, ms: at - s.lastRx });
  s.lastRx = Math.max(s.lastRx, at);
  s.received++;
}

function main(config: Config): void {
  const status: MonitorStatus = { self: config.self, now: Date.now(), pairs: {} };
  const byIp = new Map<string, string>();
  for (const [peer, ip] of Object.entries(config.peers)) {
    status.pairs[peer] = { ping: stream(), tcp: null };
    byIp.set(ip, peer);
  }

  // ICMP, both directions measured (each side pings the other).
  for (const [peer, ip] of Object.entries(config.peers)) {
    const p = spawn("ping", ["-n", "-D", "-i", "0.1", "-W", "1", ip], { stdio: ["ignore", "pipe", "ignore"] });
    let buf = "";
    p.stdout.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^\[(\d+\.\d+)\] \d+ bytes from /.exec(line);
        if (m) seen((status.pairs[peer] as PairStatus).ping, Math.round(Number(m[1]) * 1000));
      }
    });
  }

  const track = (peer: string, role: "client" | "server", sock: net.Socket): void => {
    const t: TcpStream = { ...stream(), role, connected: true, events: [] };
    (status.pairs[peer] as PairStatus).tcp = t;
    sock.setNoDelay(true);
    sock.on("data", () => seen(t, Date.now()));
    sock.on("error", (e: NodeJS.ErrnoException) => t.events.push(`${e.code ?? e.message} at ${Date.now()}`));
    sock.on("close", () => {
      t.connected = false;
      t.events.push(`closed at ${Date.now()}`);
    });
    const timer = setInterval(() => { if (t.connected) sock.write("x\n"); }, 100);
    sock.on("close", () => clearInterval(timer));
  };

  net.createServer((sock) => {
    const peer = byIp.get((sock.remoteAddress ?? "").replace(/^::ffff:/, ""));
    if (peer === undefined) return void sock.destroy();
    track(peer, "server", sock);
  }).listen(config.port, "0.0.0.0");

  // The lower name dials; until its first connection it retries (the mesh may still be forming).
  for (const [peer, ip] of Object.entries(config.peers)) {
    if (!(config.self < peer)) continue;
    const dial = (): void => {
      const sock = net.connect(config.port, ip);
      sock.once("connect", () => track(peer, "client", sock));
      sock.once("error", () => { if (!(status.pairs[peer] as PairStatus).tcp) setTimeout(dial, 200); });
    };
    dial();
  }

  setInterval(() => {
    status.now = Date.now();
    const tmp = `${config.out}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(status));
    fs.renameSync(tmp, config.out);
  }, 250);
}

if (require.main === module) main(JSON.parse(process.argv[2] ?? "{}") as Config);
