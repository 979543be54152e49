/**
 * Core + planner on a real (namespaced) network: two hosts joined by a veth "underlay", a LAN behind h2.
 * The core compiles the mesh; the planner renders each host's wg-quick file; wg-quick (wireguard-go) brings
 * the tunnels up; packets flow over the mesh and into the routable network. Then the mesh changes (h2 stops
 * routing its LAN, h1 moves its listen port) and the planner's online operations are applied: traffic keeps
 * flowing without any interface restart, the LAN is no longer reachable, and a reboot of h1 from the file
 * written online gives the same state.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compileMesh, type MeshInput } from "../../provider/src/core";
import { atomicWriteFileCommand, renderScript } from "../../provider/src/planner/commands";
import { diff } from "../../provider/src/planner/diff";
import { parseLiveProbe, probeConfDigest, probeRouteConflicts, renderLiveProbe } from "../../provider/src/planner/probe";
import { confDigest, renderWgQuickConf } from "../../provider/src/planner/wgquick";
import type { NodeDesiredState, Operation, Secrets } from "../../provider/src/planner/types";
import { Netns, removeWgSocket } from "./netns";
import { genkey, readLive, wgQuick } from "./wgtools";

const tag = `${process.pid % 100000}`;
const namespaces: Netns[] = [];
const IF = { h1: `wm1${tag}`, h2: `wm2${tag}` } as const;
type Host = keyof typeof IF;
const ns = {} as Record<Host | "lan", Netns>;
const priv = {} as Record<Host, string>;
let confDir = "";

before(() => {
  assert.equal(process.getuid?.(), 0, "this suite needs root (network namespaces, wg-quick)");
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-mesh-"));
  for (const name of ["h1", "h2", "lan"] as const) {
    ns[name] = Netns.create(`wgmm${tag}${name}`);
    namespaces.push(ns[name]);
  }
  const ipLink = (args: string[]): void => {
    const r = spawnSync("ip", ["link", ...args], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  };
  // underlay h1 <-> h2, LAN h2 <-> lan (addresses exist only inside these namespaces)
  ipLink(["add", `wv1${tag}`, "netns", ns.h1.name, "type", "veth", "peer", "name", `wv2${tag}`, "netns", ns.h2.name]);
  ipLink(["add", `wl2${tag}`, "netns", ns.h2.name, "type", "veth", "peer", "name", `wl3${tag}`, "netns", ns.lan.name]);
  ns.h1.must(["ip", "addr", "add", "10.250.0.1/24", "dev", `wv1${tag}`]);
  ns.h1.must(["ip", "link", "set", `wv1${tag}`, "up"]);
  ns.h2.must(["ip", "addr", "add", "10.250.0.2/24", "dev", `wv2${tag}`]);
  ns.h2.must(["ip", "link", "set", `wv2${tag}`, "up"]);
  ns.h2.must(["ip", "addr", "add", "192.168.77.1/24", "dev", `wl2${tag}`]);
  ns.h2.must(["ip", "link", "set", `wl2${tag}`, "up"]);
  ns.lan.must(["ip", "addr", "add", "192.168.77.2/24", "dev", `wl3${tag}`]);
  ns.lan.must(["ip", "link", "set", `wl3${tag}`, "up"]);
  ns.lan.must(["ip", "route", "add", "default", "via", "192.168.77.1"]);
  priv.h1 = genkey();
  priv.h2 = genkey();
});

after(() => {
  for (const n of namespaces) n.destroy();
  for (const i of Object.values(IF)) removeWgSocket(i);
  if (confDir) fs.rmSync(confDir, { recursive: true, force: true });
});

function plan(h1Port: number, h2Routes: string[]): Record<Host, NodeDesiredState> {
  const input: MeshInput = {
    interfaceName: "wg0",
    network: "10.99.0.0/16",
    mtu: 1420,
    nodes: [
      { hostname: "h1", sshHost: "10.250.0.1", listenPort: h1Port, privateKey: priv.h1 },
      { hostname: "h2", sshHost: "10.250.0.2", privateKey: priv.h2, routableNetworks: h2Routes },
    ],
  };
  const r = compileMesh(input);
  assert.ok(r.ok, JSON.stringify(r));
  const out = {} as Record<Host, NodeDesiredState>;
  for (const host of ["h1", "h2"] as const) {
    const d = r.plan.nodes.find((n) => n.hostname === host);
    assert.ok(d, host);
    // one interface name per namespace: wireguard-go's control sockets share /var/run/wireguard
    out[host] = { ...d, interface: { ...d.interface, name: IF[host] } };
  }
  return out;
}

const file = (h: Host): string => path.join(confDir, `${IF[h]}.conf`);
const secrets = (h: Host): Secrets => ({ privateKey: priv[h] });

function ping(from: Netns, to: string, deadlineS = 20): boolean {
  // Two replies within the deadline: a first packet may wait for a handshake that needed its 5-s retry.
  return from.run(["ping", "-c", "2", "-i", "0.2", "-w", String(deadlineS), to]).status === 0;
}

/**
 * What the engine does on a host: one probe (live state + digest of the file), then, only if something
 * differs, one script: the file written atomically when its content changed, and the operations.
 * Returns the operations and whether anything was run.
 */
