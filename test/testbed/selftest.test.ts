// Self-test of the testbed on real hosts: 3 public hosts + 1 behind the NAT router, real ssh client with the
// pinned known_hosts, apt from the local repository, WireGuard by hand (wg-quick, through the NAT with
// keepalive), reboot persistence, fault hooks, and a `down` that leaves nothing behind.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run, RunResult } from "./proc";
import { down, leftovers, Testbed, up } from "./testbed";
import { listNamespaces } from "./network";
import { mountsUnder } from "./mounts";
import { findNspawn } from "./container";
import { stateDir } from "./naming";
import { INOTIFY_INSTANCES_FILE, INOTIFY_INSTANCES_MIN } from "./limits";

const NAME = "tbself";

function ssh(tb: Testbed, host: string, user: string, cmd: string, knownHosts?: string): Promise<RunResult> {
  const h = tb.host(host);
  return run(
    [
      "ssh",
      "-F",
      "/dev/null",
      "-i",
      h.privateKeyPath,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${knownHosts ?? h.knownHostsPath}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "ConnectTimeout=10",
      "-p",
      String(h.sshPort),
      `${user}@${h.address}`,
      cmd,
    ],
    { check: false, timeoutMs: 60_000 },
  );
}

function wgConf(addr: string, privateKey: string, listen: boolean, peers: string[]): string {
  return [`[Interface]`, `Address = ${addr}/24`, `PrivateKey = ${privateKey}`, ...(listen ? ["ListenPort = 51820"] : []), "", ...peers].join("\n") + "\n";
}

