/**
 * Host facts: ONE read-only remote script (every value through `shellQuote`) that prints everything the
 * planner and installer need, in marked sections, and its parser.
 *
 * Secrets: the interface private key never leaves the host (the script blanks the first field of
 * `wg show <if> dump` to "(hidden)"; the parser blanks it again defensively); the conf file's private key is
 * only piped into `wg pubkey` on the host; preshared keys in the dump are reduced to fingerprints by the
 * planner's parser at once and the raw dump is not kept (only a sanitized copy).
 */
import { promises as dns } from "node:dns";
import * as ipaddr from "ipaddr.js";
import { assertInterfaceName } from "../planner/commands";
import { parseLiveState } from "../planner/live";
import { shellQuote } from "../planner/shell";
import type { LiveState } from "../planner/types";
import type { SshSession } from "./ssh/session";

const MARK = "@@WGMESH-FACTS@@";
const BEGIN = "@@WGMESH-FACTS-BEGIN@@";
const END = "@@WGMESH-FACTS-END@@";

export interface FactsScriptOptions {
  /**
   * When neither /sys/module/wireguard nor `modprobe -n wireguard` tells, create and immediately delete a
   * throwaway wireguard link to learn whether the kernel supports it (may autoload the module). Default false:
   * the facts script then changes nothing at all.
   */
  probeLink?: boolean;
}

/** The fact-gathering script for interface `ifname` (a POSIX sh fragment; runs in a subshell, exits 0). */
export function factsScript(ifname: string, opts: FactsScriptOptions = {}): string {
  assertInterfaceName(ifname);
  const conf = `/etc/wireguard/${ifname}.conf`;
  const unit = `wg-quick@${ifname}`;
  const probe = `wgmprobe${process.pid % 10000}`;
  return [
    "(",
    "set +eu", // robust inside a batched script that runs under set -eu
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH",
    `IF=${shellQuote(ifname)}`,
    `CONF=${shellQuote(conf)}`,
    `UNIT=${shellQuote(unit)}`,
    `m() { printf '\\n${MARK} %s\\n' "$1"; }`,
    "has() { command -v \"$1\" >/dev/null 2>&1; }",
    `printf '${BEGIN}\\n'`,
    "m uid; id -u",
    "m hostname; cat /proc/sys/kernel/hostname 2>/dev/null || uname -n",
    "m os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null",
    "m kernel; uname -r",
    "m tools",
    "for t in wg wg-quick wireguard-go ip systemctl apt-get dnf yum modprobe sudo nft; do if has \"$t\"; then echo \"$t=1\"; else echo \"$t=0\"; fi; done",
    "m wireguard-kernel",
    "if [ -d /sys/module/wireguard ]; then echo loaded",
    "elif has modprobe && modprobe -n -q wireguard 2>/dev/null; then echo loadable",
    opts.probeLink
      ? `elif has ip && ip link add ${shellQuote(probe)} type wireguard 2>/dev/null; then ip link del ${shellQuote(probe)} 2>/dev/null; echo probe-ok`
      : "",
    "else echo absent; fi",
    "m systemd; if [ -d /run/systemd/system ]; then echo 1; else echo 0; fi",
    "m ip-forward; cat /proc/sys/net/ipv4/ip_forward 2>/dev/null",
    "m link; ip -j -d link show dev \"$IF\" 2>/dev/null",
    // The private key (field 1 of line 1) is replaced on the host: it never travels.
    "m wg-dump; if has wg; then wg show \"$IF\" dump 2>/dev/null | awk -F '\\t' -v OFS='\\t' 'NR==1 && NF==4 { $1=\"(hidden)\" } { print }'; fi",
    "m addr; ip -j addr show dev \"$IF\" 2>/dev/null",
    "m route4; ip -j route show dev \"$IF\" 2>/dev/null",
    "m route6; ip -j -6 route show dev \"$IF\" 2>/dev/null",
    "m host-addr; ip -j addr show 2>/dev/null",
    "m unit",
    "if has systemctl; then printf 'enabled=%s\\n' \"$(systemctl is-enabled \"$UNIT\" 2>/dev/null)\"; printf 'active=%s\\n' \"$(systemctl is-active \"$UNIT\" 2>/dev/null)\"; fi",
    "m conf",
    "if [ -f \"$CONF\" ]; then",
    "  echo exists=1",
    "  printf 'mode=%s\\n' \"$(stat -c %a \"$CONF\" 2>/dev/null)\"",
    "  printf 'owner=%s\\n' \"$(stat -c %u:%g \"$CONF\" 2>/dev/null)\"",
    "  printf 'sha256=%s\\n' \"$(sha256sum \"$CONF\" 2>/dev/null | cut -d ' ' -f 1)\"",
    // Piped straight into `wg pubkey`: the private key is in no argv and no output.
    "  if has wg; then printf 'publicKey=%s\\n' \"$(sed -n 's/^[[:space:]]*PrivateKey[[:space:]]*=[[:space:]]*//p' \"$CONF\" | head -n 1 | tr -d ' \\t\\r' | wg pubkey 2>/dev/null)\"; fi",
    "else echo exists=0; fi",
    `printf '\\n${END}\\n'`,
    ")",
  ].filter((l) => l !== "").join("\n") + "\n";
}

