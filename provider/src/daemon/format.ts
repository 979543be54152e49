/**
 * The Go tool's CLI output, byte for byte (§1.1, §6.4): init, status (text and --json), peers
 * list/count/get. Pure: callers pass the data and the current time.
 */
import { goIndentedFlatObject, goInt, goString } from "./gojson";
import { formatAge, parseRfc3339 } from "./timefmt";

export function formatInit(uri: string): string {
  return `Generated mesh secret:\n\n${uri}\n\nShare this secret with all nodes that should join the mesh.\nRun: wgmesh join --secret "${uri}"\n`;
}

export interface StatusView {
  interface: string;
  networkId: string;
  meshSubnet: string;
  customSubnet: boolean;
  ipv6Prefix: string;
  gossipPort: number;
  rendezvousId: string;
  /** Empty when unknown (then omitted, as Go does). */
  serviceStatus: string;
}

export function formatStatusText(v: StatusView): string {
  let out = "Mesh Status\n===========\n";
  out += `Interface: ${v.interface}\n`;
  out += `Network ID: ${v.networkId}\n`;
  out += `Mesh Subnet: ${v.meshSubnet}${v.customSubnet ? " (custom)" : ""}\n`;
  out += `Mesh IPv6 Prefix: ${v.ipv6Prefix}\n`;
  out += `Gossip Port: ${v.gossipPort}\n`;
  out += `Rendezvous ID: ${v.rendezvousId}\n\n`;
  if (v.serviceStatus) out += `Service Status: ${v.serviceStatus}\n`;
  out += "\n(Run 'wg show' to see connected peers)\n";
  return out;
}

export function formatStatusJson(v: StatusView): string {
  const m: [string, string][] = [
    ["interface", goString(v.interface)],
    ["network_id", goString(v.networkId)],
    ["mesh_subnet", goString(v.meshSubnet)],
    ["mesh_ipv6_prefix", goString(v.ipv6Prefix)],
    ["gossip_port", goInt(v.gossipPort)],
    ["rendezvous_id", goString(v.rendezvousId)],
  ];
  if (v.serviceStatus) m.push(["service_status", goString(v.serviceStatus)]);
  return goIndentedFlatObject(m);
}

/** Output problems the Go client reports on stderr with exit 1. */
export class FormatError extends Error {}

/** Go's %-Ns: pad to N runes (never truncates). */
function padRunes(s: string, n: number): string {
  const len = [...s].length;
  return len >= n ? s : s + " ".repeat(n - len);
}

/** Go's %.1f for the values we print (whole milliseconds in practice). */
function fixed1(n: number): string {
  return n.toFixed(1);
}

function row(cols: string[]): string {
  const widths = [20, 19, 15, 25, 10, 10];
  return `${cols.slice(0, 6).map((c, i) => padRunes(c, widths[i] as number)).join(" ")} ${cols[6] ?? ""}\n`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function strOr(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function stringsOf(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** `peers list` from the raw peers.list result. */
export function formatPeersList(result: unknown, nowMs: number): string {
  if (!isObject(result)) throw new FormatError("Invalid response format");
  const peers = result["peers"];
  if (!Array.isArray(peers)) throw new FormatError("Invalid peers data");
  if (peers.length === 0) return "No active peers\n";
  let out = row(["HOSTNAME", "PUBLIC KEY", "MESH IP", "ENDPOINT", "LAST SEEN", "LATENCY", "DISCOVERED VIA"]);
  out += `${"-".repeat(130)}\n`;
  for (const p of peers) {
    if (!isObject(p) || typeof p["pubkey"] !== "string") continue;
    const pubkey = p["pubkey"];
    const short = Buffer.byteLength(pubkey) > 16 ? `${Buffer.from(pubkey).subarray(0, 16).toString()}...` : pubkey;
    let hostname = strOr(p["hostname"]) || short;
    if (Buffer.byteLength(hostname) > 20) hostname = `${Buffer.from(hostname).subarray(0, 17).toString()}...`;
    const seen = parseRfc3339(strOr(p["last_seen"]));
    const lastSeen = seen === undefined ? "unknown" : formatAge(nowMs - seen);
    const lat = p["latency_ms"];
    const latency = typeof lat === "number" ? `${fixed1(lat)}ms` : "-";
    out += row([hostname, short, strOr(p["mesh_ip"]), strOr(p["endpoint"]), lastSeen, latency, stringsOf(p["discovered_via"]).join(",")]);
  }
  return out;
}

export function formatPeersCount(result: unknown): string {
  if (!isObject(result)) throw new FormatError("Invalid response format");
  const { active, total, dead } = result;
  if (typeof active !== "number" || typeof total !== "number" || typeof dead !== "number") throw new FormatError("Invalid peer count data");
  return `Peer Statistics\n===============\nActive peers: ${Math.trunc(active)}\nTotal peers:  ${Math.trunc(total)}\nDead peers:   ${Math.trunc(dead)}\n`;
}

export function formatPeersGet(result: unknown): string {
  if (!isObject(result)) throw new FormatError("Invalid response format");
  let out = "Peer Information\n================\n";
  out += `Public Key:     ${strOr(result["pubkey"])}\n`;
  out += `Mesh IP:        ${strOr(result["mesh_ip"])}\n`;
  out += `Endpoint:       ${strOr(result["endpoint"])}\n`;
  out += `Last Seen:      ${strOr(result["last_seen"])}\n`;
  const via = stringsOf(result["discovered_via"]);
  if (via.length) out += `Discovered Via: ${via.join(", ")}\n`;
  const routes = stringsOf(result["routable_networks"]);
  if (routes.length) out += `Routes:         ${routes.join(", ")}\n`;
  const lat = result["latency_ms"];
  if (lat !== undefined && lat !== null) {
    if (typeof lat === "number") out += `Latency:        ${fixed1(lat)} ms\n`;
  } else {
    out += "Latency:        -\n";
  }
  return out;
}
