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
  /**
   * (additive) The node's host firewall when policies are enforced (enforcement "nftables" and access
   * control on), else null/absent: no table of ours on the host. See planner/firewall.ts.
   */
  firewall?: FirewallPlan | null;
}

/**
 * One node's firewall, in the readable form that the Pulumi NodeConfig carries as an input and `nft` runs
 * (planner/nft.ts renders the whole table from it). It filters only what arrives on the mesh interface.
 */
export interface FirewallPlan {
  /** The nftables table of this interface, e.g. "inet wgmesh_wg0" (family inet; nothing else is touched). */
  table: string;
  /**
   * Named sets, name → elements (addresses and CIDRs, sorted, never empty): `src_<group>` holds a group's
   * source addresses (members' mesh IPs and routable networks), `routed` this node's own routable networks.
   * Names ending in "_v6" are IPv6 sets, the others IPv4.
   */
  sets: Record<string, string[]>;
  /**
   * The accept rules by label, e.g. "input web-to-app from web tcp" → `ip saddr @src_web tcp dport 8080
   * accept`. The label's first word is the chain: "input" (connections to the node itself) or "forward"
   * (connections through it into its routable networks); it is also the rule's nft comment.
   */
  rules: Record<string, string>;
}
