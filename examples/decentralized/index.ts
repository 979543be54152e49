// A decentralized WireGuard mesh: one MeshSecret, and a DecentralizedNode per host. Each host gets the
// self-contained wgmesh daemon over SSH (nothing to prepare there but sshd and systemd), the secret in a
// 0600 file, and a systemd unit; the daemons make their own keys and find each other (DHT, LAN, gossip).
// Hosts can join later from anywhere with the same secret — also Go wgmesh nodes:
//
//   pulumi stack output --show-secrets meshSecret   # then on another host: wgmesh join --secret …
import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";

interface HostConfig {
  name: string;
  host: string;
  port?: number;
  user?: string;
  /** "ssh-ed25519 AAAA…": the host key the host must present (else ~/.ssh/known_hosts or $WGMESH_KNOWN_HOSTS). */
  hostKey?: string;
  advertiseRoutes?: string[];
}

const config = new pulumi.Config();
const hosts = config.requireObject<HostConfig[]>("hosts");
const sshPrivateKey = config.requireSecret("sshPrivateKey");

const secret = new wgmesh.MeshSecret("mesh", { secret: config.getSecret("meshSecret") });

const nodes = hosts.map(
  (h) =>
    new wgmesh.DecentralizedNode(h.name, {
      connection: { host: h.host, port: h.port ?? 22, user: h.user ?? "root", privateKey: sshPrivateKey, hostKey: h.hostKey },
      secret: secret.secret,
      advertiseRoutes: h.advertiseRoutes,
      dhtBootstrap: config.getObject<string[]>("dhtBootstrap"),
      lanDiscovery: config.getBoolean("lanDiscovery"),
      dht: config.getBoolean("dht"),
      gossip: config.getBoolean("gossip"),
    }),
);

export const meshSecret = secret.secret;
export const meshSubnet = secret.meshSubnet;
export const gossipPort = secret.gossipPort;
export const meshIps = pulumi.all(nodes.map((n) => n.meshIp)).apply((ips) => Object.fromEntries(nodes.map((n, i) => [n.nodeName, ips[i]])));
export const publicKeys = pulumi.all(nodes.map((n) => n.publicKey)).apply((keys) => Object.fromEntries(nodes.map((n, i) => [n.nodeName, keys[i]])));
