/**
 * Small helpers over the real WireGuard tools for the engine-suite tests (keys from `wg`, live state read
 * the way the engine reads it, wg-quick up/down).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { parseLiveState } from "../../provider/src/planner/live";
import { parseLiveProbe, renderLiveProbe } from "../../provider/src/planner/probe";
import type { LiveState } from "../../provider/src/planner/types";
import type { Netns } from "./netns";

export function genkey(): string {
  return execFileSync("wg", ["genkey"], { encoding: "utf8" }).trim();
}
export function pubkey(priv: string): string {
  return execFileSync("wg", ["pubkey"], { input: `${priv}\n`, encoding: "utf8" }).trim();
}
export function genpsk(): string {
  return execFileSync("wg", ["genpsk"], { encoding: "utf8" }).trim();
}

/** The live state as the engine reads it: the probe snippet run in one shell (private key blanked on the host). */
export function readLive(ns: Netns, ifname: string): LiveState {
  const r = ns.script(renderLiveProbe(ifname));
  assert.equal(r.status, 0, r.stderr);
  const priv = ns.run(["wg", "show", ifname, "private-key"]).stdout.trim();
  if (priv !== "") assert.ok(!r.stdout.includes(priv), "the probe never prints the private key");
  return parseLiveProbe(r.stdout, ifname);
}

/** The same, from each command's output separately (cross-checks the probe). */
export function readLiveDirect(ns: Netns, ifname: string): LiveState {
  return parseLiveState({
    ifname,
    wgDump: ns.run(["wg", "show", ifname, "dump"]).stdout,
    ipAddr: ns.run(["ip", "-j", "addr", "show", "dev", ifname]).stdout,
    ipRoute: ns.run(["ip", "-j", "route", "show", "dev", ifname]).stdout,
    ipRoute6: ns.run(["ip", "-j", "-6", "route", "show", "dev", ifname]).stdout,
    ipForward: ns.must(["cat", "/proc/sys/net/ipv4/ip_forward"]),
  });
}

export function wgQuick(ns: Netns, verb: "up" | "down", file: string): void {
  const r = ns.run(["wg-quick", verb, file]);
  assert.equal(r.status, 0, `wg-quick ${verb} ${file}: ${r.stderr}`);
}

