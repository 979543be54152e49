/**
 * The engine's part of the node firewall (planner/firewall.ts plans it, planner/nft.ts renders it): which
 * steps bring the host's table and file to the plan, what is left after an apply, and what teardown removes.
 * Pure (reading in, steps out); hooked into changes.ts, apply.ts and teardown.ts.
 *
 * On the host: `/etc/wireguard/<if>.nft` (0600, the whole table `inet wgmesh_<if>` as one `nft -f`
 * transaction, plus the recorded digest of the live listing) and the table itself. The wg-quick file's
 * `PreUp = nft -f /etc/wireguard/<if>.nft` loads it at every start of wg-quick@<if>, before the interface
 * exists, so after a reboot the same table is back before any mesh packet arrives.
 */
import { confDigest } from "../planner/wgquick";
import { nftApplyCommand, nftMatches, nftRemoveCommand, nftTableName, renderNftRuleset, type NftState } from "../planner/nft";
import type { NodeDesiredState } from "../planner/types";
import { hostPaths } from "./paths";
import type { HostReading } from "./probe";
import type { Step } from "./types";

const NONE: NftState = { tool: false, file: { exists: false, mode: null, owner: null, bodySha256: null, recordedListing: null }, table: { exists: false, listingSha256: null }, listing: null };

/** The host's firewall as read (nothing when the reading had no firewall block). */
export function firewallState(reading: HostReading): NftState {
  return reading.probe?.firewall ?? { ...NONE, tool: reading.facts.tools?.nft === true };
}

/** The planned file text of a node, or null when the node has no firewall. */
export function firewallText(desired: NodeDesiredState): string | null {
  return desired.firewall ? renderNftRuleset(desired.interface.name, desired.firewall) : null;
}

/** "as planned", "missing", "differs from the plan" or "present but not planned". */
export function firewallStatus(desired: NodeDesiredState, reading: HostReading): ReturnType<typeof nftMatches> {
  const text = firewallText(desired);
  return nftMatches(firewallState(reading), text === null ? null : confDigest(text));
}

/**
 * Steps for the firewall. `load` comes before the wg-quick file is written (its PreUp names the file, so
 * the file must exist first); `remove` after it (the file no longer names it).
 */
export function firewallSteps(desired: NodeDesiredState, reading: HostReading): { load: Step[]; remove: Step[] } {
  const ifname = desired.interface.name;
  const p = hostPaths(ifname);
  const table = `inet ${nftTableName(ifname)}`;
  const status = firewallStatus(desired, reading);
  if (status === "as planned") return { load: [], remove: [] };
  const text = firewallText(desired);
  if (text === null) {
    return { load: [], remove: [{ kind: "remove-firewall", description: `remove the firewall (table ${table}, ${p.nft}): no longer enforced`, script: nftRemoveCommand(p.nft, table) }] };
  }
  const rules = Object.keys(desired.firewall?.rules ?? {}).length;
  const why = status === "missing" ? "" : ` (${status === "differs from the plan" ? "the host's differs" : status})`;
  return {
    load: [{ kind: "write-firewall", description: `load the firewall: table ${table}, ${rules} rule(s), from ${p.nft}${why}`, script: nftApplyCommand(p.nft, table, text) }],
    remove: [],
  };
}

/** What differs after an apply (empty when the firewall is as planned). */
export function firewallDifferences(desired: NodeDesiredState, after: HostReading): string[] {
  const status = firewallStatus(desired, after);
  return status === "as planned" ? [] : [`firewall ${status}`];
}

/** Teardown: the table and the file, when present. */
export function firewallTeardownSteps(ifname: string, reading: HostReading): Step[] {
  const s = firewallState(reading);
  if (!s.file.exists && !s.table.exists) return [];
  const p = hostPaths(ifname);
  const table = `inet ${nftTableName(ifname)}`;
  return [{ kind: "teardown", description: `remove the firewall (table ${table}, ${p.nft})`, script: nftRemoveCommand(p.nft, table) }];
}

export function firewallLeftovers(ifname: string, reading: HostReading): string[] {
  const s = firewallState(reading);
  return [...(s.table.exists ? [`nft table inet ${nftTableName(ifname)}`] : []), ...(s.file.exists ? [hostPaths(ifname).nft] : [])];
}
