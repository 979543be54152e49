/**
 * The host-facts script over a REAL sshd whose shell lives in a network namespace of the test's own, with a
 * real wireguard-go interface (peers, PSK, address, route, MTU) and a wg-quick file visible at
 * /etc/wireguard/<if>.conf inside the namespace. The parse is compared with what the host's own tools say.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { detectNat, factsScript, gatherFacts, parseFacts } from "../../provider/src/engine/facts";
import { connect, type SshSession } from "../../provider/src/engine/ssh";
import { presharedKeyFingerprint } from "../../provider/src/planner/live";
import { fileCleanups, genKey, tempDir } from "./sshd/sshd";
import { startNetnsSshd, type NetnsSshd } from "./sshd/netns";

const cleanups = fileCleanups();

const wg = (args: string[], input?: string) => execFileSync("wg", args, { input }).toString().trim();
const has = (cmd: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

describe("host facts over ssh, in a namespace with a wireguard-go interface", () => {
  const IF = "wgt0";
  let work: string;
  let box: NetnsSshd;
  let session: SshSession;
  const logs: string[] = [];
  const priv = wg(["genkey"]);
  const pub = wg(["pubkey"], priv + "\n");
  const peer1 = wg(["pubkey"], wg(["genkey"]) + "\n");
  const peer2 = wg(["pubkey"], wg(["genkey"]) + "\n");
  const psk = wg(["genpsk"]);
  let confText: string;

  before(async () => {
    work = tempDir("wgmesh-facts-test-");
    cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
    const key = genKey(work, "id_test");
    box = await startNetnsSshd([key.publicKey]);
    cleanups.push(() => box.stop());
    // `ip netns exec` binds /etc/netns/NS/wireguard over /etc/wireguard: the mount point must exist.
    if (!fs.existsSync("/etc/wireguard")) {
      fs.mkdirSync("/etc/wireguard", { mode: 0o700 });
      cleanups.push(() => {
        if (fs.readdirSync("/etc/wireguard").length === 0) fs.rmdirSync("/etc/wireguard");
      });
    }
    const wgDir = path.join(box.etcDir, "wireguard");
    fs.mkdirSync(wgDir, { mode: 0o700 });
    confText = `[Interface]\nPrivateKey = ${priv}\nListenPort = 51820\nAddress = 10.99.0.1/24\n\n[Peer]\nPublicKey = ${peer1}\nAllowedIPs = 10.99.0.2/32\n`;
    fs.writeFileSync(path.join(wgDir, `${IF}.conf`), confText, { mode: 0o600 });

    // A real userspace WireGuard interface inside the namespace.
    const wgGo: ChildProcess = box.spawnIn(["wireguard-go", IF], { WG_PROCESS_FOREGROUND: "1" });
    const t0 = Date.now();
    for (;;) {
      try {
        box.exec(["ip", "link", "show", "dev", IF]);
        break;
      } catch {
        if (Date.now() - t0 > 10000 || wgGo.exitCode !== null) throw new Error("wireguard-go did not create the interface");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const keyFile = path.join(work, "priv");
    const pskFile = path.join(work, "psk");
    fs.writeFileSync(keyFile, priv + "\n", { mode: 0o600 });
    fs.writeFileSync(pskFile, psk + "\n", { mode: 0o600 });
    box.exec(["wg", "set", IF, "private-key", keyFile, "listen-port", "51820",
      "peer", peer1, "allowed-ips", "10.99.0.2/32,192.168.77.0/24", "preshared-key", pskFile,
      "peer", peer2, "allowed-ips", "10.99.0.3/32", "endpoint", "127.0.0.1:51999", "persistent-keepalive", "25"]);
    box.exec(["ip", "addr", "add", "10.99.0.1/24", "dev", IF]);
    box.exec(["ip", "link", "set", IF, "mtu", "1420", "up"]);
    box.exec(["ip", "route", "add", "192.168.77.0/24", "dev", IF]);

    session = await connect({ host: "127.0.0.1", port: box.port, privateKey: key.privateKey, hostKey: box.hostKeyPub },
      { logger: (l, m) => logs.push(`${l} ${m}`) });
    cleanups.push(() => session.close());
  });

  it("gathers and parses the facts of a live interface in one round trip", async () => {
    const before = session.counters.execRoundTrips;
    const { facts, nat } = await gatherFacts(session, IF);
    assert.equal(session.counters.execRoundTrips - before, 1);

    assert.equal(facts.uid, 0);
    assert.equal(facts.hostname, os.hostname());
    const osRelease = fs.readFileSync("/etc/os-release", "utf8");
    assert.equal(facts.os.id, /^ID=(.*)$/m.exec(osRelease)![1]!.replace(/"/g, ""));
    assert.equal(facts.packageManager, has("apt-get") ? "apt" : has("dnf") ? "dnf" : null);
    assert.deepEqual(facts.tools, {
      wg: has("wg"), wgQuick: has("wg-quick"), wireguardGo: has("wireguard-go"), ip: has("ip"),
      systemctl: has("systemctl"), sudo: has("sudo"), modprobe: has("modprobe"), nft: has("nft"),
    });
    assert.equal(facts.kernelRelease, os.release());
    const expectKernel = fs.existsSync("/sys/module/wireguard") ? "loaded" : null;
    if (expectKernel) assert.equal(facts.kernelWireguard, expectKernel);
    else if (!has("modprobe")) assert.equal(facts.kernelWireguard, "absent");
    assert.equal(facts.wireguardGoNeeded, facts.kernelWireguard === "absent");
    assert.equal(facts.systemd, fs.existsSync("/run/systemd/system"));
    assert.equal(facts.forwarding, box.exec(["cat", "/proc/sys/net/ipv4/ip_forward"]).trim() === "1");

    assert.deepEqual(facts.iface, { name: IF, exists: true, kind: "tun" });
    assert.ok(facts.hostAddresses.includes("127.0.0.1"));
    assert.ok(facts.hostAddresses.includes("10.99.0.1"));

    const live = facts.live;
    assert.ok(live.interface);
    assert.equal(live.interface.publicKey, pub);
    assert.equal(live.interface.listenPort, 51820);
    assert.deepEqual(live.interface.addresses, ["10.99.0.1/24"]);
    assert.equal(live.interface.mtu, 1420);
    assert.deepEqual(live.routes, ["192.168.77.0/24"]);
    const byKey = new Map(live.peers.map((p) => [p.publicKey, p]));
    assert.deepEqual(byKey.get(peer1)?.allowedIps, ["10.99.0.2/32", "192.168.77.0/24"]);
    assert.equal(byKey.get(peer1)?.presharedKey, true);
    assert.equal(byKey.get(peer1)?.presharedKeyFingerprint, presharedKeyFingerprint(psk));
    assert.equal(byKey.get(peer2)?.endpoint, "127.0.0.1:51999");
    assert.equal(byKey.get(peer2)?.persistentKeepalive, 25);
    assert.equal(byKey.get(peer2)?.presharedKey, false);

    assert.equal(facts.conf.exists, true);
    assert.equal(facts.conf.publicKey, pub, "derived on the host with wg pubkey");
    assert.equal(facts.conf.mode, "600");
    assert.equal(facts.conf.owner, "0:0");
    assert.equal(facts.conf.sha256, createHash("sha256").update(confText).digest("hex"));
    assert.notEqual(facts.unit.enabled, "enabled");

    assert.deepEqual(facts.warnings, []);
    assert.deepEqual(nat, { behindNat: false, detected: true, reachedAddress: "127.0.0.1" });
    const overridden = await gatherFacts(session, IF, { behindNat: true });
    assert.deepEqual(overridden.nat, { behindNat: true, detected: false, reachedAddress: "127.0.0.1" });

    // No secret anywhere: not in the facts (sanitized dump included), not in the logs.
    const json = JSON.stringify(facts);
    assert.ok(!json.includes(priv), "private key not in facts");
    assert.ok(!json.includes(psk), "preshared key not in facts");
    assert.match(facts.wgDumpSanitized!, /^\(hidden\)\t/);
    assert.ok(!logs.join("\n").includes(priv) && !logs.join("\n").includes(psk));
  });

  it("the private key never leaves the host: the raw script output has it blanked", async () => {
    const r = await session.run(factsScript(IF), { label: "raw facts" });
    assert.equal(r.exitCode, 0);
    assert.ok(!r.stdout.includes(priv), "private key not in the output");
    assert.ok(!r.stderr.includes(priv));
    assert.match(r.stdout, new RegExp(`^\\(hidden\\)\\t${pub.replace(/[+/]/g, "\\$&")}\\t51820\\toff$`, "m"));
    // The parser is robust to text around the facts block (a batched script).
    const wrapped = `apt noise\n${r.stdout}\nmore output\n`;
    assert.equal(parseFacts(wrapped, IF).live.interface?.publicKey, pub);
  });

  it("reports an absent interface: no live interface, no conf", async () => {
    const { facts } = await gatherFacts(session, "wgnone0");
    assert.deepEqual(facts.iface, { name: "wgnone0", exists: false, kind: null });
    assert.equal(facts.live.interface, null);
    assert.deepEqual(facts.live.peers, []);
    assert.equal(facts.conf.exists, false);
    assert.equal(facts.conf.publicKey, null);
    assert.equal(facts.wgDumpSanitized, null);
  });

  it("rejects an invalid interface name before anything runs", () => {
    assert.throws(() => factsScript("wg0; rm -rf /"), /interface name .* is invalid/);
  });
});

describe("detectNat", () => {
  it("is false when the reached address is one of the host's, true otherwise; names are resolved (from /etc/hosts only: no DNS traffic)", async () => {
    assert.equal(await detectNat("192.0.2.10", ["127.0.0.1", "192.0.2.10"]), false);
    assert.equal(await detectNat("198.51.100.7", ["127.0.0.1", "10.0.0.5"]), true);
    assert.equal(await detectNat("::ffff:10.0.0.5", ["10.0.0.5"]), false);
    assert.equal(await detectNat("[fd00::1]", ["fd00:0:0::1"]), false);
    assert.equal(await detectNat("localhost", ["127.0.0.1", "::1"]), false);
    assert.equal(await detectNat("localhost", ["10.0.0.5"]), true);
  });
});
