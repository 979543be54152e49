import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPair } from "../core/keys";
import { compileMesh } from "../core/compile";
import { redactSecrets } from "../planner/commands";
import { applyOperations } from "../planner/diff";
import { confDigest } from "../planner/wgquick";
import type { LiveState, NodeDesiredState } from "../planner/types";
import { createHash } from "node:crypto";
import { lastStep, planHostChanges, renderChangeScript, renderConf, sysctlFileContent } from "./changes";
import type { HostFacts } from "./facts";
import { EngineError } from "./install";
import type { EngineProbe, HostReading } from "./probe";
import { planTeardown, teardownLeftovers } from "./teardown";
import { readScript, parseReading, parseEngineProbe } from "./probe";
import { mapLimit, withoutNode } from "./deploy";

const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
const routed = compileMesh({
  nodes: [
    { hostname: "a", sshHost: "198.18.0.11", privateKey: keys[0]!.privateKey },
    { hostname: "b", sshHost: "198.18.0.12", privateKey: keys[1]!.privateKey, routableNetworks: ["192.168.50.0/24"] },
    { hostname: "c", sshHost: "198.18.0.13", privateKey: keys[2]!.privateKey, behindNat: true },
  ],
});
if (!routed.ok) throw new Error("fixture mesh invalid");
const desiredOf = (h: string): NodeDesiredState => routed.plan.nodes.find((n) => n.hostname === h)!;
const keyOf = (h: string) => ({ privateKey: keys["abc".indexOf(h)]!.privateKey });

const NO_IFACE: LiveState = { interface: null, peers: [], routes: [], forwarding: false };

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    hostname: "x", uid: 0,
    os: { id: "debian", idLike: [], versionId: "12", prettyName: "Debian GNU/Linux 12 (bookworm)" },
    packageManager: "apt",
    tools: { wg: true, wgQuick: true, wireguardGo: true, ip: true, systemctl: true, sudo: true, modprobe: true, nft: true },
    kernelRelease: "6.1", kernelWireguard: "absent", wireguardGoNeeded: true, systemd: true, forwarding: false,
    hostAddresses: ["198.18.0.11"], iface: { name: "wg0", exists: false, kind: null }, live: NO_IFACE,
    wgDumpSanitized: null, unit: { enabled: "disabled", active: "inactive" },
    conf: { exists: false, mode: null, owner: null, sha256: null, publicKey: null }, warnings: [],
    ...over,
  };
}
const noProbe: EngineProbe = { sysctl: { exists: false, sha256: null }, key: { exists: false, publicKey: null, mode: null }, now: 1_700_000_000, ping: true, prev: { conf: false, live: false, nft: false }, tempFiles: [] };

/** A host exactly as the desired state says (after a first deploy). */
function converged(h: string, over: Partial<HostFacts> = {}, probe: EngineProbe = noProbe): HostReading {
  const d = desiredOf(h);
  const live = applyOperations(NO_IFACE, [{ kind: "interface-up" }, ...(d.forwarding ? [{ kind: "forwarding", enabled: true } as const] : [])], d);
  return {
    facts: facts({
      iface: { name: "wg0", exists: true, kind: "tun" }, live, unit: { enabled: "enabled", active: "active" },
      conf: { exists: true, mode: "600", owner: "0:0", sha256: confDigest(renderConf(d, keyOf(h))), publicKey: d.interface.publicKey },
      ...over,
    }),
    probe,
  };
}

