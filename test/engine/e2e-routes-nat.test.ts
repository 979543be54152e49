/**
 * E2E (testbed, root): a routable network behind one host is reachable from its permitted peers only;
 * removing it removes the routes everywhere. A host behind the NAT router joins with keepalive and is
 * reachable from the public hosts. One testbed: 3 public hosts (a /24 behind h1) + 1 behind NAT.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { deploy } from "../../provider/src/engine/deploy";
import type { MeshInput } from "../../provider/src/core/model";
import { down, up, type Testbed } from "../testbed";
import { compile, engineOptions, nodeOn, pings, reachability, stableDump, startArgvSampler, stopArgvSampler } from "./e2e/mesh";

const NAME = "e5rn";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("engine e2e: routable networks and NAT", { timeout: 600_000 }, () => {
  let tb: Testbed;
  before(async () => {
    tb = await up(3, { name: NAME, nat: 1, behind: [`${NAME}-h1`] });
    // h3 has no apt lists: the engine's install must fall back to apt-get update (from the local repository).
    await tb.execOk(`${NAME}-h3`, ["sh", "-c", "rm -rf /var/lib/apt/lists/* && apt-cache policy wireguard-tools | grep -q 'Candidate: (none)' || ! apt-cache show wireguard-tools >/dev/null 2>&1"]);
  });
  after(async () => {
    await down(NAME);
  });

  it("a network behind h1: reachable from the permitted peer, not from the others; removal removes the routes", async () => {
    const [h1, h2, h3] = [tb.host(`${NAME}-h1`), tb.host(`${NAME}-h2`), tb.host(`${NAME}-h3`)];
    const behind = h1.behind!;
    const nodes = [nodeOn(h1, "gw", { routableNetworks: [behind.cidr] }), nodeOn(h2, "client"), nodeOn(h3, "other")];
    const input: MeshInput = {
      nodes,
      groups: [{ name: "gw", members: ["gw"] }, { name: "clients", members: ["client"] }, { name: "others", members: ["other"] }],
      policies: [
        { name: "clients-to-gw", fromGroups: ["clients"], toGroups: ["gw"], allowRoutableNetworks: true },
        { name: "others-to-gw", fromGroups: ["others"], toGroups: ["gw"], allowRoutableNetworks: false },
      ],
    };
    const without: MeshInput = { ...input, nodes: [{ ...nodes[0]!, routableNetworks: [] }, nodes[1]!, nodes[2]!] };
    // First the mesh without the network, then the network added online (route-add, forwarding).
    const c0 = compile(tb, without);
    const r0 = await deploy(c0.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(r0.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    assert.deepEqual(r0.hosts.other!.installed, ["wireguard-tools", "wireguard-go"], "installed after apt-get update");
    const c = compile(tb, input);
    const r = await deploy(c.targets, engineOptions(tb));
    assert.deepEqual(Object.fromEntries(Object.entries(r.hosts).map(([n, h]) => [n, h.status])), { gw: "changed", client: "changed", other: "unchanged" });
    assert.ok(r.hosts.client!.plannedOperations.some((o) => o.kind === "route-add"), "client got the route online");
    assert.ok(!r.hosts.client!.plannedOperations.some((o) => o.kind === "interface-up"));

    const routes = async (host: string) => (await tb.execOk(host, ["ip", "-4", "route", "show", "dev", "wg0"])).includes(behind.cidr);
    assert.equal(await routes(h2.name), true, "client has the route");
    assert.equal(await routes(h3.name), false, "other has no route");
    assert.equal(await routes(h1.name), false, "the gateway never routes its own network into the mesh");
    assert.equal((await tb.execOk(h1.name, ["cat", "/proc/sys/net/ipv4/ip_forward"])).trim(), "1");
    assert.match(await tb.execOk(h1.name, ["cat", "/etc/sysctl.d/99-wgmesh-wg0.conf"]), /^net\.ipv4\.ip_forward = 1$/m);
    assert.equal(await pings(tb, h2.name, behind.device), true, "client reaches the device behind gw");
    assert.equal(await pings(tb, h3.name, behind.device), false, "other does not");
    assert.deepEqual((await reachability(tb, c)).other, ["gw"], "other still reaches gw's mesh IP (peered)");

    // The state after these online changes equals the state after a reboot (client and gw).
    for (const h of [h2, h1]) {
      const before = [await stableDump(tb, h.name), await tb.execOk(h.name, ["ip", "-4", "route", "show", "dev", "wg0"])];
      await tb.reboot(h.name);
      let active = "";
      for (let i = 0; i < 60 && active !== "active"; i++) {
        active = (await tb.exec(h.name, ["systemctl", "is-active", "wg-quick@wg0"])).stdout.trim();
        if (active !== "active") await sleep(500);
      }
      assert.equal(active, "active", `${h.name}: wg-quick@wg0 up after the reboot`);
      assert.deepEqual([await stableDump(tb, h.name), await tb.execOk(h.name, ["ip", "-4", "route", "show", "dev", "wg0"])], before, `${h.name} after reboot`);
    }
    assert.equal(await pings(tb, h2.name, behind.device), true, "client reaches the device behind gw after both rebooted");
    const same = await deploy(c.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(same.hosts)) assert.deepEqual([h.status, h.steps], ["unchanged", []], n);

    // Remove the routable network: routes go everywhere, the device is unreachable, the sysctl file is removed.
    const c2 = compile(tb, without);
    const r2 = await deploy(c2.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(r2.hosts)) assert.notEqual(h.status, "failed", `${n}: ${h.error ?? ""}`);
    assert.ok(r2.hosts.client!.plannedOperations.some((o) => o.kind === "route-del"), "client got a route-del");
    for (const h of [h1, h2, h3]) assert.equal(await routes(h.name), false, `${h.name} has no route to ${behind.cidr}`);
    const aips = await tb.execOk(h2.name, ["wg", "show", "wg0", "allowed-ips"]);
    assert.ok(!aips.includes(behind.cidr), "client's AllowedIPs for gw lost the network");
    assert.equal(await pings(tb, h2.name, behind.device), false);
    assert.equal((await tb.exec(h1.name, ["test", "-e", "/etc/sysctl.d/99-wgmesh-wg0.conf"])).code, 1);
  });

  it("a host behind the NAT router joins with keepalive and is reachable from the public hosts", async () => {
    const n1 = tb.hosts.find((h) => h.behindNat)!;
    const pub = tb.hosts.filter((h) => !h.behindNat);
    const input: MeshInput = { nodes: [...pub.map((h) => nodeOn(h)), nodeOn(n1)] };
    const c = compile(tb, input);
    // The public hosts change their private key online (wg set … private-key /dev/stdin): sample every argv.
    await Promise.all(tb.hosts.map((h) => startArgvSampler(tb, h.name)));
    const r = await deploy(c.targets, engineOptions(tb));
    const samples = await Promise.all(tb.hosts.map((h) => stopArgvSampler(tb, h.name, input.nodes.map((x) => x.privateKey as string))));
    for (const [n, h] of Object.entries(r.hosts)) assert.notEqual(h.status, "failed", `${n}: ${h.error ?? ""}`);
    assert.ok(r.hosts[pub[0]!.name]!.plannedOperations.some((o) => o.kind === "private-key"), "online key change happened");
    for (const s of samples) assert.deepEqual(s.leaked, [], "no private key in any argv");
    assert.equal(r.hosts[n1.name]!.natDetected, true, "NAT detected: the SSH target address is not the host's own");
    assert.equal(r.hosts[pub[0]!.name]!.natDetected, false);

    const ka = await tb.execOk(n1.name, ["wg", "show", "wg0", "persistent-keepalive"]);
    assert.equal(ka.trim().split("\n").length, pub.length);
    for (const line of ka.trim().split("\n")) assert.match(line, /\t25$/, "every peer of the NAT'd node has keepalive 25");
    const eps = await tb.execOk(pub[0]!.name, ["wg", "show", "wg0", "endpoints"]);
    const natKey = c.targets.find((t) => t.node === n1.name)!.desired.interface.publicKey;
    assert.ok(eps.includes(natKey));

    // Reachable from every public host (the keepalive opened the NAT mapping): retry while handshakes settle.
    for (const p of pub) {
      let ok = false;
      for (let i = 0; i < 10 && !ok; i++) {
        ok = await pings(tb, p.name, c.ip[n1.name]!);
        if (!ok) await sleep(1000);
      }
      assert.ok(ok, `${p.name} reaches the NAT'd host over the mesh`);
    }
    // The public hosts learnt its endpoint by roaming; a re-apply leaves that alone (no change at all).
    const again = await deploy(c.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(again.hosts)) assert.deepEqual([h.status, h.execRoundTrips], ["unchanged", 1], `${n}: ${h.steps.join(", ")}`);
  });
});
