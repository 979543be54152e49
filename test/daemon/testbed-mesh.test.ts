/**
 * The decentralized mode on the testbed (real Debian hosts booted with systemd-nspawn, test/testbed):
 * 5 public hosts on an RFC 1918 segment plus 1 host behind the NAT router (5 members, 1 outsider), a storing bittorrent-dht
 * bootstrap on the segment (started first), WireGuard tools from the testbed's local apt repository,
 * our daemon installed with `wgmesh install-service` (secret in a 0600 file, systemd unit) on every host.
 * They converge to a full mesh: every pair pings over mesh IPs and `peers count` says 4 on each; a
 * different-secret host never appears. `systemctl stop` on one host → the others drop it (GOODBYE);
 * `systemctl start` → back with the same mesh IP. Needs root and the testbed caches; skipped otherwise.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { startDhtBootstrap, testbedSkipReason } from "./testbed-dht";
import { REPO_ROOT, sleep } from "./netlab";
import { up } from "../testbed";

const SECRET = "wgmesh://v1/testbed-decentralized-mesh-secret-0123456789abcdefghijk";
const OTHER = "wgmesh://v1/testbed-other-secret-that-must-stay-outside-0123456789ab";
const NAME = "dmesh";


test("testbed: 5 Debian hosts (one behind NAT) installed with install-service converge to a full mesh; a sixth with another secret learns nothing", { skip: testbedSkipReason(), timeout: 600_000 }, async () => {
  const tb = await up(5, {
    nat: 1, name: NAME, subnet: "172.31.91.0/24",
    binds: [{ source: fs.realpathSync(process.execPath), target: "/usr/local/bin/node", readOnly: true }, { source: REPO_ROOT, target: "/opt/wgmesh", readOnly: true }],
  });
  let boot: ChildProcess | undefined;
  try {
    const hosts = tb.hosts.map((h) => h.name);
    assert.equal(hosts.length, 6);
    assert.ok(tb.hosts.some((h) => h.behindNat));
    const dht = await startDhtBootstrap(tb);
    boot = dht.process;
    const wgmesh = ["/usr/local/bin/node", "/opt/wgmesh/bin/wgmesh"];
    const outsider = hosts[3] as string;
    const members = hosts.filter((h) => h !== outsider);
    await Promise.all(hosts.map(async (h) => {
      await tb.execOk(h, ["apt-get", "install", "-y", "-q", "wireguard-tools", "wireguard-go"], { timeoutMs: 120_000 });
      const secret = h === outsider ? OTHER : SECRET;
      // the secret reaches install-service on its stdin-fed file (WGMESH_SECRET_FILE), never on argv
      await tb.execOk(h, ["sh", "-c", "umask 077 && mkdir -p /root/.wgm && cat > /root/.wgm/s"], { input: `${secret}\n` });
      const r = await tb.exec(h, ["env", "WGMESH_SECRET_FILE=/root/.wgm/s", ...wgmesh, "install-service", "--dht-bootstrap", `${dht.address}:6881`], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `${h}: ${r.stdout}${r.stderr}`);
    }));
    for (const h of hosts) {
      assert.equal((await tb.execOk(h, ["stat", "-c", "%a", "/etc/wgmesh/secret"])).trim(), "600");
      assert.ok(!(await tb.execOk(h, ["cat", "/etc/systemd/system/wgmesh.service"])).includes("secret-0123"), "no secret in the unit");
    }
    const meshIp = async (h: string): Promise<string> => (JSON.parse(await tb.execOk(h, ["cat", "/var/lib/wgmesh/wg0.json"])) as { mesh_ip: string }).mesh_ip;
    const count = async (h: string): Promise<string> => (await tb.exec(h, [...wgmesh, "peers", "count"])).stdout;
    const full = async (): Promise<boolean> => {
      for (const h of members) if (!(await count(h)).includes("Active peers: 4\n")) return false;
      const ips = await Promise.all(members.map(meshIp));
      for (const h of members) for (const ip of ips) if ((await tb.exec(h, ["ping", "-c1", "-W1", ip])).code !== 0) return false;
      return true;
    };
    const waitFor = async (what: string, f: () => Promise<boolean>, ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await f()) return;
        await sleep(1000);
      }
      const logs = await Promise.all(hosts.map(async (h) => `--- ${h}\n${(await tb.exec(h, ["journalctl", "-u", "wgmesh", "-n", "30", "--no-pager"])).stdout}`));
      throw new Error(`timed out waiting for ${what}\n${logs.join("\n")}`);
    };
    assert.equal(members.length, 5);
    assert.ok(members.some((h) => tb.hosts.find((x) => x.name === h)?.behindNat), "a member is behind the NAT router");
    await waitFor("full mesh of the 5 members (one behind NAT): peers count 4 on each", full, 120_000);
    const out = await tb.exec(outsider, [...wgmesh, "peers", "count"]);
    assert.match(out.stdout, /Active peers: 0\n/, "the outsider learned nothing");
    const outsiderIp = await meshIp(outsider);
    for (const h of members) assert.ok(!(await tb.exec(h, [...wgmesh, "peers", "list"])).stdout.includes(outsiderIp));
    // stop one member: the others drop it; start it: same mesh IP, full mesh again. First wait until every
    // member has exchanged with the victim directly: a GOODBYE reaches the host behind NAT only through a
    // NAT mapping its own earlier HELLO opened (until then it would expire the victim after 5 min instead)
    const victim = members[1] as string;
    const victimIp = await meshIp(victim);
    await waitFor("direct contact of every member with the victim", async () => {
      for (const h of members) {
        if (h === victim) continue;
        const row = (await tb.exec(h, [...wgmesh, "peers", "list"])).stdout.split("\n").find((l) => l.includes(` ${victimIp} `));
        const via = row?.trim().split(/\s+/).pop() ?? "";
        if (!via.split(",").some((m) => m === "dht" || m === "lan")) return false;
      }
      return true;
    }, 90_000);
    const vip = await meshIp(victim);
    // A GOODBYE reaches a host behind NAT only while the NAT still maps its exchange socket towards the victim:
    // Linux conntrack keeps a UDP mapping 30 s after its last packet (one HELLO/REPLY is not a "stream"), and
    // a pair exchanges every 100–145 s (keep-alive). So stop the victim just after the host behind NAT heard
    // from it directly (its last_seen for the victim, which only a datagram through the mapping refreshes, at
    // most 5 s old); the daemons would otherwise drop the victim only when it is dead (5 min) — Go's rule, kept.
    const victimKey = (JSON.parse(await tb.execOk(victim, ["cat", "/var/lib/wgmesh/wg0.json"])) as { wg_pubkey: string }).wg_pubkey;
    const natted = members.filter((h) => h !== victim && tb.hosts.find((x) => x.name === h)?.behindNat);
    await waitFor("a fresh exchange between the host behind NAT and the victim", async () => {
      for (const h of natted) {
        const get = (await tb.exec(h, [...wgmesh, "peers", "get", victimKey])).stdout;
        const seen = /^Last Seen:\s+(\S+)/m.exec(get)?.[1];
        const now = Number((await tb.execOk(h, ["date", "+%s%3N"])).trim());
        if (!seen || !(now - Date.parse(seen) <= 5_000)) return false;
      }
      return true;
    }, 200_000);
    await tb.execOk(victim, ["systemctl", "stop", "wgmesh.service"]);
    assert.notEqual((await tb.exec(victim, ["ip", "link", "show", "wg0"])).code, 0, "interface removed on stop");
    await waitFor("others drop the stopped member", async () => {
      for (const h of members) if (h !== victim && !(await count(h)).includes("Active peers: 3\n")) return false;
      return true;
    }, 30_000);
    await tb.execOk(victim, ["systemctl", "start", "wgmesh.service"]);
    await waitFor("full mesh after restart", full, 120_000);
    assert.equal(await meshIp(victim), vip);
  } finally {
    if (boot?.pid) boot.kill("SIGTERM");
    await tb.down();
  }
});

const GO_BINARY = process.env["WGMESH_GO_BINARY"] || `${REPO_ROOT}/../shared/peers/wgmesh-go`;

test("testbed: 2 Go + 2 TS daemons (one TS behind NAT) form one full mesh; peers list on either kind; test-peer both ways", {
  skip: testbedSkipReason() ?? (fs.existsSync(GO_BINARY) ? undefined : `Go binary not found at ${GO_BINARY}`), timeout: 420_000,
}, async () => {
  const tb = await up(3, {
    nat: 1, name: "dmeshgo", subnet: "172.31.92.0/24",
    binds: [
      { source: fs.realpathSync(process.execPath), target: "/usr/local/bin/node", readOnly: true },
      { source: REPO_ROOT, target: "/opt/wgmesh", readOnly: true },
      { source: fs.realpathSync(GO_BINARY), target: "/usr/local/bin/wgmesh-go", readOnly: true },
    ],
  });
  let boot: ChildProcess | undefined;
  try {
    const [go1, go2, ts1] = tb.hosts.filter((h) => !h.behindNat).map((h) => h.name) as [string, string, string];
    const ts2 = tb.hosts.find((h) => h.behindNat)?.name as string;
    const all = [go1, go2, ts1, ts2];
    const dht = await startDhtBootstrap(tb);
    boot = dht.process;
    const ts = ["/usr/local/bin/node", "/opt/wgmesh/bin/wgmesh"];
    await Promise.all(all.map(async (h) => {
      await tb.execOk(h, ["apt-get", "install", "-y", "-q", "wireguard-tools", "wireguard-go", "iptables"], { timeoutMs: 120_000 });
      await tb.execOk(h, ["sh", "-c", "umask 077 && mkdir -p /root/.wgm && cat > /root/.wgm/s && printf 'WGMESH_SECRET=%s\\n' \"$(cat /root/.wgm/s)\" > /root/.wgm/env"], { input: `${SECRET}\n` });
    }));
    for (const g of [go1, go2]) {
      // the Go daemon: its four DHT names → our bootstrap; wg0 from wireguard-go first (no kernel module)
      await tb.execOk(g, ["sh", "-c", `echo '${dht.address} router.bittorrent.com router.utorrent.com dht.transmissionbt.com dht.libtorrent.org' >> /etc/hosts`]);
      await tb.execOk(g, ["systemd-run", "--unit", "wggo", "wireguard-go", "-f", "wg0"]);
      for (let i = 0; i < 40 && (await tb.exec(g, ["test", "-S", "/run/wireguard/wg0.sock"])).code !== 0; i++) await sleep(250);
      await tb.execOk(g, ["systemd-run", "--unit", "wgmesh-go", "-p", "EnvironmentFile=/root/.wgm/env", "/usr/local/bin/wgmesh-go", "join", "--interface", "wg0", "--socket-path", "/run/wgmesh.sock"]);
    }
    for (const t of [ts1, ts2]) {
      const r = await tb.exec(t, ["env", "WGMESH_SECRET_FILE=/root/.wgm/s", ...ts, "install-service", "--dht-bootstrap", `${dht.address}:6881`, "--socket-path", "/run/wgmesh.sock"], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `${t}: ${r.stdout}${r.stderr}`);
    }
    const cli = (h: string): string[] => (h === go1 || h === go2 ? ["/usr/local/bin/wgmesh-go"] : ts);
    const peersCmd = (h: string, what: string): Promise<{ code: number; stdout: string; stderr: string }> => tb.exec(h, ["env", "WGMESH_SOCKET=/run/wgmesh.sock", ...cli(h), "peers", what]);
    const meshIp = async (h: string): Promise<string> => (JSON.parse(await tb.execOk(h, ["cat", "/var/lib/wgmesh/wg0.json"])) as { mesh_ip: string }).mesh_ip;
    const full = async (): Promise<boolean> => {
      const ips = await Promise.all(all.map(meshIp).map((p) => p.catch(() => "")));
      if (ips.includes("")) return false;
      for (const h of all) {
        const list = (await peersCmd(h, "list")).stdout;
        for (const ip of ips) if (ip !== ips[all.indexOf(h)] && !list.includes(ip)) return false;
      }
      for (const h of all) for (const ip of ips) if ((await tb.exec(h, ["ping", "-c1", "-W1", ip])).code !== 0) return false;
      return true;
    };
    const end = Date.now() + 150_000;
    let ok = false;
    while (!ok && Date.now() < end) {
      ok = await full();
      if (!ok) await sleep(1000);
    }
    if (!ok) {
      const logs = await Promise.all(all.map(async (h) => `--- ${h}\n${(await tb.exec(h, ["sh", "-c", "journalctl -u wgmesh -u wgmesh-go -n 25 --no-pager; wg show"])).stdout}`));
      assert.fail(`no full mesh of 2 Go + 2 TS within 150 s\n${logs.join("\n")}`);
    }
    for (const h of all) assert.match((await peersCmd(h, "count")).stdout, /Active peers: 3\n/, `${h} peers count`);
    const gp = Number(JSON.parse(await tb.execOk(ts1, [...ts, "status", "--secret", SECRET, "--json"]) as string).gossip_port);
    const ip = (name: string): string => tb.hosts.find((h) => h.name === name)?.segmentAddress as string;
    const goToTs = await tb.exec(go1, ["/usr/local/bin/wgmesh-go", "test-peer", "--secret", SECRET, "--peer", `${ip(ts1)}:${gp}`], { timeoutMs: 30_000 });
    assert.equal(goToTs.code, 0, goToTs.stdout + goToTs.stderr);
    assert.match(goToTs.stdout, /SUCCESS! Peer exchange working!/);
    const tsToGo = await tb.exec(ts1, [...ts, "test-peer", "--secret", SECRET, "--peer", `${ip(go2)}:${gp}`], { timeoutMs: 30_000 });
    assert.equal(tsToGo.code, 0, tsToGo.stdout + tsToGo.stderr);
    assert.match(tsToGo.stdout, /SUCCESS! Peer exchange working!/);
  } finally {
    if (boot?.pid) boot.kill("SIGTERM");
    await tb.down();
  }
});
