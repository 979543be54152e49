/**
 * What one host's WireGuard state must be: the data policy evaluation (./policy.ts) produces per node and
 * every layer above consumes (the planner renders, diffs and applies it; the engine, the Pulumi resources,
 * the CLI and the daemon carry it). Plain data, no behaviour. Re-exported by planner/types.ts.
 *
 * Conventions: IPv4/IPv6 CIDRs are canonical strings ("10.99.0.3/32", "192.168.50.0/24"); lists are sorted
 * (see `sortCidrs`); keys are standard base64 as `wg` prints them.
 */

/** One peer as a host's interface must carry it. */
export interface PeerConfig {
  /** Hostname of the peer node (for display and for keying diffs in Pulumi previews). */
  hostname: string;
  publicKey: string;
  /** "host:port" ("[v6]:port" for IPv6), or null when the peer has no reachable endpoint (behind NAT). */
  endpoint: string | null;
  /** Sorted, canonical CIDRs; always contains the peer's mesh /32. */
  allowedIps: string[];
  /** Seconds, or null for none (off). */
  persistentKeepalive: number | null;
  /**
   * Whether a preshared key is used for this peer. The key itself is never part of the plan data
   * (it is a secret); it is handed to the renderer separately (see `Secrets`).
   */
  presharedKey: boolean;
}

/** The interface itself. */
export interface InterfaceConfig {
  /** Interface name, e.g. "wg0" (a valid Linux ifname; validated upstream). */
  name: string;
  /** Mesh address with the mesh prefix length, e.g. "10.99.0.1/16". */
  address: string;
  listenPort: number;
  /** MTU, or null to leave wg-quick's default. */
  mtu: number | null;
  /** Public key of the interface's private key (the private key itself travels as a secret). */
  publicKey: string;
}

/** Everything one host must look like. */
export interface NodeDesiredState {
  hostname: string;
  interface: InterfaceConfig;
  /** Sorted by hostname. */
  peers: PeerConfig[];
  /** Non-mesh CIDRs routed into the interface (sorted). Never the node's own routable networks. */
  routes: string[];
  /** IPv4 forwarding must be on (the node has routable networks behind it). */
  forwarding: boolean;
}
