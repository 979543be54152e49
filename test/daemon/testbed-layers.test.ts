/**
 * Each discovery layer alone brings a new node in — on the testbed (real Debian hosts booted with
 * systemd-nspawn, test/testbed), the same three scenarios as layers.test.ts (network namespaces). One
 * testbed `dlay` of 9 hosts on an RFC 1918 segment, booted once: 3 hosts per scenario, each scenario with
 * its own secret (different network ID, gossip port, DHT info-hash and keys, so they never see each other).
 * A storing bittorrent-dht bootstrap runs on the segment, started before any daemon; WireGuard tools come
 * from the testbed's local apt repository; every daemon is installed with `wgmesh install-service` (secret
 * in a 0600 file named by WGMESH_SECRET_FILE, never on argv).
 *  - DHT only (`--no-lan-discovery --dht-bootstrap <segment node>:6881`): two members mesh, a third joins;
 *    its peers are "dht", never "lan".
 *  - LAN only (`--no-dht`, no bootstrap at all): the newcomer hears both members by multicast ("lan");
 *    endpoints are the hosts' segment IPs + their WireGuard ports.
 *  - Gossip only (`--no-dht --no-lan-discovery --gossip`): the newcomer knows one seed peer from its peer
 *    cache (/var/lib/wgmesh/wg0-peers.json, restored at start); the other member learns it through gossip.
 * Each ends in a full mesh: every pair pings over mesh IPs and `wgmesh peers count` says 2 on each.
 * Needs root and the testbed caches; skipped otherwise.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { startDhtBootstrap, testbedSkipReason } from "./testbed-dht";
import { REPO_ROOT, sleep } from "./netlab";
import { down, Testbed, up } from "../testbed";

const NAME = "dlay";
const SECRET_DHT = "wgmesh://v1/testbed-layers-dht-only-secret-0123456789abcdefghijklmno";
const SECRET_LAN = "wgmesh://v1/testbed-layers-lan-only-secret-0123456789abcdefghijklmno";
const SECRET_GOSSIP = "wgmesh://v1/testbed-layers-gossip-only-secret-0123456789abcdefghijk";
const WGMESH = ["/usr/local/bin/node", "/opt/wgmesh/bin/wgmesh"];
/** One RPC call inside a host through the daemon's socket (the repo's own client), result as JSON. */
const RPC_SCRIPT = "const { RpcClient, clientSocketPath } = require('/opt/wgmesh/dist/provider/src/daemon/rpc.js');"
  + "RpcClient.connect(clientSocketPath(process.env)).then(async (c) => { try { process.stdout.write(JSON.stringify(await c.call(process.argv[1]))); } finally { c.close(); } })"
  + ".catch((e) => { process.stderr.write(String(e && e.message)); process.exit(1); });";


interface Peer { pubkey: string; mesh_ip: string; endpoint: string; discovered_via: string[] }