describe("engine change plan", () => {
  it("first deploy on a bare Debian host: install, write conf, enable, start — secrets only in here-documents", () => {
    const plan = planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: { facts: facts({ tools: { ...facts().tools, wg: false, wgQuick: false, wireguardGo: false } }), probe: noProbe } });
    assert.deepEqual(plan.steps.map((s) => s.kind), ["install", "write-conf", "enable-unit", "operation"]);
    assert.deepEqual(plan.installed, ["wireguard-tools", "wireguard-go"]);
    assert.match(plan.steps[0]!.script, /apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends wireguard-tools wireguard-go/);
    assert.deepEqual(plan.operations, [{ kind: "interface-up" }]);
    assert.equal(plan.steps[3]!.script, "systemctl start wg-quick@wg0");
    const script = renderChangeScript("wg0", plan.steps);
    const priv = keys[0]!.privateKey;
    assert.ok(script.includes(priv), "the key travels inside the script (stdin)");
    assert.ok(!redactSecrets(script).includes(priv), "and is redactable");
    for (const line of script.split("\n")) {
      if (line.includes(priv)) assert.equal(line, `PrivateKey = ${priv}`, "only as the conf file's here-document body");
    }
    assert.ok(plan.steps.every((s) => !s.description.includes(priv)));
  });

  it("a converged host gives no step at all (so no mutating round trip)", () => {
    for (const h of ["a", "b", "c"]) {
      const plan = planHostChanges({ node: h, desired: desiredOf(h), key: keyOf(h), reading: converged(h, {}, h === "b"
        ? { ...noProbe, sysctl: { exists: true, sha256: createHash("sha256").update(sysctlFileContent("wg0")).digest("hex") } }
        : noProbe) });
      assert.deepEqual(plan.steps, [], `node ${h}`);
    }
  });

  it("a running interface gets online operations and the new file, never a restart", () => {
    const r = converged("a");
    const live = r.facts.live;
    const dropped: LiveState = { ...live, peers: live.peers.slice(1) };
    const plan = planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: { ...r, facts: { ...r.facts, live: dropped, conf: { ...r.facts.conf, sha256: "0".repeat(64) } } } });
    assert.deepEqual(plan.steps.map((s) => s.kind), ["write-conf", "operation"]);
    assert.equal(plan.operations.length, 1);
    assert.equal(plan.operations[0]!.kind, "peer-set");
    const script = renderChangeScript("wg0", plan.steps);
    assert.doesNotMatch(script, /systemctl (re)?start|wg-quick (up|down)|ip link del/);
  });

  it("a wrong file mode alone triggers a rewrite", () => {
    const r = converged("a");
    const plan = planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: { ...r, facts: { ...r.facts, conf: { ...r.facts.conf, mode: "644" } } } });
    assert.deepEqual(plan.steps.map((s) => s.kind), ["write-conf"]);
  });

  it("forwarding is persisted for a routing node and the file removed when it no longer routes", () => {
    const r = converged("b");
    const on = planHostChanges({ node: "b", desired: desiredOf("b"), key: keyOf("b"), reading: { ...r, facts: { ...r.facts, live: { ...r.facts.live, forwarding: false } } } });
    assert.deepEqual(on.steps.map((s) => s.kind), ["write-sysctl", "operation"]);
    assert.match(on.steps[0]!.script, /99-wgmesh-wg0\.conf/);
    assert.equal(on.steps[1]!.script, "echo 1 > /proc/sys/net/ipv4/ip_forward");
    const off = planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: converged("a", {}, { ...noProbe, sysctl: { exists: true, sha256: "1".repeat(64) } }) });
    assert.deepEqual(off.steps.map((s) => s.kind), ["remove-sysctl"]);
  });

  it("dnf on Fedora, and a clear error where no supported package manager exists", () => {
    const bare = { ...facts().tools, wg: false, wgQuick: false };
    const fedora = planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: { facts: facts({ packageManager: "dnf", tools: bare, wireguardGoNeeded: false, kernelWireguard: "loadable" }), probe: noProbe } });
    assert.match(fedora.steps[0]!.script, /dnf install -y -q wireguard-tools/);
    assert.throws(
      () => planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: { facts: facts({ packageManager: null, tools: bare, os: { id: "alpine", idLike: [], versionId: null, prettyName: "Alpine Linux" } }), probe: noProbe } }),
      (e: Error) => e instanceof EngineError && /node a: .*Alpine Linux has no supported package manager/.test(e.message),
    );
  });

  it("refuses a private key that does not match, without showing it", () => {
    const other = generateKeyPair();
    assert.throws(() => planHostChanges({ node: "a", desired: desiredOf("a"), key: { privateKey: other.privateKey }, reading: { facts: facts(), probe: noProbe } }),
      (e: Error) => /node a: the private key given does not belong/.test(e.message) && !e.message.includes(other.privateKey));
  });

  it("key on the host: the file loads it with PostUp and holds no key; a missing or foreign key is an error", () => {
    const d = desiredOf("a");
    const conf = renderConf(d, { onHost: true });
    assert.doesNotMatch(conf, /PrivateKey/);
    assert.match(conf, /\nPostUp = wg set wg0 private-key \/etc\/wireguard\/wg0\.key\n/);
    assert.throws(() => planHostChanges({ node: "a", desired: d, key: { onHost: true }, reading: { facts: facts(), probe: noProbe } }), /does not exist/);
    const foreign = { ...noProbe, key: { exists: true, publicKey: keys[1]!.publicKey, mode: "600" } };
    assert.throws(() => planHostChanges({ node: "a", desired: d, key: { onHost: true }, reading: { facts: facts(), probe: foreign } }), /but the mesh expects/);
    const mine = { ...noProbe, key: { exists: true, publicKey: d.interface.publicKey, mode: "600" } };
    const plan = planHostChanges({ node: "a", desired: d, key: { onHost: true }, reading: { facts: facts(), probe: mine } });
    assert.deepEqual(plan.steps.map((s) => s.kind), ["write-conf", "enable-unit", "operation"]);
  });

  it("refuses a non-WireGuard interface of the same name and a host without systemd", () => {
    assert.throws(() => planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: { facts: facts({ iface: { name: "wg0", exists: true, kind: "bridge" } }), probe: noProbe } }), /type bridge, not WireGuard/);
    assert.throws(() => planHostChanges({ node: "a", desired: desiredOf("a"), key: keyOf("a"), reading: { facts: facts({ systemd: false }), probe: noProbe } }), /systemd is not running/);
  });

  it("the change script stops at the first failing step and says which (run by a real sh)", () => {
    const steps = [
      { kind: "operation" as const, description: "ok", script: "true" },
      { kind: "operation" as const, description: "boom", script: "echo nope >&2; false" },
      { kind: "operation" as const, description: "never", script: "echo ran-third" },
    ];
    const r = spawnSync("sh", ["-s"], { input: renderChangeScript("wg0", steps, { verify: false }) });
    assert.notEqual(r.status, 0);
    assert.equal(lastStep(r.stdout.toString()), 1);
    assert.doesNotMatch(r.stdout.toString(), /ran-third/);
    const ok = spawnSync("sh", ["-s"], { input: renderChangeScript("wg0", steps.slice(0, 1), { verify: false }) });
    assert.equal(ok.status, 0);
    assert.equal(lastStep(ok.stdout.toString()), "done");
  });
});

