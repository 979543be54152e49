/**
 * Real faults for the fault-injection suite, on testbed hosts (test/testbed): an SSH cut by an nftables
 * drop inside a host (installed synchronously, so it can be timed to the exact moment the engine sends a
 * script), packet loss and delay on the segment (tc netem on every bridge port), and CPU burners (busy loops
 * on this machine). Every fault has its undo; tests call it in `finally`/`after`.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
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

export const NETEM_PYTHON = "/var/cache/wgmesh/netem-venv-fnfqueue-1.1.2/bin/python";
const NETEM_QUEUE = 7;

export interface SegmentNetem {
  /** Undo: the rule out, the emulator stopped, the bridge's sysctl as it was. */
  clear(): Promise<void>;
}

/**
 * Delay and loss on the testbed's segment. This machine's kernel has no sch_netem (no `tc netem`), so the
 * bridge hands every forwarded IPv4 packet to an NFQUEUE (bridge-nf-call-iptables + iptables NFQUEUE in the
 * bridge's namespace) and test/fault/netem.py holds each one `delayMs`, dropping `lossPercent` of them.
 * Each packet between two hosts, or between this machine and a host, crosses the bridge once.
 */
export async function segmentNetem(tb: Testbed, delayMs: number, lossPercent: number): Promise<SegmentNetem> {
  if (!existsSync(NETEM_PYTHON)) throw new Error(`${NETEM_PYTHON} is missing: run bash scripts/netem-prepare.sh (make prepare does)`);
  const ns = tb.bridgeNamespace;
  const script = path.join(__dirname, "..", "..", "..", "test", "fault", "netem.py");
  const child = spawn("ip", ["netns", "exec", ns, NETEM_PYTHON, script, String(NETEM_QUEUE), String(delayMs), String(lossPercent)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`netem.py exited ${code} before it was ready`)));
  });
  const sysctl = "net.bridge.bridge-nf-call-iptables";
  const was = execFileSync("ip", ["netns", "exec", ns, "sysctl", "-n", sysctl], { encoding: "utf8" }).trim();
  const rule = ["FORWARD", "-j", "NFQUEUE", "--queue-num", String(NETEM_QUEUE)];
  execFileSync("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", `${sysctl}=1`]);
  execFileSync("ip", ["netns", "exec", ns, "iptables", "-I", ...rule]);
  return {
    async clear() {
      try {
        execFileSync("ip", ["netns", "exec", ns, "iptables", "-D", ...rule], { stdio: "ignore" });
        execFileSync("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", `${sysctl}=${was}`], { stdio: "ignore" });
      } catch {
        /* the namespace is gone with its testbed */
      }
      child.kill("SIGKILL");
    },
  };
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
