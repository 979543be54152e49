// A WireGuard full mesh: every host in the stack config becomes a Node; with no groups or policies every
// node peers with every other.
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

		var nodes wgmesh.NodeArray
		for _, h := range hosts {
			conn := wgmesh.ConnectionArgs{
				Host:       pulumi.String(h.Host),
				Port:       pulumi.Int(orInt(h.Port, 22)),
				User:       pulumi.String(orString(h.User, "root")),
				PrivateKey: sshPrivateKey,
			}
			if h.HostKey != "" {
				conn.HostKey = pulumi.String(h.HostKey)
			}
			node, err := wgmesh.NewNode(ctx, h.Name, &wgmesh.NodeArgs{
				Hostname:         pulumi.String(h.Name),
				Connection:       conn,
				RoutableNetworks: pulumi.ToStringArray(h.RoutableNetworks),
			})
			if err != nil {
				return err
			}
			nodes = append(nodes, node)
		}

		mesh, err := wgmesh.NewMesh(ctx, orString(cfg.Get("meshName"), "demo"), &wgmesh.MeshArgs{
			Network: pulumi.String(orString(cfg.Get("network"), "10.99.0.0/16")),
			Nodes:   nodes,
		})
		if err != nil {
			return err
		}
		ctx.Export("meshIps", mesh.MeshIps)
		ctx.Export("publicKeys", mesh.PublicKeys)
		ctx.Export("endpoints", mesh.Endpoints)
		ctx.Export("behindNat", mesh.BehindNat)
		return nil
	})
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(i, def int) int {
	if i == 0 {
		return def
	}
	return i
}