describe("engine teardown plan and helpers", () => {
  it("nothing left → no step; everything there → stop+disable, delete link, remove files", () => {
    assert.deepEqual(planTeardown("wg0", { facts: facts(), probe: noProbe }), []);
    const r = converged("b", {}, { ...noProbe, sysctl: { exists: true, sha256: null }, key: { exists: true, publicKey: null, mode: "600" }, prev: { conf: true, live: true, nft: true } });
    const steps = planTeardown("wg0", r);
    assert.deepEqual(steps.map((s) => s.description), [
      "stop and disable wg-quick@wg0",
      "delete interface wg0",
      "remove /etc/wireguard/wg0.conf, /etc/wireguard/wg0.key, /etc/sysctl.d/99-wgmesh-wg0.conf, /etc/wireguard/wg0.conf.prev, /etc/wireguard/wg0.live.prev, /etc/wireguard/wg0.nft.prev",
    ]);
    assert.deepEqual(teardownLeftovers("wg0", r), ["interface wg0", "wg-quick@wg0 enabled", "wg-quick@wg0 active", "/etc/wireguard/wg0.conf", "/etc/wireguard/wg0.key", "/etc/sysctl.d/99-wgmesh-wg0.conf", "/etc/wireguard/wg0.conf.prev", "/etc/wireguard/wg0.live.prev", "/etc/wireguard/wg0.nft.prev"]);
  });

  it("temporary files a killed change script left are found by the read and removed by the teardown (real sh, real files)", (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root: writes under /etc/wireguard and /etc/sysctl.d");
    const ifname = "wgtmpt7";
    const left = [`/etc/wireguard/.${ifname}.conf.Ab12Cd`, `/etc/wireguard/.${ifname}.live.Zz9yX8`, `/etc/wireguard/${ifname}.key.Q1w2E3`, `/etc/sysctl.d/.99-wgmesh-${ifname}.conf.r4T5y6`];
    const decoys = [`/etc/wireguard/.${ifname}x.conf.Ab12Cd`, `/etc/wireguard/${ifname}.conf.prev.A`];
    const mk = spawnSync("sh", ["-c", 'mkdir -p /etc/wireguard /etc/sysctl.d && for f in "$@"; do : > "$f"; done', "sh", ...left, ...decoys]);
    assert.equal(mk.status, 0, mk.stderr.toString());
    try {
      const r1 = spawnSync("sh", ["-s"], { input: readScript(ifname) });
      const reading = parseReading(r1.stdout.toString(), ifname);
      assert.deepEqual([...reading.probe.tempFiles].sort(), [...left].sort(), "every leftover, no decoy");
      const steps = planTeardown(ifname, reading);
      assert.deepEqual(teardownLeftovers(ifname, reading).sort(), [...left].sort());
      for (const s of steps) assert.equal(spawnSync("sh", ["-c", s.script]).status, 0, s.script);
      const r2 = spawnSync("sh", ["-s"], { input: readScript(ifname) });
      assert.deepEqual(parseReading(r2.stdout.toString(), ifname).probe.tempFiles, []);
      assert.equal(spawnSync("sh", ["-c", 'for f in "$@"; do [ -f "$f" ] || exit 1; done', "sh", ...decoys]).status, 0, "the decoys are still there");
    } finally {
      spawnSync("rm", ["-f", ...left, ...decoys]);
    }
  });

  it("mapLimit keeps the limit and the order", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (x) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, x * 3));
      running--;
      return x * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
    assert.equal(peak, 2);
  });

  it("withoutNode drops the node from nodes and groups", () => {
    const m = withoutNode({ nodes: [{ hostname: "a", sshHost: "h" }, { hostname: "b", sshHost: "h" }], groups: [{ name: "g", members: ["a", "b"] }] }, "a");
    assert.deepEqual(m.nodes.map((n) => n.hostname), ["b"]);
    assert.deepEqual(m.groups![0]!.members, ["b"]);
  });
});

