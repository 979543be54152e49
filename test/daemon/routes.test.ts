/**
 * Our daemons in namespaces (netlab.ts): advertised networks become AllowedIPs and routes on the other
 * nodes (and go away with the peer, or with a SIGHUP reload that withdraws them); only the advertising node turns on forwarding; a local mesh-IP
 * collision (forced by a saved state file) is detected and the node with the higher key moves to a new
 * address, persists it and stays reachable.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair } from "../../provider/src/core/keys";
import { labSkipReason, NetLab } from "./netlab";

const skip = labSkipReason();
const SECRET = "wgmesh://v1/routes-and-collisions-secret-0123456789abcdefghijklmnop";

test("advertised routes: AllowedIPs + route on peers, forwarding only on the advertiser, removed with the peer", { skip, timeout: 180_000 }, async () => {
  const lab = new NetLab(82);
  try {
    await lab.setup(false);
    for (const n of ["n1", "n2"]) await lab.addNode(n);
    for (const c of [["ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1"], ["ip", "addr", "add", "192.168.77.1/24", "dev", "lan0"], ["ip", "link", "set", "lan0", "up"]]) {
      assert.equal(lab.exec("n1", c).status, 0);
    }
    const p1 = lab.startTs("n1", SECRET, ["--no-dht", "--advertise-routes", "192.168.77.0/24"]);
    lab.startTs("n2", SECRET, ["--no-dht"]);
    await lab.waitFor("n1+n2 mesh", () => lab.fullMesh(["n1", "n2"]), 60_000);
    await lab.waitFor("route on n2", () => lab.exec("n2", ["ip", "route", "show", "192.168.77.0/24"]).stdout.includes("dev wg0"), 15_000);
    assert.match(lab.exec("n2", ["wg", "show", "wg0", "allowed-ips"]).stdout, /192\.168\.77\.0\/24/);
    assert.ok(lab.ping("n2", "192.168.77.1"), "n2 reaches n1's advertised network through the tunnel");
    assert.equal(lab.exec("n1", ["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.trim(), "1", "advertiser forwards");
    assert.equal(lab.exec("n2", ["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.trim(), "0", "others do not");
    assert.equal(lab.exec("n1", ["ip", "route", "show", "dev", "wg0", "192.168.77.0/24"]).stdout.trim(), "", "no route for our own network");
    // SIGHUP with Go's reload file: withdraw the network, then advertise it again — peers follow at once.
    lab.writeFile("n1", "/var/lib/wgmesh/wg0.reload", "# test\nadvertise-routes=\n");
    p1.child.kill("SIGHUP");
    await lab.waitFor("withdrawn route gone from n2", () => lab.exec("n2", ["ip", "route", "show", "192.168.77.0/24"]).stdout.trim() === "", 15_000);
    assert.doesNotMatch(lab.exec("n2", ["wg", "show", "wg0", "allowed-ips"]).stdout, /192\.168\.77\.0\/24/);
    assert.ok(lab.ping("n2", await lab.meshIp("n1")), "the peer itself stays");
    lab.writeFile("n1", "/var/lib/wgmesh/wg0.reload", "advertise-routes=192.168.77.0/24\nlog-level=debug\n");
    p1.child.kill("SIGHUP");
    await lab.waitFor("route back on n2", () => lab.exec("n2", ["ip", "route", "show", "192.168.77.0/24"]).stdout.includes("dev wg0"), 15_000);
    assert.ok(lab.ping("n2", "192.168.77.1"), "reachable again after the reload");
    await lab.stop(p1);
    await lab.waitFor("route gone from n2", () => lab.exec("n2", ["ip", "route", "show", "192.168.77.0/24"]).stdout.trim() === "", 15_000);
  } finally {
    await lab.cleanup();
  }
});

test("local mesh-IP collision: the higher key moves, persists the new address, and the mesh heals", { skip, timeout: 180_000 }, async () => {
  const lab = new NetLab(83);
  try {
    await lab.setup(false);
    for (const n of ["n1", "n2"]) await lab.addNode(n);
    lab.startTs("n1", SECRET, ["--no-dht"]);
    await lab.waitFor("n1 up", async () => { try { await lab.meshIp("n1"); return true; } catch { return false; } }, 20_000);
    const ip1 = await lab.meshIp("n1");
    const key1 = ((await lab.rpc("n1", "daemon.status")) as { pubkey: string }).pubkey;
    // n2 starts with a saved identity that claims n1's address (a stale or copied state file)
    const kp = generateKeyPair();
    lab.writeFile("n2", "/var/lib/wgmesh/wg0.json", `${JSON.stringify({ wg_pubkey: kp.publicKey, wg_private_key: kp.privateKey, mesh_ip: ip1 }, null, 2)}\n`);
    lab.startTs("n2", SECRET, ["--no-dht"]);
    const loser = kp.publicKey > key1 ? "n2" : "n1";
    await lab.waitFor("distinct mesh IPs", async () => {
      try {
        return (await lab.meshIp("n1")) !== (await lab.meshIp("n2"));
      } catch {
        return false;
      }
    }, 30_000);
    const winner = loser === "n1" ? "n2" : "n1";
    assert.equal(await lab.meshIp(winner), ip1, "the lower key keeps the address");
    const moved = await lab.meshIp(loser);
    assert.match(moved, /^10\./);
    const saved = JSON.parse(lab.exec(loser, ["cat", "/var/lib/wgmesh/wg0.json"]).stdout) as { mesh_ip: string };
    assert.equal(saved.mesh_ip, moved, "the new address is persisted");
    await lab.waitFor("the new address on wg0", () => lab.exec(loser, ["ip", "-4", "addr", "show", "dev", "wg0"]).stdout.includes(`inet ${moved}/16`), 15_000);
    await lab.waitFor("mesh heals with the new address", () => lab.fullMesh(["n1", "n2"]), 60_000);
  } finally {
    await lab.cleanup();
  }
});
