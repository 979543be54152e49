/**
 * Syntax of the names and addresses a mesh declaration carries: node hostnames (DNS labels), SSH hosts,
 * endpoints, interface names and ports. Deliberately strict: nothing a shell would interpret can pass.
 * Pure.
 */
import { parseAddress } from "./cidr";

const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** wg-quick's own rule for interface names (and Linux IFNAMSIZ-1 = 15). */
const IFNAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;

/** A DNS label: 1–63 letters, digits and inner hyphens (RFC 1123). */
export function isDnsLabel(text: unknown): text is string {
  return typeof text === "string" && DNS_LABEL.test(text);
}

/** A DNS name: dot-separated labels, at most 253 characters, one trailing dot allowed. */
export function isDnsName(text: unknown): text is string {
  if (typeof text !== "string" || text.length === 0 || text.length > 254) return false;
  const body = text.endsWith(".") ? text.slice(0, -1) : text;
  return body.length > 0 && body.length <= 253 && body.split(".").every((l) => DNS_LABEL.test(l));
}

/** An IPv4 or IPv6 address (strict forms). */
export function isIpAddress(text: unknown): text is string {
  if (typeof text !== "string") return false;
  try { parseAddress(text); return true; } catch { return false; }
}

/** A host to connect to: an IP address or a DNS name. */
export function isHost(text: unknown): text is string {
  return isIpAddress(text) || isDnsName(text);
}

/** An integer TCP/UDP port 1–65535. */
export function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** A Linux interface name wg-quick accepts (1–15 of [A-Za-z0-9_=+.-], not "." or ".."). */
export function isInterfaceName(text: unknown): text is string {
  return typeof text === "string" && IFNAME.test(text) && text !== "." && text !== "..";
}

/** Split "host:port" / "[v6]:port"; null when the form is wrong or the host/port invalid. */
export function parseEndpoint(text: unknown): { host: string; port: number } | null {
  if (typeof text !== "string") return null;
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const host = m[1] as string;
  const port = Number(m[2]);
  const bracketed = text.startsWith("[");
  if (bracketed ? !(host.includes(":") && isIpAddress(host)) : !isHost(host)) return null;
  if (!isPort(port)) return null;
  return { host, port };
}

/** Printable text without control characters (for names shown to users). */
export function isPrintableName(text: unknown): text is string {
  return typeof text === "string" && text.length > 0 && text.length <= 253 && !/[\u0000-\u001f\u007f]/.test(text);
}

/** Quote a user value for a message (JSON string form: control characters escaped). */
export function q(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "undefined";
  try { return JSON.stringify(value) ?? String(value); } catch { return String(value); }
}

/** Levenshtein edit distance (insert, delete, substitute = 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/**
 * The candidate closest to `word` (case-insensitive edit distance; ties: the first), or null when even the
 * closest differs in more than half of its characters ("did you mean …?" only when it plausibly is a typo).
 */
export function closestWord(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  if (best === null) return null;
  return bestD <= Math.max(2, Math.ceil(best.length / 2)) ? best : null;
}
