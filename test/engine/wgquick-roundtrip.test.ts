/**
 * The invariant "live state after an online change == state after a reboot", on a real kernel with the
 * userspace wireguard-go (root; network namespaces created and removed here).
 *
 * For each scenario: interface A comes up with `wg-quick up` from the rendered file of the desired state D;
 * interface B comes up from an earlier state E, then gets D online: the planner's diff rendered as one shell
 * script (with the atomic write of D's file, as the engine does), fed on stdin. Then A and B must agree (parsed
 * live state and raw `ip -j` addresses/routes, minus handshake/transfer counters), the diff must be empty on
 * both, and B "rebooted" (`wg-quick down` + `wg-quick up` from the file written online) must equal B before.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { diff, type DiffOptions } from "../../provider/src/planner/diff";
import { atomicWriteFileCommand, redactSecrets, renderScript } from "../../provider/src/planner/commands";
import { presharedKeyFingerprint } from "../../provider/src/planner/live";
import { renderWgQuickConf } from "../../provider/src/planner/wgquick";
import type { LiveState, NodeDesiredState, Operation, PeerConfig, Secrets } from "../../provider/src/planner/types";
import { Netns, removeWgSocket } from "./netns";
import { genkey, genpsk, pubkey, readLive, readLiveDirect, wgQuick } from "./wgtools";

const tag = `${process.pid % 100000}`;
const namespaces: Netns[] = [];
const ifnames: string[] = [];
let confDir = "";

interface Node {
  priv: string;
  pub: string;
}
const keys: Node[] = [];

before(() => {
  assert.equal(process.getuid?.(), 0, "this suite needs root (network namespaces, wg-quick)");
  for (let i = 0; i < 6; i++) {
    const priv = genkey();
    keys.push({ priv, pub: pubkey(priv) });
  }
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-rt-"));
});

after(() => {
  for (const ns of namespaces) ns.destroy();
  for (const ifname of ifnames) removeWgSocket(ifname);
  if (confDir) fs.rmSync(confDir, { recursive: true, force: true });
});

function newNs(suffix: string): Netns {
  const ns = Netns.create(`wgmrt${tag}${suffix}`);
  namespaces.push(ns);
  return ns;
}

function peer(i: number, fields: Partial<PeerConfig>): PeerConfig {
  return {
    hostname: `peer${i}`,
    publicKey: (keys[i] as Node).pub,
    endpoint: null,
    allowedIps: [`10.99.0.${10 + i}/32`],
    persistentKeepalive: null,
    presharedKey: false,
    ...fields,
  };
}

function state(self: number, fields: Partial<NodeDesiredState["interface"]>, peers: PeerConfig[], routes: string[], forwarding = false): NodeDesiredState {
  return {
    hostname: `self${self}`,
    interface: { name: "PLACEHOLDER", address: "10.99.0.1/16", listenPort: 51820, mtu: null, publicKey: (keys[self] as Node).pub, ...fields },
    peers: [...peers].sort((a, b) => (a.hostname < b.hostname ? -1 : 1)),
    routes,
    forwarding,
  };
}

function named(d: NodeDesiredState, ifname: string): NodeDesiredState {
  return { ...d, interface: { ...d.interface, name: ifname } };
}

/** What must be identical between two interfaces carrying the same desired state. */
function comparable(live: LiveState, d: NodeDesiredState, opts: { mtu: boolean; ignoreEndpointOf?: string[] }): unknown {
  assert.ok(live.interface, "interface exists");
  return {
    publicKey: live.interface.publicKey,
    listenPort: live.interface.listenPort,
    addresses: live.interface.addresses,
    mtu: opts.mtu ? live.interface.mtu : "unmanaged",
    routes: live.routes,
    peers: [...live.peers]
      .sort((a, b) => (a.publicKey < b.publicKey ? -1 : 1))
      .map((p) => ({
        ...p,
        latestHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
        endpoint: opts.ignoreEndpointOf?.includes(p.publicKey) ? "learned" : p.endpoint,
      })),
    desiredPeers: d.peers.length,
  };
}

