// Hub-and-spoke: every office peers with every HQ node and with nothing else. Offices reach HQ's mesh IPs
// and the networks behind HQ (office-to-hq allows routable networks); HQ reaches the offices' mesh IPs but
// not the networks behind them (hq-to-office). Offices are isolated from each other. Adding an office is
// one more entry in the `offices` config; removing one tears it down on its host and drops it from HQ.
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
}

const config = new pulumi.Config();
const sshPrivateKey = config.requireSecret("sshPrivateKey");
const node = (h: HostConfig) =>
  new wgmesh.Node(h.name, {
    connection: { host: h.host, port: h.port ?? 22, user: h.user ?? "root", privateKey: sshPrivateKey, hostKey: h.hostKey },
    routableNetworks: h.routableNetworks,
  });

const hqNodes = config.requireObject<HostConfig[]>("hq").map(node);
const officeNodes = config.requireObject<HostConfig[]>("offices").map(node);

const hq = new wgmesh.Group("hq", { members: hqNodes, description: "headquarters" });
const office = new wgmesh.Group("office", { members: officeNodes, description: "field offices" });

const officeToHq = new wgmesh.Policy("office-to-hq", {
  from: [office], to: [hq], allowMeshIps: true, allowRoutableNetworks: true,
  description: "offices reach HQ and the networks behind it",
});
const hqToOffice = new wgmesh.Policy("hq-to-office", {
  from: [hq], to: [office], allowMeshIps: true, allowRoutableNetworks: false,
  description: "HQ reaches the offices' mesh IPs only",
});

const mesh = new wgmesh.Mesh("hs", {
  network: config.get("network") ?? "10.99.0.0/16",
  nodes: [...hqNodes, ...officeNodes],
  groups: [hq, office],
  policies: [officeToHq, hqToOffice],
});

export const meshIps = mesh.meshIps;
export const publicKeys = mesh.publicKeys;
export const endpoints = mesh.endpoints;
export const behindNat = mesh.behindNat;
