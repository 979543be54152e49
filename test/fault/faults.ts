/**
 * Real faults for the fault-injection suite, on testbed hosts (test/testbed): an SSH cut by an nftables
 * drop inside a host (installed synchronously, so it can be timed to the exact moment the engine sends a
 * script), packet loss and delay on the segment (tc netem on every bridge port), and CPU burners (busy loops
 * on this machine). Every fault has its undo; tests call it in `finally`/`after`.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as os from "node:os";
import { containerInit, execPrefix } from "../testbed/container";
import type { Testbed } from "../testbed";

const CUT_TABLE = "wgmeshcut";

/**
 * A function that, when called, makes the host drop every packet of its sshd (both directions) — blocking
 * until the rule is in. Prepared ahead (the host's init pid is looked up now) so that it can run inside a
 * synchronous callback such as the engine's logger.
 */
export async function prepareSshCut(tb: Testbed, host: string): Promise<() => void> {
  const init = await containerInit(tb.host(host).ns);
  if (!init) throw new Error(`host ${host} is not running`);
  const argv = [...execPrefix(init), "nft", "-f", "-"];
  const rules = `table inet ${CUT_TABLE} {\n chain in { type filter hook input priority -10; tcp dport 22 drop; }\n chain out { type filter hook output priority -10; tcp sport 22 drop; }\n}\n`;
  return () => {
    execFileSync(argv[0] as string, argv.slice(1), { input: rules, stdio: ["pipe", "ignore", "inherit"] });
  };
}

/** Undo `prepareSshCut`'s drop (idempotent). */
export async function restoreSsh(tb: Testbed, host: string): Promise<void> {
  await tb.exec(host, ["sh", "-c", `nft delete table inet ${CUT_TABLE} 2>/dev/null || true`]);
}

/** tc netem on every port of the testbed's bridge: each packet between two hosts (or from this machine) crosses one. */
export async function segmentNetem(tb: Testbed, spec: string[]): Promise<void> {
  for (const h of tb.hosts) {
    if (h.behindNat) continue;
    execFileSync("ip", ["netns", "exec", tb.bridgeNamespace, "tc", "qdisc", "replace", "dev", h.link.parentIf, "root", "netem", ...spec]);
  }
}

export async function clearSegmentNetem(tb: Testbed): Promise<void> {
  for (const h of tb.hosts) {
    if (h.behindNat) continue;
    try {
      execFileSync("ip", ["netns", "exec", tb.bridgeNamespace, "tc", "qdisc", "del", "dev", h.link.parentIf, "root"], { stdio: "ignore" });
    } catch {
      /* none */
    }
  }
}

/** Busy loops on this machine (default: two per core), until the returned stop is called. */
export function burnCpu(count = 2 * os.cpus().length): { stop: () => void; pids: number[] } {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const c = spawn(process.execPath, ["-e", "for(;;);"], { stdio: "ignore" });
    children.push(c);
  }
  return {
    pids: children.map((c) => c.pid as number),
    stop: () => {
      for (const c of children) c.kill("SIGKILL");
    },
  };
}
