/**
 * Helpers of the engine's e2e tests on the testbed (test/testbed): mesh declarations over testbed hosts,
 * engine targets with the testbed's client key and pinned known_hosts, pings and reachability matrices,
 * and a sampler of every process's argv inside hosts.
 */
import { readFileSync } from "node:fs";
import { compileMesh } from "../../../provider/src/core/compile";
import { generateKeyPair } from "../../../provider/src/core/keys";
import type { MeshInput, NodeInput } from "../../../provider/src/core/model";
import { targetsFromPlan } from "../../../provider/src/engine/deploy";
import type { LogLevel } from "../../../provider/src/engine/ssh/log";
import type { EngineOptions, HostTarget } from "../../../provider/src/engine/types";
import type { HostInfo, Testbed } from "../../testbed";

/** A node on a testbed host (keys generated here, as the caller of the engine holds them). */
export function nodeOn(h: HostInfo, hostname: string = h.name, extra: Partial<NodeInput> = {}): NodeInput {
  const kp = generateKeyPair();
  return { hostname, sshHost: h.address, sshPort: h.sshPort, behindNat: h.behindNat, publicKey: kp.publicKey, privateKey: kp.privateKey, ...extra };
}

export interface Compiled {
  targets: HostTarget[];
  /** mesh hostname → mesh IP */
  ip: Record<string, string>;
  /** mesh hostname → testbed host name */
  host: Record<string, string>;
}

/** Compile a mesh and make engine targets that reach each node's testbed host (as `user`, default root). */
export function compile(tb: Testbed, input: MeshInput, opts: { user?: string } = {}): Compiled {
  const r = compileMesh(input);
  if (!r.ok) throw new Error(`test mesh invalid: ${r.errors.map((e) => e.message).join("; ")}`);
  const key = readFileSync(tb.privateKeyPath, "utf8");
  const byEndpoint = new Map(tb.hosts.map((h) => [`${h.address}:${h.sshPort}`, h.name]));
  const host: Record<string, string> = {};
  const ip: Record<string, string> = {};
  for (const n of r.mesh.nodes) {
    host[n.hostname] = byEndpoint.get(`${n.sshHost}:${n.sshPort}`) ?? n.hostname;
    ip[n.hostname] = n.meshIp as string;
  }
  const targets = targetsFromPlan(r.mesh, r.plan, (n) => ({ host: n.sshHost, port: n.sshPort, user: opts.user ?? "root", privateKey: key }));
  return { targets, ip, host };
}

/** Engine options for the testbed: its known_hosts, fast retries, and a log sink. */
export function engineOptions(tb: Testbed, log: string[] = [], extra: EngineOptions = {}): EngineOptions {
  return {
    knownHostsPath: tb.knownHostsPath,
    logger: (level: LogLevel, m: string) => log.push(`${level} ${m}`),
    ssh: { retryDelayMs: () => 200, env: {} },
    ...extra,
  };
}

/**
 * Probes send an echo request every 0.5 s until the first reply or the deadline, so a reachable peer answers
 * as soon as its tunnel is up and the deadline only bounds the wait for an unreachable one. A handshake whose
 * initiation or response is lost (or not processed in time on a loaded machine) is retried after REKEY_TIMEOUT,
 * 5 s (+ up to 1/3 s jitter): 20 s leaves room for three retries. 8 s (one retry) failed once at load ≈ 14.
 */
export const PROBE_DEADLINE_S = 20;

/** Whether `from` (testbed host) gets an echo reply from `ip` within PROBE_DEADLINE_S. */
export async function pings(tb: Testbed, from: string, ip: string): Promise<boolean> {
  const r = await tb.exec(from, ["ping", "-c", "1", "-i", "0.5", "-w", String(PROBE_DEADLINE_S), "-q", ip]);
  return r.code === 0;
}

/**
 * Reachability matrix: for each source (mesh hostname), the sorted list of mesh hostnames it reaches over
 * their mesh IPs within `deadlineS` (a lossy segment needs more: each handshake attempt that loses its
 * initiation or response waits REKEY_TIMEOUT, 5 s, for the next). All probes of one source run in parallel
 * inside its host.
 */
export async function reachability(tb: Testbed, c: Compiled, names: string[] = Object.keys(c.ip), deadlineS = PROBE_DEADLINE_S): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  await Promise.all(names.map(async (src) => {
    const targets = names.filter((n) => n !== src);
    const script = targets.map((t) => `( if ping -c 1 -i 0.5 -w ${deadlineS} -q ${c.ip[t]} >/dev/null 2>&1; then echo "ok ${t}"; fi ) &`).join("\n") + "\nwait\n";
    const r = await tb.exec(c.host[src] as string, ["sh", "-c", script]);
    out[src] = r.stdout.split("\n").filter((l) => l.startsWith("ok ")).map((l) => l.slice(3)).sort();
  }));
  return out;
}

