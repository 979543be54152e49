/**
 * E2E (testbed, root), issue 16 in the state-file world: a Go wgmesh state file (made by the Go tool when its
 * binary is present) deployed with `wgmesh deploy`; with pings and a TCP stream running between every pair,
 * `wgmesh rotate STATE --node web1` replaces web1's key pair in the file (the Go tool reads it back) and
 * `wgmesh deploy STATE` applies it: every TCP stream survives, the worst ping gap per pair is reported (≤ 3 s),
 * web1's new key is in every peer's handshake, its old private key is nowhere — not in the file, on no host.
 * The three hosts switch together: each waits, after its read, for the others (engine/rendezvous.ts) — under
 * load their SSH connects and reads spread over seconds, and so did the switch (a 15-s gap web1–web3 once).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { generateKeyPair } from "../../provider/src/core/keys";
import { down, up, type Testbed } from "../testbed";
import { formatReport, nodeBind, startTraffic, stopTraffic, trafficReport, worstLine, type TrafficMesh } from "../testbed/traffic";

const NAME = "rcli";
const ROOT = path.resolve(__dirname, "../../..");
const GO = process.env["WGMESH_GO_BINARY"] || path.resolve(ROOT, "../shared/peers/wgmesh-go");
const NAMES = ["web1", "web2", "web3"];

describe("engine e2e: wgmesh rotate + deploy on 3 hosts with traffic between every pair", { timeout: 600_000 }, () => {
  let tb: Testbed;
  let dir = "";
  let m: TrafficMesh | undefined;
  const file = () => path.join(dir, "mesh.json");
  const wgmesh = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "wgmesh"), ...args], { encoding: "utf8", input: "", cwd: dir });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const deploy = () => wgmesh("deploy", file(), "--json", "--identity", tb.privateKeyPath, "--known-hosts", tb.knownHostsPath);
  const state = () => JSON.parse(readFileSync(file(), "utf8")) as { nodes: Record<string, { public_key: string; private_key: string; mesh_ip: string }> };
  const hostOf = (n: string) => tb.hosts[NAMES.indexOf(n)]!.name;

  before(async () => {
    tb = await up(3, { name: NAME, binds: [nodeBind()] });
    dir = mkdtempSync(path.join(tmpdir(), "wgmesh-rotate-e2e-"));
    if (existsSync(GO)) {
      const go = (...args: string[]) => assert.equal(spawnSync(GO, ["-state", file(), ...args], { encoding: "utf8" }).status, 0, `wgmesh-go ${args.join(" ")}`);
      go("-init");
      NAMES.forEach((n, i) => go("-add", `${n}:10.99.0.${i + 1}:${tb.hosts[i]!.address}`));
    } else {
      const nodes = Object.fromEntries(NAMES.map((n, i) => {
        const k = generateKeyPair();
        return [n, { hostname: n, mesh_ip: `10.99.0.${i + 1}`, public_key: k.publicKey, private_key: k.privateKey, ssh_host: tb.hosts[i]!.address, ssh_port: 22, listen_port: 51820, behind_nat: false, is_local: false }];
      }));
      writeFileSync(file(), JSON.stringify({ interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, nodes, local_hostname: "" }, null, 2), { mode: 0o600 });
    }
  });

  after(async () => {
    if (m) await stopTraffic(m).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
    await down(NAME);
  });

  it("deploy; rotate web1 in the file (the Go tool reads it); deploy again with traffic running: TCP survives, gaps ≤ 3 s, new key everywhere, old key nowhere", async (t) => {
    const d = deploy();
    assert.equal(d.code, 0, d.stderr);
    const ips = Object.fromEntries(Object.entries(state().nodes).map(([n, x]) => [n, x.mesh_ip]));
    m = { tb, hostOf, names: NAMES, meshIps: ips };
    await startTraffic(m);

    const before = state();
    const r = wgmesh("rotate", file(), "--node", "web1");
    assert.equal(r.code, 0, r.stderr);
    const after = state();
    assert.notEqual(after.nodes.web1!.private_key, before.nodes.web1!.private_key);
    assert.deepEqual(after.nodes.web2, before.nodes.web2);
    if (existsSync(GO)) {
      const list = spawnSync(GO, ["-state", file(), "-list"], { encoding: "utf8" });
      assert.equal(list.status, 0, list.stderr);
      assert.ok(list.stdout.includes(`Public Key: ${after.nodes.web1!.public_key}`), "the Go tool reads the new key");
    }

    const t0 = Date.now();
    const again = deploy();
    const t1 = Date.now();
    assert.equal(again.code, 0, again.stderr);
    t.diagnostic(`wgmesh deploy of the rotation: ${t1 - t0} ms wall`);
    // The key switch is one moment on all three hosts (engine/rendezvous.ts): each waited for the others.
    for (const n of NAMES) assert.match(again.stderr, new RegExp(`\\[${n}\\] all 3 host\\(s\\) ready after [0-9.]+ s: switching`), `${n} switched with the others`);
    assert.deepEqual(Object.fromEntries(Object.entries(JSON.parse(again.stdout).hosts).map(([n, h]) => [n, (h as { status: string }).status])), { web1: "changed", web2: "changed", web3: "changed" });
    const report = await trafficReport(m, t0, t1);
    for (const line of formatReport(report)) t.diagnostic(`rotate + deploy: ${line}`);
    t.diagnostic(`rotate + deploy: ${worstLine(report)}`);
    assert.deepEqual(report.filter((x) => !x.tcpSurvived).map((x) => `${x.pair}: ${x.tcpEvents.join("; ")}`), []);
    assert.deepEqual(report.filter((x) => x.pingGapMs > 3000 || !x.pingResumed).map((x) => x.pair), []);

    for (const p of ["web2", "web3"]) {
      const hs = await tb.execOk(hostOf(p), ["wg", "show", "wg0", "latest-handshakes"]);
      const line = hs.split("\n").find((l) => l.startsWith(after.nodes.web1!.public_key));
      assert.ok(line && Number(line.split("\t")[1]) * 1000 >= t0 - 1000, `${p} shook hands with web1's new key`);
      assert.ok(!hs.includes(before.nodes.web1!.public_key), `${p} no longer knows the old key`);
    }
    const old = before.nodes.web1!.private_key;
    assert.ok(!readFileSync(file(), "utf8").includes(old), "not in the state file");
    for (const n of NAMES) {
      const found = await tb.exec(hostOf(n), `pat=$(mktemp -p /dev/shm) && cat > "$pat"; grep -rlF -f "$pat" /etc /var /root /tmp /run 2>/dev/null | grep -v '^/run/trafficmon'; journalctl --no-pager -o cat | grep -cF -f "$pat"; rm -f "$pat"`, { input: `${old}\n` });
      assert.equal(found.stdout.trim(), "0", `${n}: the old private key in no file and not in the journal`);
    }
    assert.equal(JSON.parse(deploy().stdout).hosts.web1.status, "unchanged", "converged");
  });
});
