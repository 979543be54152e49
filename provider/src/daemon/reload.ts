/**
 * The SIGHUP reload file `/var/lib/wgmesh/<iface>.reload` (protocol §5.2, Go's format): `KEY=VALUE` lines,
 * `#` comments, keys `advertise-routes` (comma-separated CIDRs; empty = none) and `log-level`. Pure parsing
 * and validation; the daemon applies the result (join.ts). Unlike Go, a changed log level takes effect.
 */
import { canonicalCidr, isNetworkCidr, sortCidrs } from "../core/cidr";
import { isLevel, type Level } from "./log";
import { isValidRoute } from "./messages";

/** Comma-separated networks as `--advertise-routes` takes them: validated, canonical, sorted. Throws naming the entry. */
export function parseAdvertiseRoutes(csv: string, what = "--advertise-routes"): string[] {
  const routes: string[] = [];
  for (const raw of csv.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!isValidRoute(raw) || !isNetworkCidr(raw)) throw new Error(`${what}: '${raw}' is not a network CIDR (e.g. 192.168.50.0/24; host bits must be zero, no default route)`);
    routes.push(canonicalCidr(raw));
  }
  return sortCidrs([...new Set(routes)]);
}

export interface ReloadSettings {
  /** Present when the file names the key (an empty list withdraws every route). */
  advertiseRoutes?: string[];
  logLevel?: Level;
  /** Keys we do not know (ignored, reported). */
  unknownKeys: string[];
}

/** Parse a reload file; throws (naming the line) on a malformed line or an invalid value, so nothing half-applies. */
export function parseReloadFile(text: string): ReloadSettings {
  const out: ReloadSettings = { unknownKeys: [] };
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (l === "" || l.startsWith("#")) return;
    const eq = l.indexOf("=");
    if (eq <= 0) throw new Error(`line ${i + 1}: expected KEY=VALUE`);
    const key = l.slice(0, eq).trim();
    let value = l.slice(eq + 1).trim();
    if (/^".*"$|^'.*'$/.test(value)) value = value.slice(1, -1);
    switch (key) {
      case "advertise-routes":
        out.advertiseRoutes = parseAdvertiseRoutes(value, `line ${i + 1}: advertise-routes`);
        break;
      case "log-level":
        if (!isLevel(value)) throw new Error(`line ${i + 1}: log-level '${value}': one of debug, info, warn, error`);
        out.logLevel = value;
        break;
      default:
        out.unknownKeys.push(key);
    }
  });
  return out;
}
