/**
 * Policy evaluation: turns a validated mesh (every node with a mesh IP) into one NodeDesiredState per node.
 *
 * Semantics (issue 3, "Policy semantics"):
 * - Access control is on when any group or policy is defined; then everything is denied by default.
 * - X ≠ Y are peers iff some policy has X in a from-group and Y in a to-group, or the reverse.
 *   Without access control every pair is peered.
 * - X's AllowedIPs for Y: Y's mesh IP /32, plus Y's routable networks when some policy with X in a
 *   from-group and Y in a to-group has allowRoutableNetworks (without access control: always).
 *   allowMeshIps does not change AllowedIPs.
 * - Endpoint of Y: publicEndpoint; else sshHost:listenPort unless Y is behind NAT; else none.
 * - Keepalive: a node behind NAT sets the mesh's keepalive on every peer; otherwise none.
 * - Routes of X: every non-mesh CIDR in X's AllowedIPs; never X's own networks. X forwards when it has
 *   routable networks.
 *
 * Scale: relations are computed per group pair and per distinct group-membership set ("signature"), never
 * per node pair; the PeerConfig objects are built once per (peer, with-routes?, keepalive?) and shared,
 * frozen, between the nodes that carry them (do not mutate them). Time is O(N log N + total peers +
 * Σ policies |from|·|to|); extra memory O(N) beside the output, however many distinct group sets exist.
 */
import type { NodeDesiredState, PeerConfig } from "./desired";
import { cidrRange, canonicalCidr, ipv4Range, sortCidrs } from "./cidr";
import { accessControlEnabled, nodeEndpoint, nodeListenPort, type Mesh, type MeshNode } from "./model";

/** Who peers with whom, and who gets whose routable networks, over node indices in hostname order. */
export interface PeerRelations {
  /** The mesh's nodes sorted by hostname (code-unit order); indices below refer to this array. */
  readonly nodes: readonly MeshNode[];
  readonly accessControl: boolean;
  /** Index of a hostname in `nodes`. */
  indexOf(hostname: string): number | undefined;
  /** Every node index once, in the order in which successive `peersOf` calls are cheapest. */
  readonly order: ArrayLike<number>;
  /** Indices of i's peers, ascending (= hostname order), never i itself. */
  peersOf(i: number): number[];
  /** Whether j's routable networks are in i's AllowedIPs for peer j (assumes i and j are peers). */
  routesAllowed(i: number, j: number): boolean;
}

export function compareHostnames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Build the relations. Tolerant of an invalid mesh (unknown members or groups are ignored), so that
 * validation can use it for its warnings.
 */