export type KernelWireguard = "loaded" | "loadable" | "probe-ok" | "absent";
export type PackageManager = "apt" | "dnf" | "yum";

export interface HostFacts {
  hostname: string;
  /** Effective uid the script ran as (0 = root, e.g. through sudo). */
  uid: number | null;
  os: { id: string | null; idLike: string[]; versionId: string | null; prettyName: string | null };
  packageManager: PackageManager | null;
  tools: { wg: boolean; wgQuick: boolean; wireguardGo: boolean; ip: boolean; systemctl: boolean; sudo: boolean; modprobe: boolean; nft: boolean };
  kernelRelease: string | null;
  kernelWireguard: KernelWireguard;
  /** The kernel has no WireGuard: userspace wireguard-go is needed (see tools.wireguardGo for whether it is installed). */
  wireguardGoNeeded: boolean;
  /** systemd is the running init (/run/systemd/system exists). */
  systemd: boolean;
  /** IPv4 forwarding on (null when unreadable). */
  forwarding: boolean | null;
  /** All addresses of the host (no prefix), loopback included. */
  hostAddresses: string[];
  iface: {
    name: string;
    exists: boolean;
    /** "wireguard" (kernel), "tun" (wireguard-go), other, or null when absent. */
    kind: string | null;
  };
  /** The planner's view of the interface (parsed from the dump, addresses, routes, ip_forward). */
  live: LiveState;
  /** The dump with the private key and preshared keys replaced ("(hidden)"); safe to log. */
  wgDumpSanitized: string | null;
  unit: { enabled: string | null; active: string | null };
  conf: { exists: boolean; mode: string | null; owner: string | null; sha256: string | null; publicKey: string | null };
  /** Things that could not be read (old iproute2 without -j, …). */
  warnings: string[];
}

/** Split the facts output into sections. Text outside BEGIN…END (other parts of a batched script) is ignored. */
export function factSections(stdout: string): Map<string, string> {
  const start = stdout.indexOf(BEGIN);
  const stop = stdout.indexOf(END, start);
  if (start < 0 || stop < 0) {
    throw new Error("host facts: the output has no complete facts block (the script did not run to its end; see its stderr)");
  }
  const body = stdout.slice(start + BEGIN.length, stop);
  const sections = new Map<string, string>();
  const parts = body.split(`\n${MARK} `);
  for (const part of parts.slice(1)) {
    const nl = part.indexOf("\n");
    const name = nl < 0 ? part : part.slice(0, nl);
    sections.set(name.trim(), nl < 0 ? "" : part.slice(nl + 1).replace(/\n+$/, ""));
  }
  return sections;
}

function keyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

function osRelease(text: string): HostFacts["os"] {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const mm = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!mm) continue;
    let v = mm[2]!;
    if (/^".*"$|^'.*'$/.test(v)) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    kv.set(mm[1]!, v);
  }
  return {
    id: kv.get("ID")?.toLowerCase() ?? null,
    idLike: (kv.get("ID_LIKE") ?? "").toLowerCase().split(/\s+/).filter((s) => s !== ""),
    versionId: kv.get("VERSION_ID") ?? null,
    prettyName: kv.get("PRETTY_NAME") ?? null,
  };
}

