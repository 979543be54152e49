"""A WireGuard full mesh: every host in the stack config becomes a Node; with no groups or policies every
node peers with every other."""
import pulumi
import pulumi_wgmesh as wgmesh

config = pulumi.Config()
hosts = config.require_object("hosts")
ssh_private_key = config.require_secret("sshPrivateKey")

nodes = [
    wgmesh.Node(
        h["name"],
        hostname=h["name"],
        connection=wgmesh.ConnectionArgs(
            host=h["host"],
            port=h.get("port", 22),
            user=h.get("user", "root"),
            private_key=ssh_private_key,
            host_key=h.get("hostKey"),
        ),
        routable_networks=h.get("routableNetworks"),
    )
    for h in hosts
]

mesh = wgmesh.Mesh(
    config.get("meshName") or "demo",
    network=config.get("network") or "10.99.0.0/16",
    nodes=nodes,
)

pulumi.export("meshIps", mesh.mesh_ips)
pulumi.export("publicKeys", mesh.public_keys)
pulumi.export("endpoints", mesh.endpoints)
pulumi.export("behindNat", mesh.behind_nat)