export function buildPeerRelations(mesh: Mesh): PeerRelations {
  const nodes = [...mesh.nodes].sort((a, b) => compareHostnames(a.hostname, b.hostname));
  const n = nodes.length;
  const index = new Map<string, number>();
  nodes.forEach((node, i) => { if (!index.has(node.hostname)) index.set(node.hostname, i); });
  const indexOf = (h: string) => index.get(h);

  if (!accessControlEnabled(mesh)) {
    return {
      nodes, accessControl: false, indexOf, order: Int32Array.from(nodes.keys()),
      peersOf(i) {
        const out = new Array<number>(Math.max(0, n - 1));
        let k = 0;
        for (let j = 0; j < n; j++) if (j !== i) out[k++] = j;
        return out;
      },
      routesAllowed: () => true,
    };
  }

  // Groups (first definition of a name wins; duplicates are a validation error) and their members.
  const groupIndex = new Map<string, number>();
  const members: number[][] = [];
  for (const g of mesh.groups) {
    if (groupIndex.has(g.name)) continue;
    groupIndex.set(g.name, members.length);
    const seen = new Set<number>();
    for (const m of g.members) {
      const i = index.get(m);
      if (i !== undefined) seen.add(i);
    }
    members.push([...seen].sort((a, b) => a - b));
  }

  // Group-pair relations, sparse: peered (symmetric) and routable (from → to) adjacency per group.
  const peerAdj: Array<Set<number>> = members.map(() => new Set());
  const routAdj: Array<Set<number>> = members.map(() => new Set());
  for (const p of mesh.policies) {
    const from = p.fromGroups.map((x) => groupIndex.get(x)).filter((x): x is number => x !== undefined);
    const to = p.toGroups.map((x) => groupIndex.get(x)).filter((x): x is number => x !== undefined);
    for (const f of from) {
      for (const t of to) {
        (peerAdj[f] as Set<number>).add(t);
        (peerAdj[t] as Set<number>).add(f);
        if (p.allowRoutableNetworks) (routAdj[f] as Set<number>).add(t);
      }
    }
  }

  // Each node's groups, and its signature (its distinct set of groups): nodes with the same signature
  // have the same peers (minus themselves) and the same AllowedIPs grants.
  const nodeGroups: number[][] = nodes.map(() => []);
  members.forEach((list, g) => { for (const i of list) (nodeGroups[i] as number[]).push(g); });
  const sigIndex = new Map<string, number>();
  const sigGroups: number[][] = [];
  const nodeSig = new Int32Array(n);
  nodeGroups.forEach((gs, i) => {
    const key = gs.join(",");
    let s = sigIndex.get(key);
    if (s === undefined) {
      s = sigGroups.length;
      sigIndex.set(key, s);
      sigGroups.push(gs);
    }
    nodeSig[i] = s;
  });
  // Node indices ordered by signature: walking them in this order, consecutive calls share one cached
  // signature, so memory stays O(N) however many distinct signatures there are.
  const order = Int32Array.from(nodes.keys()).sort((a, b) => (nodeSig[a] as number) - (nodeSig[b] as number) || a - b);

  // One-entry caches: the sorted union of the signature's peer-group members (self included; removed
  // per node), and the set of groups whose routable networks the signature may use.
  const mark = new Int32Array(n).fill(-1);
  let stamp = 0;
  let peerSig = -1;
  let peerList = new Int32Array(0);
  const sigPeers = (s: number): Int32Array => {
    if (s === peerSig) return peerList;
    const groups = new Set<number>();
    for (const g of sigGroups[s] as number[]) for (const h of peerAdj[g] as Set<number>) groups.add(h);
    const list: number[] = [];
    stamp++;
    for (const h of groups) {
      for (const j of members[h] as number[]) {
        if (mark[j] !== stamp) { mark[j] = stamp; list.push(j); }
      }
    }
    peerSig = s;
    peerList = Int32Array.from(list).sort();
    return peerList;
  };
  let routSig = -1;
  let routSet = new Set<number>();
  const sigRoutableTo = (s: number): Set<number> => {
    if (s === routSig) return routSet;
    const to = new Set<number>();
    for (const g of sigGroups[s] as number[]) for (const h of routAdj[g] as Set<number>) to.add(h);
    routSig = s;
    routSet = to;
    return to;
  };

  return {
    nodes, accessControl: true, indexOf, order,
    peersOf(i) {
      const list = sigPeers(nodeSig[i] as number);
      const out: number[] = [];
      for (let k = 0; k < list.length; k++) {
        const j = list[k] as number;
        if (j !== i) out.push(j);
      }
      return out;
    },
    routesAllowed(i, j) {
      const to = sigRoutableTo(nodeSig[i] as number);
      for (const g of nodeGroups[j] as number[]) if (to.has(g)) return true;
      return false;
    },
  };
}

/** The result of planning a whole mesh. */
export interface MeshPlan {
  interfaceName: string;
  network: string;
  /** One desired state per node, sorted by hostname. Peer objects are shared between nodes and frozen. */
  nodes: NodeDesiredState[];
}

/**
 * Evaluate the policies of a validated mesh whose nodes all have a mesh IP and a public key.
 * Throws (a programming error, not a user error) if that precondition does not hold.
 */