/** Raw kernel view (iproute2 JSON) with the interface name and its link-local address taken out. */
function rawNet(ns: Netns, ifname: string, mtu: boolean): unknown {
  const link = JSON.parse(ns.must(["ip", "-j", "addr", "show", "dev", ifname]))[0] as Record<string, unknown>;
  const addrs = (link.addr_info as Array<Record<string, unknown>>).filter((a) => a.scope !== "link").map((a) => ({ ...a, label: a.label === ifname ? "IF" : a.label }));
  return {
    flags: link.flags,
    operstate: link.operstate,
    mtu: mtu ? link.mtu : "unmanaged",
    addrs,
    routes4: JSON.parse(ns.must(["ip", "-j", "route", "show", "dev", ifname])),
    routes6: JSON.parse(ns.must(["ip", "-j", "-6", "route", "show", "dev", ifname])),
  };
}

interface Scenario {
  name: string;
  earlier: NodeDesiredState;
  earlierSecrets: Secrets;
  desired: NodeDesiredState;
  secrets: Secrets;
  /** Operation kinds the online change must contain (so the scenario really exercises them). */
  expectKinds: Operation["kind"][];
  /** Peers whose desired endpoint is null but whose live endpoint stays (learned/roamed; documented). */
  learnedEndpoints?: string[];
}

function scenarios(): Scenario[] {
  const pskA = genpsk();
  const pskB = genpsk();
  const sparse = state(1, { address: "10.99.0.1/24", listenPort: 51900 }, [peer(2, { endpoint: "127.0.0.2:51820" })], ["10.200.0.0/16"]);
  const rich = state(
    0,
    { mtu: 1380 },
    [
      peer(2, { endpoint: "127.0.0.3:51821", persistentKeepalive: 25, presharedKey: true, allowedIps: ["10.99.0.12/32", "192.168.50.0/24"] }),
      peer(3, { endpoint: "[::1]:51822", allowedIps: ["10.99.0.13/32", "fd00:50::/64"] }),
      peer(4, {}),
    ],
    ["192.168.50.0/24", "fd00:50::/64"],
    true,
  );
  const nat = state(
    0,
    { address: "10.99.0.7/16" },
    [
      peer(2, { endpoint: null, allowedIps: ["10.99.0.12/32"] }),
      peer(4, { persistentKeepalive: 5, allowedIps: ["10.99.0.14/32", "192.168.50.0/24"] }),
      peer(5, { endpoint: "127.0.0.9:51900", presharedKey: true }),
    ],
    ["192.168.50.0/24"],
  );
  const rotated = state(
    0,
    { mtu: 1400, listenPort: 51830 },
    [
      peer(2, { endpoint: "127.0.0.3:51821", persistentKeepalive: 25, presharedKey: true, allowedIps: ["10.99.0.12/32", "192.168.50.0/24"] }),
      peer(3, { endpoint: "[::1]:51899", allowedIps: ["10.99.0.13/32", "10.200.0.0/16", "fd00:50::/64"] }),
      peer(4, {}),
    ],
    ["10.200.0.0/16", "192.168.50.0/24", "fd00:50::/64"],
    true,
  );
  return [
    {
      name: "sparse → rich: new key, port, address, MTU, PSK, keepalive, endpoints, v4+v6 routes, forwarding",
      earlier: sparse,
      earlierSecrets: { privateKey: (keys[1] as Node).priv },
      desired: rich,
      secrets: { privateKey: (keys[0] as Node).priv, presharedKey: pskA },
      expectKinds: ["private-key", "listen-port", "address-set", "mtu", "peer-set", "route-del", "route-add", "forwarding"],
    },
    {
      name: "rich → NAT/sparse: peer removed, PSK and keepalive off, AllowedIP moved between peers, address moved, endpoint becomes learned",
      earlier: rich,
      earlierSecrets: { privateKey: (keys[0] as Node).priv, presharedKey: pskA },
      desired: nat,
      secrets: { privateKey: (keys[0] as Node).priv, presharedKey: pskB },
      expectKinds: ["peer-remove", "address-set", "peer-set", "route-del"],
      learnedEndpoints: [(keys[2] as Node).pub],
    },
    {
      name: "PSK rotation, listen port, MTU, endpoint change, added routable network",
      earlier: rich,
      earlierSecrets: { privateKey: (keys[0] as Node).priv, presharedKey: pskA },
      desired: rotated,
      secrets: { privateKey: (keys[0] as Node).priv, presharedKey: pskB },
      expectKinds: ["listen-port", "mtu", "peer-set", "route-add"],
    },
  ];
}

