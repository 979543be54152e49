/**
 * A peer that goes SILENT (no GOODBYE: its host unplugged from the segment, then its daemon stopped while
 * unplugged) is expired by the others on their own: still listed a minute later, then dead (out of `peers
 * count` and of WireGuard) after the daemon's 5-minute timeout (protocol §5.6). Plugged in and started
 * again, it comes back with the same mesh IP and the mesh is whole again.
 *
 * Real Debian testbed hosts running the self-contained artifact (bound in read-only at /usr/local/bin/wgmesh;
 * no Node.js on the hosts) as wgmesh.service, LAN discovery only. Suite `slow` (≈ 7 min, mostly waiting),
 * run by `make test` in parallel with the other suites.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { up } from "../testbed";
import { testbedSkipReason } from "../daemon/testbed-dht";
import { locateDaemonArtifact } from "../../provider/src/daemon/artifact";

const REPO_ROOT = path.resolve(__dirname, "../../..");
const SECRET = "wgmesh://v1/testbed-silent-peer-expiry-secret-0123456789abcdefghij";
const BIN = "/usr/local/bin/wgmesh";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


test("testbed: a silent peer expires after ~5 min on the others; started again it returns with the same mesh IP", { skip: testbedSkipReason(), timeout: 720_000 }, async (t) => {
  if (!process.env["WGMESH_DAEMON_ARTIFACT_DIR"]) {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts/daemon-artifact.js"), "--quiet"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, `scripts/daemon-artifact.js failed:\n${r.stdout}${r.stderr}`);
  }
  const art = locateDaemonArtifact();
  assert.ok(art.path, "the repo's dist/artifact has the executable itself");
  const tb = await up(3, { name: "sexp", subnet: "172.31.97.0/24", binds: [{ source: fs.realpathSync(art.path!), target: BIN, readOnly: true }] });
  try {
    const hosts = tb.hosts.map((h) => h.name);
    const [h1, h2, h3] = hosts as [string, string, string];
    await Promise.all(hosts.map(async (h) => {
      await tb.execOk(h, ["apt-get", "install", "-y", "-q", "wireguard-tools", "wireguard-go"], { timeoutMs: 120_000 });
      await tb.execOk(h, ["sh", "-c", "umask 077 && mkdir -p /root/.wgm && cat > /root/.wgm/s"], { input: `${SECRET}\n` });
      await tb.execOk(h, ["env", "WGMESH_SECRET_FILE=/root/.wgm/s", BIN, "install-service", "--no-dht"], { timeoutMs: 60_000 });
    }));
    const meshIp = async (h: string) => (JSON.parse(await tb.execOk(h, ["cat", "/var/lib/wgmesh/wg0.json"])) as { mesh_ip: string }).mesh_ip;
    const active = async (h: string) => Number(/Active peers: (\d+)/.exec((await tb.exec(h, [BIN, "peers", "count"])).stdout)?.[1] ?? -1);
    const wgPeers = async (h: string) => (await tb.exec(h, ["wg", "show", "wg0", "peers"])).stdout;
    const waitFor = async (what: string, f: () => Promise<boolean>, ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await f()) return;
        await sleep(2000);
      }
      const logs = await Promise.all(hosts.map(async (h) => `--- ${h}\n${(await tb.exec(h, ["journalctl", "-u", "wgmesh", "-n", "20", "--no-pager"])).stdout}`));
      throw new Error(`timed out waiting for ${what}\n${logs.join("\n")}`);
    };
    const whole = async () => {
      for (const h of hosts) if ((await active(h)) !== 2) return false;
      const ips = await Promise.all(hosts.map(meshIp));
      for (const h of hosts) for (const ip of ips) if ((await tb.exec(h, ["ping", "-c1", "-W1", ip])).code !== 0) return false;
      return true;
    };
    await waitFor("a full mesh of 3", whole, 120_000);
    const ip3 = await meshIp(h3);
    const key3 = (await tb.execOk(h3, ["wg", "show", "wg0", "public-key"])).trim();

    // Silent departure: unplugged first, so the GOODBYE of the stop reaches nobody.
    await tb.cutLink(h3);
    await tb.execOk(h3, ["systemctl", "stop", "wgmesh"]);
    const t0 = Date.now();
    await sleep(60_000);
    for (const h of [h1, h2]) assert.equal(await active(h), 2, `${h} still lists the silent peer a minute later (no GOODBYE arrived)`);
    await waitFor("h1 and h2 expire the silent peer", async () => (await active(h1)) === 1 && (await active(h2)) === 1, 420_000);
    const took = (Date.now() - t0) / 1000;
    t.diagnostic(`silent peer expired after ${took.toFixed(0)} s`);
    assert.ok(took >= 240, `expired only after about 5 minutes without contact (took ${took} s)`);
    for (const h of [h1, h2]) await waitFor(`${h} removes it from WireGuard`, async () => !(await wgPeers(h)).includes(key3), 30_000);

    // Back: plugged in and started, same identity.
    await tb.restoreLink(h3);
    await tb.execOk(h3, ["systemctl", "start", "wgmesh"]);
    await waitFor("the mesh whole again", whole, 120_000);
    assert.equal(await meshIp(h3), ip3, "same mesh IP after the restart");
    assert.equal((await tb.execOk(h3, ["wg", "show", "wg0", "public-key"])).trim(), key3, "same key");
  } finally {
    await tb.down();
  }
});
