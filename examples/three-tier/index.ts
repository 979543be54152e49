// Three tiers with access control (the wgmesh README's policy example): production web servers reach the
// app server, the app server reaches the database (and the database the app server), staging is isolated.
// Access control is deny-by-default: two nodes are WireGuard peers only if a policy relates their groups
// (in either direction); a policy's allowRoutableNetworks adds the target's networks to AllowedIPs.
// The policies are ENFORCED on every host (enforcement "nftables", the default with policies): direction-aware
// — web may open connections to app, app may not open any to web — and restricted to each policy's ports.
// The policy tests are checked against the plan at every preview, and run on the hosts by `pulumi refresh`.
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
const hosts = config.requireObject<HostConfig[]>("hosts");
const sshPrivateKey = config.requireSecret("sshPrivateKey");

function node(name: string): wgmesh.Node {
  const h = hosts.find((x) => x.name === name);
  if (!h) throw new Error(`stack config 'hosts' has no entry named '${name}'; add {"name": "${name}", "host": …}`);
  return new wgmesh.Node(name, {
    connection: { host: h.host, port: h.port ?? 22, user: h.user ?? "root", privateKey: sshPrivateKey, hostKey: h.hostKey },
    routableNetworks: h.routableNetworks,
  });
}

const [web1, web2, app1, db1] = ["web1", "web2", "app1", "db1"].map(node);
const [web3, app2, db2] = ["web3", "app2", "db2"].map(node);

const web = new wgmesh.Group("web", { members: [web1!, web2!], description: "production web servers" });
const app = new wgmesh.Group("app", { members: [app1!], description: "production application servers" });
const db = new wgmesh.Group("db", { members: [db1!], description: "production databases" });
const staging = new wgmesh.Group("staging", { members: [web3!, app2!, db2!], description: "staging, isolated from production" });

const policies = [
  new wgmesh.Policy("web-to-app", { from: [web], to: [app], allowMeshIps: true, allowRoutableNetworks: false, ports: ["tcp/8080", "icmp"] }),
  new wgmesh.Policy("app-to-db", { from: [app], to: [db], allowMeshIps: true, allowRoutableNetworks: true, ports: ["tcp/5432", "icmp"] }),
  new wgmesh.Policy("db-to-app", { from: [db], to: [app], allowMeshIps: true, allowRoutableNetworks: false, ports: ["tcp/8080"] }),
  new wgmesh.Policy("staging-isolated", { from: [staging], to: [staging], allowMeshIps: true, allowRoutableNetworks: true }),
];

const mesh = new wgmesh.Mesh("tiers", {
  network: config.get("network") ?? "10.99.0.0/16",
  nodes: [web1!, web2!, app1!, db1!, web3!, app2!, db2!],
  groups: [web, app, db, staging],
  policies,
  // enforcement: "nftables" is the default with policies ("none": WireGuard peering only).
  policyTests: [
    { from: "web1", to: "app1", port: "tcp/8080", expect: "allow" },
    { from: "app1", to: "web1", port: "tcp/80", expect: "deny" },
    { from: "app1", to: "db1", port: "tcp/5432", expect: "allow" },
    { from: "web1", to: "db1", port: "tcp/5432", expect: "deny" },
    { from: "app1", to: "db1", port: "tcp/22", expect: "deny" },
    { from: "web3", to: "db1", port: "icmp", expect: "deny" },
  ],
});

export const meshIps = mesh.meshIps;
export const publicKeys = mesh.publicKeys;
export const endpoints = mesh.endpoints;
export const behindNat = mesh.behindNat;
