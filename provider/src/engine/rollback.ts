/**
 * The previous state of a host and the way back to it.
 *
 * Every change script starts by keeping what the host had (the snapshot prelude): the wg-quick file as
 * `/etc/wireguard/<if>.conf.prev`, the live WireGuard state as `/etc/wireguard/<if>.live.prev`
 * (`wg showconf`: private key, listen port, peers with their keys, preshared keys, endpoints, allowed IPs)
 * and the firewall file (issue 13) as `/etc/wireguard/<if>.nft.prev` — all 0600, written through a temp file
 * and a rename, removed by teardown. A rollback (one more round trip) puts the firewall back when the change
 * touched it (the previous file reloaded with `nft -f`, atomic; or the table removed when there was none),
 * puts the wg-quick file back (atomic rename), applies the live state online with `wg addconf` (see
 * `liveStateRollback`: sessions of untouched peers go on, no rebind), returns addresses, MTU and routes
 * (planner/rollback.ts), waits for the peers again, and reads the host back.
 */
import { renderOperation } from "../planner/commands";
import { nftListCommand, nftRemoveCommand, nftTableName, type NftState } from "../planner/nft";
import { rollbackOperations } from "../planner/rollback";
import { shellCommand, shellQuote } from "../planner/shell";
import { describeOperation } from "./changes";
import { firewallState } from "./firewall";
import { gateStartLine } from "./gate";
import { hostPaths } from "./paths";
import type { HostReading } from "./probe";
import type { Step } from "./types";

/**
 * The prelude of a change script: the script's start time for the gate, and the snapshot. Never fails the
 * script (a host without `wg` yet, or without the interface, simply has no live state to keep).
 * `keep` false (a change that retires a key: planner/health.ts `retiresKeys`): no snapshot, and any older
 * one is removed — it holds the key being retired, which must be nowhere on the host afterwards.
 */
export function snapshotPrelude(ifname: string, keep = true): string {
  const p = hostPaths(ifname);
  const q = shellQuote;
  if (!keep) return [gateStartLine(), shellCommand("rm", "-f", p.confPrev, p.livePrev, p.nftPrev)].join("\n");
  return [
    gateStartLine(),
    "(",
    "set +e",
    "umask 077",
    `C=${q(p.conf)}; CP=${q(p.confPrev)}; LP=${q(p.livePrev)}; N=${q(p.nft)}; NP=${q(p.nftPrev)}; IF=${q(ifname)}`,
    'if [ -f "$C" ]; then cp "$C" "$CP.wgmesh-tmp" && mv -f "$CP.wgmesh-tmp" "$CP"; else rm -f "$CP"; fi',
    'if [ -f "$N" ]; then cp "$N" "$NP.wgmesh-tmp" && mv -f "$NP.wgmesh-tmp" "$NP"; else rm -f "$NP"; fi',
    'if ip link show dev "$IF" >/dev/null 2>&1 && wg showconf "$IF" > "$LP.wgmesh-tmp" 2>/dev/null; then mv -f "$LP.wgmesh-tmp" "$LP"; else rm -f "$LP.wgmesh-tmp" "$LP"; fi',
    "true",
    ")",
  ].join("\n");
}

function sameFirewall(a: NftState, b: NftState): boolean {
  return a.file.exists === b.file.exists && a.file.bodySha256 === b.file.bodySha256 &&
    a.table.exists === b.table.exists && a.table.listingSha256 === b.table.listingSha256;
}

/**
 * The firewall's way back (empty when the change left it as it was): the previous file reloaded (its table
 * replaced whole, atomically) when there was one, else the table and file removed.
 */
function firewallRollback(ifname: string, before: HostReading, after: HostReading): Step | null {
  const b = firewallState(before);
  const a = firewallState(after);
  if (sameFirewall(b, a)) return null;
  const p = hostPaths(ifname);
  const q = shellQuote;
  const table = `inet ${nftTableName(ifname)}`;
  if (!b.file.exists) {
    return { kind: "rollback", description: `remove the firewall the change loaded (table ${table}, ${p.nft})`, script: nftRemoveCommand(p.nft, table) };
  }
  const dir = p.nft.slice(0, p.nft.lastIndexOf("/"));
  const reload = b.table.exists
    ? 'nft -f "$tmp"'
    : `if ${nftListCommand(table)} >/dev/null 2>&1; then ${shellCommand("nft", "delete", "table", ...table.split(" "))}; fi`;
  return {
    kind: "rollback",
    description: `restore the firewall from ${p.nftPrev} (table ${table})`,
    script: [
      `if [ ! -f ${q(p.nftPrev)} ]; then echo ${q(`wgmesh: ${p.nftPrev} is missing: no firewall to restore`)} >&2; exit 1; fi`,
      `tmp=$(umask 077; mktemp ${q(`${dir}/.${ifname}.nft.XXXXXX`)})`,
      `if cp ${q(p.nftPrev)} "$tmp" && chmod 600 "$tmp" && chown 0:0 "$tmp" && ${reload} && mv -f "$tmp" ${q(p.nft)}; then :; else rm -f "$tmp"; echo ${q(`wgmesh: restoring the firewall from ${p.nftPrev} failed`)} >&2; exit 1; fi`,
    ].join("\n"),
  };
}

