/**
 * Our daemon (`wgmesh join`, the real CLI) in network namespaces on this machine: convergence to a full
 * WireGuard mesh, isolation from another secret, GOODBYE removal on stop, same mesh IP on restart, and
 * each discovery layer alone. Needs root, ip/unshare/nsenter, wg, wireguard-go; skipped otherwise.
 * Everything runs in namespaces these tests create (see netlab.ts) and is removed even on failure.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { labSkipReason, NetLab, sleep, WGMESH_BIN } from "./netlab";
import { deriveParams } from "../../provider/src/daemon/derive";
import { parseSecret } from "../../provider/src/daemon/secret";

const skip = labSkipReason();
const SECRET = "wgmesh://v1/ts-mesh-test-secret-abcdefghijklmnopqrstuvwxyz0123456789";
const OTHER = "wgmesh://v1/a-completely-different-secret-0123456789abcdefghijkl";

test("3 TS daemons converge to a full mesh; a different-secret node never appears; stop → removed; restart → same mesh IP", { skip, timeout: 240_000 }, async () => {
  const lab = new NetLab(77);
  try {
    await lab.setup();
    const names = ["n1", "n2", "n3"];
    for (const n of [...names, "x"]) await lab.addNode(n);
    const procs = new Map(names.map((n) => [n, lab.startTs(n, SECRET)]));
    const outsider = lab.startTs("x", OTHER);
    await lab.waitFor("full mesh of n1..n3 (peers listed and pings over mesh IPs)", () => lab.fullMesh(names), 60_000);
    for (const n of names) {
      const c = (await lab.rpc(n, "peers.count")) as { active: number; total: number };
      assert.equal(c.active, 2, `${n} peers count`);
      assert.equal(lab.wgPeers(n).length, 2, `${n} wg peers`);
    }
    // the outsider (different secret, same LAN, same DHT bootstrap) never appears and learns nothing
    await sleep(6000); // at least one more LAN round and reconcile
    const xKey = ((await lab.rpc("x", "daemon.status")) as { pubkey: string }).pubkey;
    // the outsider actively knocks: test-peer with its secret at n1's exchange port gets no answer
    const gp = deriveParams(parseSecret(SECRET).secret).gossipPort;
    const knock = lab.exec("x", [process.execPath, WGMESH_BIN, "test-peer", "--secret", OTHER, "--peer", `${lab.node("n1").ip}:${gp}`], 20_000);
    assert.equal(knock.status, 1, knock.stdout + knock.stderr);
    assert.match(knock.stderr, /No response/);
    const drops = (await lab.rpc("n1", "daemon.drops")) as Record<string, number>;
    assert.ok((drops["auth-failed"] ?? 0) >= 1, `n1 counted the outsider's HELLO as auth-failed: ${JSON.stringify(drops)}`);
    for (const n of names) {
      assert.ok(!(await lab.activePeers(n)).some((p) => p.pubkey === xKey), `${n} does not list the outsider`);
      assert.ok(!lab.wgPeers(n).includes(xKey), `${n} has no wg peer for the outsider`);
    }
    assert.deepEqual((await lab.rpc("x", "peers.count")) as object, { active: 0, total: 0, dead: 0 }, "outsider learned no peer");
    assert.equal(lab.wgPeers("x").length, 0);
    await lab.stop(outsider);

    // stop n3: GOODBYE removes it from the others' stores and WireGuard; its interface is gone
    const n3ip = await lab.meshIp("n3");
    const n3key = ((await lab.rpc("n3", "daemon.status")) as { pubkey: string }).pubkey;
    await lab.stop(procs.get("n3") as never);
    assert.equal(lab.exec("n3", ["ip", "link", "show", "wg0"]).status, 1, "n3's wg0 removed on SIGTERM");
    assert.equal(lab.exec("n3", ["test", "-e", lab.node("n3").socket]).status, 1, "n3's RPC socket removed");
    for (const n of ["n1", "n2"]) {
      await lab.waitFor(`${n} drops n3`, async () => !(await lab.activePeers(n)).some((p) => p.pubkey === n3key) && !lab.wgPeers(n).includes(n3key), 15_000);
    }
    // restart n3: same key and mesh IP from /var/lib/wgmesh/wg0.json, back in the mesh
    procs.set("n3", lab.startTs("n3", SECRET, [], "ts-n3-restart"));
    await lab.waitFor("full mesh after restart", () => lab.fullMesh(names), 60_000);
    assert.equal(await lab.meshIp("n3"), n3ip, "same mesh IP after restart");
    const st = lab.exec("n3", ["stat", "-c", "%a", "/var/lib/wgmesh/wg0.json"]);
    assert.equal(st.stdout.trim(), "600");
  } finally {
    await lab.cleanup();
  }
});
