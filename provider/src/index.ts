/** @wgmesh/pulumi: the WireGuard mesh resources for Pulumi (`import * as wgmesh from "@wgmesh/pulumi"`). */
export * from "./pulumi/index";
