// The testbed's L2/L3 plumbing, all inside network namespaces named after the run prefix:
//   tbns-<P>-br   one bridge (multicast snooping off) = the public segment; the machine joins it via veth tbm-<P>
//   tbns-<P>-rt   NAT router: pub0 on the segment, bridge brp for the private segment, nftables masquerade,
//                 DNAT port forwards for the SSH of the hosts behind it
//   tbns-<host>   one per host (the container's network namespace): eth0 on its segment
//   tbns-<host>-lan  optional network behind a host: lan0 (host side, gateway .1) <-> eth0 (.2)
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Cidr, cidrText, hostAddress, parseAnyCidr } from "./addressing";
import { bridgeNs, machineVeth, NETNS_DIR, routerNs } from "./naming";
import { run } from "./proc";

export async function ip(...args: string[]): Promise<string> {
  return (await run(["ip", ...args])).stdout;
}

export function nsExists(ns: string): boolean {
  return fs.existsSync(path.join(NETNS_DIR, ns));
}

export function listNamespaces(): string[] {
  return fs.existsSync(NETNS_DIR) ? fs.readdirSync(NETNS_DIR) : [];
}

async function addNs(ns: string): Promise<void> {
  if (nsExists(ns)) await run(["ip", "netns", "del", ns]);
  await ip("netns", "add", ns);
  await ip("-n", ns, "link", "set", "lo", "up");
}

export async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", `${key}=${value}`]);
}

/** IPv4 routes of the machine's own namespace (to pick a free default segment). */
export async function machineRoutes(): Promise<Cidr[]> {
  const out = JSON.parse((await run(["ip", "-j", "-4", "route", "show", "table", "all"])).stdout || "[]") as Array<{
    dst: string;
  }>;
  const res: Cidr[] = [];
  for (const r of out) {
    if (!r.dst || r.dst === "default") continue;
    const dst = r.dst.includes("/") ? r.dst : `${r.dst}/32`;
    try {
      res.push(parseAnyCidr(dst));
    } catch {
      /* not an IPv4 CIDR: irrelevant here */
    }
  }
  return res;
}