test("wg-quick up from the rendered file == the same state reached online; a reboot changes nothing", async (t) => {
  for (const [i, sc] of scenarios().entries()) {
    await t.test(sc.name, () => {
      const ifA = `wra${i}${tag}`.slice(0, 15);
      const ifB = `wrb${i}${tag}`.slice(0, 15);
      ifnames.push(ifA, ifB);
      const nsA = newNs(`a${i}`);
      const nsB = newNs(`b${i}`);
      const dA = named(sc.desired, ifA);
      const dB = named(sc.desired, ifB);
      const fileA = path.join(confDir, `${ifA}.conf`);
      const fileB = path.join(confDir, `${ifB}.conf`);
      const diffOpts: DiffOptions = sc.secrets.presharedKey ? { presharedKeyFingerprint: presharedKeyFingerprint(sc.secrets.presharedKey) } : {};

      // A: straight from the persistent file (what a reboot does).
      fs.writeFileSync(fileA, renderWgQuickConf(dA, sc.secrets), { mode: 0o600 });
      wgQuick(nsA, "up", fileA);
      // Forwarding is persisted by the engine in /etc/sysctl.d (not in the wg-quick file): at boot it is on.
      if (sc.desired.forwarding) nsA.must(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      const liveA = readLive(nsA, ifA);
      const quiet = (l: LiveState): LiveState => ({ ...l, peers: l.peers.map((p) => ({ ...p, latestHandshake: 0, rxBytes: 0, txBytes: 0 })) });
      assert.deepEqual(quiet(liveA), quiet(readLiveDirect(nsA, ifA)), "probe == separate commands");
      assert.deepEqual(diff(dA, liveA, diffOpts), [], "A from the file needs no operation");

      // B: the earlier state, then the desired state online (file rewritten atomically + operations).
      fs.writeFileSync(fileB, renderWgQuickConf(named(sc.earlier, ifB), sc.earlierSecrets), { mode: 0o600 });
      wgQuick(nsB, "up", fileB);
      const before = readLive(nsB, ifB);
      const ops = diff(dB, before, diffOpts);
      for (const kind of sc.expectKinds) assert.ok(ops.some((o) => o.kind === kind), `expected a ${kind} operation in ${JSON.stringify(ops)}`);
      assert.ok(!ops.some((o) => o.kind === "interface-up"), "no restart");
      const script = `${atomicWriteFileCommand(fileB, renderWgQuickConf(dB, sc.secrets))}\n${renderScript(ops, ifB, sc.secrets)}`;
      const redacted = redactSecrets(script);
      for (const s of [sc.secrets.privateKey, sc.secrets.presharedKey]) if (s) assert.ok(!redacted.includes(s), "redacted script holds no secret");
      const wgPidsBefore = nsB.pids();
      // sh -x traces every command with its expanded argv: no secret may appear there.
      const r = nsB.run(["sh", "-x", "-s"], script);
      assert.equal(r.status, 0, `online script failed: ${r.stderr}\n${redacted}`);
      assert.ok(r.stderr.includes(`+ wg set ${ifB} `), "the trace shows the commands");
      for (const s of [sc.secrets.privateKey, sc.secrets.presharedKey]) if (s) assert.ok(!r.stderr.includes(s), "no secret in any argv");
      assert.deepEqual(nsB.pids(), wgPidsBefore, "the userspace daemon was not restarted");
      const liveB = readLive(nsB, ifB);

      const mtu = sc.desired.interface.mtu !== null;
      const cmpOpts = { mtu, ignoreEndpointOf: sc.learnedEndpoints ?? [] };
      assert.deepEqual(comparable(liveB, dB, cmpOpts), comparable(liveA, dA, cmpOpts));
      assert.deepEqual(rawNet(nsB, ifB, mtu), rawNet(nsA, ifA, mtu), "same addresses and routes (proto, scope, metric) in the kernel");
      assert.deepEqual(diff(dB, liveB, diffOpts), [], "B converged");
      assert.equal(liveB.forwarding, sc.desired.forwarding || before.forwarding);
      for (const pk of sc.learnedEndpoints ?? []) {
        assert.notEqual(liveB.peers.find((p) => p.publicKey === pk)?.endpoint, null, "a learned endpoint is left in place");
      }

      // Reboot B: down and up from the file the online step wrote; must be exactly the state A has.
      assert.equal(fs.statSync(fileB).mode & 0o777, 0o600);
      wgQuick(nsB, "down", fileB);
      assert.notEqual(nsB.run(["ip", "link", "show", "dev", ifB]).status, 0, "wg-quick down removed the interface");
      wgQuick(nsB, "up", fileB);
      const rebooted = readLive(nsB, ifB);
      const exact = { mtu: true };
      assert.deepEqual(comparable(rebooted, dB, exact), comparable(liveA, dA, exact));
      assert.deepEqual(rawNet(nsB, ifB, true), rawNet(nsA, ifA, true));
      assert.deepEqual(comparable(rebooted, dB, cmpOpts), comparable(liveB, dB, cmpOpts), "after reboot == after online change");
      assert.deepEqual(diff(dB, rebooted, diffOpts), []);

      for (const [ns, file, ifname] of [[nsA, fileA, ifA], [nsB, fileB, ifB]] as const) {
        wgQuick(ns, "down", file);
        assert.notEqual(ns.run(["ip", "link", "show", "dev", ifname]).status, 0);
      }
    });
  }
});

test("a missing interface: diff gives interface-up; the file written + that script == wg-quick up from the file", () => {
  const i = 9;
  const ifA = `wra${i}${tag}`.slice(0, 15);
  const ifB = `wrb${i}${tag}`.slice(0, 15);
  ifnames.push(ifA, ifB);
  const nsA = newNs(`a${i}`);
  const nsB = newNs(`b${i}`);
  const d = state(0, { mtu: 1400 }, [peer(2, { endpoint: "127.0.0.5:51820", persistentKeepalive: 15, allowedIps: ["10.99.0.12/32", "192.168.60.0/24"] })], ["192.168.60.0/24"], true);
  const secrets: Secrets = { privateKey: (keys[0] as Node).priv };
  const fileA = path.join(confDir, `${ifA}.conf`);
  fs.writeFileSync(fileA, renderWgQuickConf(named(d, ifA), secrets), { mode: 0o600 });
  wgQuick(nsA, "up", fileA);
  nsA.must(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);

  const dB = named(d, ifB);
  const live = readLive(nsB, ifB);
  assert.equal(live.interface, null);
  const ops = diff(dB, live);
  assert.deepEqual(ops, [{ kind: "interface-up" }, { kind: "forwarding", enabled: true }]);
  const script = `${atomicWriteFileCommand(path.join(confDir, `${ifB}.conf`), renderWgQuickConf(dB, secrets))}\n${renderScript(ops, ifB, secrets, { confDir })}`;
  const r = nsB.script(script);
  assert.equal(r.status, 0, r.stderr);
  const liveB = readLive(nsB, ifB);
  assert.deepEqual(comparable(liveB, dB, { mtu: true }), comparable(readLive(nsA, ifA), d, { mtu: true }));
  assert.deepEqual(rawNet(nsB, ifB, true), rawNet(nsA, ifA, true));
  assert.deepEqual(diff(dB, liveB), []);

  // The same file with the key kept in a separate 0600 file (privateKeyFile): same state after a restart.
  wgQuick(nsB, "down", path.join(confDir, `${ifB}.conf`));
  const keyFile = path.join(confDir, `${ifB}.key`);
  fs.writeFileSync(keyFile, `${secrets.privateKey}\n`, { mode: 0o600 });
  const keyless = renderWgQuickConf(dB, {}, { privateKeyFile: keyFile });
  assert.ok(!keyless.includes(secrets.privateKey as string));
  fs.writeFileSync(path.join(confDir, `${ifB}.conf`), keyless, { mode: 0o600 });
  wgQuick(nsB, "up", path.join(confDir, `${ifB}.conf`));
  assert.deepEqual(comparable(readLive(nsB, ifB), dB, { mtu: true }), comparable(readLive(nsA, ifA), d, { mtu: true }));
  assert.deepEqual(rawNet(nsB, ifB, true), rawNet(nsA, ifA, true));

  wgQuick(nsA, "down", fileA);
  wgQuick(nsB, "down", path.join(confDir, `${ifB}.conf`));
});