/**
 * The live WireGuard state back from the snapshot (`wg showconf` before the change), online, without
 * touching what the change left alone. Not `wg syncconf`: the snapshot carries `ListenPort`, and
 * wireguard-go rebinds its UDP socket whenever it is given a listen port, even the same one, so every
 * peer's packets are dropped for a moment; and a config without the line makes `wg syncconf` pick a random
 * port. So: the snapshot without `ListenPort` (kept when the change moved the port: then the rebind is the
 * point) into a 0600 temp file; peers the change added removed; `wg addconf` (per peer: key, endpoint,
 * AllowedIPs replaced, preshared key and keepalive where the snapshot has them); then a preshared key or a
 * keepalive the change added to a peer that had none cleared. Preshared keys are never read into the shell:
 * awk prints only the public keys of peers that have one.
 */
function liveStateRollback(ifname: string, before: HostReading, after: HostReading): Step {
  const p = hostPaths(ifname);
  const q = shellQuote;
  const portBefore = before.facts.live.interface?.listenPort;
  const keepPort = portBefore !== undefined && portBefore === after.facts.live.interface?.listenPort;
  const dir = p.livePrev.slice(0, p.livePrev.lastIndexOf("/"));
  const withKey = (line: string) => `awk '/^\\[Peer\\]/{k=""} /^PublicKey = /{k=$3} /^${line} = /{print k}' "$tmp"`;
  return {
    kind: "rollback",
    description: `restore the live WireGuard state of ${ifname} from ${p.livePrev} (wg addconf${keepPort ? ", listen port kept: no rebind" : ""}; peers the change added removed)`,
    script: [
      `if [ ! -f ${q(p.livePrev)} ]; then echo ${q(`wgmesh: ${p.livePrev} is missing: nothing to restore`)} >&2; exit 1; fi`,
      `IF=${q(ifname)}; tmp=$(umask 077; mktemp ${q(`${dir}/.${ifname}.live.XXXXXX`)}) || exit 1; ok=1`,
      keepPort ? `sed '/^ListenPort[[:space:]]*=/d' ${q(p.livePrev)} > "$tmp" || ok=0` : `cat ${q(p.livePrev)} > "$tmp" || ok=0`,
      `if [ $ok = 1 ]; then for k in $(wg show "$IF" peers); do grep -qxF "PublicKey = $k" "$tmp" || wg set "$IF" peer "$k" remove || ok=0; done; fi`,
      `if [ $ok = 1 ]; then wg addconf "$IF" "$tmp" || ok=0; fi`,
      `if [ $ok = 1 ]; then psk=$(${withKey("PresharedKey")}); for k in $(wg show "$IF" preshared-keys | awk '$2 != "(none)" {print $1}'); do printf '%s\\n' "$psk" | grep -qxF "$k" || wg set "$IF" peer "$k" preshared-key /dev/null || ok=0; done; fi`,
      `if [ $ok = 1 ]; then ka=$(${withKey("PersistentKeepalive")}); for k in $(wg show "$IF" persistent-keepalive | awk '$2 != "off" {print $1}'); do printf '%s\\n' "$ka" | grep -qxF "$k" || wg set "$IF" peer "$k" persistent-keepalive 0 || ok=0; done; fi`,
      `rm -f "$tmp"`,
      `if [ $ok = 1 ]; then :; else echo ${q(`wgmesh: restoring the live WireGuard state of ${ifname} from ${p.livePrev} failed`)} >&2; exit 1; fi`,
    ].join("\n"),
  };
}

/**
 * The rollback's steps for a host read as `before` (the reading that preceded the change) and `after`
 * (the verification read of the change script): the firewall when the change touched it (a previous one
 * first, like an apply loads it before the conf; a new one removed last), the file when there was one,
 * `wg syncconf` from the snapshot, then addresses/MTU/routes.
 */
export function rollbackSteps(ifname: string, before: HostReading, after: HostReading): Step[] {
  const p = hostPaths(ifname);
  const q = shellQuote;
  const steps: Step[] = [];
  const firewall = firewallRollback(ifname, before, after);
  const firewallFirst = firewall !== null && firewallState(before).file.exists;
  if (firewall && firewallFirst) steps.push(firewall);
  if (before.facts.conf.exists) {
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
  steps.push(liveStateRollback(ifname, before, after));
  for (const op of rollbackOperations(before.facts.live, after.facts.live)) {
    steps.push({ kind: "operation", description: `rollback: ${describeOperation(op)}`, op, script: renderOperation(op, ifname, {}, { bringUp: "systemd" }) });
  }
  if (firewall && !firewallFirst) steps.push(firewall);
  return steps;
}