/** Creates the segment bridge and the machine's own leg on it. */
export async function createSegment(prefix: string, subnet: Cidr, machineAddr: string): Promise<void> {
  const ns = bridgeNs(prefix);
  await addNs(ns);
  await ip("-n", ns, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
  await ip("-n", ns, "link", "set", "br0", "up");
  const mv = machineVeth(prefix);
  await run(["ip", "link", "del", mv], { check: false });
  await removeGuard(prefix);
  await ip("link", "add", mv, "type", "veth", "peer", "name", "machine", "netns", ns);
  await ip("-n", ns, "link", "set", "machine", "master", "br0", "up");
  await ip("addr", "add", `${machineAddr}/${subnet.len}`, "dev", mv);
  await ip("link", "set", mv, "up");
  // Guard: the machine never forwards testbed traffic anywhere (should someone enable ip_forward).
  await run(["nft", "-f", "-"], {
    input: `table inet ${guardTable(prefix)} {
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${mv}" drop
    oifname "${mv}" drop
  }
}
`,
  });
}

export function guardTable(prefix: string): string {
  return `testbed_${prefix}`;
}

export async function guardExists(prefix: string): Promise<boolean> {
  return (await run(["nft", "list", "table", "inet", guardTable(prefix)], { check: false })).code === 0;
}

export async function removeGuard(prefix: string): Promise<void> {
  if (await guardExists(prefix)) await run(["nft", "delete", "table", "inet", guardTable(prefix)], { check: false });
}

export interface LinkSpec {
  /** namespace holding the bridge the host is plugged into, and the bridge port (veth) name there */
  parentNs: string;
  parentIf: string;
  bridge: string;
  hostNs: string;
  address: string;
  len: number;
  gateway?: string;
}

/** A locally administered unicast MAC derived from a name. */
export function stableMac(name: string): string {
  const h = crypto.createHash("sha256").update(name).digest();
  h[0] = (h[0] & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Creates a host's namespace with eth0 plugged into its segment; safe to call again (recreates it). */
export async function createHostLink(l: LinkSpec): Promise<void> {
  await addNs(l.hostNs);
  await run(["ip", "-n", l.parentNs, "link", "del", l.parentIf], { check: false });
  // eth0 keeps one MAC for the host's life: after a reboot peers' ARP caches stay valid, like a real NIC.
  await ip("-n", l.parentNs, "link", "add", l.parentIf, "type", "veth", "peer", "name", "eth0", "address", stableMac(l.hostNs), "netns", l.hostNs);
  await ip("-n", l.parentNs, "link", "set", l.parentIf, "master", l.bridge, "up");
  await ip("-n", l.hostNs, "addr", "add", `${l.address}/${l.len}`, "dev", "eth0");
  await ip("-n", l.hostNs, "link", "set", "eth0", "up");
  if (l.gateway) await ip("-n", l.hostNs, "route", "add", "default", "via", l.gateway);
  else await ip("-n", l.hostNs, "route", "add", "224.0.0.0/4", "dev", "eth0"); // LAN multicast (no default route)
}

export async function setLink(l: Pick<LinkSpec, "parentNs" | "parentIf">, up: boolean): Promise<void> {
  await ip("-n", l.parentNs, "link", "set", l.parentIf, up ? "up" : "down");
}

export interface BehindSpec {
  hostNs: string;
  ns: string;
  cidr: Cidr;
}

/** A network behind a host: lan0 in the host's namespace (gateway .1) and a device namespace at .2. */
export async function createBehind(b: BehindSpec): Promise<{ gateway: string; device: string }> {
  const gateway = hostAddress(b.cidr, 1);
  const device = hostAddress(b.cidr, 2);
  await addNs(b.ns);
  await ip("-n", b.hostNs, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", b.ns);
  await ip("-n", b.hostNs, "addr", "add", `${gateway}/${b.cidr.len}`, "dev", "lan0");
  await ip("-n", b.hostNs, "link", "set", "lan0", "up");
  await ip("-n", b.ns, "addr", "add", `${device}/${b.cidr.len}`, "dev", "eth0");
  await ip("-n", b.ns, "link", "set", "eth0", "up");
  await ip("-n", b.ns, "route", "add", "default", "via", gateway);
  return { gateway, device };
}

export interface RouterSpec {
  prefix: string;
  publicAddr: string;
  publicLen: number;
  natSubnet: Cidr;
  /** DNAT port forwards: router public port -> private address:22 */
  forwards: Array<{ port: number; to: string }>;
}

export function routerPrivateAddr(natSubnet: Cidr): string {
  return hostAddress(natSubnet, 1);
}

/** nftables ruleset of the router: masquerade out of pub0, forward only replies and the port forwards. */
export function routerRuleset(r: RouterSpec): string {
  const dnat = r.forwards.map((f) => `    iifname "pub0" tcp dport ${f.port} dnat to ${f.to}:22`).join("\n");
  return `table ip testbed_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
${dnat}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "pub0" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "brp" oifname "pub0" accept
    ct status dnat accept
  }
}
`;
}

export async function createRouter(r: RouterSpec): Promise<void> {
  const ns = routerNs(r.prefix);
  const br = bridgeNs(r.prefix);
  await addNs(ns);
  await run(["ip", "-n", br, "link", "del", "router"], { check: false });
  await ip("-n", br, "link", "add", "router", "type", "veth", "peer", "name", "pub0", "netns", ns);
  await ip("-n", br, "link", "set", "router", "master", "br0", "up");
  await ip("-n", ns, "addr", "add", `${r.publicAddr}/${r.publicLen}`, "dev", "pub0");
  await ip("-n", ns, "link", "set", "pub0", "up");
  await ip("-n", ns, "link", "add", "brp", "type", "bridge", "mcast_snooping", "0");
  await ip("-n", ns, "addr", "add", `${routerPrivateAddr(r.natSubnet)}/${r.natSubnet.len}`, "dev", "brp");
  await ip("-n", ns, "link", "set", "brp", "up");
  await sysctl(ns, "net.ipv4.ip_forward", "1");
  await run(["ip", "netns", "exec", ns, "nft", "-f", "-"], { input: routerRuleset(r) });
}

/** Process ids living in a namespace. */
export async function nsPids(ns: string): Promise<number[]> {
  if (!nsExists(ns)) return [];
  const r = await run(["ip", "netns", "pids", ns], { check: false });
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

export async function deleteNs(ns: string): Promise<void> {
  if (nsExists(ns)) await run(["ip", "netns", "del", ns], { check: false });
}

export { cidrText };