describe("testbed self-test (real hosts)", { skip: process.getuid?.() !== 0 ? "needs root" : false }, () => {
  let tb: Testbed;

  before(async () => {
    tb = await up(3, { nat: 1, name: NAME });
  });

  after(async () => {
    await down(NAME);
  });

  it("leaves the machine enough inotify instances for many booted hosts (each holds ~7 of root's)", () => {
    assert.ok(Number(fs.readFileSync(INOTIFY_INSTANCES_FILE, "utf8")) >= INOTIFY_INSTANCES_MIN);
  });

  it("brings up 3 public hosts and 1 behind the NAT router, with the CLI's JSON shape", () => {
    const j = tb.toJSON();
    assert.equal(j.name, NAME);
    assert.deepEqual(
      j.hosts.map((h) => [h.name, h.behindNat]),
      [
        [`${NAME}-h1`, false],
        [`${NAME}-h2`, false],
        [`${NAME}-h3`, false],
        [`${NAME}-n1`, true],
      ],
    );
    const n1 = tb.host(`${NAME}-n1`);
    assert.equal(n1.address, tb.routerAddress, "a NAT'd host's SSH endpoint is the router's public address");
    assert.notEqual(n1.sshPort, 22);
    for (const h of j.hosts) {
      assert.deepEqual(Object.keys(h).sort(), ["address", "behindNat", "knownHostsPath", "name", "privateKeyPath", "sshPort", "sudoUser", "user"].sort());
      assert.ok(fs.existsSync(h.privateKeyPath) && fs.existsSync(h.knownHostsPath));
    }
  });

  it("every host finished booting cleanly (systemd running, no failed unit) with its own hostname", async () => {
    for (const h of tb.hosts) {
      const r = await tb.exec(h.name, "systemctl is-system-running; hostname; systemctl --failed --no-legend --plain");
      assert.equal(r.stdout, `running\n${h.name}\n`, `${h.name}: ${r.stdout}`);
    }
  });

  it("SSH works with the generated key and the pinned host keys, as root and as the sudo user", async () => {
    for (const h of tb.hosts) {
      const r = await ssh(tb, h.name, "root", "hostname; id -u");
      assert.equal(r.code, 0, `${h.name}: ${r.stderr}`);
      assert.equal(r.stdout, `${h.name}\n0\n`);
      const s = await ssh(tb, h.name, h.sudoUser, "id -un; sudo -n id -u");
      assert.equal(s.code, 0, `${h.name}: ${s.stderr}`);
      assert.equal(s.stdout, `${h.sudoUser}\n0\n`);
    }
    // the pin is really checked: an empty known_hosts is refused under StrictHostKeyChecking=yes
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tbself-"));
    const empty = path.join(dir, "known_hosts");
    fs.writeFileSync(empty, "");
    const r = await ssh(tb, `${NAME}-h1`, "root", "true", empty);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Host key verification failed/);
  });

  it("installs wireguard-tools and wireguard-go from the local repository (no outside network)", async () => {
    await Promise.all(
      [`${NAME}-h1`, `${NAME}-h2`, `${NAME}-n1`].map(async (h) => {
        const r = await tb.exec(h, "DEBIAN_FRONTEND=noninteractive apt-get install -y wireguard-tools wireguard-go");
        assert.equal(r.code, 0, `${h}: ${r.stderr}`);
        assert.equal((await tb.exec(h, "command -v wg wg-quick wireguard-go")).code, 0);
      }),
    );
    const sources = await tb.execOk(`${NAME}-h1`, "cat /etc/apt/sources.list.d/*.list; ls /etc/apt/sources.list 2>/dev/null || true");
    assert.equal(sources.trim(), "deb [trusted=yes] file:/srv/wgmesh-apt ./");
    // `apt-get update` (which an installer may run first) works offline too
    const upd = await tb.exec(`${NAME}-h3`, "apt-get update");
    assert.equal(upd.code, 0, upd.stderr);
    assert.doesNotMatch(upd.stdout + upd.stderr, /^(W|E):/m);
  });

  it("two pairs of hosts configured by hand with wg-quick ping each other, through the NAT with keepalive", async () => {
    const [h1, h2, n1] = [`${NAME}-h1`, `${NAME}-h2`, `${NAME}-n1`];
    const keys: Record<string, { priv: string; pub: string }> = {};
    for (const h of [h1, h2, n1]) {
      const priv = (await tb.execOk(h, "umask 077; wg genkey")).trim();
      const pub = (await tb.execOk(h, "wg pubkey", { input: priv + "\n" })).trim();
      keys[h] = { priv, pub };
    }
    const h1Addr = tb.host(h1).segmentAddress;
    const confs: Record<string, string> = {
      [h1]: wgConf("10.99.0.1", keys[h1].priv, true, [
        `[Peer]\nPublicKey = ${keys[h2].pub}\nAllowedIPs = 10.99.0.2/32\nEndpoint = ${tb.host(h2).segmentAddress}:51820\n`,
        `[Peer]\nPublicKey = ${keys[n1].pub}\nAllowedIPs = 10.99.0.3/32\n`,
      ]),
      [h2]: wgConf("10.99.0.2", keys[h2].priv, true, [
        `[Peer]\nPublicKey = ${keys[h1].pub}\nAllowedIPs = 10.99.0.1/32\nEndpoint = ${h1Addr}:51820\n`,
      ]),
      [n1]: wgConf("10.99.0.3", keys[n1].priv, false, [
        `[Peer]\nPublicKey = ${keys[h1].pub}\nAllowedIPs = 10.99.0.1/32\nEndpoint = ${h1Addr}:51820\nPersistentKeepalive = 1\n`,
      ]),
    };
    for (const [h, conf] of Object.entries(confs)) {
      // the config (with its private key) travels on stdin into a 0600 file
      await tb.execOk(h, "umask 077; mkdir -p /etc/wireguard; cat > /etc/wireguard/wg0.conf", { input: conf });
      await tb.execOk(h, "systemctl enable --now wg-quick@wg0");
    }
    await tb.execOk(h2, "ping -c 2 -i 0.2 -w 20 10.99.0.1");
    await tb.execOk(h1, "ping -c 2 -i 0.2 -w 20 10.99.0.2");
    // the NAT'd host reaches h1 by keepalive alone; then h1 reaches it back through the NAT mapping
    let endpoint = "";
    for (let i = 0; i < 50 && !endpoint; i++) {
      const dump = await tb.execOk(h1, "wg show wg0 endpoints");
      endpoint = dump.split("\n").find((l) => l.startsWith(keys[n1].pub))?.split("\t")[1] ?? "";
      if (endpoint === "(none)") endpoint = "";
      if (!endpoint) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(endpoint, new RegExp(`^${tb.routerAddress!.replace(/\./g, "\\.")}:\\d+$`), "h1 sees n1 at the router's public address");
    await tb.execOk(h1, "ping -c 2 -i 0.2 -w 20 10.99.0.3");
    await tb.execOk(n1, "ping -c 2 -i 0.2 -w 20 10.99.0.1");
  });

  it("the NAT'd host cannot be reached from the public segment", async () => {
    const h1 = `${NAME}-h1`;
    const n1 = tb.host(`${NAME}-n1`);
    await tb.execOk(h1, `ip route replace ${tb.natSubnet} via ${tb.routerAddress}`);
    const r = await tb.exec(h1, `ping -c 2 -W 1 ${n1.segmentAddress}`);
    await tb.execOk(h1, `ip route del ${tb.natSubnet}`);
    assert.notEqual(r.code, 0, "router forwarded a new connection into the private segment");
    // while n1 reaches the public segment
    await tb.execOk(n1.name, `ping -c 1 -W 2 ${tb.host(h1).segmentAddress}`);
    // and nothing goes beyond the testbed: no host has a way off the machine (TEST-NET-1 address)
    for (const h of tb.hosts) {
      const out = await tb.exec(h.name, "ping -c 1 -W 1 192.0.2.1");
      assert.notEqual(out.code, 0, `${h.name} reached an outside address`);
    }
  });

  it("a reboot keeps what was persisted: the enabled wg-quick@wg0 comes back", async () => {
    const h2 = `${NAME}-h2`;
    await tb.execOk(h2, "echo volatile > /run/marker; echo disk > /root/marker");
    const initStart = await tb.execOk(h2, "cut -d' ' -f22 /proc/1/stat");
    await tb.reboot(h2);
    // a real reboot: tmpfs state is gone, PID 1 is a new process, disk state is kept
    assert.equal((await tb.exec(h2, "test -e /run/marker")).code, 1);
    assert.equal((await tb.execOk(h2, "cat /root/marker")).trim(), "disk");
    assert.notEqual(await tb.execOk(h2, "cut -d' ' -f22 /proc/1/stat"), initStart, "PID 1 was not restarted");
    let active = "";
    for (let i = 0; i < 50 && active !== "active"; i++) {
      active = (await tb.exec(h2, "systemctl is-active wg-quick@wg0")).stdout.trim();
      if (active !== "active") await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(active, "active");
    await tb.execOk(h2, "ping -c 2 -i 0.2 -w 20 10.99.0.1");
    const ssh2 = await ssh(tb, h2, "root", "hostname");
    assert.equal(ssh2.code, 0, ssh2.stderr);
  });

  it("fault hooks: cut/restore link, stop/start sshd, change host key", async () => {
    const [h1, h3] = [`${NAME}-h1`, `${NAME}-h3`];
    const h3Addr = tb.host(h3).segmentAddress;
    await tb.cutLink(h3);
    assert.notEqual((await tb.exec(h1, `ping -c 1 -W 1 ${h3Addr}`)).code, 0);
    await tb.restoreLink(h3);
    await tb.execOk(h1, `ping -c 1 -W 3 ${h3Addr}`);

    await tb.stopSshd(h3);
    const down3 = await ssh(tb, h3, "root", "true");
    assert.notEqual(down3.code, 0);
    assert.match(down3.stderr, /Connection refused/);
    await tb.startSshd(h3);
    assert.equal((await ssh(tb, h3, "root", "true")).code, 0);

    const before = tb.host(h3).hostPublicKey;
    const newKey = await tb.changeHostKey(h3);
    assert.notEqual(newKey, before);
    const refused = await ssh(tb, h3, "root", "true");
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it("down() leaves nothing behind (namespaces, mounts, processes, links, files)", async () => {
    const hostNamespaces = tb.hosts.map((h) => h.ns);
    await down(NAME);
    assert.deepEqual(await leftovers(NAME), []);
    const ns = listNamespaces();
    for (const n of hostNamespaces) assert.ok(!ns.includes(n), `namespace ${n} left`);
    assert.deepEqual(mountsUnder(stateDir(NAME)), []);
    assert.deepEqual(findNspawn((m) => m.startsWith(`${NAME}-`)), []);
    assert.ok(!fs.existsSync(`/sys/class/net/tbm-${NAME}`));
    assert.ok(!fs.existsSync(stateDir(NAME)));
    const ps = await run(["ps", "-eo", "args"]);
    assert.ok(!ps.stdout.includes(`-M ${NAME}-`), "a systemd-nspawn of the testbed is still running");
    // idempotent
    await down(NAME);
  });
});
