/**
 * The daemon's files under /var/lib/wgmesh (§5.2): node state `<iface>.json` (keys and mesh addresses)
 * and the peer cache `<iface>-peers.json`. Files are written 0600 in a 0700 directory, atomically
 * (temp file + rename). Cache entries are validated like wire payloads before they reach the store.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { generateKeyPair, isValidKey, publicKeyFromPrivate } from "../core/keys";
import { CustomSubnet, MeshParams, meshIPv4, meshIPv6, meshIpStillValid } from "./derive";
import { isIPv4, isIPv6, isValidEndpoint, isValidHostname, isValidRoute, LIMITS } from "./messages";
import { PeerRecord, PeerStore } from "./store";

export const STATE_DIR = "/var/lib/wgmesh";
export const CACHE_MAX_AGE_S = 24 * 3600;

export interface NodeState {
  wg_pubkey: string;
  wg_private_key: string;
  mesh_ip?: string;
  mesh_ipv6?: string;
}

export class StateError extends Error {}

/** Write a file 0600 atomically; the directory is created 0700. */
export function writeSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export function encodeNodeState(s: NodeState): string {
  const o: Record<string, string> = { wg_pubkey: s.wg_pubkey, wg_private_key: s.wg_private_key };
  if (s.mesh_ip) o["mesh_ip"] = s.mesh_ip;
  if (s.mesh_ipv6) o["mesh_ipv6"] = s.mesh_ipv6;
  return `${JSON.stringify(o, null, 2)}\n`;
}

/**
 * Load `<dir>/<iface>.json` or create it: keys are generated once; the mesh IP is kept while it lies in
 * the expected network, else derived (§1.4); the IPv6 address is derived if missing.
 */
export function loadOrCreateNodeState(dir: string, iface: string, p: MeshParams, subnet?: CustomSubnet): { state: NodeState; created: boolean; changed: boolean } {
  const file = path.join(dir, `${iface}.json`);
  let state: NodeState | undefined;
  let created = false;
  if (fs.existsSync(file)) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
      throw new StateError(`${file} is not valid JSON; move it away to generate a new node identity`);
    }
    const o = (raw ?? {}) as Record<string, unknown>;
    const priv = o["wg_private_key"];
    if (!isValidKey(priv)) throw new StateError(`${file}: wg_private_key is missing or not a WireGuard key; fix or move the file`);
    state = { wg_private_key: priv, wg_pubkey: publicKeyFromPrivate(priv) };
    if (typeof o["mesh_ip"] === "string" && o["mesh_ip"]) state.mesh_ip = o["mesh_ip"];
    if (typeof o["mesh_ipv6"] === "string" && o["mesh_ipv6"]) state.mesh_ipv6 = o["mesh_ipv6"];
  } else {
    const kp = generateKeyPair();
    state = { wg_pubkey: kp.publicKey, wg_private_key: kp.privateKey };
    created = true;
  }
  const before = encodeNodeState(state);
  if (!state.mesh_ip || !meshIpStillValid(p, state.mesh_ip, subnet)) state.mesh_ip = meshIPv4(p, state.wg_pubkey, subnet);
  if (!state.mesh_ipv6 || !isIPv6(state.mesh_ipv6)) state.mesh_ipv6 = meshIPv6(p, state.wg_pubkey);
  const changed = created || encodeNodeState(state) !== before;
  if (changed) writeSecretFile(file, encodeNodeState(state));
  return { state, created, changed };
}

// ----------------------------------------------------------------------------------------------
// Peer cache

export function encodePeerCache(peers: PeerRecord[], nowS: number): string {
  const list = peers.map((p) => {
    const o: Record<string, unknown> = { wg_pubkey: p.wg_pubkey };
    if (p.hostname) o["hostname"] = p.hostname;
    o["mesh_ip"] = p.mesh_ip;
    if (p.mesh_ipv6) o["mesh_ipv6"] = p.mesh_ipv6;
    o["endpoint"] = p.endpoint;
    if (p.introducer) o["introducer"] = true;
    if (p.routable_networks.length) o["routable_networks"] = p.routable_networks;
    if (p.nat_type) o["nat_type"] = p.nat_type;
    o["last_seen"] = Math.floor(p.last_seen_ms / 1000);
    return o;
  });
  return `${JSON.stringify({ peers: list, updated_at: nowS }, null, 2)}\n`;
}

export function savePeerCache(dir: string, iface: string, store: PeerStore, nowS: number): void {
  writeSecretFile(path.join(dir, `${iface}-peers.json`), encodePeerCache(store.all(), nowS));
}

/** Restore entries at most 24 h old as method "cache" (last_seen kept). Invalid entries are skipped. */
export function restorePeerCache(text: string, store: PeerStore, nowS: number, ownPubkey: string): { restored: number; skipped: number } {
  let restored = 0;
  let skipped = 0;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { restored, skipped: 1 };
  }
  const peers = (doc as { peers?: unknown })?.peers;
  if (!Array.isArray(peers)) return { restored, skipped: 1 };
  for (const e of peers.slice(0, store.size + 1000)) {
    const o = (e ?? {}) as Record<string, unknown>;
    const ls = o["last_seen"];
    const ok = isValidKey(o["wg_pubkey"]) && o["wg_pubkey"] !== ownPubkey && typeof o["mesh_ip"] === "string" && isIPv4(o["mesh_ip"])
      && (o["mesh_ipv6"] === undefined || (typeof o["mesh_ipv6"] === "string" && isIPv6(o["mesh_ipv6"])))
      && typeof o["endpoint"] === "string" && isValidEndpoint(o["endpoint"])
      && (o["hostname"] === undefined || (typeof o["hostname"] === "string" && isValidHostname(o["hostname"])))
      && (o["routable_networks"] === undefined || (Array.isArray(o["routable_networks"]) && o["routable_networks"].length <= LIMITS.routableNetworks && o["routable_networks"].every((r) => typeof r === "string" && isValidRoute(r))))
      && typeof ls === "number" && Number.isSafeInteger(ls) && nowS - ls <= CACHE_MAX_AGE_S && ls <= nowS + 600;
    if (!ok) {
      skipped++;
      continue;
    }
    const r = store.upsert({
      wg_pubkey: o["wg_pubkey"] as string,
      mesh_ip: o["mesh_ip"] as string,
      endpoint: o["endpoint"] as string,
      introducer: o["introducer"] === true,
      last_seen_ms: (ls as number) * 1000,
      ...(typeof o["hostname"] === "string" ? { hostname: o["hostname"] } : {}),
      ...(typeof o["mesh_ipv6"] === "string" ? { mesh_ipv6: o["mesh_ipv6"] } : {}),
      ...(Array.isArray(o["routable_networks"]) ? { routable_networks: o["routable_networks"] as string[] } : {}),
      ...(typeof o["nat_type"] === "string" && ["cone", "symmetric", "unknown"].includes(o["nat_type"]) ? { nat_type: o["nat_type"] } : {}),
    }, "cache");
    if (r === "new" || r === "updated") restored++;
    else skipped++; // full, or a peer that left (GOODBYE/expiry/displaced) moments ago
  }
  return { restored, skipped };
}
