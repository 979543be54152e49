/**
 * A node's firewall as nftables text, and the host commands around it. Pure.
 *
 * The file `/etc/wireguard/<if>.nft` is one `nft -f` transaction that adds, deletes and redefines the table
 * `inet wgmesh_<if>` whole: atomic (the old table stays until the new one is complete) and idempotent. The
 * text is canonical — the same plan gives the same bytes (sets and rules sorted, fixed layout) — so drift is a
 * digest compare. Only our own table is ever touched: other tables (an `inet filter` of the host's own, Docker's
 * iptables-nft tables) are left as they are. Rule labels become nft comments, so a live listing reads back
 * into the same shape (`parseNftListing`, for display).
 *
 * Every value that reaches the text is checked against a strict pattern first (`assertFirewallPlan`): no
 * quote, semicolon, '#' or newline can get in, so a rule cannot add another command.
 */
import { parseCidr } from "../core/cidr";
import { assertInterfaceName } from "./commands";
import { shellCommand, shellQuote } from "./shell";
import type { FirewallPlan } from "./types";

/** The table name (family inet) of an interface: `wgmesh_<if>` with characters nft names lack replaced. */
export function nftTableName(ifname: string): string {
  assertInterfaceName(ifname);
  return `wgmesh_${ifname.replace(/[^A-Za-z0-9_.]/g, "_")}`;
}

/** Named counters a test (or an operator: `nft list counter inet wgmesh_wg0 input_dropped`) can read. */
export const NFT_COUNTERS = { input: "input_dropped", forward: "forward_dropped" } as const;

