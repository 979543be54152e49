// A WireGuard mesh across Linux servers, deployed over SSH: nodes keyed, addressed and peered, with groups, policies and routes.
package wgmesh
