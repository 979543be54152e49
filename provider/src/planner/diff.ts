/**
 * desired + live → the minimal ordered operations (the shape of tailscale's wgcfg writer), and a pure
 * model of what the kernel looks like after applying them.
 *
 * Order: peer removes; interface changes (private key, listen port, address, MTU) — all online, never an
 * interface restart; peer sets carrying only what changed; route deletes; route adds; forwarding.
 *
 * WireGuard semantics decided here:
 * - `allowed-ips a,b` REPLACES a peer's list, and a CIDR set on one peer is taken from any other peer
 *   that had exactly that CIDR. So a changed list is always sent whole.
 * - A desired endpoint of null means "not configured": the peer is behind NAT and WireGuard learns its
 *   endpoint when it connects (roaming). A live endpoint is then left alone — `wg` cannot clear an endpoint,
 *   and removing + re-adding the peer would cut its session on every apply for nothing.
 * - A desired endpoint that is a DNS name matches a live endpoint found in `options.resolvedEndpoints`
 *   for that name; without resolutions, it matches any live endpoint with the same port.
 * - Keepalive null or 0 = off; turning it off sends `persistent-keepalive 0`.
 * - PSK: set when the live peer has none or (when the fingerprint of its PSK is given: per peer in
 *   `options.presharedKeyFingerprints`, else `options.presharedKeyFingerprint`) a different one; removed
 *   (`/dev/null`) when the peer must have none.
 * - MTU only when the desired MTU is set (null = wg-quick's automatic MTU, not managed).
 * - Forwarding is only turned on, never off: desired `false` means "not needed by the mesh", and other
 *   software on the host (containers, routers) may need it.
 * - A missing live interface gives `interface-up` (from the wg-quick file the engine writes first).
 * - An address change (`address-set`: old addresses deleted, then the new one) can make the kernel flush
 *   the device's IPv4 routes (deleting the last IPv4 address, or a primary address whose same-subnet
 *   secondaries go with it). So after an address change every desired route of that family is re-added
 *   (`ip route replace`, idempotent), and `route-del` succeeds when the route is already gone.
 */
import * as ipaddr from "ipaddr.js";
import { sortCidrs } from "../core/cidr";
import { isLiteralEndpoint, normalizeEndpoint } from "./live";
import type { LivePeer, LiveState, NodeDesiredState, Operation, PeerConfig } from "./types";

export interface DiffOptions {
  /** For desired endpoints given as DNS names: the "ip:port" endpoints each name currently resolves to. */
  resolvedEndpoints?: Record<string, string[]>;
  /** Fingerprint (planner/live.ts `presharedKeyFingerprint`) of Secrets.presharedKey, to detect a PSK change. */
  presharedKeyFingerprint?: string;
  /** (additive) Per-peer fingerprints, by peer public key, of Secrets.presharedKeys (they win over the shared one). */
  presharedKeyFingerprints?: Record<string, string>;
}

/** The fingerprint of the PSK a peer must have (its own, else the shared one), if known. */
function wantedFingerprint(options: DiffOptions, publicKey: string): string | undefined {
  const own = options.presharedKeyFingerprints;
  return own && Object.prototype.hasOwnProperty.call(own, publicKey) ? own[publicKey] : options.presharedKeyFingerprint;
}

