/**
 * Each discovery layer alone brings a new node into a running mesh of our daemons (namespaces on this
 * machine, see netlab.ts): DHT only (LAN off; local storing bootstrap), LAN only (DHT off; no bootstrap
 * at all), gossip only (DHT and LAN off; the new node knows one seed peer from its peer cache, the
 * existing member learns the new node through a gossip ANNOUNCE relayed by the seed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { labSkipReason, NetLab, WGMESH_BIN } from "./netlab";

const skip = labSkipReason();
const SECRET = "wgmesh://v1/layer-by-layer-test-secret-0123456789abcdefghijklmnopq";

async function viaOf(lab: NetLab, on: string, of: string): Promise<string[]> {
  let ip: string;
  try {
    ip = await lab.meshIp(of);
  } catch {
    return []; // not up yet
  }
  return (await lab.activePeers(on)).find((p) => p.mesh_ip === ip)?.discovered_via ?? [];
}

test("DHT alone brings a new node in", { skip, timeout: 180_000 }, async () => {
  const lab = new NetLab(79);
  try {
    await lab.setup();
    for (const n of ["n1", "n2", "n3"]) await lab.addNode(n);
    lab.startTs("n1", SECRET, ["--no-lan-discovery"]);
    lab.startTs("n2", SECRET, ["--no-lan-discovery"]);
    await lab.waitFor("n1+n2 mesh over DHT", () => lab.fullMesh(["n1", "n2"]), 60_000);
    lab.startTs("n3", SECRET, ["--no-lan-discovery"]);
    await lab.waitFor("n3 joins over DHT", () => lab.fullMesh(["n1", "n2", "n3"]), 60_000);
    // n3 may first hear of one of them transitively (in the other's REPLY); direct DHT contact follows
    for (const o of ["n1", "n2"]) await lab.waitFor(`n3 exchanges with ${o} through a DHT value`, async () => (await viaOf(lab, "n3", o)).includes("dht"), 60_000);
    for (const o of ["n1", "n2"]) assert.ok(!(await viaOf(lab, "n3", o)).includes("lan"));
  } finally {
    await lab.cleanup();
  }
});

test("LAN multicast alone brings a new node in", { skip, timeout: 180_000 }, async () => {
  const lab = new NetLab(80);
  try {
    await lab.setup(false); // no DHT bootstrap at all
    for (const n of ["n1", "n2", "n3"]) await lab.addNode(n);
    lab.startTs("n1", SECRET, ["--no-dht"]);
    lab.startTs("n2", SECRET, ["--no-dht"]);
    await lab.waitFor("n1+n2 mesh over LAN", () => lab.fullMesh(["n1", "n2"]), 60_000);
    lab.startTs("n3", SECRET, ["--no-dht"]);
    await lab.waitFor("n3 joins over LAN", () => lab.fullMesh(["n1", "n2", "n3"]), 60_000);
    // the first contact may be the HELLO a LAN listener sends back at once (labelled "dht", as Go labels
    // every HELLO/REPLY); the next multicast round adds "lan" (5 s interval)
    for (const o of ["n1", "n2"]) await lab.waitFor(`n3 hears ${o} on the LAN`, async () => (await viaOf(lab, "n3", o)).includes("lan"), 15_000);
    const ep = (await lab.activePeers("n1")).map((x) => x.endpoint).sort();
    assert.deepEqual(ep, [`${lab.node("n2").ip}:51820`, `${lab.node("n3").ip}:51820`], "LAN endpoint = source IP + announced port");
  } finally {
    await lab.cleanup();
  }
});

test("gossip alone (after one seed peer) brings a new node in", { skip, timeout: 180_000 }, async () => {
  const lab = new NetLab(81);
  const flags = ["--no-dht", "--no-lan-discovery", "--gossip"];
  try {
    await lab.setup(false);
    for (const n of ["n1", "n2", "n3"]) await lab.addNode(n);
    lab.startTs("n1", SECRET, flags);
    await lab.waitFor("n1 running", async () => { try { await lab.meshIp("n1"); return true; } catch { return false; } }, 20_000);
    const st = (await lab.rpc("n1", "daemon.status")) as { pubkey: string; mesh_ip: string };
    const seed = JSON.stringify({ peers: [{ wg_pubkey: st.pubkey, mesh_ip: st.mesh_ip, endpoint: `${lab.node("n1").ip}:51820`, last_seen: Math.floor(Date.now() / 1000) }], updated_at: Math.floor(Date.now() / 1000) });
    // n2 and n3 each know only n1 (a peer cache entry); nothing else can introduce n3 to n2
    lab.writeFile("n2", "/var/lib/wgmesh/wg0-peers.json", seed);
    lab.startTs("n2", SECRET, flags);
    await lab.waitFor("n1+n2 mesh from the seed", () => lab.fullMesh(["n1", "n2"]), 60_000);
    lab.writeFile("n3", "/var/lib/wgmesh/wg0-peers.json", seed);
    lab.startTs("n3", SECRET, flags);
    await lab.waitFor("n2 learns n3 through gossip", async () => (await viaOf(lab, "n2", "n3")).some((m) => m.startsWith("gossip")), 60_000);
    await lab.waitFor("full mesh n1..n3", () => lab.fullMesh(["n1", "n2", "n3"]), 60_000);
  } finally {
    await lab.cleanup();
  }
});

test("default DHT bootstrap (Go's four names, resolved via /etc/hosts) works; unresolvable names do not stop the daemon", { skip, timeout: 180_000 }, async () => {
  const lab = new NetLab(85);
  try {
    await lab.setup();
    for (const n of ["a", "b", "c"]) await lab.addNode(n);
    const start = (n: string) => lab.spawn(`ts-${n}`, "nsenter", [...lab.enterArgs(lab.node(n)), process.execPath, WGMESH_BIN, "join", "--socket-path", lab.node(n).socket, "--no-lan-discovery", "--log-level", "debug"], { ...process.env, WGMESH_SECRET: SECRET });
    start("a");
    start("b");
    lab.writeFile("c", "/etc/hosts", "127.0.0.1 localhost\n"); // c: the names resolve nowhere (Go would exit)
    const pc = start("c");
    await lab.waitFor("a+b mesh through the default bootstrap names", () => lab.fullMesh(["a", "b"]), 60_000);
    await lab.waitFor("c retries its announce", () => pc.log().includes("announce reached no node; retrying"), 20_000);
    assert.equal(pc.child.exitCode, null, "c keeps running");
    assert.match(await lab.meshIp("c"), /^10\./, "c answers RPC");
  } finally {
    await lab.cleanup();
  }
});
