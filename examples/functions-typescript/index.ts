// The wgmesh functions next to a small full mesh (every host in the stack config):
//  - getMeshPlan: the plan of a declaration without touching any host (peers, AllowedIPs, routes, a diagram);
//  - getNodeStatus: the first host's live WireGuard peers (handshake age, bytes) over a read-only SSH round trip;
//  - generateKeyPair: a new key pair (a new one at every run; the private key is a secret).
import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";

interface HostConfig { name: string; host: string; port?: number; user?: string; hostKey?: string; routableNetworks?: string[] }

const config = new pulumi.Config();
const hosts = config.requireObject<HostConfig[]>("hosts");
const sshPrivateKey = config.requireSecret("sshPrivateKey");
const connection = (h: HostConfig) => ({ host: h.host, port: h.port ?? 22, user: h.user ?? "root", privateKey: sshPrivateKey, hostKey: h.hostKey });

const nodes = hosts.map((h) => new wgmesh.Node(h.name, { connection: connection(h), routableNetworks: h.routableNetworks }));
const mesh = new wgmesh.Mesh("demo", { nodes });

// What `up` will put on each host, computed from the declaration alone.
const plan = wgmesh.getMeshPlanOutput({ nodes: hosts.map((h) => ({ hostname: h.name, sshHost: h.host, routableNetworks: h.routableNetworks })) });
export const plannedNodes = plan.nodes;
export const diagram = plan.diagram;

// The first host as it is right now (after the first `up`: its peers, named by the mesh's public keys).
const first = hosts[0] as HostConfig;
export const status = wgmesh.getNodeStatusOutput({ connection: connection(first), knownPeers: mesh.publicKeys }).apply((s) => ({
  up: s.up,
  peers: s.peers.map((p) => ({ hostname: p.hostname ?? p.publicKey, handshakeAgeSeconds: p.handshakeAgeSeconds ?? null, rxBytes: p.rxBytes, txBytes: p.txBytes })),
}));

const keyPair = wgmesh.generateKeyPairOutput();
export const newPublicKey = keyPair.publicKey;
export const newPrivateKey = keyPair.privateKey;
export const meshIps = mesh.meshIps;
export const publicKeys = mesh.publicKeys;
