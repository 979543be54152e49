/**
 * The key-switch rendezvous of the Pulumi front doors (engine/rendezvous.ts `partnerRendezvous`): Pulumi's
 * engine updates the NodeConfigs of a mesh one resource operation each, in parallel; each update that switches
 * a key (the node's own, a peer's, a pair's preshared key) waits after planning for the NodeConfigs of the
 * nodes it switches with, so that both ends of every rotated tunnel change together — not seconds apart, as
 * their SSH handshakes and reads happen to finish on a loaded machine. One rendezvous per mesh per provider
 * process: the dynamic providers' process and the provider plugin each serve every NodeConfig of an update.
 */
import { partnerRendezvous, type PartnerRendezvous, type PartnerSync } from "../../engine/rendezvous";
import { KEY_SWITCH_MAX_WAIT_MS } from "../../engine/deploy";
import type { PairKey } from "../../core/psk";
import type { PeerInputs } from "./peerLines";

/**
 * How long no NodeConfig update may start or plan before the waiting ones switch without the partners that
 * have not started (Pulumi's parallelism is then lower than the number of nodes switching, or `--target` left
 * them out). The updates of one change are handed over within a fraction of a second of each other.
 */
export const KEY_SWITCH_IDLE_MS = 5_000;

/** The parts of a NodeConfig's inputs that say which keys it holds. */
export interface KeyHolding {
  publicKey: string;
  peers: Record<string, Pick<PeerInputs, "publicKey">>;
  presharedKeys?: Record<string, Pick<PairKey, "key">> | null;
}

/**
 * The nodes whose tunnels with this one switch a key when `olds` becomes `news`: every peer when the node's own
 * key changes; a peer that stays and whose public key or preshared key changes (set, changed or removed).
 * A peer added or removed switches nothing: its tunnel starts or ends. Sorted.
 */
export function keySwitchPartners(olds: KeyHolding, news: KeyHolding): string[] {
  const peers = Object.keys(news.peers ?? {});
  if (olds.publicKey !== news.publicKey) return peers.sort();
  const out: string[] = [];
  for (const h of peers) {
    const before = olds.peers?.[h];
    if (!before) continue;
    if (before.publicKey !== news.peers[h]?.publicKey || (olds.presharedKeys?.[h]?.key ?? null) !== (news.presharedKeys?.[h]?.key ?? null)) out.push(h);
  }
  return out.sort();
}

const meshes = new Map<string, PartnerRendezvous>();

/**
 * The sync of one NodeConfig operation of mesh `mesh`. A hostname seen again (another update in the same
 * process) starts a new rendezvous for the mesh: the earlier one's jobs keep theirs.
 */
export function keySwitchParty(mesh: string, hostname: string, partners: readonly string[]): PartnerSync {
  let r = meshes.get(mesh);
  if (!r || r.has(hostname)) {
    r = partnerRendezvous({ maxWaitMs: KEY_SWITCH_MAX_WAIT_MS, idleMs: KEY_SWITCH_IDLE_MS });
    meshes.set(mesh, r);
  }
  return r.party(hostname, partners);
}