/** Identity (ifindex + wireguard-go pid) of an interface: changes when the interface is restarted. */
export async function interfaceIdentity(tb: Testbed, host: string, ifname = "wg0"): Promise<string> {
  const r = await tb.execOk(host, ["sh", "-c", `cat /sys/class/net/${ifname}/ifindex; pidof wireguard-go || true`]);
  return r.trim().replace(/\s+/g, " ");
}

/** Start a sampler of every process's argv in a host (tight loop into /run/wgmesh-argv.log). */
export async function startArgvSampler(tb: Testbed, host: string): Promise<void> {
  // One `cat` over every /proc/<pid>/cmdline per pass (a few ms), NULs turned into spaces, one line per pass.
  const loop = "echo $$ > /run/wgmesh-argv.pid\nwhile :; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\000' ' '; echo; done >> /run/wgmesh-argv.log\n";
  await tb.execOk(host, ["sh", "-c", "rm -f /run/wgmesh-argv.log; cat > /run/wgmesh-sampler.sh"], { input: loop });
  await tb.execOk(host, ["sh", "-c", "setsid sh /run/wgmesh-sampler.sh </dev/null >/dev/null 2>&1 &"]);
}

/** Stop the sampler; return how many passes it made and which of `secrets` appeared in any argv. */
export async function stopArgvSampler(tb: Testbed, host: string, secrets: string[]): Promise<{ lines: number; leaked: string[]; sawWg: boolean }> {
  await tb.exec(host, ["sh", "-c", "kill $(cat /run/wgmesh-argv.pid) 2>/dev/null; sleep 0.2"]);
  const lines = Number((await tb.execOk(host, ["sh", "-c", "wc -l < /run/wgmesh-argv.log"])).trim());
  // The patterns reach grep through a 0600 file written from stdin (never through argv).
  await tb.execOk(host, ["sh", "-c", "umask 077; cat > /run/wgmesh-secrets"], { input: secrets.join("\n") + "\n" });
  const hit = await tb.exec(host, ["grep", "-F", "-o", "-f", "/run/wgmesh-secrets", "/run/wgmesh-argv.log"]);
  await tb.exec(host, ["rm", "-f", "/run/wgmesh-secrets"]);
  if (hit.code > 1) throw new Error(`argv check on ${host}: grep failed: ${hit.stderr}`);
  const sawWg = (await tb.exec(host, ["grep", "-q", "-E", "wg-quick|wg set|apt-get|systemctl", "/run/wgmesh-argv.log"])).code === 0;
  await tb.exec(host, ["rm", "-f", "/run/wgmesh-argv.log", "/run/wgmesh-argv.pid"]);
  return { lines, leaked: [...new Set(hit.stdout.split("\n").filter((l) => l !== ""))], sawWg };
}

/** `wg show <if> dump` without the volatile fields (handshake, rx, tx) and with the private key hidden. */
export async function stableDump(tb: Testbed, host: string, ifname = "wg0"): Promise<string> {
  const dump = await tb.execOk(host, ["wg", "show", ifname, "dump"]);
  const [iface = "", ...peers] = dump.trim().split("\n");
  // wireguard-go lists peers in no fixed order: sort them (by public key) so dumps compare as sets.
  const peerLines = peers.map((line) => {
    const f = line.split("\t");
    return [f[0], f[1], f[2], f[3], f[7]].join("\t");
  }).sort();
  return [["(key)", ...iface.split("\t").slice(1)].join("\t"), ...peerLines].join("\n");
}

/** Start a background ping (every 50 ms) from a host; `stopPing` reports lost replies. */
export async function startPing(tb: Testbed, host: string, ip: string): Promise<void> {
  await tb.execOk(host, ["sh", "-c", `rm -f /run/wgmesh-ping.log; setsid sh -c 'echo $$ > /run/wgmesh-ping.pid; exec ping -n -i 0.05 -W 1 ${ip}' > /run/wgmesh-ping.log 2>&1 < /dev/null &`]);
}

/**
 * Stop the ping; lost = sequence numbers without a reply below the highest answered one (a packet still in
 * flight when the ping is stopped is not a loss).
 */
export async function stopPing(tb: Testbed, host: string): Promise<{ sent: number; lost: number[] }> {
  await tb.exec(host, ["sh", "-c", "kill -INT $(cat /run/wgmesh-ping.pid); sleep 0.3"]);
  const log = await tb.execOk(host, ["cat", "/run/wgmesh-ping.log"]);
  const seqs = new Set([...log.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
  const max = Math.max(0, ...seqs);
  const lost: number[] = [];
  for (let i = 1; i <= max; i++) if (!seqs.has(i)) lost.push(i);
  return { sent: max, lost };
}
