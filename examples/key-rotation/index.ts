// Key lifecycle: every node's WireGuard key rotates when its trigger changes (here from the stack config;
// a date such as "2025-06" makes a monthly rotation), and with presharedKeys every pair of nodes gets its own
// preshared key, rotated together by pskRotationTrigger. A rotation is applied to the node and to all its
// peers in the same parallel step: tunnels resume within seconds and TCP connections survive.
//
//   pulumi config set --path 'rotate.web1' 2025-06      # web1 gets a new key pair at the next up
//   pulumi config set rotateAll 2025-Q3                  # every node does
//   pulumi config set presharedKeys true                 # per-pair PSKs on
//   pulumi config set pskRotationTrigger 2025-06         # every pair gets a new PSK
import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";

interface HostConfig {
  name: string;
  host: string;
  port?: number;
  user?: string;
  /** "ssh-ed25519 AAAA…": the host key the host must present (else ~/.ssh/known_hosts or $WGMESH_KNOWN_HOSTS). */
  hostKey?: string;
  /** The node's key is made on the host and never leaves it (its rotation too). */
  keyOnHost?: boolean;
}

const config = new pulumi.Config();
const hosts = config.requireObject<HostConfig[]>("hosts");
const sshPrivateKey = config.requireSecret("sshPrivateKey");
const rotate = config.getObject<Record<string, string>>("rotate") ?? {};
const rotateAll = config.get("rotateAll");

const nodes = hosts.map((h) => {
  const trigger = [rotateAll, rotate[h.name]].filter((t) => t !== undefined).join("/");
  return new wgmesh.Node(h.name, {
    connection: { host: h.host, port: h.port ?? 22, user: h.user ?? "root", privateKey: sshPrivateKey, hostKey: h.hostKey },
    keyOnHost: h.keyOnHost ?? false,
    rotationTrigger: trigger === "" ? undefined : trigger,
  });
});

const mesh = new wgmesh.Mesh(config.get("meshName") ?? "keys", {
  network: config.get("network") ?? "10.77.0.0/24",
  nodes,
  presharedKeys: config.getBoolean("presharedKeys") ?? false,
  pskRotationTrigger: config.get("pskRotationTrigger"),
});

export const meshIps = mesh.meshIps;
export const publicKeys = mesh.publicKeys;
export const behindNat = mesh.behindNat;
