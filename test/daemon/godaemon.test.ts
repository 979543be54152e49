/**
 * Interop with a running Go daemon (`wgmesh-go join`) on one host, no testbed needed: the daemon runs in
 * a network namespace created here (loopback only) with its own mount+UTS namespace (private /etc/hosts
 * mapping the hard-coded DHT names to a local bittorrent-dht bootstrap node on 127.0.0.1:6881, tmpfs on
 * /run and /var/lib), and a wg0 made by wireguard-go (no kernel module). Our exchange runs inside the
 * same namespace. Checks: our HELLO gets the Go daemon's REPLY; the Go daemon stores us; our test-peer
 * works against it; Go's `peers` output equals ours against the Go daemon's RPC socket.
 * Needs root, ip/unshare/nsenter, wireguard-go and the Go binary; skipped otherwise.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GO_BINARY, REPO_ROOT, goSkipReason, runGo, runOurs } from "./gopeer";
import { runPeers, systemctlIsActive } from "../../provider/src/cli/daemon";
import { deriveParams } from "../../provider/src/daemon/derive";
import { handleRequestLine, RpcHandlers } from "../../provider/src/daemon/rpc";
import * as net from "node:net";

/** Send request lines on one connection; resolves to the response lines. */
function rawRpc(sockPath: string, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sockPath);
    let acc = "";
    c.setEncoding("utf8");
    c.on("data", (d: string) => {
      acc += d;
      const got = acc.split("\n").filter(Boolean);
      if (got.length >= lines.length) {
        c.destroy();
        resolve(got);
      }
    });
    c.on("error", reject);
    c.write(lines.map((l) => `${l}\n`).join(""));
  });
}

function skipReason(): string | undefined {
  const go = goSkipReason();
  if (go) return go;
  if (process.getuid?.() !== 0) return "needs root (network and mount namespaces)";
  for (const tool of ["ip", "unshare", "nsenter", "wireguard-go"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `needs ${tool}`;
  }
  return undefined;
}

const skip = skipReason();
const SECRET = "wgmesh://v1/wgmesh-test-vector-secret-0001";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let logsForErrors: Record<string, string> = {};

async function waitFor(what: string, f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return;
    await sleep(100);
  }
  const tail = Object.entries(logsForErrors).map(([k, v]) => `--- ${k}\n${v.slice(-1500)}`).join("\n");
  throw new Error(`timed out waiting for ${what}\n${tail}`);
}

