// A WireGuard full mesh: every host in the stack config becomes a Node; with no groups or policies every node
// peers with every other. Point it at your hosts:
//
//   pulumi config set --path 'hosts[0].name' web1 ; pulumi config set --path 'hosts[0].host' 203.0.113.10 …
//   pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519
//   pulumi up
import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";

interface HostConfig {
  name: string;
  host: string;
  port?: number;
  user?: string;
  /** "ssh-ed25519 AAAA…": the host key the host must present (else ~/.ssh/known_hosts or $WGMESH_KNOWN_HOSTS). */
  hostKey?: string;
  routableNetworks?: string[];
  /** "host:port" peers dial when it is not the SSH host on the listen port (a public address, a forwarded port). */
  publicEndpoint?: string;
}

const config = new pulumi.Config();
const hosts = config.requireObject<HostConfig[]>("hosts");
const sshPrivateKey = config.requireSecret("sshPrivateKey");

const nodes = hosts.map(
  (h) =>
    new wgmesh.Node(h.name, {
      connection: { host: h.host, port: h.port ?? 22, user: h.user ?? "root", privateKey: sshPrivateKey, hostKey: h.hostKey },
      routableNetworks: h.routableNetworks,
      publicEndpoint: h.publicEndpoint,
    }),
);

const mesh = new wgmesh.Mesh(config.get("meshName") ?? "demo", {
  network: config.get("network") ?? "10.99.0.0/16",
  nodes,
});

export const meshIps = mesh.meshIps;
export const publicKeys = mesh.publicKeys;
export const endpoints = mesh.endpoints;
export const behindNat = mesh.behindNat;
// Every node's view of its peers (state, latest handshake age, rx/tx bytes, endpoint), as of the last
// `pulumi up` or `pulumi refresh`.
export const health = pulumi.all(Object.fromEntries(Object.entries(mesh.nodeConfigs).map(([name, c]) => [name, c.health])));
