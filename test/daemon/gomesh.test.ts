/**
 * Interop with the Go implementation (../shared/peers/wgmesh-go) as a mesh: 2 Go daemons and 2 of ours,
 * same secret, in namespaces on this machine (netlab.ts: local storing DHT bootstrap started first, the Go
 * tool's four DHT names mapped to it in each node's private /etc/hosts, wireguard-go pre-created for Go).
 * They converge to one full mesh (every pair pings over mesh IPs); `peers list` — Go's CLI on a Go node,
 * ours on a TS node — lists all three others; `test-peer` works in both directions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { GO_BINARY, goSkipReason, labSkipReason, NetLab, WGMESH_BIN } from "./netlab";
import { deriveParams } from "../../provider/src/daemon/derive";
import { parseSecret } from "../../provider/src/daemon/secret";

const skip = labSkipReason() ?? goSkipReason();
const SECRET = "wgmesh://v1/go-and-ts-interop-mesh-secret-0123456789abcdefghijklmnop";

test("2 Go + 2 TS daemons converge to one full mesh; peers list on either kind lists all; test-peer both ways; GOODBYE honoured by Go", { skip, timeout: 240_000 }, async () => {
  const lab = new NetLab(78);
  try {
    await lab.setup();
    const names = ["go1", "go2", "ts1", "ts2"];
    for (const n of names) await lab.addNode(n);
    await lab.startGo("go1", SECRET);
    await lab.startGo("go2", SECRET);
    lab.startTs("ts1", SECRET);
    const ts2 = lab.startTs("ts2", SECRET);
    await lab.waitFor("full mesh of 2 Go + 2 TS daemons (peer lists and pings over mesh IPs)", () => lab.fullMesh(names), 90_000);
    const ips = new Map<string, string>();
    for (const n of names) ips.set(n, await lab.meshIp(n));
    // `peers list` through each implementation's own CLI
    for (const [node, cli] of [["go1", [GO_BINARY]], ["go2", [GO_BINARY]], ["ts1", [process.execPath, WGMESH_BIN]], ["ts2", [process.execPath, WGMESH_BIN]]] as const) {
      const r = spawnSync(cli[0] as string, [...cli.slice(1), "peers", "list"], { encoding: "utf8", env: { ...process.env, WGMESH_SOCKET: lab.node(node).socket } });
      assert.equal(r.status, 0, r.stderr);
      for (const o of names) if (o !== node) assert.ok(r.stdout.includes(ips.get(o) as string), `${node} (${cli.length === 1 ? "Go" : "TS"} CLI) lists ${o} ${ips.get(o)}:\n${r.stdout}`);
      const c = spawnSync(cli[0] as string, [...cli.slice(1), "peers", "count"], { encoding: "utf8", env: { ...process.env, WGMESH_SOCKET: lab.node(node).socket } });
      assert.match(c.stdout, /Active peers: 3\n/, `${node} peers count`);
    }
    // test-peer: Go → TS and TS → Go (each at the other's exchange port)
    const gp = deriveParams(parseSecret(SECRET).secret).gossipPort;
    const goToTs = lab.exec("go1", [GO_BINARY, "test-peer", "--secret", SECRET, "--peer", `${lab.node("ts1").ip}:${gp}`], 20_000);
    assert.equal(goToTs.status, 0, goToTs.stdout + goToTs.stderr);
    assert.match(goToTs.stdout, /SUCCESS! Peer exchange working!\n  Message type: REPLY\n/);
    assert.ok(goToTs.stdout.includes(`Peer mesh IP: ${ips.get("ts1")}`), goToTs.stdout);
    const tsToGo = lab.exec("ts2", [process.execPath, WGMESH_BIN, "test-peer", "--secret", SECRET, "--peer", `${lab.node("go2").ip}:${gp}`], 20_000);
    assert.equal(tsToGo.status, 0, tsToGo.stdout + tsToGo.stderr);
    assert.match(tsToGo.stdout, /SUCCESS! Peer exchange working!\n  Message type: REPLY\n/);
    assert.ok(tsToGo.stdout.includes(`Peer mesh IP: ${ips.get("go2")}`), tsToGo.stdout);
    // Go's test-peer key ("test-pubkey") is answered but never stored by us
    assert.ok(!(await lab.activePeers("ts1")).some((p) => p.pubkey === "test-pubkey"));
    // WireGuard on a TS node: Go peers carry the derived PSK and keepalive 25
    const dump = lab.exec("ts1", ["wg", "show", "wg0", "dump"]).stdout.trim().split("\n").slice(1).map((l) => l.split("\t"));
    assert.equal(dump.length, 3);
    for (const f of dump) {
      assert.notEqual(f[1], "(none)", "PSK set");
      assert.equal(f[7], "25", "persistent keepalive 25");
    }
    // our SIGTERM: the Go daemons accept our GOODBYE and drop us; a restart comes back with the same IP
    const ts2ip = ips.get("ts2") as string;
    await lab.stop(ts2);
    for (const g of ["go1", "go2"]) await lab.waitFor(`${g} drops ts2 on GOODBYE`, async () => !(await lab.activePeers(g)).some((p) => p.mesh_ip === ts2ip), 15_000);
    lab.startTs("ts2", SECRET, [], "ts-ts2-restart");
    await lab.waitFor("ts2 back in the mixed mesh", () => lab.fullMesh(names), 90_000);
    assert.equal(await lab.meshIp("ts2"), ts2ip);
  } finally {
    await lab.cleanup();
  }
});

test("DHT only (no LAN): Go finds our announcements and we find Go's — one full mesh", { skip, timeout: 240_000 }, async () => {
  const lab = new NetLab(84);
  try {
    await lab.setup();
    const names = ["go1", "ts1", "ts2"];
    for (const n of names) await lab.addNode(n);
    await lab.startGo("go1", SECRET, ["--no-lan-discovery"]);
    lab.startTs("ts1", SECRET, ["--no-lan-discovery"]);
    lab.startTs("ts2", SECRET, ["--no-lan-discovery"]);
    await lab.waitFor("full mesh over the DHT", () => lab.fullMesh(names), 90_000);
    const via = (await lab.activePeers("go1")).flatMap((p) => p.discovered_via);
    assert.ok(!via.includes("lan"), via.join(","));
  } finally {
    await lab.cleanup();
  }
});
