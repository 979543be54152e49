/**
 * The daemon's settings as typed data (what the Pulumi `DecentralizedNode` takes) ↔ the `wgmesh join`
 * arguments of its systemd unit. Validation goes through the daemon's own flag parser and `parseJoinConfig`,
 * so whatever passes here is exactly what the daemon accepts at start. Pure: no I/O.
 */
import { parseGoFlags } from "./goflags";
import { JOIN_FLAGS, JoinConfigError, parseJoinConfig, type JoinConfig } from "./join";

export interface DaemonOptions {
  /** WireGuard interface (default "wg0"). */
  interfaceName?: string | null;
  /** WireGuard listen port (default 51820). */
  listenPort?: number | null;
  /** Networks behind this node the mesh may reach through it. */
  advertiseRoutes?: string[] | null;
  /** In-mesh gossip (default off, as the Go tool). */
  gossip?: boolean | null;
  /** LAN multicast discovery (default on). */
  lanDiscovery?: boolean | null;
  /** BitTorrent DHT discovery (default on). */
  dht?: boolean | null;
  /** DHT bootstrap nodes "host:port" (default: the Go tool's four public ones). */
  dhtBootstrap?: string[] | null;
  /** Custom mesh subnet (identical on all nodes; default derived from the secret). */
  meshSubnet?: string | null;
  /** debug, info, warn or error (default info). */
  logLevel?: string | null;
}

/** Option property ↔ join flag (for arguments and for naming the property in errors). */
const FLAG_OF: Record<keyof DaemonOptions, string> = {
  interfaceName: "interface",
  listenPort: "listen-port",
  advertiseRoutes: "advertise-routes",
  gossip: "gossip",
  lanDiscovery: "no-lan-discovery",
  dht: "no-dht",
  dhtBootstrap: "dht-bootstrap",
  meshSubnet: "mesh-subnet",
  logLevel: "log-level",
};

/** `join` and its flags for these options; defaults left out, so the unit shows only what was chosen. Never the secret. */
export function daemonJoinArgs(o: DaemonOptions): string[] {
  const a = ["join"];
  if (o.interfaceName != null && o.interfaceName !== "wg0") a.push("--interface", o.interfaceName);
  if (o.listenPort != null && o.listenPort !== 51820) a.push("--listen-port", String(o.listenPort));
  if (o.advertiseRoutes?.length) a.push("--advertise-routes", o.advertiseRoutes.join(","));
  if (o.logLevel != null && o.logLevel !== "info") a.push("--log-level", o.logLevel);
  if (o.gossip) a.push("--gossip");
  if (o.lanDiscovery === false) a.push("--no-lan-discovery");
  if (o.dht === false) a.push("--no-dht");
  if (o.dhtBootstrap?.length) a.push("--dht-bootstrap", o.dhtBootstrap.join(","));
  if (o.meshSubnet != null && o.meshSubnet !== "") a.push("--mesh-subnet", o.meshSubnet);
  return a;
}

export interface OptionProblem {
  /** The option property at fault ("secret" for the secret). */
  property: keyof DaemonOptions | "secret";
  /** What is wrong and how to fix it (never contains the secret). */
  message: string;
}

/** A syntactically valid stand-in, used to check the other options while the real secret is not known yet. */
const PLACEHOLDER_SECRET = "wgmesh://v1/placeholder-secret-for-option-checks";

/**
 * Parse the options as the daemon will (its flag parser, then parseJoinConfig). `secret` undefined = not
 * known yet (preview): only the options are checked. Returns the config or the first problem.
 */
export function parseDaemonOptions(o: DaemonOptions, secret: string | undefined): { config: JoinConfig } | { problem: OptionProblem } {
  for (const [k, v] of Object.entries(o) as Array<[keyof DaemonOptions, unknown]>) {
    if (typeof v === "string" && /[\x00-\x1f\x7f]/.test(v)) return { problem: { property: k, message: `${k} contains a control character; remove it` } };
  }
  if (o.dhtBootstrap?.some((b) => b.includes(","))) return { problem: { property: "dhtBootstrap", message: "dhtBootstrap: give one \"host:port\" per list entry (no commas inside an entry)" } };
  if (o.advertiseRoutes?.some((r) => r.includes(","))) return { problem: { property: "advertiseRoutes", message: "advertiseRoutes: give one CIDR per list entry (no commas inside an entry)" } };
  const args = daemonJoinArgs(o).slice(1);
  const parsed = parseGoFlags("join", args, JOIN_FLAGS);
  if (!parsed.ok) {
    const flag = /-(\S+)/.exec(parsed.message)?.[1]?.replace(/^-/, "");
    const property = (Object.keys(FLAG_OF) as Array<keyof DaemonOptions>).find((k) => FLAG_OF[k] === flag) ?? "interfaceName";
    return { problem: { property, message: `${property}: ${parsed.message}` } };
  }
  try {
    return { config: parseJoinConfig({ ...parsed.values, secret: secret ?? PLACEHOLDER_SECRET }, {}) };
  } catch (e) {
    if (!(e instanceof JoinConfigError)) throw e;
    const msg = e.message;
    const flag = /^--([a-z-]+)/.exec(msg)?.[1];
    const property = flag ? (Object.keys(FLAG_OF) as Array<keyof DaemonOptions>).find((k) => FLAG_OF[k] === flag) : undefined;
    if (!property) return { problem: { property: "secret", message: `secret: ${msg}; create one with wgmesh.MeshSecret or 'wgmesh init --secret'` } };
    return { problem: { property, message: `${property}: ${msg}` } };
  }
}
