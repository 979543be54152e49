"""The wgmesh functions next to a small full mesh (every host in the stack config):
 - get_mesh_plan: the plan of a declaration without touching any host (peers, AllowedIPs, routes, a diagram);
 - get_node_status: the first host's live WireGuard peers (handshake age, bytes) over a read-only SSH round trip;
 - generate_key_pair: a new key pair (a new one at every run; the private key is a secret)."""
import pulumi
import pulumi_wgmesh as wgmesh

config = pulumi.Config()
hosts = config.require_object("hosts")
ssh_private_key = config.require_secret("sshPrivateKey")


def connection(h):
    return wgmesh.ConnectionArgs(host=h["host"], port=h.get("port", 22), user=h.get("user", "root"),
                                 private_key=ssh_private_key, host_key=h.get("hostKey"))


nodes = [wgmesh.Node(h["name"], hostname=h["name"], connection=connection(h), routable_networks=h.get("routableNetworks"))
         for h in hosts]
mesh = wgmesh.Mesh("demo", nodes=nodes)

# What `up` will put on each host, computed from the declaration alone.
plan = wgmesh.get_mesh_plan(nodes=[wgmesh.PlanNode(hostname=h["name"], ssh_host=h["host"], routable_networks=h.get("routableNetworks"))
                                   for h in hosts])
pulumi.export("plannedNodes", plan.nodes)
pulumi.export("diagram", plan.diagram)

# The first host as it is right now (after the first `up`: its peers, named by the mesh's public keys).
status = wgmesh.get_node_status_output(connection=connection(hosts[0]), known_peers=mesh.public_keys)
pulumi.export("status", status.apply(lambda s: {
    "up": s.up,
    "peers": [{"hostname": p.hostname or p.public_key, "handshakeAgeSeconds": p.handshake_age_seconds,
               "rxBytes": p.rx_bytes, "txBytes": p.tx_bytes} for p in s.peers],
}))

key_pair = wgmesh.generate_key_pair_output()
pulumi.export("newPublicKey", key_pair.public_key)
pulumi.export("newPrivateKey", key_pair.private_key)
pulumi.export("meshIps", mesh.mesh_ips)
pulumi.export("publicKeys", mesh.public_keys)
