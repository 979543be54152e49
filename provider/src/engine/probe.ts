/**
 * The engine's own read-only additions to the facts round trip: the state of the files the engine owns
 * besides the wg-quick file (persistent forwarding, the on-host private key). Runs in the same script as
 * `factsScript` (engine/facts.ts), so a host still costs one exec round trip to read.
 * The on-host private key is only piped into `wg pubkey`: it never leaves the host.
 */
import { factsScript, parseFacts, type HostFacts } from "./facts";
import { hostPaths } from "./paths";
import { shellQuote } from "../planner/shell";
import { nftProbeScript, nftTableName, parseNftProbe, type NftState } from "../planner/nft";

const BEGIN = "@@WGMESH-ENGINE-BEGIN@@";
const END = "@@WGMESH-ENGINE-END@@";

export interface EngineProbe {
  sysctl: { exists: boolean; sha256: string | null };
  key: { exists: boolean; publicKey: string | null; mode: string | null };
  /** The host's clock (unix seconds) at the read: handshake ages are computed against it. */
  now: number | null;
  /** `ping` is installed (the health gate's probe traffic and mode "ping" use it). */
  ping: boolean;
  /** The rollback snapshot files are there (engine/rollback.ts; removed by teardown). */
  prev: { conf: boolean; live: boolean; nft: boolean };
  /** Temporary files a killed change script left (paths.ts `tempGlobs`; removed by teardown). */
  tempFiles: string[];
  /** The node's firewall file and table (planner/nft.ts); absent when the output had no firewall block. */
  firewall?: NftState;
}

/** POSIX sh fragment (subshell, never fails) printing the engine's extra facts. */
export function engineProbeScript(ifname: string): string {
  const p = hostPaths(ifname);
  return [
    "(",
    "set +eu",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH",
    `S=${shellQuote(p.sysctl)}`,
    `K=${shellQuote(p.key)}`,
    `printf '\\n${BEGIN}\\n'`,
    "printf 'now=%s\\n' \"$(date +%s)\"",
    "if command -v ping >/dev/null 2>&1; then echo ping=1; else echo ping=0; fi",
    `if [ -f ${shellQuote(p.confPrev)} ]; then echo prevConf=1; fi`,
    `if [ -f ${shellQuote(p.livePrev)} ]; then echo prevLive=1; fi`,
    `if [ -f ${shellQuote(p.nftPrev)} ]; then echo prevNft=1; fi`,
    ...p.tempGlobs.map(([prefix, glob]) => `for f in ${shellQuote(prefix)}${glob}; do if [ -f "$f" ]; then printf 'tmpFile=%s\\n' "$f"; fi; done`),
    `if [ -f "$S" ]; then printf 'sysctl=1\\nsysctlSha256=%s\\n' "$(sha256sum "$S" | cut -d ' ' -f 1)"; else echo sysctl=0; fi`,
    `if [ -f "$K" ]; then echo key=1; printf 'keyMode=%s\\n' "$(stat -c %a "$K" 2>/dev/null)";`,
    `  if command -v wg >/dev/null 2>&1; then printf 'keyPublic=%s\\n' "$(wg pubkey < "$K" 2>/dev/null)"; fi`,
    "else echo key=0; fi",
    `printf '${END}\\n'`,
    ")",
  ].join("\n") + "\n";
}

/** The firewall part of the probe (its own marked block, after the engine's). */
export function firewallProbeScript(ifname: string): string {
  return nftProbeScript(hostPaths(ifname).nft, `inet ${nftTableName(ifname)}`);
}

export function parseEngineProbe(stdout: string): EngineProbe {
  const start = stdout.indexOf(BEGIN);
  const stop = stdout.indexOf(END, start);
  if (start < 0 || stop < 0) throw new Error("engine probe: the output has no complete block (the script did not run to its end)");
  const kv = new Map<string, string>();
  const tempFiles: string[] = [];
  for (const line of stdout.slice(start + BEGIN.length, stop).split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    if (line.slice(0, i) === "tmpFile") tempFiles.push(line.slice(i + 1));
    else kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const sha = kv.get("sysctlSha256") ?? "";
  const pub = kv.get("keyPublic") ?? "";
  const firewall = stdout.includes("@@WGMESH-NFT-BEGIN@@", stop) ? parseNftProbe(stdout.slice(stop)) : undefined;
  return {
    ...(firewall ? { firewall } : {}),
    sysctl: { exists: kv.get("sysctl") === "1", sha256: /^[0-9a-f]{64}$/.test(sha) ? sha : null },
    key: {
      exists: kv.get("key") === "1",
      publicKey: /^[A-Za-z0-9+/]{43}=$/.test(pub) ? pub : null,
      mode: kv.get("keyMode") || null,
    },
    now: /^\d+$/.test(kv.get("now") ?? "") ? Number(kv.get("now")) : null,
    ping: kv.get("ping") === "1",
    prev: { conf: kv.get("prevConf") === "1", live: kv.get("prevLive") === "1", nft: kv.get("prevNft") === "1" },
    tempFiles,
  };
}

/** The read-only script of one host: the shared facts plus the engine's probe. */
export function readScript(ifname: string): string {
  return factsScript(ifname) + engineProbeScript(ifname) + firewallProbeScript(ifname);
}

export interface HostReading {
  facts: HostFacts;
  probe: EngineProbe;
}

/** Parse the output of `readScript` (also when it is embedded at the end of a change script). */
export function parseReading(stdout: string, ifname: string): HostReading {
  return { facts: parseFacts(stdout, ifname), probe: parseEngineProbe(stdout) };
}

/**
 * The last reading in an output holding two (before/after in one script): the text after the last
 * facts begin marker.
 */
export function lastReading(stdout: string, ifname: string): HostReading {
  const i = stdout.lastIndexOf("@@WGMESH-FACTS-BEGIN@@");
  return parseReading(i < 0 ? stdout : stdout.slice(i), ifname);
}
