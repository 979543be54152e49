/**
 * Network namespaces for root integration tests: create, run commands inside, and tear down everything
 * started inside (wireguard-go daemons are found with `ip netns pids` and ended by pid).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export class Netns {
  private constructor(readonly name: string) {}

  /** Create a namespace with loopback up. */
  static create(name: string): Netns {
    execFileSync("ip", ["netns", "add", name]);
    const ns = new Netns(name);
    ns.must(["ip", "link", "set", "lo", "up"]);
    return ns;
  }

  /** Run argv inside the namespace. */
  run(argv: string[], input?: string): RunResult {
    const r = spawnSync("ip", ["netns", "exec", this.name, ...argv], { input, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Run argv inside the namespace; throw with its stderr when it fails. */
  must(argv: string[], input?: string): string {
    const r = this.run(argv, input);
    if (r.status !== 0) throw new Error(`[${this.name}] ${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Run a shell script fed on stdin (`sh -s`), the way the engine sends scripts over SSH. */
  script(text: string): RunResult {
    return this.run(["sh", "-s"], text);
  }

  pids(): number[] {
    const r = spawnSync("ip", ["netns", "pids", this.name], { encoding: "utf8" });
    return (r.stdout ?? "").split("\n").filter((l) => /^\d+$/.test(l.trim())).map(Number);
  }

  /** End the processes running in the namespace (by pid) and delete it. Safe to call twice. */
  destroy(): void {
    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      const pids = this.pids();
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch {
          /* already gone */
        }
      }
      if (pids.length > 0) spawnSync("sleep", ["0.3"]);
    }
    spawnSync("ip", ["netns", "del", this.name]);
  }
}

/** Remove wireguard-go's control socket for an interface name (shared /var/run/wireguard across netns). */
export function removeWgSocket(ifname: string): void {
  fs.rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
}
