/**
 * The persistent wg-quick file of a node (`/etc/wireguard/<if>.conf`), and its parser.
 *
 * Design: `wg-quick up` from this file must give exactly the live state the online operations give.
 * - `Table = off`: wg-quick adds no routes of its own; every desired route is a `PostUp` line that is
 *   literally `routeAddCommand` — the command the online `route-add` runs — so both paths create the same
 *   kernel route (same proto, scope, metric), whatever the AllowedIPs are and whatever other routes the
 *   host has. (wg-quick's `Table = auto` would derive routes from AllowedIPs, fail on a CIDR already routed
 *   elsewhere, and turn a /0 into fwmark policy routing.)
 * - `MTU` only when the desired MTU is set; otherwise wg-quick's automatic MTU applies (and is not managed).
 * - IP forwarding is not in this file (the engine persists it in /etc/sysctl.d).
 * - Keys appear only in `PrivateKey` / `PresharedKey` lines, never in comments; peers carry a
 *   `# <hostname>` comment.
 */
import { createHash } from "node:crypto";
import { isValidKey, publicKeyFromPrivate } from "../core/keys";
import { assertInterfaceName, peerPresharedKey, routeAddCommand } from "./commands";
import { shellCommand } from "./shell";
import { nftLoadCommand } from "./nft";
import { sortCidrs } from "../core/cidr";
import type { NodeDesiredState, PeerConfig, Secrets } from "./types";

const HEADER = "# Managed by wgmesh; local changes are overwritten.";