const SET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Fast paths for well-formed elements (anything else goes through the full parser, which names the problem). */
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const V4_ELEMENT = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}(?:/(?:3[0-2]|[12]?\\d))?$`);
const V6_ELEMENT = /^(?=[0-9a-f:]*:)[0-9a-f:]{2,39}(?:\/(?:12[0-8]|1[01]\d|[1-9]?\d))?$/;
const checkedSets = new WeakMap<readonly string[], 4 | 6>();
const LABEL = /^(input|forward) [A-Za-z0-9_.:/+=@~ -]{1,120}$/;
const RULE = /^[A-Za-z0-9 @_.,{}:/-]{1,400}$/;

/** Throws (naming the offending part) unless the plan is safe and well-formed to render. */
export function assertFirewallPlan(fw: FirewallPlan, ifname: string): void {
  const expected = `inet ${nftTableName(ifname)}`;
  if (fw.table !== expected) throw new Error(`firewall table ${JSON.stringify(fw.table)} must be ${JSON.stringify(expected)} for interface ${ifname}`);
  for (const [name, elements] of Object.entries(fw.sets ?? {})) {
    if (!SET_NAME.test(name)) throw new Error(`firewall set name ${JSON.stringify(name)} is not an nft identifier`);
    if (!Array.isArray(elements) || elements.length === 0) throw new Error(`firewall set ${name} must list at least one address`);
    const v6 = name.endsWith("_v6");
    // The planner shares frozen element arrays between nodes: each is checked once.
    if (Object.isFrozen(elements) && checkedSets.get(elements) === (v6 ? 6 : 4)) continue;
    for (const e of elements) {
      if (!(v6 ? V6_ELEMENT : V4_ELEMENT).test(e)) {
        let kind = "";
        try { kind = parseCidr(e.includes("/") ? e : `${e}/${e.includes(":") ? 128 : 32}`)[0].kind(); } catch { /* reported below */ }
        if (kind === "") throw new Error(`firewall set ${name}: ${JSON.stringify(e)} is not an address or CIDR`);
        if ((kind === "ipv6") !== v6) throw new Error(`firewall set ${name}: ${JSON.stringify(e)} is not an ${v6 ? "IPv6" : "IPv4"} address`);
      }
    }
    if (Object.isFrozen(elements)) checkedSets.set(elements, v6 ? 6 : 4);
  }
  for (const [label, rule] of Object.entries(fw.rules ?? {})) {
    if (!LABEL.test(label)) throw new Error(`firewall rule label ${JSON.stringify(label)} must start with "input " or "forward " and use only letters, digits, spaces and _.:/+=@~-`);
    if (!RULE.test(rule) || !/ accept$/.test(rule)) throw new Error(`firewall rule ${JSON.stringify(label)}: ${JSON.stringify(rule)} is not an accept rule of the planner's form`);
    for (const m of rule.matchAll(/@([A-Za-z0-9_]+)/g)) {
      if (!(m[1] as string in (fw.sets ?? {}))) throw new Error(`firewall rule ${JSON.stringify(label)} uses set @${m[1]}, which the plan does not define`);
    }
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The file `/etc/wireguard/<if>.nft`: the whole table, canonical bytes. */
export function renderNftRuleset(ifname: string, fw: FirewallPlan): string {
  assertFirewallPlan(fw, ifname);
  const t = fw.table;
  const lines = [
    "#!/usr/sbin/nft -f",
    `# Managed by wgmesh: the mesh firewall of ${ifname}, loaded by wg-quick@${ifname} (PreUp); local changes are overwritten.`,
    `# Only traffic arriving on ${ifname} is filtered: NEW connections as the policies allow, the rest counted and dropped.`,
    `table ${t}`,
    `delete table ${t}`,
    `table ${t} {`,
  ];
  for (const c of [NFT_COUNTERS.input, NFT_COUNTERS.forward]) lines.push(`\tcounter ${c} {`, "\t}");
  for (const name of Object.keys(fw.sets).sort(cmp)) {
    const elements = fw.sets[name] as string[];
    lines.push(`\tset ${name} {`, `\t\ttype ${name.endsWith("_v6") ? "ipv6_addr" : "ipv4_addr"}`, "\t\tflags interval");
    const chunks: string[] = [];
    for (let i = 0; i < elements.length; i += 8) chunks.push(elements.slice(i, i + 8).join(", "));
    lines.push(`\t\telements = { ${chunks.join(",\n\t\t\t     ")} }`, "\t}");
  }
  const labels = Object.keys(fw.rules).sort(cmp);
  for (const chain of ["input", "forward"] as const) {
    lines.push(
      `\tchain ${chain} {`,
      `\t\ttype filter hook ${chain} priority filter; policy accept;`,
      `\t\tiifname ${JSON.stringify(ifname)} jump mesh_${chain}`,
      "\t}",
      `\tchain mesh_${chain} {`,
      "\t\tct state established,related accept",
    );
    for (const label of labels) if (label.startsWith(`${chain} `)) lines.push(`\t\t${fw.rules[label]} comment ${JSON.stringify(label)}`);
    lines.push(`\t\tcounter name ${JSON.stringify(NFT_COUNTERS[chain])} drop`, "\t}");
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** Rules per chain and set elements in a plan (for reports: rules per node, ruleset size). */
export function firewallStats(fw: FirewallPlan): { rules: number; sets: number; elements: number } {
  return { rules: Object.keys(fw.rules).length, sets: Object.keys(fw.sets).length, elements: Object.values(fw.sets).reduce((s, e) => s + e.length, 0) };
}

/** The firewall as readable lines (`wgmesh plan`): sets, then each rule under its label. */
export function describeFirewall(fw: FirewallPlan): string[] {
  const out = [`table ${fw.table}: traffic arriving on the mesh interface; established/related accepted, NEW only:`];
  const labels = Object.keys(fw.rules).sort(cmp);
  if (labels.length === 0) out.push("  (no rule: every NEW connection from the mesh is dropped)");
  for (const l of labels) out.push(`  ${l}: ${fw.rules[l]}`);
  for (const name of Object.keys(fw.sets).sort(cmp)) out.push(`  @${name} = { ${(fw.sets[name] as string[]).join(", ")} }`);
  out.push(`  everything else: counted (${NFT_COUNTERS.input}, ${NFT_COUNTERS.forward}) and dropped`);
  return out;
}

// ---- host commands ------------------------------------------------------------------------------------------

/** The line that records, in the file itself, the digest of the live table's listing right after it was loaded. */
export const NFT_LISTING_MARK = "# wgmesh-listing-sha256: ";

/** `nft -s list table …` (stateless: no counter values), the form whose digest is recorded and compared. */
export function nftListCommand(table: string): string {
  return `${shellCommand("nft", "-s", "list", "table", ...table.split(" "))}`;
}

/** The hook that loads the file when the interface starts (wg-quick PreUp: before the interface exists). */
export function nftLoadCommand(path: string): string {
  return shellCommand("nft", "-f", path);
}

/**
 * Write the file and load it as one step: the text goes to a temp file beside the target, `nft -f` loads it
 * (atomic replace of the table), the digest of the live listing is appended as the last line, then the file
 * is moved into place (0600). When the load fails nothing is moved: the old file and table stay.
 */
export function nftApplyCommand(path: string, table: string, text: string): string {
  if (!path.startsWith("/")) throw new Error(`nft file ${path} must be an absolute path`);
  const delimiter = "WGMESH_NFT_EOF";
  if (text.split("\n").includes(delimiter)) throw new Error("nft text contains the delimiter line");
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  const tmpl = `${dir}/.${path.slice(path.lastIndexOf("/") + 1)}.XXXXXX`;
  return [
    `mkdir -p ${shellQuote(dir)} && (`,
    "umask 077",
    `tmp=$(mktemp ${shellQuote(tmpl)}) || exit 1`,
    `if cat > "$tmp" <<'${delimiter}' && nft -f "$tmp" && d=$(${nftListCommand(table)} | sha256sum | cut -c1-64) && printf '%s%s\\n' ${shellQuote(NFT_LISTING_MARK)} "$d" >> "$tmp" && chmod 600 "$tmp" && chown 0:0 "$tmp" && { sync "$tmp" 2>/dev/null || sync; } && mv -f "$tmp" ${shellQuote(path)}; then :; else rm -f "$tmp"; echo ${shellQuote(`wgmesh: loading the firewall ${path} failed`)} >&2; exit 1; fi`,
    `${text.endsWith("\n") ? text : `${text}\n`}${delimiter}`,
    ")",
  ].join("\n");
}

/** Remove the table (when present) and the file. */
export function nftRemoveCommand(path: string, table: string): string {
  return `if command -v nft >/dev/null 2>&1 && ${nftListCommand(table)} >/dev/null 2>&1; then ${shellCommand("nft", "delete", "table", ...table.split(" "))}; fi\n${shellCommand("rm", "-f", path)}`;
}

const BEGIN = "@@WGMESH-NFT-BEGIN@@";
const END = "@@WGMESH-NFT-END@@";
const LISTING = "nft| ";

/** What the host has of a firewall (see `nftProbeScript`). */
export interface NftState {
  /** `nft` is installed. */
  tool: boolean;
  file: { exists: boolean; mode: string | null; owner: string | null; bodySha256: string | null; recordedListing: string | null };
  table: { exists: boolean; listingSha256: string | null };
  /** The live listing, printed only when it differs from the one recorded in the file. */
  listing: string | null;
}

/** POSIX sh fragment (subshell, never fails): the firewall's file and table, digests only unless drifted. */
export function nftProbeScript(path: string, table: string): string {
  const list = nftListCommand(table);
  return [
    "(",
    "set +eu",
    `F=${shellQuote(path)}`,
    `printf '\\n${BEGIN}\\n'`,
    "if command -v nft >/dev/null 2>&1; then echo nftTool=1; else echo nftTool=0; fi",
    `if [ -f "$F" ]; then echo nftFile=1; printf 'nftMode=%s\\nnftOwner=%s\\n' "$(stat -c %a "$F")" "$(stat -c %u:%g "$F")";`,
    `  printf 'nftBody=%s\\n' "$(grep -v ${shellQuote(`^${NFT_LISTING_MARK}`)} "$F" | sha256sum | cut -c1-64)";`,
    `  printf 'nftRecorded=%s\\n' "$(sed -n ${shellQuote(`s/^${NFT_LISTING_MARK}//p`)} "$F" | tail -n 1)";`,
    "else echo nftFile=0; fi",
    `if command -v nft >/dev/null 2>&1 && ${list} >/dev/null 2>&1; then echo nftTable=1; L=$(${list} | sha256sum | cut -c1-64); printf 'nftLive=%s\\n' "$L";`,
    `  if [ ! -f "$F" ] || [ "$L" != "$(sed -n ${shellQuote(`s/^${NFT_LISTING_MARK}//p`)} "$F" | tail -n 1)" ]; then ${list} 2>/dev/null | sed 's/^/${LISTING}/'; fi`,
    "else echo nftTable=0; fi",
    `printf '${END}\\n'`,
    ")",
  ].join("\n") + "\n";
}

export function parseNftProbe(stdout: string): NftState {
  const start = stdout.indexOf(BEGIN);
  const stop = stdout.indexOf(END, start);
  if (start < 0 || stop < 0) throw new Error("firewall probe: the output has no complete block");
  const kv = new Map<string, string>();
  const listing: string[] = [];
  for (const line of stdout.slice(start + BEGIN.length, stop).split("\n")) {
    if (line.startsWith(LISTING)) { listing.push(line.slice(LISTING.length)); continue; }
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const hex = (k: string) => { const v = kv.get(k) ?? ""; return /^[0-9a-f]{64}$/.test(v) ? v : null; };
  return {
    tool: kv.get("nftTool") === "1",
    file: { exists: kv.get("nftFile") === "1", mode: kv.get("nftMode") || null, owner: kv.get("nftOwner") || null, bodySha256: hex("nftBody"), recordedListing: hex("nftRecorded") },
    table: { exists: kv.get("nftTable") === "1", listingSha256: hex("nftLive") },
    listing: listing.length ? listing.join("\n") + "\n" : null,
  };
}

/**
 * Whether the host's firewall is exactly the planned one: the file's body is the planned text, 0600 root,
 * and the live table's listing is the one recorded when that file was loaded. With no plan (null): neither
 * file nor table.
 */
export function nftMatches(state: NftState, plannedTextSha256: string | null): "as planned" | "missing" | "differs from the plan" | "present but not planned" {
  if (plannedTextSha256 === null) return state.file.exists || state.table.exists ? "present but not planned" : "as planned";
  if (!state.file.exists || !state.table.exists) return "missing";
  const ok = state.file.bodySha256 === plannedTextSha256 && state.file.mode === "600" && state.file.owner === "0:0" &&
    state.file.recordedListing !== null && state.table.listingSha256 === state.file.recordedListing;
  return ok ? "as planned" : "differs from the plan";
}

/**
 * A live listing of our table read back into the plan's shape (for display of drift: refresh shows the rules
 * that are really there). Rules carry their label as comment; a rule without one is listed as "<chain> #n".
 * The fixed parts (hooks, established/related, final drop) are not rules of the plan and are skipped.
 */
export function parseNftListing(listing: string, table: string): FirewallPlan {
  const sets: Record<string, string[]> = {};
  const rules: Record<string, string> = {};
  const lines = listing.split("\n");
  let section: { kind: "set" | "chain"; name: string } | null = null;
  let elements: string[] | null = null;
  let n = 0;
  for (const raw of lines) {
    const line = raw.trim();
    if (elements !== null) {
      const end = line.endsWith("}");
      elements.push(...line.replace(/}$/, "").split(",").map((x) => x.trim()).filter((x) => x !== ""));
      if (end && section) { sets[section.name] = elements; elements = null; }
      continue;
    }
    let m = /^set (\S+) \{$/.exec(line);
    if (m) { section = { kind: "set", name: m[1] as string }; continue; }
    m = /^chain (\S+) \{$/.exec(line);
    if (m) { section = { kind: "chain", name: m[1] as string }; n = 0; continue; }
    if (line === "}") { section = null; continue; }
    if (!section) continue;
    if (section.kind === "set") {
      m = /^elements = \{ (.*)$/.exec(line);
      if (m) {
        const rest = m[1] as string;
        const list = rest.replace(/ ?}$/, "").split(",").map((x) => x.trim()).filter((x) => x !== "");
        if (rest.endsWith("}")) sets[section.name] = list;
        else elements = list;
      }
      continue;
    }
    if (!section.name.startsWith("mesh_")) continue;
    const chain = section.name.slice(5);
    if (line === "ct state established,related accept" || /^counter name "\w+" drop$/.test(line) || line === "") continue;
    n++;
    // nft lists the ICMP protocols by number ("meta l4proto 1"): back to the names the plan uses.
    const text = line.replace(/ meta l4proto 1 /, " meta l4proto icmp ").replace(/ meta l4proto 58 /, " meta l4proto ipv6-icmp ");
    const c = /^(.*) comment "([^"]*)"$/.exec(text);
    if (c) rules[c[2] as string] = c[1] as string;
    else rules[`${chain} #${n}`] = text;
  }
  return { table, sets, rules };
}