/** Replace the private key (line 1, field 1) and every peer's preshared key (field 2) by "(hidden)". */
export function sanitizeWgDump(dump: string): string {
  return dump
    .split("\n")
    .map((line, i) => {
      const f = line.split("\t");
      if (i === 0 && f.length === 4) f[0] = "(hidden)";
      else if (i > 0 && f.length === 8 && f[1] !== "(none)") f[1] = "(hidden)";
      return f.join("\t");
    })
    .join("\n");
}

function jsonArray(text: string | undefined): unknown[] | null {
  if (text === undefined || text.trim() === "") return null;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** All local addresses from `ip -j addr show` output (no prefix; normalised). */
export function addressesFromIpJson(text: string): string[] {
  const links = jsonArray(text) ?? [];
  const out = new Set<string>();
  for (const l of links as Array<{ addr_info?: Array<{ local?: string }> }>) {
    for (const a of l.addr_info ?? []) {
      if (typeof a.local === "string" && ipaddr.isValid(a.local)) out.add(ipaddr.parse(a.local).toString());
    }
  }
  return [...out].sort();
}

/** Parse the facts script's stdout for interface `ifname`. */
export function parseFacts(stdout: string, ifname: string): HostFacts {
  const s = factSections(stdout);
  const warnings: string[] = [];
  const tools = keyValues(s.get("tools") ?? "");
  const t = (name: string) => tools.get(name) === "1";
  const os = osRelease(s.get("os-release") ?? "");
  const family = [os.id ?? "", ...os.idLike];
  let packageManager: PackageManager | null = null;
  if (t("apt-get") && family.some((x) => x === "debian" || x === "ubuntu")) packageManager = "apt";
  else if (t("dnf")) packageManager = "dnf";
  else if (t("yum")) packageManager = "yum";
  else if (t("apt-get")) packageManager = "apt";

  const kw = (s.get("wireguard-kernel") ?? "").trim();
  const kernelWireguard: KernelWireguard = kw === "loaded" || kw === "loadable" || kw === "probe-ok" ? kw : "absent";

  const fwdText = (s.get("ip-forward") ?? "").trim();
  const forwarding = fwdText === "1" ? true : fwdText === "0" ? false : null;
  if (forwarding === null) warnings.push("cannot read /proc/sys/net/ipv4/ip_forward");

  const linkJson = jsonArray(s.get("link")) as Array<{ ifname?: string; linkinfo?: { info_kind?: string } }> | null;
  const link = linkJson?.find((l) => l.ifname === ifname);
  const exists = link !== undefined;
  const kind = link ? (link.linkinfo?.info_kind ?? null) : null;

  const hostAddrText = s.get("host-addr") ?? "";
  if (jsonArray(hostAddrText) === null) warnings.push("`ip -j addr` gave no JSON (iproute2 too old or missing); host addresses unknown");

  const rawDump = s.get("wg-dump") ?? "";
  const dumpText = exists && rawDump.trim() !== "" ? sanitizeFirstField(rawDump) : null;
  let live: LiveState;
  const fwdForLive = forwarding === null ? "0" : fwdText;
  try {
    live = parseLiveState({
      ifname,
      wgDump: exists && kind !== null && (kind === "wireguard" || kind === "tun") ? dumpText : null,
      ipAddr: s.get("addr") ?? "",
      ipRoute: s.get("route4") ?? "",
      ipRoute6: s.get("route6") ?? "",
      ipForward: fwdForLive,
    });
  } catch (e) {
    // Never echo the raw dump: it may hold preshared keys.
    throw new Error(`host facts: cannot parse the live state of ${ifname}: ${(e as Error).message}`);
  }
  const uidText0 = (s.get("uid") ?? "").trim();
  if (uidText0 !== "0") warnings.push(`facts gathered as uid ${uidText0 || "?"}, not root: wg show and /etc/wireguard may be unreadable`);
  if (exists && (kind === "wireguard" || kind === "tun") && dumpText === null) {
    warnings.push(`${ifname} exists but \`wg show ${ifname} dump\` printed nothing (wg missing or not root)`);
  }
  const unit = keyValues(s.get("unit") ?? "");
  const conf = keyValues(s.get("conf") ?? "");
  const uidText = (s.get("uid") ?? "").trim();
  const pub = conf.get("publicKey") ?? "";
  return {
    hostname: (s.get("hostname") ?? "").trim(),
    uid: /^\d+$/.test(uidText) ? Number(uidText) : null,
    os,
    packageManager,
    tools: {
      wg: t("wg"),
      wgQuick: t("wg-quick"),
      wireguardGo: t("wireguard-go"),
      ip: t("ip"),
      systemctl: t("systemctl"),
      sudo: t("sudo"),
      modprobe: t("modprobe"),
      nft: t("nft"),
    },
    kernelRelease: (s.get("kernel") ?? "").trim() || null,
    kernelWireguard,
    wireguardGoNeeded: kernelWireguard === "absent",
    systemd: (s.get("systemd") ?? "").trim() === "1",
    forwarding,
    hostAddresses: addressesFromIpJson(hostAddrText),
    iface: { name: ifname, exists, kind },
    live,
    wgDumpSanitized: dumpText === null ? null : sanitizeWgDump(dumpText),
    unit: { enabled: unit.get("enabled") || null, active: unit.get("active") || null },
    conf: {
      exists: conf.get("exists") === "1",
      mode: conf.get("mode") || null,
      owner: conf.get("owner") || null,
      sha256: conf.get("sha256") || null,
      publicKey: /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(pub) ? pub : null,
    },
    warnings,
  };
}

/** Blank the dump's private key field (line 1, field 1) whatever the host printed. */
function sanitizeFirstField(dump: string): string {
  const nl = dump.indexOf("\n");
  const first = nl < 0 ? dump : dump.slice(0, nl);
  const f = first.split("\t");
  if (f.length === 4) f[0] = "(hidden)";
  return f.join("\t") + (nl < 0 ? "" : dump.slice(nl));
}

function normalizeAddress(a: string): string | null {
  const bare = a.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!ipaddr.isValid(bare)) return null;
  const p = ipaddr.parse(bare);
  if (p.kind() === "ipv6" && (p as ipaddr.IPv6).isIPv4MappedAddress()) return (p as ipaddr.IPv6).toIPv4Address().toString();
  return p.toString();
}