function keepalive(v: number | null | undefined): number | null {
  return v === null || v === undefined || v === 0 ? null : v;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function endpointPort(e: string): string {
  return e.slice(e.lastIndexOf(":") + 1);
}

/** Whether the live endpoint satisfies the desired one (null desired = anything). */
export function endpointMatches(desired: string | null, live: string | null, options: DiffOptions = {}): boolean {
  if (desired === null) return true;
  if (live === null) return false;
  if (isLiteralEndpoint(desired)) return normalizeEndpoint(desired) === normalizeEndpoint(live);
  const resolved = options.resolvedEndpoints?.[desired];
  if (resolved !== undefined) return resolved.map(normalizeEndpoint).includes(normalizeEndpoint(live));
  return endpointPort(desired) === endpointPort(live);
}

function peerSet(want: PeerConfig, have: LivePeer | undefined, options: DiffOptions): Operation | null {
  const op: Extract<Operation, { kind: "peer-set" }> = { kind: "peer-set", publicKey: want.publicKey, hostname: want.hostname };
  const allowed = sortCidrs(want.allowedIps);
  const ka = keepalive(want.persistentKeepalive);
  const fingerprint = wantedFingerprint(options, want.publicKey);
  if (!have) {
    if (want.presharedKey) op.presharedKey = true;
    if (want.endpoint !== null) op.endpoint = want.endpoint;
    if (ka !== null) op.persistentKeepalive = ka;
    op.allowedIps = allowed;
  } else {
    if (want.presharedKey && !have.presharedKey) op.presharedKey = true;
    else if (want.presharedKey && fingerprint !== undefined && have.presharedKeyFingerprint !== undefined &&
      have.presharedKeyFingerprint !== fingerprint) op.presharedKey = true;
    else if (!want.presharedKey && have.presharedKey) op.presharedKey = false;
    if (want.endpoint !== null && !endpointMatches(want.endpoint, have.endpoint, options)) op.endpoint = want.endpoint;
    if (ka !== keepalive(have.persistentKeepalive)) op.persistentKeepalive = ka ?? 0;
    if (!sameList(allowed, sortCidrs(have.allowedIps))) op.allowedIps = allowed;
    if (Object.keys(op).length === 3) return null;
  }
  if (op.presharedKey === true && fingerprint !== undefined) op.presharedKeyFingerprint = fingerprint;
  return op;
}

function sameAddress(a: string, b: string): boolean {
  return normalizeAddress(a) === normalizeAddress(b);
}

function addressFamily(a: string): "4" | "6" {
  return a.includes(":") ? "6" : "4";
}

function normalizeAddress(a: string): string {
  const slash = a.indexOf("/");
  if (slash < 0) return a;
  try {
    return `${ipaddr.parse(a.slice(0, slash)).toString()}/${a.slice(slash + 1)}`;
  } catch {
    return a;
  }
}

/** The minimal ordered operations that turn `live` into `desired`. Empty when they already agree. */
export function diff(desired: NodeDesiredState, live: LiveState, options: DiffOptions = {}): Operation[] {
  const ops: Operation[] = [];
  const forwarding: Operation[] = desired.forwarding && !live.forwarding ? [{ kind: "forwarding", enabled: true }] : [];
  const li = live.interface;
  if (li === null) return [{ kind: "interface-up" }, ...forwarding];

  const wanted = new Map(desired.peers.map((p) => [p.publicKey, p]));
  const present = new Map(live.peers.map((p) => [p.publicKey, p]));
  for (const p of [...live.peers].sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0))) {
    if (!wanted.has(p.publicKey)) ops.push({ kind: "peer-remove", publicKey: p.publicKey });
  }

  const want = desired.interface;
  if (li.publicKey !== want.publicKey) ops.push({ kind: "private-key", publicKey: want.publicKey });
  if (li.listenPort !== want.listenPort) ops.push({ kind: "listen-port", port: want.listenPort });
  const extra = li.addresses.filter((a) => !sameAddress(a, want.address));
  // Removing an IPv4 address can flush every IPv4 route of the device (the last address of the family, or
  // a primary whose secondaries go with it): after an address change, the family's routes are re-added.
  const flushed = new Set<string>();
  if (extra.length > 0 || !li.addresses.some((a) => sameAddress(a, want.address))) {
    ops.push({ kind: "address-set", remove: extra, add: want.address });
    for (const a of extra) flushed.add(addressFamily(a));
  }
  if (want.mtu !== null && li.mtu !== want.mtu) ops.push({ kind: "mtu", mtu: want.mtu });

  for (const p of desired.peers) {
    const op = peerSet(p, present.get(p.publicKey), options);
    if (op) ops.push(op);
  }

  const wantRoutes = sortCidrs(desired.routes);
  const haveRoutes = new Set(sortCidrs(live.routes));
  const wantSet = new Set(wantRoutes);
  for (const r of sortCidrs(live.routes)) if (!wantSet.has(r)) ops.push({ kind: "route-del", cidr: r });
  for (const r of wantRoutes) if (!haveRoutes.has(r) || flushed.has(addressFamily(r))) ops.push({ kind: "route-add", cidr: r });

  ops.push(...forwarding);
  return ops;
}

const DEFAULT_AUTO_MTU = 1420;

/**
 * Pure model of the kernel after `ops` run on `live` (WireGuard and iproute2 semantics as above).
 * `desired` is needed only for `interface-up` (the interface then comes up from the wg-quick file).
 * Linear in the size of the state plus the operations.
 */
