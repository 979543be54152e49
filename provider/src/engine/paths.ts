/** Where the engine keeps things on a host (one place, so apply and teardown agree). */
import { assertInterfaceName } from "../planner/commands";

export interface HostPaths {
  /** The wg-quick file. */
  conf: string;
  /** The private key when it lives only on the host. */
  key: string;
  /** Persistent IP forwarding for a node that routes networks. */
  sysctl: string;
  /** The systemd unit. */
  unit: string;
  /** The node's firewall (nft -f script of the table `inet wgmesh_<if>`), loaded by the unit's PreUp. */
  nft: string;
}

export function hostPaths(ifname: string): HostPaths {
  assertInterfaceName(ifname);
  return {
    conf: `/etc/wireguard/${ifname}.conf`,
    key: `/etc/wireguard/${ifname}.key`,
    sysctl: `/etc/sysctl.d/99-wgmesh-${ifname}.conf`,
    unit: `wg-quick@${ifname}`,
    nft: `/etc/wireguard/${ifname}.nft`,
  };
}
