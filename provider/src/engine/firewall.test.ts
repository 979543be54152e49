import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPair } from "../core/keys";
import { compileMesh } from "../core/compile";
import { applyOperations } from "../planner/diff";
import { confDigest } from "../planner/wgquick";
import { withFirewalls } from "../planner/firewall";
import { parseNftProbe, NFT_LISTING_MARK } from "../planner/nft";
import type { LiveState, NodeDesiredState } from "../planner/types";
import { planHostChanges, renderChangeScript, renderConf } from "./changes";
import { firewallText } from "./firewall";
import type { HostFacts } from "./facts";
import type { EngineProbe, HostReading } from "./probe";
import { planTeardown, teardownLeftovers } from "./teardown";
import { readScript } from "./probe";
import { targetsFromPlan } from "./deploy";

const keys = [generateKeyPair(), generateKeyPair()];
const r = compileMesh({
  nodes: [{ hostname: "web1", sshHost: "198.18.0.11", privateKey: keys[0]!.privateKey }, { hostname: "app1", sshHost: "198.18.0.12", privateKey: keys[1]!.privateKey }],
  groups: [{ name: "web", members: ["web1"] }, { name: "app", members: ["app1"] }],
  policies: [{ name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], ports: ["tcp/8080"] }],
});
if (!r.ok) throw new Error("fixture");
const plan = withFirewalls(r.mesh, r.plan);
const desired = plan.nodes.find((n) => n.hostname === "app1")!;
const bare: NodeDesiredState = { ...desired, firewall: null };
const key = { privateKey: keys[1]!.privateKey };
const NO_IFACE: LiveState = { interface: null, peers: [], routes: [], forwarding: false };

function reading(d: NodeDesiredState, firewall: EngineProbe["firewall"], tools: Partial<HostFacts["tools"]> = {}): HostReading {
  const live = applyOperations(NO_IFACE, [{ kind: "interface-up" }], d);
  return {
    facts: {
      hostname: "x", uid: 0, os: { id: "debian", idLike: [], versionId: "12", prettyName: "Debian" }, packageManager: "apt",
      tools: { wg: true, wgQuick: true, wireguardGo: true, ip: true, systemctl: true, sudo: true, modprobe: true, nft: true, ...tools },
      kernelRelease: "6.1", kernelWireguard: "absent", wireguardGoNeeded: true, systemd: true, forwarding: false, hostAddresses: [],
      iface: { name: "wg0", exists: true, kind: "tun" }, live, wgDumpSanitized: null, unit: { enabled: "enabled", active: "active" },
      conf: { exists: true, mode: "600", owner: "0:0", sha256: confDigest(renderConf(d, key)), publicKey: d.interface.publicKey }, warnings: [],
    },
    probe: { sysctl: { exists: false, sha256: null }, key: { exists: false, publicKey: null, mode: null }, now: 1_700_000_000, ping: true, prev: { conf: false, live: false, nft: false }, tempFiles: [], ...(firewall ? { firewall } : {}) },
  };
}
const applied = (d: NodeDesiredState): EngineProbe["firewall"] => ({
  tool: true, file: { exists: true, mode: "600", owner: "0:0", bodySha256: confDigest(firewallText(d)!), recordedListing: "c".repeat(64) },
  table: { exists: true, listingSha256: "c".repeat(64) }, listing: null,
});

describe("engine: the node firewall", () => {
  it("targets of an enforced mesh carry each node's firewall; the conf loads it in PreUp", () => {
    const t = targetsFromPlan(r.mesh, r.plan);
    assert.deepEqual(t.find((x) => x.node === "app1")!.desired.firewall, desired.firewall);
    assert.match(renderConf(desired, key), /^PreUp = nft -f \/etc\/wireguard\/wg0\.nft$/m);
    assert.doesNotMatch(renderConf(bare, key), /PreUp/, "no firewall, no hook: a migrated mesh's file is unchanged");
  });

  it("enforcement switched on for a running node: load the table first, then the new conf — no restart", () => {
    const p = planHostChanges({ node: "app1", desired, key, reading: reading(bare, undefined) });
    assert.deepEqual(p.steps.map((s) => s.kind), ["write-firewall", "write-conf"]);
    assert.match(p.steps[0]!.description, /load the firewall: table inet wgmesh_wg0, 1 rule\(s\), from \/etc\/wireguard\/wg0\.nft/);
    const script = renderChangeScript("wg0", p.steps);
    assert.doesNotMatch(script, /systemctl (re)?start|wg-quick (up|down)/);
    assert.match(script, /nft -f "\$tmp" && d=\$\(nft -s list table inet wgmesh_wg0 \| sha256sum/);
    assert.equal(spawnSync("sh", ["-n"], { input: script }).status, 0, "valid sh");
  });

  it("as planned: no step; a flushed table (listing digest differs): reload only", () => {
    assert.deepEqual(planHostChanges({ node: "app1", desired, key, reading: reading(desired, applied(desired)) }).steps, []);
    const flushed = applied(desired)!;
    flushed.table.listingSha256 = "d".repeat(64);
    const p = planHostChanges({ node: "app1", desired, key, reading: reading(desired, flushed) });
    assert.deepEqual(p.steps.map((s) => s.kind), ["write-firewall"]);
    assert.match(p.steps[0]!.description, /the host's differs/);
  });

  it("nft missing: nftables installed with WireGuard's package manager", () => {
    const p = planHostChanges({ node: "app1", desired, key, reading: reading(bare, undefined, { nft: false }) });
    assert.deepEqual(p.installed, ["nftables"]);
    assert.deepEqual(p.steps.map((s) => s.kind), ["install", "write-firewall", "write-conf"]);
  });

  it("enforcement switched off: conf first (no PreUp), then table and file removed; teardown removes them too", () => {
    const p = planHostChanges({ node: "app1", desired: bare, key, reading: reading(desired, applied(desired)) });
    assert.deepEqual(p.steps.map((s) => s.kind), ["write-conf", "remove-firewall"]);
    assert.match(p.steps[1]!.script, /nft delete table inet wgmesh_wg0/);
    const down = planTeardown("wg0", reading(desired, applied(desired)));
    assert.ok(down.some((s) => /remove the firewall/.test(s.description)));
    assert.deepEqual(teardownLeftovers("wg0", reading(desired, applied(desired))).filter((x) => /nft/.test(x)), ["nft table inet wgmesh_wg0", "/etc/wireguard/wg0.nft"]);
  });

  it("the read script carries the firewall probe, parsed back from its block", () => {
    assert.match(readScript("wg0"), /nft -s list table inet wgmesh_wg0/);
    const out = ["@@WGMESH-NFT-BEGIN@@", "nftTool=1", "nftFile=1", "nftMode=600", "nftOwner=0:0", `nftBody=${"a".repeat(64)}`, `nftRecorded=${"b".repeat(64)}`, "nftTable=1", `nftLive=${"b".repeat(64)}`, "@@WGMESH-NFT-END@@"].join("\n");
    assert.equal(parseNftProbe(out).table.listingSha256, "b".repeat(64));
    assert.ok(NFT_LISTING_MARK.startsWith("# "), "the recorded digest is an nft comment line");
  });
});
