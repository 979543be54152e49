// The wgmesh functions next to a small full mesh (every host in the stack config):
//   - GetMeshPlan: the plan of a declaration without touching any host (peers, AllowedIPs, routes, a diagram);
//   - GetNodeStatus: the first host's live WireGuard peers (handshake age, bytes) over a read-only SSH round trip;
//   - GenerateKeyPair: a new key pair (a new one at every run; the private key is a secret).
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/wgmesh/pulumi-wgmesh/sdk/go/wgmesh"
)

type hostConfig struct {
	Name             string   `json:"name"`
	Host             string   `json:"host"`
	Port             int      `json:"port"`
	User             string   `json:"user"`
	HostKey          string   `json:"hostKey"`
	RoutableNetworks []string `json:"routableNetworks"`
}

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		var hosts []hostConfig
		cfg.RequireObject("hosts", &hosts)
		sshPrivateKey := cfg.RequireSecret("sshPrivateKey")
		connection := func(h hostConfig) wgmesh.ConnectionArgs {
			c := wgmesh.ConnectionArgs{Host: pulumi.String(h.Host), Port: pulumi.Int(or(h.Port, 22)), User: pulumi.String(orString(h.User, "root")), PrivateKey: sshPrivateKey}
			if h.HostKey != "" {
				c.HostKey = pulumi.String(h.HostKey)
			}
			return c
		}

		var nodes wgmesh.NodeArray
		var planNodes wgmesh.PlanNodeArray
		for _, h := range hosts {
			node, err := wgmesh.NewNode(ctx, h.Name, &wgmesh.NodeArgs{Hostname: pulumi.String(h.Name), Connection: connection(h), RoutableNetworks: pulumi.ToStringArray(h.RoutableNetworks)})
			if err != nil {
				return err
			}
			nodes = append(nodes, node)
			planNodes = append(planNodes, wgmesh.PlanNodeArgs{Hostname: pulumi.String(h.Name), SshHost: pulumi.String(h.Host), RoutableNetworks: pulumi.ToStringArray(h.RoutableNetworks)})
		}
		mesh, err := wgmesh.NewMesh(ctx, "demo", &wgmesh.MeshArgs{Nodes: nodes})
		if err != nil {
			return err
		}

		// What `up` will put on each host, computed from the declaration alone.
		plan := wgmesh.GetMeshPlanOutput(ctx, wgmesh.GetMeshPlanOutputArgs{Nodes: planNodes})
		ctx.Export("plannedNodes", plan.Nodes())
		ctx.Export("diagram", plan.Diagram())

		// The first host as it is right now (after the first `up`: its peers, named by the mesh's public keys).
		status := wgmesh.GetNodeStatusOutput(ctx, wgmesh.GetNodeStatusOutputArgs{Connection: connection(hosts[0]), KnownPeers: mesh.PublicKeys})
		ctx.Export("status", status.ApplyT(func(s wgmesh.GetNodeStatusResult) map[string]interface{} {
			peers := []interface{}{}
			for _, p := range s.Peers {
				name := p.PublicKey
				if p.Hostname != nil {
					name = *p.Hostname
				}
				peers = append(peers, map[string]interface{}{"hostname": name, "handshakeAgeSeconds": p.HandshakeAgeSeconds, "rxBytes": p.RxBytes, "txBytes": p.TxBytes})
			}
			return map[string]interface{}{"up": s.Up, "peers": peers}
		}).(pulumi.MapOutput))

		keyPair := wgmesh.GenerateKeyPairOutput(ctx)
		ctx.Export("newPublicKey", keyPair.PublicKey())
		ctx.Export("newPrivateKey", keyPair.PrivateKey())
		ctx.Export("meshIps", mesh.MeshIps)
		ctx.Export("publicKeys", mesh.PublicKeys)
		return nil
	})
}

func or(i, def int) int {
	if i == 0 {
		return def
	}
	return i
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