describe("testbed: each discovery layer alone brings a new node in", { skip: testbedSkipReason() }, () => {
  let tb: Testbed;
  let boot: ChildProcess | undefined;
  let dhtAddress = "";
  const started = new Set<string>();

  before(async () => {
    try {
      tb = await up(9, {
        name: NAME, subnet: "172.31.93.0/24",
        binds: [{ source: fs.realpathSync(process.execPath), target: "/usr/local/bin/node", readOnly: true }, { source: REPO_ROOT, target: "/opt/wgmesh", readOnly: true }],
      });
      assert.equal(tb.hosts.length, 9);
      // the DHT bootstrap first: a daemon that announced into an empty DHT would wait long to re-announce
      const dht = await startDhtBootstrap(tb);
      boot = dht.process;
      dhtAddress = dht.address;
      await Promise.all(tb.hosts.map((h) => tb.execOk(h.name, ["apt-get", "install", "-y", "-q", "wireguard-tools", "wireguard-go"], { timeoutMs: 180_000 })));
    } catch (e) {
      if (boot?.pid) boot.kill("SIGTERM");
      await down(NAME);
      throw e;
    }
  }, { timeout: 420_000 });

  after(async () => {
    if (boot?.pid) boot.kill("SIGTERM");
    await down(NAME);
  }, { timeout: 180_000 });

  const host = (i: number): string => (tb.hosts[i] as { name: string }).name;
  const segIp = (h: string): string => tb.hosts.find((x) => x.name === h)?.segmentAddress as string;

  /** install-service with the secret from a 0600 file (stdin → file → WGMESH_SECRET_FILE), never argv. */
  async function startDaemon(h: string, secret: string, flags: string[]): Promise<void> {
    await tb.execOk(h, ["sh", "-c", "umask 077 && mkdir -p /root/.wgm && cat > /root/.wgm/s"], { input: `${secret}\n` });
    started.add(h);
    const r = await tb.exec(h, ["env", "WGMESH_SECRET_FILE=/root/.wgm/s", ...WGMESH, "install-service", ...flags], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${h}: install-service: ${r.stdout}${r.stderr}`);
    assert.equal((await tb.execOk(h, ["stat", "-c", "%a", "/etc/wgmesh/secret"])).trim(), "600");
    assert.ok(!(await tb.execOk(h, ["cat", "/etc/systemd/system/wgmesh.service"])).includes(secret), `${h}: no secret in the unit`);
  }

  async function stopDaemons(hosts: string[]): Promise<void> {
    for (const h of hosts) if (started.delete(h)) await tb.exec(h, ["systemctl", "disable", "--now", "wgmesh.service"], { timeoutMs: 60_000 });
  }

  async function rpc<T>(h: string, method: string): Promise<T | undefined> {
    const r = await tb.exec(h, ["/usr/local/bin/node", "-e", RPC_SCRIPT, method], { timeoutMs: 20_000 });
    if (r.code !== 0) return undefined;
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      return undefined;
    }
  }
  const status = (h: string): Promise<{ mesh_ip: string; pubkey: string } | undefined> => rpc(h, "daemon.status");
  const peers = async (h: string): Promise<Peer[]> => (await rpc<{ peers: Peer[] }>(h, "peers.list"))?.peers ?? [];
  const meshIp = async (h: string): Promise<string | undefined> => (await status(h))?.mesh_ip;
  const count = async (h: string): Promise<string> => (await tb.exec(h, [...WGMESH, "peers", "count"])).stdout;
  async function viaOf(on: string, of: string): Promise<string[]> {
    const ip = await meshIp(of);
    if (!ip) return [];
    return (await peers(on)).find((p) => p.mesh_ip === ip)?.discovered_via ?? [];
  }

  /** Every host lists every other as active, `peers count` says n-1, every pair pings over mesh IPs. */
  async function fullMesh(hosts: string[]): Promise<boolean> {
    const ips = new Map<string, string>();
    for (const h of hosts) {
      const ip = await meshIp(h);
      if (!ip) return false;
      ips.set(h, ip);
    }
    for (const h of hosts) {
      const have = new Set((await peers(h)).map((p) => p.mesh_ip));
      for (const o of hosts) if (o !== h && !have.has(ips.get(o) as string)) return false;
      if (!(await count(h)).includes(`Active peers: ${hosts.length - 1}\n`)) return false;
    }
    for (const h of hosts) for (const o of hosts) if (o !== h && (await tb.exec(h, ["ping", "-c1", "-W1", ips.get(o) as string])).code !== 0) return false;
    return true;
  }

  async function waitFor(what: string, hosts: string[], f: () => Promise<boolean>, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await f()) return;
      await sleep(1000);
    }
    const logs = await Promise.all(hosts.map(async (h) => `--- ${h}\n${(await tb.exec(h, ["sh", "-c", "journalctl -u wgmesh -n 30 --no-pager; wg show"])).stdout}`));
    throw new Error(`timed out waiting for ${what}\n${logs.join("\n")}`);
  }

  async function assertFullMesh(hosts: string[]): Promise<void> {
    for (const h of hosts) assert.match(await count(h), new RegExp(`Active peers: ${hosts.length - 1}\\n`), `${h}: peers count`);
  }

  /** The field `key` of the daemon's log line `msg` (its journal), e.g. layers of "daemon running". */
  async function logField(h: string, msg: string, key: string): Promise<string | undefined> {
    const j = (await tb.exec(h, ["journalctl", "-u", "wgmesh", "-o", "cat", "--no-pager"])).stdout;
    const line = j.split("\n").find((l) => l.includes(`msg=${JSON.stringify(msg)}`));
    return line?.match(new RegExp(` ${key}=(\\S+)`))?.[1];
  }

  /** Only the given discovery layer ran on each host (the daemon's own "daemon running" line). */
  async function assertLayers(hosts: string[], layers: string): Promise<void> {
    for (const h of hosts) assert.equal(await logField(h, "daemon running", "layers"), layers, `${h}: discovery layers`);
  }

  test("DHT alone (LAN off, local bootstrap) brings a new node in", { timeout: 420_000 }, async () => {
    const [a, b, c] = [host(0), host(1), host(2)];
    const flags = ["--no-lan-discovery", "--dht-bootstrap", `${dhtAddress}:6881`];
    try {
      await Promise.all([a, b].map((h) => startDaemon(h, SECRET_DHT, flags)));
      await waitFor("two members mesh over the DHT", [a, b], () => fullMesh([a, b]), 150_000);
      await startDaemon(c, SECRET_DHT, flags);
      await waitFor("the newcomer joins over the DHT", [a, b, c], () => fullMesh([a, b, c]), 150_000);
      // the newcomer may first hear of one member transitively (in the other's REPLY); direct DHT contact follows
      for (const o of [a, b]) await waitFor(`${c} exchanges with ${o} through a DHT value`, [a, b, c], async () => (await viaOf(c, o)).includes("dht"), 120_000);
      await assertLayers([a, b, c], "dht");
      for (const h of [a, b, c]) for (const p of await peers(h)) assert.ok(!p.discovered_via.includes("lan"), `${h}: ${p.mesh_ip} via ${p.discovered_via.join(",")} — LAN is off`);
      await assertFullMesh([a, b, c]);
    } finally {
      await stopDaemons([a, b, c]);
    }
  });

  test("LAN multicast alone (DHT off, no bootstrap) brings a new node in", { timeout: 420_000 }, async () => {
    const [a, b, c] = [host(3), host(4), host(5)];
    const flags = ["--no-dht"];
    try {
      await Promise.all([a, b].map((h) => startDaemon(h, SECRET_LAN, flags)));
      await waitFor("two members mesh over the LAN", [a, b], () => fullMesh([a, b]), 150_000);
      await startDaemon(c, SECRET_LAN, flags);
      await waitFor("the newcomer joins over the LAN", [a, b, c], () => fullMesh([a, b, c]), 150_000);
      // the first contact may be the HELLO a LAN listener sends back at once (labelled "dht", as Go labels
      // every HELLO/REPLY); the next multicast round (5 s) adds "lan"
      for (const o of [a, b]) await waitFor(`${c} hears ${o} on the LAN`, [a, b, c], async () => (await viaOf(c, o)).includes("lan"), 60_000);
      await assertLayers([a, b, c], "lan");
      const port = async (h: string): Promise<string> => (await tb.execOk(h, ["wg", "show", "wg0", "listen-port"])).trim();
      const eps = (await peers(a)).map((p) => p.endpoint).sort();
      assert.deepEqual(eps, [`${segIp(b)}:${await port(b)}`, `${segIp(c)}:${await port(c)}`].sort(), "LAN endpoint = segment IP + announced port");
      await assertFullMesh([a, b, c]);
    } finally {
      await stopDaemons([a, b, c]);
    }
  });

  test("gossip alone (after one seed peer in the peer cache) brings a new node in", { timeout: 420_000 }, async () => {
    const [a, b, c] = [host(6), host(7), host(8)];
    const flags = ["--no-dht", "--no-lan-discovery", "--gossip"];
    try {
      await startDaemon(a, SECRET_GOSSIP, flags);
      await waitFor(`${a} running`, [a], async () => (await status(a)) !== undefined, 60_000);
      const st = (await status(a)) as { pubkey: string; mesh_ip: string };
      const port = (await tb.execOk(a, ["wg", "show", "wg0", "listen-port"])).trim();
      const now = Math.floor(Date.now() / 1000);
      const seed = JSON.stringify({ peers: [{ wg_pubkey: st.pubkey, mesh_ip: st.mesh_ip, endpoint: `${segIp(a)}:${port}`, last_seen: now }], updated_at: now });
      // b and c each know only a (one peer cache entry, restored at start); nothing else can introduce c to b
      const writeSeed = (h: string): Promise<string> => tb.execOk(h, ["sh", "-c", "umask 077 && mkdir -p /var/lib/wgmesh && cat > /var/lib/wgmesh/wg0-peers.json"], { input: seed });
      await writeSeed(b);
      await startDaemon(b, SECRET_GOSSIP, flags);
      await waitFor("the seeded member meshes with the seed", [a, b], () => fullMesh([a, b]), 150_000);
      await writeSeed(c);
      await startDaemon(c, SECRET_GOSSIP, flags);
      await waitFor(`${b} learns ${c} through gossip`, [a, b, c], async () => (await viaOf(b, c)).some((m) => m.startsWith("gossip")), 150_000);
      await waitFor("full mesh of the three", [a, b, c], () => fullMesh([a, b, c]), 150_000);
      await assertLayers([a, b, c], "gossip");
      for (const h of [b, c]) assert.equal(await logField(h, "restored peer cache", "restored"), "1", `${h}: started knowing the seed only`);
      await assertFullMesh([a, b, c]);
    } finally {
      await stopDaemons([a, b, c]);
    }
  });
});
