// Routable networks: site1 and site2 are gateways of LANs behind them (`routableNetworks` in the hosts
// config). ops1 may reach the sites' mesh IPs and their LANs (ops-to-sites allows routable networks);
// mon1 is a peer of the sites but reaches their mesh IPs only (monitoring-to-sites does not). The sites
// are not peers of each other, ops1 and mon1 neither. Each site forwards between wg0 and its LAN, and
// ops1 gets a route to every site LAN through wg0; nobody else gets one.
import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";

interface HostConfig {
  name: string;
  host: string;
  port?: number;
  user?: string;
  /** "ssh-ed25519 AAAA…": the host key the host must present (else ~/.ssh/known_hosts or $WGMESH_KNOWN_HOSTS). */
  hostKey?: string;
  /** CIDRs of the networks behind this node, e.g. ["192.168.10.0/24"]. */
  routableNetworks?: string[];
}

const config = new pulumi.Config();
const hosts = config.requireObject<HostConfig[]>("hosts");
const sshPrivateKey = config.requireSecret("sshPrivateKey");

function node(name: string): wgmesh.Node {
  const h = hosts.find((x) => x.name === name);
  if (!h) throw new Error(`stack config 'hosts' has no entry named '${name}'; add {"name": "${name}", "host": …}`);
  return new wgmesh.Node(name, {
    connection: { host: h.host, port: h.port ?? 22, user: h.user ?? "root", privateKey: sshPrivateKey, hostKey: h.hostKey },
    routableNetworks: h.routableNetworks ?? [],
  });
}

const [site1, site2, ops1, mon1] = ["site1", "site2", "ops1", "mon1"].map(node);

const sites = new wgmesh.Group("sites", { members: [site1!, site2!], description: "gateways of the site LANs" });
const ops = new wgmesh.Group("ops", { members: [ops1!], description: "operators: mesh IPs and site LANs" });
const monitoring = new wgmesh.Group("monitoring", { members: [mon1!], description: "monitoring: mesh IPs only" });

const opsToSites = new wgmesh.Policy("ops-to-sites", { from: [ops], to: [sites], allowMeshIps: true, allowRoutableNetworks: true });
const monitoringToSites = new wgmesh.Policy("monitoring-to-sites", { from: [monitoring], to: [sites], allowMeshIps: true, allowRoutableNetworks: false });

const mesh = new wgmesh.Mesh("rn", {
  network: config.get("network") ?? "10.99.0.0/16",
  nodes: [site1!, site2!, ops1!, mon1!],
  groups: [sites, ops, monitoring],
  policies: [opsToSites, monitoringToSites],
});

export const meshIps = mesh.meshIps;
export const publicKeys = mesh.publicKeys;
export const endpoints = mesh.endpoints;
export const behindNat = mesh.behindNat;