function applyOnline(h: Host, d: NodeDesiredState): { ops: Operation[]; mutated: boolean } {
  const probe = ns[h].script(renderLiveProbe(IF[h], { confPath: file(h), mainTable: true }));
  assert.equal(probe.status, 0, probe.stderr);
  // h2's own LAN (192.168.77.0/24 on its veth) is never planned into its interface: no conflict.
  assert.deepEqual(probeRouteConflicts(probe.stdout, IF[h], d.routes), [], `${h}: no desired route held by another device`);
  const ops = diff(d, parseLiveProbe(probe.stdout, IF[h]));
  const text = renderWgQuickConf(d, secrets(h));
  const write = probeConfDigest(probe.stdout, IF[h]) === confDigest(text) ? "" : `${atomicWriteFileCommand(file(h), text)}\n`;
  if (write === "" && ops.length === 0) return { ops, mutated: false };
  const r = ns[h].script(`${write}${renderScript(ops, IF[h], secrets(h), { confDir })}`);
  assert.equal(r.status, 0, r.stderr);
  return { ops, mutated: true };
}

test("a compiled two-host mesh with a routable network works from the files, and keeps working through online changes", () => {
  const first = plan(51820, ["192.168.77.0/24"]);
  assert.deepEqual(first.h1.routes, ["192.168.77.0/24"]);
  assert.equal(first.h2.forwarding, true);

  // First deploy: the interface is missing, so the plan is interface-up (+ forwarding on h2).
  for (const h of ["h1", "h2"] as const) {
    const { ops } = applyOnline(h, first[h]);
    assert.equal(ops[0]?.kind, "interface-up");
    assert.deepEqual(diff(first[h], readLive(ns[h], IF[h])), [], `${h} converged`);
  }
  for (const h of ["h1", "h2"] as const) assert.deepEqual(applyOnline(h, first[h]), { ops: [], mutated: false }, `a second apply on ${h} runs nothing`);
  const meshIp = (h: Host): string => first[h].interface.address.split("/")[0] as string;
  assert.ok(ping(ns.h1, meshIp("h2")), "h1 → h2 over the mesh");
  assert.ok(ping(ns.h2, meshIp("h1")), "h2 → h1 over the mesh");
  assert.ok(ping(ns.h1, "192.168.77.2"), "h1 → host in h2's routable network");
  const daemons = { h1: ns.h1.pids(), h2: ns.h2.pids() };

  // Change: h2 stops routing its LAN, h1 moves to another port. Online, both sides.
  const second = plan(51999, []);
  const ops1 = applyOnline("h1", second.h1).ops;
  const ops2 = applyOnline("h2", second.h2).ops;
  assert.deepEqual(ops1.map((o) => o.kind).sort(), ["listen-port", "peer-set", "route-del"]);
  assert.deepEqual(ops2, [{ kind: "peer-set", publicKey: second.h2.peers[0]?.publicKey, hostname: "h1", endpoint: "10.250.0.1:51999" }]);
  assert.deepEqual(ns.h1.pids(), daemons.h1, "no restart on h1");
  assert.deepEqual(ns.h2.pids(), daemons.h2, "no restart on h2");
  assert.ok(ping(ns.h1, meshIp("h2")), "h1 → h2 after the change");
  assert.ok(ping(ns.h2, meshIp("h1")), "h2 → h1 after the change (new endpoint port)");
  assert.ok(!ping(ns.h1, "192.168.77.2", 3), "the withdrawn network is no longer reachable");
  for (const h of ["h1", "h2"] as const) assert.deepEqual(diff(second[h], readLive(ns[h], IF[h])), []);

  // Reboot h1 from the file written online.
  const before = readLive(ns.h1, IF.h1);
  wgQuick(ns.h1, "down", file("h1"));
  wgQuick(ns.h1, "up", file("h1"));
  const rebooted = readLive(ns.h1, IF.h1);
  const quiet = (l: typeof before): unknown => ({ ...l, peers: l.peers.map((p) => ({ ...p, latestHandshake: 0, rxBytes: 0, txBytes: 0 })) });
  assert.deepEqual(quiet(rebooted), quiet(before));
  // A route the host holds through another device is reported as a conflict (here: h2's LAN, seen from h2).
  const onH2 = ns.h2.script(renderLiveProbe(IF.h2, { mainTable: true }));
  assert.deepEqual(probeRouteConflicts(onH2.stdout, IF.h2, ["192.168.77.0/24"]), [{ cidr: "192.168.77.0/24", dev: `wl2${tag}` }]);
  assert.ok(ping(ns.h1, meshIp("h2")), "h1 → h2 after the reboot");
  for (const h of ["h1", "h2"] as const) wgQuick(ns[h], "down", file(h));
});
