// Kernel limits the testbed's hosts share with everything else on this machine.
//
// inotify instances are counted per user (uid 0 here: the hosts are not user-namespaced, so every booted
// host's systemd, logind and wireguard-go draw on the SAME budget as root on the machine), and Debian's
// default `fs.inotify.max_user_instances` is 128. A booted host holds 6 (systemd 5, logind 1) and a running
// wireguard-go one more, so about 20 hosts across all testbeds on the machine exhaust it. What then fails is
// not the test that asked for too much but whichever host starts next:
//   - a booting host's systemd exits at once ("Failed to allocate manager object: Too many open files"),
//     and `up` waited 90 s for an sshd that never came ("sshd … did not answer within 90 s (ECONNREFUSED)");
//   - `wg-quick up` in a running host fails: wireguard-go's child cannot watch its UAPI socket and exits,
//     `wg setconf` then finds no listener ("Unable to modify interface: Protocol not supported") and the unit
//     fails ("Job for wg-quick@wg0.service failed").
// Both looked like "flaky under load" because a busy machine is one running many test suites (testbeds) at
// once. `up` raises the limit before it boots anything; it never lowers it.
import * as fs from "node:fs";
import { log } from "./proc";

export const INOTIFY_INSTANCES_FILE = "/proc/sys/fs/inotify/max_user_instances";
/** Enough for several hundred hosts at once (the figure many distributions ship for container hosts). */
export const INOTIFY_INSTANCES_MIN = 8192;

/** Read a numeric sysctl file (null when unreadable). */
function readNumber(file: string): number | null {
  try {
    const v = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Make sure the machine allows enough inotify instances for booted hosts (root only; raises, never lowers).
 * Returns the limit in force afterwards.
 */
export function ensureInotifyInstances(min = INOTIFY_INSTANCES_MIN, file = INOTIFY_INSTANCES_FILE): number | null {
  const current = readNumber(file);
  if (current === null || current >= min) return current;
  try {
    fs.writeFileSync(file, `${min}\n`);
    log(`raised ${file.replace("/proc/sys/", "").replace(/\//g, ".")} from ${current} to ${min} (every booted host holds ~7 of root's inotify instances)`);
    return min;
  } catch (e) {
    log(`warning: cannot raise ${file} from ${current} to ${min} (${(e as Error).message}); more than ~${Math.floor(current / 7)} hosts at once on this machine will fail to boot`);
    return current;
  }
}

/**
 * The kernel's neighbour (ARP/NDP) tables are shared by every network namespace on the machine, with a hard
 * limit of `gc_thresh3` entries (1024 by default). A testbed of N hosts whose hosts all talk to each other
 * over the segment (a full mesh's underlay) needs ≈ N² entries, one per host per neighbour: from about 30
 * hosts on, the table overflows ("neighbour: arp_cache: neighbor table overflow!" in dmesg) and connections
 * fail with EHOSTUNREACH or time out — a 100-host `pulumi up` failed on 12 hosts this way, which looked like
 * sshd not answering. `up` raises the limits for its size (4·N², at least 4096); it never lowers them (other
 * testbeds may be up).
 */
export function ensureNeighbourCapacity(hosts: number, dir = "/proc/sys/net"): void {
  const want = Math.max(4096, 4 * hosts * hosts);
  for (const fam of ["ipv4", "ipv6"]) {
    for (const [k, v] of [["gc_thresh2", want / 2], ["gc_thresh3", want]] as const) {
      const file = `${dir}/${fam}/neigh/default/${k}`;
      const current = readNumber(file);
      if (current === null || current >= v) continue;
      try {
        fs.writeFileSync(file, `${v}\n`);
        log(`raised net.${fam}.neigh.default.${k} from ${current} to ${v} (${hosts} hosts: ≈ N² neighbour entries shared by all namespaces)`);
      } catch (e) {
        log(`warning: cannot raise ${file} from ${current} to ${v} (${(e as Error).message}); a mesh of ${hosts} hosts may overflow the neighbour table`);
      }
    }
  }
}