/**
 * NAT detection without outside services: a host is behind NAT when none of the addresses its SSH target
 * resolves to is one of the host's own addresses. `sshTargetAddress` may be a name (resolved here) or an IP.
 */
export async function detectNat(sshTargetAddress: string, hostAddresses: string[]): Promise<boolean> {
  let targets: string[];
  const literal = normalizeAddress(sshTargetAddress);
  if (literal !== null) targets = [literal];
  else {
    try {
      targets = (await dns.lookup(sshTargetAddress, { all: true })).map((r) => normalizeAddress(r.address)).filter((x): x is string => x !== null);
    } catch (e) {
      throw new Error(`NAT detection: cannot resolve ssh host '${sshTargetAddress}': ${(e as Error).message}; set the node's behindNat explicitly`);
    }
  }
  const own = new Set(hostAddresses.map(normalizeAddress).filter((x): x is string => x !== null));
  return !targets.some((a) => own.has(a));
}

export interface GatherOptions extends FactsScriptOptions {
  /** The user's override of NAT detection (the node's `behindNat`); detection runs only when undefined. */
  behindNat?: boolean;
}

export interface GatheredFacts {
  facts: HostFacts;
  nat: { behindNat: boolean; detected: boolean; reachedAddress: string };
}

/** Run the facts script on a session (one exec round trip, as root) and parse it; then decide NAT. */
export async function gatherFacts(session: SshSession, ifname: string, opts: GatherOptions = {}): Promise<GatheredFacts> {
  const r = await session.run(factsScript(ifname, opts), { label: `facts ${ifname}` });
  let facts: HostFacts;
  try {
    facts = parseFacts(r.stdout, ifname);
  } catch (e) {
    throw new Error(`host ${session.info.host}: ${(e as Error).message} (exit ${r.exitCode}; stderr: ${r.stderr.trim().slice(0, 500)})`);
  }
  const reachedAddress = session.info.reachedAddress;
  if (opts.behindNat !== undefined) return { facts, nat: { behindNat: opts.behindNat, detected: false, reachedAddress } };
  return { facts, nat: { behindNat: await detectNat(reachedAddress, facts.hostAddresses), detected: true, reachedAddress } };
}
