/**
 * Pure: the WireGuard state this daemon wants, from the peer store (§5.5), in the planner's
 * `NodeDesiredState` shape so the planner's `diff` produces the operations.
 *
 * - Peers: active (seen < 5 min), with a mesh IPv4 and an endpoint (Go configures no endpoint-less peer),
 *   derived PSK, keepalive 25, AllowedIPs = mesh /32 + /128 + accepted routable networks.
 * - Mesh-IP collisions between peers: the lower pubkey keeps the /32; the loser gets no mesh /32 until it
 *   moves (two peers cannot own one AllowedIP: WireGuard would flip it on every apply). A peer holding
 *   our own mesh IP never gets it either.
 * - Routable networks are accepted only when sane (weakness 1/8): prefix at least /8 (IPv4) or /16
 *   (IPv6); not overlapping the mesh subnet or IPv6 prefix, our own advertised networks, or any
 *   non-default route the host has through another device (a peer cannot hijack our LAN); a network
 *   advertised by two peers goes to the lower pubkey. Routes go `dev <if>`: WireGuard's AllowedIPs pick
 *   the peer (equivalent to Go's `via <peer mesh IP>`).
 * - Forwarding only when this node advertises networks (weakness 8); never iptables.
 */
import { canonicalCidr, cidrsOverlap, sortCidrs } from "../core/cidr";
import type { NodeDesiredState, PeerConfig } from "../planner/types";
import { findCollisions } from "./collisions";
import type { PeerRecord } from "./store";

export const KEEPALIVE_S = 25;

export interface LocalWg {
  iface: string;
  publicKey: string;
  meshIp: string;
  /** Mesh prefix length (16, or the custom subnet's). */
  meshPrefix: number;
  /** Mesh network CIDR (e.g. 10.53.0.0/16). */
  meshCidr: string;
  /** Mesh IPv6 /64 CIDR. */
  meshV6Cidr: string;
  listenPort: number;
  advertiseRoutes: string[];
  hostname: string;
}

export interface HostRoute {
  cidr: string;
  dev: string;
}

export interface RejectedRoute {
  peer: string;
  cidr: string;
  why: string;
}

function minPrefixOk(cidr: string): boolean {
  const len = Number(cidr.slice(cidr.indexOf("/") + 1));
  return cidr.includes(":") ? len >= 16 : len >= 8;
}

export function desiredState(local: LocalWg, peers: PeerRecord[], hostRoutes: HostRoute[] = []): { desired: NodeDesiredState; rejected: RejectedRoute[] } {
  const candidates = peers.filter((p) => p.wg_pubkey !== local.publicKey && p.mesh_ip && p.endpoint).sort((a, b) => (a.wg_pubkey < b.wg_pubkey ? -1 : 1));
  const losers = new Set<string>();
  for (const c of findCollisions(candidates)) for (const l of c.losers) losers.add(l);
  const rejected: RejectedRoute[] = [];
  const owned = new Set<string>();
  const foreign = hostRoutes.filter((r) => r.dev !== local.iface && !/\/0$/.test(r.cidr));
  const peerConfigs: PeerConfig[] = [];
  const routes: string[] = [];
  for (const p of candidates) {
    const allowed: string[] = [];
    if (!losers.has(p.wg_pubkey) && p.mesh_ip !== local.meshIp) allowed.push(`${p.mesh_ip}/32`);
    if (p.mesh_ipv6) allowed.push(`${p.mesh_ipv6}/128`);
    for (const raw of p.routable_networks) {
      let cidr: string;
      try {
        cidr = canonicalCidr(raw);
      } catch {
        rejected.push({ peer: p.wg_pubkey, cidr: raw, why: "not a CIDR" });
        continue;
      }
      const why = !minPrefixOk(cidr) ? "prefix too short (minimum /8, IPv6 /16)"
        : cidrsOverlap(cidr, local.meshCidr) || cidrsOverlap(cidr, local.meshV6Cidr) ? "overlaps the mesh network"
        : local.advertiseRoutes.some((o) => cidrsOverlap(o, cidr)) ? "overlaps a network this node advertises"
        : foreign.some((r) => cidrsOverlap(r.cidr, cidr)) ? `overlaps a route of this host via ${foreign.find((r) => cidrsOverlap(r.cidr, cidr))?.dev}`
        : owned.has(cidr) ? "already advertised by a peer with a lower key" : undefined;
      if (why) {
        rejected.push({ peer: p.wg_pubkey, cidr, why });
        continue;
      }
      owned.add(cidr);
      allowed.push(cidr);
      routes.push(cidr);
    }
    if (allowed.length === 0) continue;
    peerConfigs.push({
      hostname: p.hostname || p.wg_pubkey.slice(0, 16),
      publicKey: p.wg_pubkey,
      endpoint: p.endpoint,
      allowedIps: sortCidrs(allowed),
      persistentKeepalive: KEEPALIVE_S,
      presharedKey: true,
    });
  }
  return {
    desired: {
      hostname: local.hostname,
      interface: { name: local.iface, address: `${local.meshIp}/${local.meshPrefix}`, listenPort: local.listenPort, mtu: null, publicKey: local.publicKey },
      peers: peerConfigs.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)),
      routes: sortCidrs(routes),
      forwarding: local.advertiseRoutes.length > 0,
    },
    rejected,
  };
}
