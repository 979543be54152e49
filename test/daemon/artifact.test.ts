/**
 * The self-contained daemon artifact (`make daemon-artifact`: Node 20 SEA with the daemon-only CLI) on
 * testbed hosts that have NO Node at all (test/testbed `dart`, 2 Debian bookworm hosts on an RFC 1918
 * segment, nothing of this machine bound in). The gzip'd artifact is copied in over the exec channel's stdin
 * (as an SSH upload would), unpacked and checked against the manifest's sha256; then on the host:
 *  - `wgmesh init --secret` prints a valid secret URI; `status --secret S` prints byte for byte what
 *    `node bin/wgmesh status --secret S` prints here; genkey | pubkey agree with the core's key math;
 *  - wireguard-tools + wireguard-go from the testbed's local apt repository, then `wgmesh install-service`
 *    (secret in a 0600 file; the unit's ExecStart is the artifact itself, no node, no script) with DHT only
 *    (`--no-lan-discovery`, a storing bittorrent-dht bootstrap on the segment): the bundled bittorrent-dht
 *    works — both hosts find each other through the DHT, `peers count` says 1 on each, they ping over their
 *    mesh IPs; `systemctl stop` on one: its interface is gone and the other drops it (GOODBYE).
 * Builds the artifact first (`scripts/daemon-artifact.js`, instant when cached) unless
 * WGMESH_DAEMON_ARTIFACT_DIR names a prebuilt one; a build failure fails the test. Needs root (testbed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { startDhtBootstrap, testbedSkipReason } from "./testbed-dht";
import * as path from "node:path";
import { REPO_ROOT, WGMESH_BIN, sleep } from "./netlab";
import { up } from "../testbed";
import { locateDaemonArtifact, type DaemonArtifact } from "../../provider/src/daemon/artifact";
import { parseSecret } from "../../provider/src/daemon/secret";
import { publicKeyFromPrivate } from "../../provider/src/core/keys";

const NAME = "dart";
const SECRET = "wgmesh://v1/testbed-daemon-artifact-secret-0123456789abcdefghijklmnop";
const BIN = "/usr/local/bin/wgmesh";


/** The artifact: built (or taken from the cache) by the script, unless WGMESH_DAEMON_ARTIFACT_DIR names one. */
function artifact(): DaemonArtifact {
  if (!process.env["WGMESH_DAEMON_ARTIFACT_DIR"]) {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts/daemon-artifact.js"), "--quiet"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, `scripts/daemon-artifact.js failed:\n${r.stdout}${r.stderr}`);
  }
  return locateDaemonArtifact();
}