test("Go daemon interop on one host: HELLO/REPLY, test-peer towards Go, Go's RPC read by our client", { skip, timeout: 90_000 }, async () => {
  const ns = `wgmd-${process.pid}`;
  const lab = fs.mkdtempSync(path.join(os.tmpdir(), "wgm-godaemon-"));
  const children: ChildProcess[] = [];
  const logs: Record<string, string> = {};
  logsForErrors = logs;
  const start = (name: string, cmd: string, args: string[]): ChildProcess => {
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: REPO_ROOT });
    logs[name] = "";
    c.stdout?.on("data", (d: Buffer) => (logs[name] += d.toString()));
    c.stderr?.on("data", (d: Buffer) => (logs[name] += d.toString()));
    children.push(c);
    return c;
  };
  const gossipPort = deriveParams("wgmesh-test-vector-secret-0001").gossipPort;
  const sock = path.join(lab, "go.sock");
  try {
    assert.equal(spawnSync("ip", ["netns", "add", ns]).status, 0, "ip netns add");
    spawnSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    fs.writeFileSync(path.join(lab, "hosts"), "127.0.0.1 localhost router.bittorrent.com router.utorrent.com dht.transmissionbt.com dht.libtorrent.org\n");
    const holder = start("holder", "ip", ["netns", "exec", ns, "unshare", "-m", "-u", "--propagation", "private", "sh", "-c",
      `mount --bind ${path.join(lab, "hosts")} /etc/hosts && mount -t tmpfs tmpfs /run && mkdir -p /run/wireguard && mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/wgmesh && hostname go-node && touch ${path.join(lab, "ready")} && exec sleep 3600`]);
    await waitFor("namespace holder", () => fs.existsSync(path.join(lab, "ready")), 5000);
    // the holder's pid is the `sleep` (sh execs it) — inside ip netns exec → unshare → sh; find it
    const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.trim().split(/\s+/).filter(Boolean);
    const hpid = pids.find((p) => fs.readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith("sleep")) ?? String(holder.pid);
    const enter = ["-t", hpid, "-m", "-u", "-n"];
    start("bootstrap", "nsenter", [...enter, `--wd=${REPO_ROOT}`, process.execPath, "-e",
      "import('bittorrent-dht').then(({default: DHT}) => { const d = new DHT({ bootstrap: false }); d.listen(6881, '127.0.0.1', () => console.log('listening')); })"]);
    await waitFor("DHT bootstrap node", () => logs["bootstrap"]?.includes("listening") ?? false, 10_000);
    start("wireguard-go", "nsenter", [...enter, "wireguard-go", "-f", "wg0"]);
    await waitFor("wireguard-go wg0", () => spawnSync("nsenter", [...enter, "test", "-S", "/run/wireguard/wg0.sock"]).status === 0, 10_000);
    start("daemon", "nsenter", [...enter, GO_BINARY, "join", "--secret", SECRET, "--interface", "wg0", "--socket-path", sock, "--no-lan-discovery", "--log-level", "debug"]);
    await waitFor("Go daemon RPC socket", () => fs.existsSync(sock), 20_000);
    await waitFor("Go exchange socket", () => (logs["daemon"] ?? "").includes(`Listening on UDP port ${gossipPort}`), 10_000);

    // our side, inside the namespace
    const ours = spawnSync("nsenter", ["-t", hpid, "-n", process.execPath, path.join(REPO_ROOT, "dist/test/daemon/ts-side.js"), SECRET, String(gossipPort)], { encoding: "utf8", timeout: 30_000 });
    const res = JSON.parse(ours.stdout.trim().split("\n").pop() as string) as {
      pubkey: string; meshIp: string; localPort: number; r1: { from: string; announcement: Record<string, unknown> } | null; r2: unknown;
      testPeer: { code: number; stdout: string; stderr: string }; counters: Record<string, number>; error?: string;
    };
    assert.equal(res.error, undefined, `${res.error} ${ours.stderr}`);
    assert.ok(res.r1, `Go daemon answered our HELLO\n${logs["daemon"]?.slice(-3000)}`);
    assert.equal(res.r1.from, `127.0.0.1:${gossipPort}`);
    assert.equal(res.r1.announcement["observed_endpoint"], `127.0.0.1:${res.localPort}`, "Go reflects the address it saw");
    assert.match(String(res.r1.announcement["mesh_ip"]), /^10\.53\./);
    assert.equal(res.testPeer.code, 0, res.testPeer.stdout + res.testPeer.stderr);
    assert.match(res.testPeer.stdout, /SUCCESS! Peer exchange working!\n  Message type: REPLY\n/);
    assert.ok(res.r2, "second exchange still works after Go stored our test-peer key");
    const goKey = String(res.r1.announcement["wg_pubkey"]);
    const stored = (res as unknown as { store: { wg_pubkey: string; endpoint: string; discovered_via: string[] }[] }).store.find((p) => p.wg_pubkey === goKey);
    assert.ok(stored, "we stored the Go daemon");
    assert.equal(stored.endpoint, "127.0.0.1:51820", "Go announces 0.0.0.0:<wg port>; we substitute the source IP");
    // Go stored our test-peer's throwaway key (no mesh IP) and passes it on in known_peers: we drop that one
    // entry and keep the REPLY (rejecting the whole message would cut us off from a polluted Go node)
    assert.ok((res.counters["invalid-entry"] ?? 0) >= 1, JSON.stringify(res.counters));
    assert.equal(res.counters["invalid-field"] ?? 0, 0);

    // the Go daemon stores us; Go's `peers` and ours read its RPC socket identically
    const env = { ...process.env, WGMESH_SOCKET: sock };
    const deps = { serviceStatus: systemctlIsActive, nowMs: Date.now, testPeerTimeoutMs: 1 };
    for (const args of [["list"], ["count"], ["get", res.pubkey], ["get", "nope"]]) {
      const go = await runGo(["peers", ...args], env);
      const ts = await runOurs((a, io) => runPeers(a, io, deps), args, env);
      if (args[0] === "list") {
        // the Go daemon lists peers in map order (random per call), and LAST SEEN may tick between calls
        const rows = (out: string): string[] => out.split("\n").map((l, i) => (i < 2 ? l : `${l.slice(0, 83)}${" ".repeat(10)}${l.slice(93)}`)).sort();
        assert.deepEqual(rows(ts.stdout), rows(go.stdout), "peers list");
        assert.equal(ts.stdout.split("\n").length, 5, "header, rule, two peers (us and test-peer's key), end");
      } else {
        assert.equal(ts.stdout, go.stdout, `peers ${args[0]}`);
      }
      assert.equal(ts.stderr, go.stderr, `peers ${args[0]}`);
      assert.equal(ts.code, go.code);
    }
    // raw JSON-RPC lines from the Go daemon's server equal what our server writes for the same data
    const goLines = await rawRpc(sock, [
      '{"jsonrpc":"2.0","method":"daemon.ping","id":7}',
      '{"jsonrpc":"2.0","method":"daemon.status","id":"s"}',
      '{"jsonrpc":"2.0","method":"peers.count","id":3}',
      `{"jsonrpc":"2.0","method":"peers.get","params":{"pubkey":"${res.pubkey}"},"id":4}`,
      '{"jsonrpc":"2.0","method":"peers.get","params":{},"id":5}',
      '{"jsonrpc":"2.0","method":"no.such","id":6}',
      '{"jsonrpc":"1.0","method":"daemon.ping","id":8}',
      "{garbage",
    ]);
    const status = JSON.parse(goLines[1] as string).result as { mesh_ip: string; pubkey: string; uptime: number; interface: string; version: string };
    const counts = JSON.parse(goLines[2] as string).result as { active: number; total: number; dead: number };
    const info = JSON.parse(goLines[3] as string).result as Record<string, unknown>;
    const mirror: RpcHandlers = {
      listPeers: () => [],
      getPeer: (k) => (k === info["pubkey"] ? {
        pubkey: info["pubkey"] as string, mesh_ip: info["mesh_ip"] as string, endpoint: info["endpoint"] as string,
        last_seen_ms: Date.parse(info["last_seen"] as string), discovered_via: info["discovered_via"] as string[],
        ...(info["hostname"] ? { hostname: info["hostname"] as string } : {}),
        ...(info["routable_networks"] ? { routable_networks: info["routable_networks"] as string[] } : {}),
        ...(info["latency_ms"] !== undefined ? { latency_ms: info["latency_ms"] as number } : {}),
      } : undefined),
      counts: () => counts,
      status: () => ({ mesh_ip: status.mesh_ip, pubkey: status.pubkey, uptime_ns: status.uptime, interface: status.interface }),
    };
    const requests = [
      '{"jsonrpc":"2.0","method":"daemon.ping","id":7}', '{"jsonrpc":"2.0","method":"daemon.status","id":"s"}', '{"jsonrpc":"2.0","method":"peers.count","id":3}',
      `{"jsonrpc":"2.0","method":"peers.get","params":{"pubkey":"${res.pubkey}"},"id":4}`, '{"jsonrpc":"2.0","method":"peers.get","params":{},"id":5}',
      '{"jsonrpc":"2.0","method":"no.such","id":6}', '{"jsonrpc":"1.0","method":"daemon.ping","id":8}',
    ];
    requests.forEach((req, i) => assert.equal(handleRequestLine(req, mirror, status.version), goLines[i], `RPC ${req}`));
    assert.match(goLines[7] as string, /^\{"jsonrpc":"2.0","error":\{"code":-32700,"message":"failed to parse request: .*"\},"id":null\}$/);
    assert.match(handleRequestLine("{garbage", mirror, "dev"), /^\{"jsonrpc":"2.0","error":\{"code":-32700,"message":"failed to parse request: .*"\},"id":null\}$/);
    const get = await runGo(["peers", "get", res.pubkey], env);
    assert.match(get.stdout, new RegExp(`Mesh IP:        ${res.meshIp.replace(/\./g, "\\.")}\nEndpoint:       127\\.0\\.0\\.1:51999\n`));
    assert.match(get.stdout, /Routes:         192\.168\.61\.0\/24\n/);
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode === null && c.pid) {
        try { process.kill(c.pid, "SIGTERM"); } catch { /* gone */ }
      }
    }
    await sleep(300);
    for (const p of spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.trim().split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(p), "SIGKILL"); } catch { /* gone */ }
    }
    await sleep(100);
    spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(lab, { recursive: true, force: true });
  }
});
