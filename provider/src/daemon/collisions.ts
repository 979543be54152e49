/**
 * Mesh-IP collisions (§5.8). Among peers sharing a mesh IP the lower pubkey string wins. Unlike Go
 * (weakness 10), the local node takes part: if a peer with a lower key holds our address, we move to the
 * first nonce-derived address (§1.4) that no known peer uses — the caller persists it.
 */
import { CustomSubnet, MeshParams, meshIPv4WithNonce } from "./derive";
import { PeerRecord } from "./store";

export interface Collision {
  meshIp: string;
  winner: string;
  losers: string[];
}

export function findCollisions(peers: readonly Pick<PeerRecord, "wg_pubkey" | "mesh_ip">[]): Collision[] {
  const byIp = new Map<string, string[]>();
  for (const p of peers) {
    if (!p.mesh_ip) continue;
    const list = byIp.get(p.mesh_ip) ?? [];
    list.push(p.wg_pubkey);
    byIp.set(p.mesh_ip, list);
  }
  const out: Collision[] = [];
  for (const [ip, keys] of byIp) {
    if (keys.length < 2) continue;
    const sorted = [...new Set(keys)].sort();
    if (sorted.length < 2) continue;
    out.push({ meshIp: ip, winner: sorted[0] as string, losers: sorted.slice(1) });
  }
  return out;
}

/** Our new address when we lose a collision, else undefined. */
export function resolveLocalCollision(
  p: MeshParams, self: { pubkey: string; meshIp: string }, peers: Iterable<Pick<PeerRecord, "wg_pubkey" | "mesh_ip">>, subnet?: CustomSubnet, maxNonce = 64,
): string | undefined {
  // One pass (the peers may be a one-shot iterator) for the rival, whose usual answer is "none": the set
  // of used addresses is built only when we must move.
  const others: Pick<PeerRecord, "wg_pubkey" | "mesh_ip">[] = [];
  let rival = false;
  for (const x of peers) {
    if (x.wg_pubkey === self.pubkey) continue;
    others.push(x);
    if (x.mesh_ip === self.meshIp && x.wg_pubkey < self.pubkey) rival = true;
  }
  if (!rival) return undefined;
  const used = new Set(others.map((x) => x.mesh_ip));
  for (let n = 1; n <= maxNonce; n++) {
    const ip = meshIPv4WithNonce(p, self.pubkey, n, subnet);
    const last = Number(ip.split(".")[3]);
    if (!subnet && (last === 0 || last === 255)) continue; // Go's nonce scheme may yield .0/.255; skip them
    if (!used.has(ip)) return ip;
  }
  return undefined;
}
