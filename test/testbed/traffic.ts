/**
 * Running traffic across a mesh while keys change (issue 16): starts trafficmon.ts in every testbed host
 * (its hosts need `binds: [nodeBind()]`)
 * (pings + one long-lived TCP stream per pair), reads the hosts' status files, and turns them into the
 * report the tests assert on and print: per pair the worst ping gap in a time window (both directions),
 * whether its TCP stream survived (no error, no close, data flowing again after the window) and its worst
 * TCP gap.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Testbed } from "./testbed";
import { GAP_MS, type Gap, type MonitorStatus } from "./trafficmon";

const SCRIPT = path.join(__dirname, "trafficmon.js");

/** The bind that gives testbed hosts this machine's Node (the monitor, listeners and long-lived clients). */
export function nodeBind(): { source: string; target: string; readOnly: boolean } {
  return { source: fs.realpathSync(process.execPath), target: "/usr/local/bin/node", readOnly: true };
}
const PORT = 7777;
const OUT = "/run/trafficmon.json";

export interface TrafficMesh {
  tb: Testbed;
  /** Node name → testbed host. */
  hostOf: (name: string) => string;
  names: string[];
  meshIps: Record<string, string>;
}

/** Starts the monitor in every node's host and waits until every pair has ping replies and its TCP stream. */
export async function startTraffic(m: TrafficMesh): Promise<void> {
  const code = fs.readFileSync(SCRIPT, "utf8");
  await Promise.all(m.names.map(async (n) => {
    const peers = Object.fromEntries(m.names.filter((p) => p !== n).map((p) => [p, m.meshIps[p]]));
    await m.tb.execOk(m.hostOf(n), "cat > /run/trafficmon.js", { input: code });
    await m.tb.exec(m.hostOf(n), ["systemctl", "stop", "trafficmon"]);
    await m.tb.execOk(m.hostOf(n), ["systemd-run", "--unit=trafficmon", "--collect", "/usr/local/bin/node", "/run/trafficmon.js", JSON.stringify({ self: n, peers, port: PORT, out: OUT })]);
  }));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await readTraffic(m);
    const missing = m.names.flatMap((n) => Object.entries(s[n]?.pairs ?? {}).filter(([, p]) => p.ping.received < 3 || !p.tcp?.connected || p.tcp.received < 3).map(([peer]) => `${n}→${peer}`));
    if (s && Object.keys(s).length === m.names.length && missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`traffic did not start between every pair within 30 s: ${missing.join(", ") || "no status"}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

export async function stopTraffic(m: TrafficMesh): Promise<void> {
  await Promise.all(m.names.map((n) => m.tb.exec(m.hostOf(n), ["systemctl", "stop", "trafficmon"])));
}

/** Every node's monitor status (a node whose file cannot be read is left out). */
export async function readTraffic(m: TrafficMesh): Promise<Record<string, MonitorStatus>> {
  const out: Record<string, MonitorStatus> = {};
  await Promise.all(m.names.map(async (n) => {
    const r = await m.tb.exec(m.hostOf(n), ["cat", OUT]);
    if (r.code === 0 && r.stdout.trim()) out[n] = JSON.parse(r.stdout) as MonitorStatus;
  }));
  return out;
}

export interface PairReport {
  pair: string;
  /** Worst gap between ping replies that started in the window, either direction (ms; 0: none over GAP_MS). */
  pingGapMs: number;
  /** Worst gap of the TCP stream in the window, either side (ms). */
  tcpGapMs: number;
  /** No error or close on either side, and data received by both after the window. */
  tcpSurvived: boolean;
  /** Pings answered both ways after the window. */
  pingResumed: boolean;
  tcpEvents: string[];
}

const worst = (gaps: Gap[], from: number, to: number) => Math.max(0, ...gaps.filter((g) => g.at + g.ms >= from && g.at <= to).map((g) => g.ms));

/**
 * Per unordered pair, the traffic in the window [from, to] (epoch ms), read `settleMs` after `to` so that the
 * streams had time to resume. The status must be newer than `to`.
 */
export async function trafficReport(m: TrafficMesh, from: number, to: number, settleMs = 3000): Promise<PairReport[]> {
  await new Promise((r) => setTimeout(r, Math.max(0, to + settleMs - Date.now())));
  const s = await readTraffic(m);
  const rows: PairReport[] = [];
  for (const [i, a] of m.names.entries()) {
    for (const b of m.names.slice(i + 1)) {
      const ab = s[a]?.pairs[b];
      const ba = s[b]?.pairs[a];
      if (!ab || !ba) {
        rows.push({ pair: `${a}–${b}`, pingGapMs: Infinity, tcpGapMs: Infinity, tcpSurvived: false, pingResumed: false, tcpEvents: ["no status"] });
        continue;
      }
      const events = [...(ab.tcp?.events ?? []).map((e) => `${a}: ${e}`), ...(ba.tcp?.events ?? []).map((e) => `${b}: ${e}`)];
      rows.push({
        pair: `${a}–${b}`,
        pingGapMs: Math.max(worst(ab.ping.gaps, from, to), worst(ba.ping.gaps, from, to)),
        tcpGapMs: Math.max(worst(ab.tcp?.gaps ?? [], from, to), worst(ba.tcp?.gaps ?? [], from, to)),
        tcpSurvived: events.length === 0 && !!ab.tcp?.connected && !!ba.tcp?.connected && ab.tcp.lastRx > to && ba.tcp.lastRx > to,
        pingResumed: ab.ping.lastRx > to && ba.ping.lastRx > to,
        tcpEvents: events,
      });
    }
  }
  return rows;
}

/** A gap for display: "< 300 ms" when none longer than GAP_MS was seen. */
export function gapText(ms: number): string {
  return ms === 0 ? `< ${GAP_MS} ms` : `${ms} ms`;
}

/** The report as lines for t.diagnostic. */
export function formatReport(rows: PairReport[]): string[] {
  return rows.map((r) => `${r.pair}: worst ping gap ${gapText(r.pingGapMs)}, TCP ${r.tcpSurvived ? "survived" : "BROKEN"} (worst gap ${gapText(r.tcpGapMs)})${r.tcpEvents.length ? ` ${r.tcpEvents.join("; ")}` : ""}${r.pingResumed ? "" : ", pings NOT resumed"}`);
}

/** One line: the worst gaps of any pair. */
export function worstLine(rows: PairReport[]): string {
  return `worst ping gap of any pair ${gapText(Math.max(0, ...rows.map((x) => x.pingGapMs)))}, worst TCP gap ${gapText(Math.max(0, ...rows.map((x) => x.tcpGapMs)))}, ${rows.filter((x) => x.tcpSurvived).length}/${rows.length} TCP streams survived`;
}
