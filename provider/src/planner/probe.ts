/**
 * One shell snippet that prints everything `parseLiveState` needs for an interface, in marked sections, so
 * the engine can read a host's live state in the same exec round trip as its other facts. The interface
 * private key is blanked on the host (awk) before anything is printed: it never crosses the SSH channel.
 */
import { assertInterfaceName } from "./commands";
import { findRouteConflicts, parseLiveState, type RouteConflict } from "./live";
import { shellCommand, shellQuote } from "./shell";
import type { LiveState } from "./types";

const SECTIONS = ["dump", "addr", "route4", "route6", "forward", "conf", "main4", "main6"] as const;
type Section = (typeof SECTIONS)[number];
const marker = (s: string): string => `@@wgmesh-live:${s}@@`;

export interface ProbeOptions {
  /** Also print the SHA-256 of this file (the wg-quick file), to skip rewriting an identical file. */
  confPath?: string;
  /** Also print the host's main routing tables (for `probeRouteConflicts`). */
  mainTable?: boolean;
}

/** POSIX sh snippet; never fails (a missing interface prints empty sections). */
export function renderLiveProbe(ifname: string, options: ProbeOptions = {}): string {
  assertInterfaceName(ifname);
  const conf = options.confPath === undefined ? [] : [`echo '${marker("conf")}'`, `{ sha256sum < ${shellQuote(options.confPath)}; } 2>/dev/null | cut -c1-64 || true`];
  const main = options.mainTable
    ? [`echo '${marker("main4")}'`, "ip -j -4 route show table main 2>/dev/null || true", `echo '${marker("main6")}'`, "ip -j -6 route show table main 2>/dev/null || true"]
    : [];
  return [
    `echo '${marker("dump")}'`,
    `{ ${shellCommand("wg", "show", ifname, "dump")} 2>/dev/null || true; } | awk -F '\\t' -v OFS='\\t' 'NR == 1 { $1 = "(hidden)" } { print }'`,
    `echo '${marker("addr")}'`,
    `${shellCommand("ip", "-j", "addr", "show", "dev", ifname)} 2>/dev/null || true`,
    `echo '${marker("route4")}'`,
    `${shellCommand("ip", "-j", "-4", "route", "show", "dev", ifname)} 2>/dev/null || true`,
    `echo '${marker("route6")}'`,
    `${shellCommand("ip", "-j", "-6", "route", "show", "dev", ifname)} 2>/dev/null || true`,
    `echo '${marker("forward")}'`,
    `cat /proc/sys/net/ipv4/ip_forward`,
    ...conf,
    ...main,
    `echo '${marker("end")}'`,
  ].join("\n");
}

function sections(output: string, ifname: string): Partial<Record<Section, string>> {
  const lines = output.split("\n");
  const start = lines.indexOf(marker("dump"));
  const end = lines.indexOf(marker("end"), start);
  if (start < 0 || end < 0) throw new Error(`live probe output for ${ifname} is incomplete (markers missing)`);
  const parts: Partial<Record<Section, string>> = {};
  let current: Section | null = null;
  let buf: string[] = [];
  for (const line of lines.slice(start, end + 1)) {
    const m = /^@@wgmesh-live:([a-z0-9]+)@@$/.exec(line);
    if (m) {
      if (current) parts[current] = buf.join("\n");
      current = (SECTIONS as readonly string[]).includes(m[1] as string) ? (m[1] as Section) : null;
      buf = [];
      continue;
    }
    buf.push(line);
  }
  return parts;
}

/** Parse the probe's output (it may be embedded in a larger output; the marked block is found). */
export function parseLiveProbe(output: string, ifname: string): LiveState {
  const parts = sections(output, ifname);
  return parseLiveState({
    ifname,
    wgDump: parts.dump ?? "",
    ipAddr: parts.addr ?? "",
    ipRoute: parts.route4 ?? "",
    ipRoute6: parts.route6 ?? "",
    ipForward: parts.forward ?? "",
  });
}

/** SHA-256 (hex) of the wg-quick file on the host, from a probe rendered with `confPath`; null when absent. */
export function probeConfDigest(output: string, ifname: string): string | null {
  const text = (sections(output, ifname).conf ?? "").trim();
  return /^[0-9a-f]{64}$/.test(text) ? text : null;
}

/** Desired routes the host already routes through another device (probe rendered with `mainTable`). */
export function probeRouteConflicts(output: string, ifname: string, desiredRoutes: string[]): RouteConflict[] {
  const parts = sections(output, ifname);
  return findRouteConflicts(desiredRoutes, ifname, parts.main4 ?? "", parts.main6 ?? "");
}
