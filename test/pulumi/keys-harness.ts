/**
 * Shared steps of the key-lifecycle tests (issue 16: rotation.test.ts, psk.test.ts): examples/key-rotation on
 * testbed hosts, with traffic running between every pair (traffic.ts), and the checks for secrets left behind —
 * a key searched for on every host (files and journal), in the Pulumi workspace (state, history, backups,
 * logs) and in `ps` samples. Keys are handed to `grep` on stdin, never in an argv.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Testbed } from "../testbed";
import { ExampleSession } from "./examples-harness";

/** Where a host keeps things (searched for leftover keys); the monitor's own files excluded. */
const HOST_DIRS = ["/etc", "/var", "/root", "/home", "/tmp", "/run", "/srv", "/usr/local", "/opt"];

/**
 * The places on a host where any of `keys` is found: files (by path) and the journal. The keys reach grep in a
 * file on /dev/shm (outside the searched places), removed at once; `grep -f` cannot open /dev/stdin in a
 * testbed exec.
 */
export async function keysOnHost(tb: Testbed, host: string, keys: string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const script = [
    `pat=$(mktemp -p /dev/shm) && cat > "$pat"`,
    `grep -rlF -f "$pat" ${HOST_DIRS.join(" ")} 2>/dev/null | grep -v '^/run/trafficmon'`,
    `echo "@@journal $(journalctl --no-pager -o cat 2>/dev/null | grep -cF -f "$pat")"`,
    `rm -f "$pat"`,
  ].join("\n");
  const r = await tb.exec(host, script, { input: keys.join("\n") + "\n" });
  const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
  const journal = lines.find((l) => l.startsWith("@@journal "));
  assert.ok(journal, `${host}: the key search did not run: ${r.stderr}`);
  const hits = lines.filter((l) => !l.startsWith("@@journal "));
  const n = Number(journal.slice("@@journal ".length) || "0");
  if (n > 0) hits.push(`journal (${n} lines)`);
  return hits;
}

/** The files under `dir` (recursively, symlinks not followed) holding any of `keys` in plain text. */
export function keysInDir(dir: string, keys: string[]): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const text = fs.readFileSync(p, "latin1");
        if (keys.some((k) => text.includes(k))) hits.push(p);
      }
    }
  };
  walk(dir);
  return hits;
}

/**
 * Samples `ps -eo args` of this machine (the Pulumi CLI, language host, provider, ssh) and of every host, every
 * 50 ms, until `stop()`; then `contains(keys)` says which samples held any key.
 */
export class PsSampler {
  private readonly local: ChildProcess;
  private readonly file: string;
  private readonly id = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  private stopped = false;

  private constructor(private readonly tb: Testbed, private readonly hosts: string[], dir: string) {
    this.file = path.join(dir, `ps-${this.id}.txt`);
    this.local = spawn("sh", ["-c", `while :; do ps -eo args >> ${JSON.stringify(this.file)}; sleep 0.05; done`], { stdio: "ignore", detached: true });
  }

  static async start(tb: Testbed, hosts: string[], dir: string): Promise<PsSampler> {
    const s = new PsSampler(tb, hosts, dir);
    await Promise.all(hosts.map((h) => tb.execOk(h, ["systemd-run", `--unit=pssample${s.id}`, "--collect", "sh", "-c", `while :; do ps -eo args >> /run/ps-samples-${s.id}; sleep 0.05; done`])));
    return s;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      process.kill(-(this.local.pid as number), "SIGTERM");
    } catch {
      /* already gone */
    }
    await Promise.all(this.hosts.map((h) => this.tb.exec(h, ["systemctl", "stop", `pssample${this.id}`])));
  }

  /** Where any of `keys` appeared (this machine / host names), and how many samples were taken. */
  async contains(keys: string[]): Promise<{ hits: string[]; samples: number }> {
    await this.stop();
    const hits: string[] = [];
    const local = fs.existsSync(this.file) ? fs.readFileSync(this.file, "utf8") : "";
    let samples = local.split("\n").filter((l) => l.startsWith("COMMAND")).length;
    if (keys.some((k) => local.includes(k))) hits.push("this machine");
    for (const h of this.hosts) {
      const file = `/run/ps-samples-${this.id}`;
      const r = await this.tb.exec(h, `grep -cF -f - ${file} || true`, { input: keys.join("\n") + "\n" });
      if (Number(r.stdout.trim() || "0") > 0) hits.push(h);
      samples += Number((await this.tb.exec(h, `grep -c '^COMMAND' ${file} || true`)).stdout.trim() || "0");
      await this.tb.exec(h, ["rm", "-f", file]);
    }
    fs.rmSync(this.file, { force: true });
    return { hits, samples };
  }
}

/** Every secret string (private keys, PSKs) in the stack's current state, read with --show-secrets. */
export function stackSecrets(s: ExampleSession): { privateKeys: Record<string, string>; psks: string[] } {
  const shown = s.ws.pulumi(s.dir, ["stack", "export", "--show-secrets"]);
  assert.equal(shown.status, 0, shown.stderr);
  const privateKeys: Record<string, string> = {};
  const psks = new Set<string>();
  const value = (v: unknown): unknown => (v && typeof v === "object" && typeof (v as { plaintext?: unknown }).plaintext === "string" ? JSON.parse((v as { plaintext: string }).plaintext) : v);
  for (const r of JSON.parse(shown.stdout).deployment.resources ?? []) {
    const pk = value(r.outputs?.privateKey);
    if (typeof pk === "string" && typeof r.outputs?.hostname === "string") privateKeys[r.outputs.hostname] = pk;
    const table = value(r.outputs?.presharedKeyTable) as Record<string, Record<string, { key: string }>> | undefined;
    for (const row of Object.values(table ?? {})) for (const k of Object.values(row)) psks.add(k.key);
    for (const k of Object.values((r.outputs?.presharedKeys ?? {}) as Record<string, { key?: unknown }>)) {
      const v = value(k?.key);
      if (typeof v === "string" && v !== "") psks.add(v);
    }
  }
  return { privateKeys, psks: [...psks] };
}

/** Public key → latest handshake (unix seconds) on a host's wg0. */
export async function latestHandshakes(tb: Testbed, host: string): Promise<Record<string, number>> {
  const out = await tb.execOk(host, ["wg", "show", "wg0", "latest-handshakes"]);
  return Object.fromEntries(out.trim().split("\n").filter(Boolean).map((l) => {
    const [k, t] = l.split("\t") as [string, string];
    return [k, Number(t)];
  }));
}

/** Waits (≤ `ms`) until `check` returns an empty list; returns the last list. */
export async function eventually(check: () => Promise<string[]>, ms = 15_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await check();
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 500));
  }
}
