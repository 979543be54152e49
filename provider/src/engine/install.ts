/**
 * Installing WireGuard on a host that lacks it: which packages, with which package manager, as one shell
 * fragment. apt-get on Debian/Ubuntu (apt-get update only when the install fails on stale lists), dnf (or
 * yum) on the Fedora/RHEL family; any other system is a clear error naming the host and the fix.
 */
import { shellCommand } from "../planner/shell";
import type { HostFacts } from "./facts";

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineError";
  }
}

export interface InstallPlan {
  packages: string[];
  script: string;
}

export interface InstallNeeds {
  /** The node gets a firewall: `nft` is needed (package nftables on apt and dnf alike). */
  firewall?: boolean;
}

/** What the host lacks of wg, wg-quick, (when the kernel has no WireGuard) wireguard-go, and nft for a firewall. */
export function missingPackages(facts: HostFacts, needs: InstallNeeds = {}): string[] {
  const pkgs: string[] = [];
  if (!facts.tools.wg || !facts.tools.wgQuick) pkgs.push("wireguard-tools");
  if (facts.wireguardGoNeeded && !facts.tools.wireguardGo) pkgs.push("wireguard-go");
  if (needs.firewall && !facts.tools.nft) pkgs.push("nftables");
  return pkgs;
}

/** Output of a failed package command, shown on stderr (last lines only). */
function quietly(cmd: string, what: string): string {
  return `out=$( ${cmd} 2>&1 ) || { printf '%s\\n' "$out" | tail -n 15 >&2; echo ${shellCommand(`wgmesh: ${what} failed`)} >&2; exit 1; }`;
}

/** The install fragment for a host, or null when nothing is missing. Throws EngineError when impossible. */
export function installPlan(node: string, facts: HostFacts, needs: InstallNeeds = {}): InstallPlan | null {
  const packages = missingPackages(facts, needs);
  if (packages.length === 0) return null;
  const os = facts.os.prettyName ?? facts.os.id ?? "an unknown system";
  switch (facts.packageManager) {
    case "apt": {
      const install = `DEBIAN_FRONTEND=noninteractive ${shellCommand("apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "-q", "--no-install-recommends", ...packages)}`;
      const update = `DEBIAN_FRONTEND=noninteractive ${shellCommand("apt-get", "-o", "DPkg::Lock::Timeout=120", "update", "-q")}`;
      return {
        packages,
        script: quietly(`${install} || { ${update} && ${install}; }`, `apt-get install ${packages.join(" ")}`),
      };
    }
    case "dnf":
    case "yum": {
      const pm = facts.packageManager === "dnf" ? "dnf" : "yum";
      return { packages, script: quietly(shellCommand(pm, "install", "-y", "-q", ...packages), `${pm} install ${packages.join(" ")}`) };
    }
    default:
      throw new EngineError(
        `node ${node}: ${packages.join(", ")} ${packages.length === 1 ? "is" : "are"} not installed and ${os} has no supported package manager ` +
          `(apt-get on Debian/Ubuntu, dnf on Fedora/RHEL). Fix: install ${packages.join(" and ")} on the host by hand, then re-run`,
      );
  }
}