function plainText(value: string, what: string): string {
  // Anything that could end a line or start a comment would corrupt the file.
  if (/[\x00-\x1f\x7f#]/.test(value)) throw new Error(`${what} ${JSON.stringify(value)} contains a newline, control character or '#' (it would corrupt the wg-quick file)`);
  return value;
}

function secret(value: string | undefined, what: string, node: string): string {
  if (value === undefined) throw new Error(`node ${node}: ${what} is required to render the wg-quick file`);
  if (!isValidKey(value)) throw new Error(`node ${node}: ${what} is not a WireGuard key (44 base64 characters); value withheld`);
  return value;
}

export interface RenderConfOptions {
  /**
   * Keep the private key out of the file: instead of `PrivateKey = …`, a hook loads it from this host file
   * (`PostUp = wg set IF private-key FILE`, wg-quick's documented idiom). Secrets.privateKey is then unused.
   */
  privateKeyFile?: string;
  /**
   * The node's firewall file (planner/nft.ts): `PreUp = nft -f FILE` loads the table before the interface
   * exists, so the interface never carries unfiltered traffic; a failing load fails the start (closed).
   */
  firewallFile?: string;
}

/** Render `/etc/wireguard/<if>.conf` for a node. Deterministic: the same inputs give the same bytes. */
export function renderWgQuickConf(desired: NodeDesiredState, secrets: Secrets, options: RenderConfOptions = {}): string {
  const node = desired.hostname;
  const ifc = desired.interface;
  assertInterfaceName(ifc.name);
  const lines: string[] = [HEADER, `# node: ${plainText(node, "node hostname")}`, "[Interface]"];
  lines.push(`Address = ${plainText(ifc.address, `node ${node}: interface address`)}`);
  lines.push(`ListenPort = ${ifc.listenPort}`);
  if (options.firewallFile !== undefined) {
    if (!options.firewallFile.startsWith("/")) throw new Error(`node ${node}: firewallFile ${JSON.stringify(options.firewallFile)} must be an absolute path`);
    lines.push(`PreUp = ${plainText(nftLoadCommand(options.firewallFile), `node ${node}: firewallFile`)}`);
  }
  if (options.privateKeyFile !== undefined) {
    if (!options.privateKeyFile.startsWith("/")) throw new Error(`node ${node}: privateKeyFile ${JSON.stringify(options.privateKeyFile)} must be an absolute path`);
    lines.push(`PostUp = ${plainText(shellCommand("wg", "set", ifc.name, "private-key", options.privateKeyFile), `node ${node}: privateKeyFile`)}`);
  } else {
    lines.push(`PrivateKey = ${secret(secrets.privateKey, "Secrets.privateKey", node)}`);
  }
  if (ifc.mtu !== null) lines.push(`MTU = ${ifc.mtu}`);
  lines.push("Table = off");
  for (const cidr of sortCidrs(desired.routes)) lines.push(`PostUp = ${routeAddCommand(ifc.name, cidr)}`);
  for (const p of desired.peers) {
    lines.push("", `# ${plainText(p.hostname, `node ${node}: peer hostname`)}`, "[Peer]");
    lines.push(`PublicKey = ${plainText(p.publicKey, `node ${node}: peer ${p.hostname} public key`)}`);
    if (p.presharedKey) lines.push(`PresharedKey = ${secret(peerPresharedKey(secrets, p.publicKey), `the preshared key of peer ${p.hostname}`, node)}`);
    if (p.endpoint !== null) lines.push(`Endpoint = ${plainText(p.endpoint, `node ${node}: peer ${p.hostname} endpoint`)}`);
    if (p.allowedIps.length > 0) lines.push(`AllowedIPs = ${sortCidrs(p.allowedIps).join(", ")}`);
    if (p.persistentKeepalive !== null && p.persistentKeepalive !== 0) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  }
  return lines.join("\n") + "\n";
}

/** SHA-256 (hex) of a rendered file: compare with the probe's digest to skip an identical rewrite. */
export function confDigest(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** A wg-quick file read back (any wg-quick file; ours round-trips exactly). */
export interface ParsedWgQuickConf {
  /** From our `# node: <hostname>` header, else null. */
  hostname: string | null;
  interface: {
    addresses: string[];
    listenPort: number | null;
    mtu: number | null;
    table: string | null;
    hasPrivateKey: boolean;
    /** Public key of the file's PrivateKey (derived), or null when it has none or it is malformed. */
    publicKey: string | null;
  };
  /** Routes from our `PostUp = ip -4|-6 route replace CIDR dev IF` lines (sorted). */
  routes: string[];
  /** Other hook lines, verbatim, e.g. "PostUp = …". */
  otherHooks: string[];
  /** Peers; hostname from the `# hostname` comment right above `[Peer]`, else "". */
  peers: PeerConfig[];
}

/** The secrets of a wg-quick file. Kept apart from the parse result so it can be dropped by callers. */
export interface ParsedWgQuickSecrets extends Secrets {
  /** Every distinct PSK, by peer public key (Secrets.presharedKey is set when all peers share one). */
  presharedKeys: Record<string, string>;
}

/**
 * Parse a wg-quick file. Keys are matched case-insensitively like wg-quick does; `#` starts a comment.
 * Returns the public data and, separately, the secrets.
 */
export function parseWgQuickConf(text: string, ifname?: string): { conf: ParsedWgQuickConf; secrets: ParsedWgQuickSecrets } {
  const conf: ParsedWgQuickConf = {
    hostname: null,
    interface: { addresses: [], listenPort: null, mtu: null, table: null, hasPrivateKey: false, publicKey: null },
    routes: [],
    otherHooks: [],
    peers: [],
  };
  const secrets: ParsedWgQuickSecrets = { presharedKeys: {} };
  let section: "none" | "interface" | "peer" = "none";
  let lastComment = "";
  let peer: PeerConfig | null = null;
  let psk: string | null = null;
  const finishPeer = (): void => {
    if (!peer) return;
    if (psk !== null) secrets.presharedKeys[peer.publicKey] = psk;
    peer.allowedIps = sortCidrs(peer.allowedIps);
    conf.peers.push(peer);
    peer = null;
    psk = null;
  };
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, "");
    const hash = line.indexOf("#");
    const comment = hash >= 0 ? line.slice(hash + 1).trim() : "";
    const stripped = (hash >= 0 ? line.slice(0, hash) : line).trim();
    if (stripped === "") {
      if (comment.startsWith("node: ") && conf.hostname === null) conf.hostname = comment.slice(6);
      else if (comment !== "") lastComment = comment;
      continue;
    }
    if (stripped.startsWith("[")) {
      finishPeer();
      const name = stripped.toLowerCase();
      if (name === "[interface]") section = "interface";
      else if (name === "[peer]") {
        section = "peer";
        peer = { hostname: lastComment, publicKey: "", endpoint: null, allowedIps: [], persistentKeepalive: null, presharedKey: false };
      } else throw new Error(`wg-quick file line ${i + 1}: unknown section ${stripped}`);
      lastComment = "";
      continue;
    }
    const eq = stripped.indexOf("=");
    if (eq < 0) throw new Error(`wg-quick file line ${i + 1}: expected 'Key = value'`);
    const key = stripped.slice(0, eq).trim().toLowerCase();
    const value = stripped.slice(eq + 1).trim();
    const num = (what: string): number => {
      if (!/^\d+$/.test(value)) throw new Error(`wg-quick file line ${i + 1}: ${what} '${value}' is not a number`);
      return Number(value);
    };
    if (section === "interface") {
      switch (key) {
        case "address":
          conf.interface.addresses.push(...value.split(",").map((s) => s.trim()).filter((s) => s !== ""));
          break;
        case "listenport":
          conf.interface.listenPort = num("ListenPort");
          break;
        case "mtu":
          conf.interface.mtu = num("MTU");
          break;
        case "table":
          conf.interface.table = value;
          break;
        case "privatekey":
          conf.interface.hasPrivateKey = true;
          conf.interface.publicKey = isValidKey(value) ? publicKeyFromPrivate(value) : null;
          secrets.privateKey = value;
          break;
        case "postup": {
          const m = /^ip -[46] route replace (\S+) dev (\S+)$/.exec(value);
          if (m && (ifname === undefined || m[2] === ifname)) conf.routes.push(m[1] as string);
          else conf.otherHooks.push(`PostUp = ${value}`);
          break;
        }
        default:
          conf.otherHooks.push(`${stripped.slice(0, eq).trim()} = ${value}`);
      }
    } else if (section === "peer" && peer) {
      const p: PeerConfig = peer;
      switch (key) {
        case "publickey":
          p.publicKey = value;
          break;
        case "presharedkey":
          p.presharedKey = true;
          psk = value;
          break;
        case "endpoint":
          p.endpoint = value;
          break;
        case "allowedips":
          p.allowedIps.push(...value.split(",").map((s) => s.trim()).filter((s) => s !== ""));
          break;
        case "persistentkeepalive":
          p.persistentKeepalive = value === "off" || value === "0" ? null : num("PersistentKeepalive");
          break;
        default:
          throw new Error(`wg-quick file line ${i + 1}: unknown peer key '${stripped.slice(0, eq).trim()}'`);
      }
    } else {
      throw new Error(`wg-quick file line ${i + 1}: setting outside of a section`);
    }
  }
  finishPeer();
  conf.routes = sortCidrs(conf.routes);
  const psks = [...new Set(Object.values(secrets.presharedKeys))];
  if (psks.length === 1) secrets.presharedKey = psks[0] as string;
  return { conf, secrets };
}