describe("engine read script", () => {
  it("runs in a local POSIX sh (interface absent) and parses, key file and sysctl file absent", () => {
    const r = spawnSync("sh", ["-s"], { input: readScript("wgabsent8") });
    assert.equal(r.status, 0);
    const reading = parseReading(r.stdout.toString(), "wgabsent8");
    assert.equal(reading.facts.iface.exists, false);
    const { now, ping, firewall, ...rest } = reading.probe;
    assert.deepEqual(rest, { sysctl: { exists: false, sha256: null }, key: { exists: false, publicKey: null, mode: null }, prev: { conf: false, live: false, nft: false }, tempFiles: [] });
    assert.ok(now !== null && Math.abs(now - Date.now() / 1000) < 60, "the host's clock");
    assert.equal(typeof ping, "boolean");
    assert.deepEqual({ ...firewall, tool: true }, { tool: true, file: { exists: false, mode: null, owner: null, bodySha256: null, recordedListing: null }, table: { exists: false, listingSha256: null }, listing: null });
    assert.throws(() => parseEngineProbe("nothing"), /no complete block/);
    const pub = keys[0]!.publicKey;
    const p = parseEngineProbe(`x\n@@WGMESH-ENGINE-BEGIN@@\nnow=1700000000\nping=0\nprevConf=1\nsysctl=1\nsysctlSha256=${"a".repeat(64)}\nkey=1\nkeyMode=600\nkeyPublic=${pub}\n@@WGMESH-ENGINE-END@@\n`);
    assert.deepEqual(p, { sysctl: { exists: true, sha256: "a".repeat(64) }, key: { exists: true, publicKey: pub, mode: "600" }, now: 1700000000, ping: false, prev: { conf: true, live: false, nft: false }, tempFiles: [] });
  });
});