export function planMesh(mesh: Mesh, relations: PeerRelations = buildPeerRelations(mesh)): MeshPlan {
  const { nodes } = relations;
  const prefix = ipv4Range(mesh.network).prefix;
  const keepalive = mesh.persistentKeepalive > 0 ? mesh.persistentKeepalive : null;

  // One rank per distinct routable CIDR, in compareCidrs order, so route lists sort as integers.
  const canonical: string[][] = nodes.map((node) => node.routableNetworks.map(canonicalCidr));
  const distinct = [...new Set(canonical.flat())];
  const keyed = distinct.map((c) => ({ c, r: cidrRange(c) }));
  keyed.sort((x, y) =>
    x.r.family - y.r.family || (x.r.first < y.r.first ? -1 : x.r.first > y.r.first ? 1 : 0) || (x.r.last > y.r.last ? -1 : x.r.last < y.r.last ? 1 : 0));
  const rank = new Map<string, number>();
  keyed.forEach(({ c }, r) => rank.set(c, r));
  const byRank = keyed.map(({ c }) => c);
  const ownRanks = canonical.map((list) => list.map((c) => rank.get(c) as number).sort((a, b) => a - b));

  // Shared, frozen PeerConfig per (peer j, with routes?, keepalive?).
  const cache: Array<Array<PeerConfig | undefined>> = nodes.map(() => []);
  const peerConfig = (j: number, withRoutes: boolean, natSender: boolean): PeerConfig => {
    const slot = (withRoutes ? 2 : 0) + (natSender ? 1 : 0);
    const slots = cache[j] as Array<PeerConfig | undefined>;
    const hit = slots[slot];
    if (hit) return hit;
    const node = nodes[j] as MeshNode;
    if (node.meshIp === null || node.publicKey === null) throw new Error(`planMesh: node '${node.hostname}' has no mesh IP or public key (validate and allocate first)`);
    const own = ownRanks[j] as number[];
    const allowedIps = withRoutes && own.length > 0
      ? sortCidrs([`${node.meshIp}/32`, ...own.map((r) => byRank[r] as string)])
      : [`${node.meshIp}/32`];
    const cfg: PeerConfig = Object.freeze({
      hostname: node.hostname,
      publicKey: node.publicKey,
      endpoint: nodeEndpoint(mesh, node),
      allowedIps: Object.freeze(allowedIps) as string[],
      persistentKeepalive: natSender ? keepalive : null,
      presharedKey: false,
    });
    slots[slot] = cfg;
    return cfg;
  };

  const out: NodeDesiredState[] = new Array(nodes.length);
  const routeMark = new Int32Array(byRank.length).fill(-1);
  for (let k = 0; k < relations.order.length; k++) {
    const i = relations.order[k] as number;
    const node = nodes[i] as MeshNode;
    if (node.meshIp === null || node.publicKey === null) throw new Error(`planMesh: node '${node.hostname}' has no mesh IP or public key (validate and allocate first)`);
    for (const r of ownRanks[i] as number[]) routeMark[r] = i; // never route own networks into the mesh
    const peerIdx = relations.peersOf(i);
    const peers = new Array<PeerConfig>(peerIdx.length);
    const routeRanks: number[] = [];
    for (let p = 0; p < peerIdx.length; p++) {
      const j = peerIdx[p] as number;
      const own = ownRanks[j] as number[];
      const withRoutes = own.length > 0 && relations.routesAllowed(i, j);
      peers[p] = peerConfig(j, withRoutes, node.behindNat);
      if (withRoutes) {
        for (const r of own) {
          if (routeMark[r] !== i) { routeMark[r] = i; routeRanks.push(r); }
        }
      }
    }
    routeRanks.sort((a, b) => a - b);
    out[i] = {
      hostname: node.hostname,
      interface: {
        name: mesh.interfaceName,
        address: `${node.meshIp}/${prefix}`,
        listenPort: nodeListenPort(mesh, node),
        mtu: mesh.mtu,
        publicKey: node.publicKey,
      },
      peers,
      routes: routeRanks.map((r) => byRank[r] as string),
      forwarding: node.routableNetworks.length > 0,
    };
  }
  return { interfaceName: mesh.interfaceName, network: mesh.network, nodes: out };
}