test("testbed: the self-contained artifact runs on Node-less Debian hosts; two of them mesh through the DHT", { skip: testbedSkipReason(), timeout: 420_000 }, async (t) => {
  const art = artifact();
  const tb = await up(2, { name: NAME, subnet: "172.31.96.0/24" });
  let boot: ChildProcess | undefined;
  try {
    const hosts = tb.hosts.map((h) => h.name);
    const gz = fs.readFileSync(art.gzPath);
    await Promise.all(hosts.map(async (h) => {
      const noNode = await tb.exec(h, ["sh", "-c", "command -v node || command -v nodejs"]);
      assert.notEqual(noNode.code, 0, `${h} must have no node: ${noNode.stdout}`);
      // what an SSH install does: gzip'd bytes on stdin → unpack to a temp name → verify → move into place
      await tb.execOk(h, ["sh", "-c", `umask 022 && gunzip -c > ${BIN}.tmp && echo "${art.sha256}  ${BIN}.tmp" | sha256sum -c --quiet && chmod 0755 ${BIN}.tmp && mv ${BIN}.tmp ${BIN}`], { input: gz, timeoutMs: 120_000 });
    }));
    const [h1, h2] = hosts as [string, string];

    // CLI behaviour on the host
    const init = await tb.exec(h1, [BIN, "init", "--secret"]);
    assert.equal(init.code, 0, init.stderr);
    const uri = init.stdout.match(/^(wgmesh:\/\/v1\/\S+)$/m)?.[1];
    assert.ok(uri, `init --secret printed a URI:\n${init.stdout}`);
    assert.equal(parseSecret(uri).lowEntropy, false);
    const here = spawnSync(process.execPath, [WGMESH_BIN, "status", "--secret", uri], { encoding: "utf8" });
    const there = await tb.exec(h1, [BIN, "status", "--secret", uri]);
    assert.equal(there.code, here.status, there.stderr);
    assert.equal(there.stdout, here.stdout, "status from the artifact = status from node bin/wgmesh here");
    assert.match(there.stdout, /^Mesh Subnet: 10\.\d+\.0\.0\/16$/m);
    const json = await tb.exec(h1, [BIN, "status", "--secret", SECRET, "--json"]);
    assert.equal(json.stdout, spawnSync(process.execPath, [WGMESH_BIN, "status", "--secret", SECRET, "--json"], { encoding: "utf8" }).stdout);
    const priv = (await tb.execOk(h1, [BIN, "genkey"])).trim();
    assert.equal((await tb.execOk(h1, [BIN, "pubkey"], { input: `${priv}\n` })).trim(), publicKeyFromPrivate(priv));
    const deploy = await tb.exec(h1, [BIN, "deploy"]);
    assert.notEqual(deploy.code, 0, "the daemon artifact carries no SSH engine commands");
    assert.match(deploy.stderr, /unknown command "deploy"/);

    // the daemon: DHT only, installed as a service by the artifact itself
    const dht = await startDhtBootstrap(tb);
    boot = dht.process;
    await Promise.all(hosts.map(async (h) => {
      await tb.execOk(h, ["apt-get", "install", "-y", "-q", "wireguard-tools", "wireguard-go"], { timeoutMs: 120_000 });
      await tb.execOk(h, ["sh", "-c", "umask 077 && mkdir -p /root/.wgm && cat > /root/.wgm/s"], { input: `${SECRET}\n` });
      const r = await tb.exec(h, ["env", "WGMESH_SECRET_FILE=/root/.wgm/s", BIN, "install-service", "--no-lan-discovery", "--dht-bootstrap", `${dht.address}:6881`], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `${h}: ${r.stdout}${r.stderr}`);
      assert.notEqual((await tb.exec(h, ["sh", "-c", "command -v node || command -v nodejs"])).code, 0, `${h}: apt brought no node`);
    }));
    const unit = await tb.execOk(h1, ["cat", "/etc/systemd/system/wgmesh.service"]);
    assert.match(unit, new RegExp(`^ExecStart="${BIN}" "join" "--no-lan-discovery" "--dht-bootstrap" "${dht.address.replace(/\./g, "\\.")}:6881"$`, "m"), unit);
    assert.ok(!unit.includes("secret-0123"), "no secret in the unit");

    const meshIp = async (h: string): Promise<string> => (JSON.parse(await tb.execOk(h, ["cat", "/var/lib/wgmesh/wg0.json"])) as { mesh_ip: string }).mesh_ip;
    const meshed = async (): Promise<boolean> => {
      for (const h of hosts) if (!(await tb.exec(h, [BIN, "peers", "count"])).stdout.includes("Active peers: 1\n")) return false;
      const ips = await Promise.all(hosts.map(meshIp));
      for (const h of hosts) for (const ip of ips) if ((await tb.exec(h, ["ping", "-c1", "-W1", ip])).code !== 0) return false;
      return true;
    };
    const end = Date.now() + 120_000;
    let ok = false;
    while (!(ok = await meshed()) && Date.now() < end) await sleep(1000);
    if (!ok) {
      const logs = await Promise.all(hosts.map(async (h) => `--- ${h}\n${(await tb.exec(h, ["sh", "-c", "journalctl -u wgmesh -n 40 --no-pager; wg show"])).stdout}`));
      assert.fail(`the two artifact daemons did not mesh within 120 s\n${logs.join("\n")}`);
    }
    for (const [a, b] of [[h1, h2], [h2, h1]] as const) {
      const ipB = await meshIp(b);
      const row = (await tb.execOk(a, [BIN, "peers", "list"])).split("\n").find((l) => l.includes(` ${ipB} `));
      assert.ok(row, `${a} lists ${b}`);
      assert.match(row, /\bdht\b/, `${a} found ${b} through the DHT (LAN off): ${row}`);
      assert.doesNotMatch(row, /\blan\b/);
    }
    const pid = (await tb.execOk(h1, ["systemctl", "show", "-p", "MainPID", "--value", "wgmesh.service"])).trim();
    const rss = (await tb.execOk(h1, ["sh", "-c", `grep VmRSS /proc/${pid}/status`])).trim();
    t.diagnostic(`artifact ${(art.bytes / 1048576).toFixed(1)} MiB (gz ${(art.gzBytes / 1048576).toFixed(1)} MiB), node ${art.nodeVersion}; daemon on ${h1}: ${rss}`);
    // SIGTERM from systemd: the artifact shuts down cleanly (interface removed, GOODBYE → the other drops it)
    await tb.execOk(h2, ["systemctl", "stop", "wgmesh.service"]);
    assert.notEqual((await tb.exec(h2, ["ip", "link", "show", "wg0"])).code, 0, "interface removed on stop");
    const dropEnd = Date.now() + 30_000;
    let count = "";
    while (!(count = (await tb.exec(h1, [BIN, "peers", "count"])).stdout).includes("Active peers: 0\n") && Date.now() < dropEnd) await sleep(500);
    if (!count.includes("Active peers: 0\n")) {
      const log = (await tb.exec(h1, ["sh", "-c", `journalctl -u wgmesh -n 40 --no-pager; ${BIN} peers list`])).stdout;
      assert.fail(`${h1} did not drop the stopped ${h2} within 30 s:\n${count}${log}`);
    }
  } finally {
    if (boot?.pid) boot.kill("SIGTERM");
    await tb.down();
  }
});
