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
  /** The wg-quick file as it was before the last apply that changed the host (0600; rollback source). */
  confPrev: string;
  /** `wg showconf <if>` before that apply: the live WireGuard state, keys included (0600; `wg syncconf` input). */
  livePrev: string;
  /** The firewall file as it was before the last apply that changed the host (0600; rollback source). */
  nftPrev: string;
  /** The node's firewall (nft -f script of the table `inet wgmesh_<if>`), loaded by the unit's PreUp. */
  nft: string;
  /**
   * Where a change script's temporary files would be left if it was killed between `mktemp` and `mv`
   * (they can hold the private key): [fixed prefix, glob suffix] pairs, the prefix to be quoted.
   */
  tempGlobs: ReadonlyArray<readonly [string, string]>;
}

export function hostPaths(ifname: string): HostPaths {
  assertInterfaceName(ifname);
  return {
    conf: `/etc/wireguard/${ifname}.conf`,
    key: `/etc/wireguard/${ifname}.key`,
    sysctl: `/etc/sysctl.d/99-wgmesh-${ifname}.conf`,
    unit: `wg-quick@${ifname}`,
    confPrev: `/etc/wireguard/${ifname}.conf.prev`,
    livePrev: `/etc/wireguard/${ifname}.live.prev`,
    nftPrev: `/etc/wireguard/${ifname}.nft.prev`,
    nft: `/etc/wireguard/${ifname}.nft`,
    tempGlobs: [
      [`/etc/wireguard/.${ifname}.`, "*.??????"],
      [`/etc/wireguard/${ifname}.key.`, "??????"],
      [`/etc/sysctl.d/.99-wgmesh-${ifname}.conf.`, "??????"],
    ],
  };
}