export function applyOperations(live: LiveState, ops: Operation[], desired?: NodeDesiredState): LiveState {
  let ifc = live.interface === null ? null : { ...live.interface, addresses: [...live.interface.addresses] };
  let forwarding = live.forwarding;
  // Peers in kernel order (insertion), allowed IPs as sets, and which peer owns each exact CIDR.
  const peers = new Map<string, LivePeer>();
  const allowed = new Map<string, Set<string>>();
  const owner = new Map<string, string>();
  const changed = new Set<string>();
  const putPeer = (p: LivePeer, initial = false): void => {
    if (!initial) changed.add(p.publicKey);
    peers.set(p.publicKey, { ...p, allowedIps: [] });
    allowed.set(p.publicKey, new Set(p.allowedIps));
    for (const c of p.allowedIps) owner.set(c, p.publicKey);
  };
  const dropPeer = (key: string): void => {
    for (const c of allowed.get(key) ?? []) if (owner.get(c) === key) owner.delete(c);
    peers.delete(key);
    allowed.delete(key);
  };
  for (const p of live.peers) putPeer(p, true);
  let routes = new Set(live.routes);

  for (const op of ops) {
    if (op.kind === "interface-up") {
      if (!desired) throw new Error("applyOperations: interface-up needs the desired state");
      const d = desired.interface;
      ifc = { name: d.name, publicKey: d.publicKey, listenPort: d.listenPort, addresses: [normalizeAddress(d.address)], mtu: d.mtu ?? DEFAULT_AUTO_MTU };
      for (const key of [...peers.keys()]) dropPeer(key);
      for (const p of desired.peers) {
        putPeer({ publicKey: p.publicKey, presharedKey: p.presharedKey, endpoint: p.endpoint, allowedIps: sortCidrs(p.allowedIps), latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: keepalive(p.persistentKeepalive) });
      }
      routes = new Set(sortCidrs(desired.routes));
      continue;
    }
    if (op.kind === "forwarding") {
      forwarding = op.enabled;
      continue;
    }
    if (ifc === null) throw new Error(`applyOperations: ${op.kind} on a missing interface`);
    switch (op.kind) {
      case "peer-remove":
        dropPeer(op.publicKey);
        break;
      case "private-key":
        if (op.publicKey === undefined) throw new Error("applyOperations: private-key without its public key cannot be modelled");
        ifc.publicKey = op.publicKey;
        // WireGuard drops a peer whose key equals the interface's own public key.
        dropPeer(op.publicKey);
        break;
      case "listen-port":
        ifc.listenPort = op.port;
        break;
      case "address-set": {
        const removed = new Set(op.remove.map(normalizeAddress));
        const kept = ifc.addresses.map(normalizeAddress).filter((a) => !removed.has(a));
        ifc.addresses = [...new Set([...kept, normalizeAddress(op.add)])].sort();
        // Worst case of the kernel: the family's routes on the device are gone (diff re-adds them).
        if (op.remove.length > 0) {
          const fams = new Set(op.remove.map(addressFamily));
          routes = new Set([...routes].filter((r) => !fams.has(addressFamily(r))));
        }
        break;
      }
      case "mtu":
        ifc.mtu = op.mtu;
        break;
      case "route-del":
        routes.delete(op.cidr);
        break;
      case "route-add":
        routes.add(op.cidr);
        break;
      case "handshake":
        // Traffic, not configuration: the peer's settings end as they were — but `wg set … peer K` creates
        // a peer that does not exist (with no allowed IPs), so the model does too.
        if (!peers.has(op.publicKey)) {
          putPeer({ publicKey: op.publicKey, presharedKey: false, endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: keepalive(op.persistentKeepalive) });
        }
        break;
      case "handshake-confirm":
        // An entry added again has the settings it had (the desired ones, set by the operations before).
        break;
      case "peer-set": {
        let p = peers.get(op.publicKey);
        if (!p) {
          putPeer({ publicKey: op.publicKey, presharedKey: false, endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null });
          p = peers.get(op.publicKey) as LivePeer;
        }
        if (op.presharedKey !== undefined) {
          p.presharedKey = op.presharedKey;
          if (op.presharedKey && op.presharedKeyFingerprint !== undefined) p.presharedKeyFingerprint = op.presharedKeyFingerprint;
          else delete p.presharedKeyFingerprint;
        }
        if (op.endpoint !== undefined) p.endpoint = isLiteralEndpoint(op.endpoint) ? normalizeEndpoint(op.endpoint) : op.endpoint;
        if (op.persistentKeepalive !== undefined) p.persistentKeepalive = keepalive(op.persistentKeepalive);
        if (op.allowedIps !== undefined) {
          const list = sortCidrs(op.allowedIps);
          for (const c of allowed.get(op.publicKey) ?? []) if (owner.get(c) === op.publicKey) owner.delete(c);
          for (const c of list) {
            const prev = owner.get(c);
            if (prev !== undefined && prev !== op.publicKey) {
              allowed.get(prev)?.delete(c); // WireGuard moves an exact CIDR to the peer that sets it last
              changed.add(prev);
            }
            owner.set(c, op.publicKey);
          }
          allowed.set(op.publicKey, new Set(list));
          changed.add(op.publicKey);
        }
        break;
      }
    }
  }
  const originalAllowed = new Map(live.peers.map((p) => [p.publicKey, p.allowedIps]));
  return {
    interface: ifc,
    peers: [...peers.values()].map((p) => ({
      ...p,
      allowedIps: changed.has(p.publicKey) ? sortCidrs(allowed.get(p.publicKey) ?? []) : [...(originalAllowed.get(p.publicKey) as string[])],
    })),
    routes: sortCidrs(routes),
    forwarding,
  };
}
