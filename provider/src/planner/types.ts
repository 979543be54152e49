/**
 * The planner's data: what one host's WireGuard state must be (desired), what it is (live), and the
 * minimal operations between them. Plain data, no behaviour (the shape of tailscale's wgcfg).
 *
 * The desired state (PeerConfig, InterfaceConfig, NodeDesiredState) is defined in core (../core/desired.ts:
 * policy evaluation produces it) and re-exported here; the planner consumes it (render wg-quick file,
 * parse live state, diff, render commands), as does every front door (engine, Pulumi resources, CLI, daemon).
 *
 * Conventions: IPv4/IPv6 CIDRs are canonical strings ("10.99.0.3/32", "192.168.50.0/24"); lists are sorted
 * (see `sortCidrs`); keys are standard base64 as `wg` prints them.
 */

export type { PeerConfig, InterfaceConfig, NodeDesiredState, FirewallPlan } from "../core/desired";

/** Secrets that a renderer needs; never logged, never placed in argv, never in plan output. */
export interface Secrets {
  /** Private key of the interface (base64). Absent when the key lives only on the host. */
  privateKey?: string;
  /** Preshared key for peers with presharedKey=true (base64): one for every peer (the decentralized mode's). */
  presharedKey?: string;
  /**
   * (additive) Per-peer preshared keys, by peer public key (per-pair PSKs, issue 16); a peer found here uses
   * its own key, any other peer with presharedKey=true the shared `presharedKey`.
   */
  presharedKeys?: Record<string, string>;
}

/** One peer as read from `wg show <if> dump`. */
export interface LivePeer {
  publicKey: string;
  /** Whether a preshared key is set (the dump shows "(none)" otherwise); the key itself is discarded. */
  presharedKey: boolean;
  /**
   * (additive) One-way fingerprint of the live preshared key (see planner/live.ts
   * `presharedKeyFingerprint`), so a PSK change can be detected without keeping the key.
   */
  presharedKeyFingerprint?: string;
  endpoint: string | null;
  allowedIps: string[];
  /** Unix seconds, 0 = never. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number | null;
}

/** What a host's interface looks like right now (null interface = it does not exist / is down). */
export interface LiveState {
  interface: {
    name: string;
    /** Public key of the live private key ("(none)" in the dump → null). The private key is discarded by the parser. */
    publicKey: string | null;
    listenPort: number;
    /** Addresses on the interface with prefix, e.g. ["10.99.0.1/16"]. */
    addresses: string[];
    mtu: number | null;
  } | null;
  peers: LivePeer[];
  /** CIDRs routed into the interface (excluding the kernel's connected route of its own address). */
  routes: string[];
  forwarding: boolean;
}

/** The minimal, ordered operations that turn a live state into the desired one. */
export type Operation =
  | { kind: "peer-remove"; publicKey: string; hostname?: string }
  | {
      kind: "peer-set";
      publicKey: string;
      hostname?: string;
      /** Only the fields that change are present. endpoint: never unset once set (wg cannot clear it). */
      endpoint?: string;
      allowedIps?: string[];
      /** 0 turns keepalive off. */
      persistentKeepalive?: number;
      /** true: set the PSK from Secrets.presharedKey; false: remove it. */
      presharedKey?: boolean;
      /** (additive) Fingerprint of the PSK being set, when known (lets `applyOperations` model it). */
      presharedKeyFingerprint?: string;
    }
  /** (additive: publicKey) Set the private key from Secrets.privateKey; publicKey is its (public) result. */
  | { kind: "private-key"; publicKey?: string }
  | { kind: "listen-port"; port: number }
  | { kind: "address-set"; remove: string[]; add: string }
  | { kind: "mtu"; mtu: number }
  | { kind: "route-del"; cidr: string }
  | { kind: "route-add"; cidr: string }
  | { kind: "forwarding"; enabled: boolean }
  /**
   * (additive) The interface does not exist: bring it up from the persistent wg-quick file (which the
   * engine writes first). Emitted alone (plus forwarding) by `diff` when the live interface is null.
   */
  | { kind: "interface-up" }
  /**
   * (additive, issue 16) Start a handshake with the peer now, instead of at its next packet or 5-s retry
   * (planner/rekey.ts): one keepalive, sent by switching persistent keepalive on from off, then back to the
   * peer's setting (`persistentKeepalive`, null = off). No lasting change.
   */
  | { kind: "handshake"; publicKey: string; hostname?: string; persistentKeepalive: number | null }
  /**
   * (additive) After the `handshake`s of a key switch: wait up to `seconds` for a handshake with each of
   * `peers` newer than the change script's start; a peer with none has its entry removed and added again
   * with the same settings (a fresh entry may start a handshake at once) and a handshake started. Emitted
   * on one end of each pair only (planner/rekey.ts: crossing initiations). No lasting change.
   */
  | { kind: "handshake-confirm"; seconds: number; peers: HandshakeConfirmPeer[] };

/** A peer of `handshake-confirm`: its desired settings, to add its entry again (endpoint null = the live one). */
export interface HandshakeConfirmPeer {
  publicKey: string;
  hostname?: string;
  endpoint: string | null;
  allowedIps: string[];
  persistentKeepalive: number | null;
  presharedKey: boolean;
}
