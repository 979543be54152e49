/**
 * The previous state of a host and the way back to it.
 *
 * Every change script starts by keeping what the host had (the snapshot prelude): the wg-quick file as
 * `/etc/wireguard/<if>.conf.prev` and the live WireGuard state as `/etc/wireguard/<if>.live.prev`
 * (`wg showconf`: private key, listen port, peers with their keys, endpoints, allowed IPs) — both 0600,
 * written through a temp file and a rename, removed by teardown. A rollback (one more round trip) puts the
 * file back (atomic rename), applies the live state online with `wg syncconf` (only what differs changes:
 * sessions of untouched peers go on), returns addresses, MTU and routes (planner/rollback.ts), waits for
 * the peers again, and reads the host back.
 */
import { renderOperation } from "../planner/commands";
import { rollbackOperations } from "../planner/rollback";
import { shellCommand, shellQuote } from "../planner/shell";
import type { LiveState } from "../planner/types";
import { describeOperation } from "./changes";
import { gateStartLine } from "./gate";
import { hostPaths } from "./paths";
import type { Step } from "./types";

/**
 * The prelude of a change script: the script's start time for the gate, and the snapshot. Never fails the
 * script (a host without `wg` yet, or without the interface, simply has no live state to keep).
 */
export function snapshotPrelude(ifname: string): string {
  const p = hostPaths(ifname);
  const q = shellQuote;
  return [
    gateStartLine(),
    "(",
    "set +e",
    "umask 077",
    `C=${q(p.conf)}; CP=${q(p.confPrev)}; LP=${q(p.livePrev)}; IF=${q(ifname)}`,
    'if [ -f "$C" ]; then cp "$C" "$CP.wgmesh-tmp" && mv -f "$CP.wgmesh-tmp" "$CP"; else rm -f "$CP"; fi',
    'if ip link show dev "$IF" >/dev/null 2>&1 && wg showconf "$IF" > "$LP.wgmesh-tmp" 2>/dev/null; then mv -f "$LP.wgmesh-tmp" "$LP"; else rm -f "$LP.wgmesh-tmp" "$LP"; fi',
    "true",
    ")",
  ].join("\n");
}

/**
 * The rollback's steps for a host read as `before` (the reading that preceded the change) and `after`
 * (the verification read of the change script): restore the file when there was one, `wg syncconf` from
 * the snapshot, then addresses/MTU/routes.
 */
export function rollbackSteps(ifname: string, before: LiveState, after: LiveState, hadConf: boolean): Step[] {
  const p = hostPaths(ifname);
  const q = shellQuote;
  const steps: Step[] = [];
  if (hadConf) {
    const dir = p.conf.slice(0, p.conf.lastIndexOf("/"));
    steps.push({
      kind: "rollback",
      description: `restore ${p.conf} from ${p.confPrev}`,
      script: [
        `if [ ! -f ${q(p.confPrev)} ]; then echo ${q(`wgmesh: ${p.confPrev} is missing: nothing to restore`)} >&2; exit 1; fi`,
        `tmp=$(umask 077; mktemp ${q(`${dir}/.${ifname}.conf.XXXXXX`)})`,
        `if cp ${q(p.confPrev)} "$tmp" && chmod 600 "$tmp" && chown 0:0 "$tmp" && mv -f "$tmp" ${q(p.conf)}; then :; else rm -f "$tmp"; exit 1; fi`,
      ].join("\n"),
    });
  }
  steps.push({
    kind: "rollback",
    description: `restore the live WireGuard state of ${ifname} (wg syncconf ${p.livePrev})`,
    script: `if [ ! -f ${q(p.livePrev)} ]; then echo ${q(`wgmesh: ${p.livePrev} is missing: nothing to restore`)} >&2; exit 1; fi\n` +
      shellCommand("wg", "syncconf", ifname, p.livePrev),
  });
  for (const op of rollbackOperations(before, after)) {
    steps.push({ kind: "operation", description: `rollback: ${describeOperation(op)}`, op, script: renderOperation(op, ifname, {}, { bringUp: "systemd" }) });
  }
  return steps;
}
