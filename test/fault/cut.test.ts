/**
 * Fault injection (testbed, root): connections and hosts that go away during an apply, on 5 real hosts.
 * - SSH cut (nftables drop inside the host) right after the read, as the change script is sent: the host
 *   keeps its old conf and tunnel state byte for byte, nothing half-written; once SSH is back the next apply
 *   converges.
 * - SSH cut while the change script runs (during its health gate): the script runs to its end on the host
 *   anyway (it is detached from the channel: output to files, SIGHUP/SIGPIPE ignored) — the new conf whole,
 *   its temp directory removed — and the engine reports the lost connection.
 * - A host powered off (every process SIGKILLed) mid-apply: the others converge, the failed host is named;
 *   after it boots again its conf is the old or the new one (never a torn one) and the next apply converges.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { NodeInput } from "../../provider/src/core/model";
import { deploy } from "../../provider/src/engine/deploy";
import { renderConf } from "../../provider/src/engine/changes";
import type { LogLevel } from "../../provider/src/engine/ssh/log";
import type { EngineOptions, HostTarget } from "../../provider/src/engine/types";
import { down, up, type Testbed } from "../testbed";
import { compile, engineOptions, nodeOn, reachability, stableDump, type Compiled } from "../engine/e2e/mesh";
import { prepareSshCut, restoreSsh } from "./faults";

const NAME = "kcut";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Engine options whose logger calls `onScript(node)` (synchronously) when a node's change script is sent. */
function hooked(tb: Testbed, onScript: (node: string) => void): EngineOptions {
  const base = engineOptions(tb);
  return {
    ...base,
    // A lost connection is noticed after 3 missed keepalives.
    ssh: { ...base.ssh, keepaliveIntervalMs: 1000 },
    logger: (_level: LogLevel, m: string) => {
      const hit = /^\[([^\]]+)\] ssh \S+: run apply wg0 /.exec(m);
      if (hit) onScript(hit[1] as string);
    },
  };
}

function confSha(t: HostTarget): string {
  return createHash("sha256").update(renderConf(t.desired, t.key), "utf8").digest("hex");
}

async function hostConf(tb: Testbed, host: string): Promise<{ sha: string; temps: string }> {
  const out = await tb.execOk(host, ["sh", "-c", "sha256sum /etc/wireguard/wg0.conf | cut -d ' ' -f 1; ls -a /etc/wireguard | grep '^\\.wg0' || true"]);
  const [sha = "", ...rest] = out.trim().split("\n");
  return { sha, temps: rest.join(" ") };
}

describe("fault injection: SSH cut and power cut during an apply", { timeout: 900_000 }, () => {
  let tb: Testbed;
  let nodes: NodeInput[];
  let c4: Compiled;
  let c5: Compiled;
  const H = (i: number) => `${NAME}-h${i}`;

  before(async () => {
    tb = await up(5, { name: NAME });
    nodes = tb.hosts.map((h) => nodeOn(h));
    c4 = compile(tb, { nodes: nodes.slice(0, 4) });
    c5 = compile(tb, { nodes });
    const r = await deploy(c4.targets, engineOptions(tb, [], { concurrency: 5 }));
    for (const [n, h] of Object.entries(r.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
  });
  after(async () => {
    await down(NAME);
  });

  it("SSH cut as the change script is sent: old conf and tunnel state kept, nothing half-written; the next apply converges", async () => {
    const victim = H(1);
    const dumpBefore = await stableDump(tb, victim);
    const confBefore = await hostConf(tb, victim);
    const cut = await prepareSshCut(tb, victim);
    let r;
    try {
      r = await deploy(c5.targets, hooked(tb, (node) => node === victim && cut()));
      assert.equal(r.hosts[victim]!.status, "failed");
      assert.match(r.hosts[victim]!.error!, /connection lost before apply wg0 started .*; nothing of it ran/);
      assert.equal(await stableDump(tb, victim), dumpBefore, "the tunnel keeps its old state");
      assert.deepEqual(await hostConf(tb, victim), confBefore, "the old conf, no temp file");
    } finally {
      await restoreSsh(tb, victim);
    }
    for (const [n, h] of Object.entries(r.hosts)) if (n !== victim) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    await sleep(1000);
    assert.equal(await stableDump(tb, victim), dumpBefore, "nothing arrived late once SSH was back");
    const again = await deploy(c5.targets, engineOptions(tb));
    assert.equal(again.hosts[victim]!.status, "changed", again.hosts[victim]!.error);
    for (const [n, h] of Object.entries(again.hosts)) if (n !== victim) assert.equal(h.status, "unchanged", n);
    const m = await reachability(tb, c5);
    for (const n of Object.keys(c5.ip)) assert.equal(m[n]!.length, 4, n);
  });

  it("SSH cut while the change script runs: the script completes on the host (new conf whole, temp dir gone), the engine reports the lost connection", async () => {
    const victim = H(2);
    // Back to four nodes, with h5 powered off: the next change (h5 added) makes every host's gate wait for
    // h5 for its full 15 s — the window in which the cut lands.
    const back = await deploy(c4.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(back.hosts)) assert.notEqual(h.status, "failed", `${n}: ${h.error ?? ""}`);
    await tb.stop(H(5));
    const cut = await prepareSshCut(tb, victim);
    const targets = c5.targets.filter((t) => t.node !== H(5));
    let r;
    try {
      r = await deploy(targets, hooked(tb, (node) => {
        if (node === victim) setTimeout(cut, 3000);
      }));
      assert.equal(r.hosts[victim]!.status, "failed");
      assert.match(r.hosts[victim]!.error!, /connection lost during apply wg0/);
      // The script goes on: its gate ends after 15 s, then it removes its temp directory last of all.
      let left = "x";
      for (let i = 0; i < 60 && left !== ""; i++) {
        left = (await tb.execOk(victim, ["sh", "-c", "ls -d /tmp/tmp.* 2>/dev/null || true"])).trim();
        if (left !== "") await sleep(500);
      }
      assert.equal(left, "", "the change script ran to its end");
      const want = confSha(targets.find((t) => t.node === victim)!);
      assert.deepEqual(await hostConf(tb, victim), { sha: want, temps: "" }, "the new conf, whole");
      assert.match(await tb.execOk(victim, ["wg", "show", "wg0", "peers"]), new RegExp(nodes[4]!.publicKey!.replace(/[+/]/g, ".")));
    } finally {
      await restoreSsh(tb, victim);
    }
    for (const [n, h] of Object.entries(r.hosts)) if (n !== victim) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    await tb.start(H(5));
    const again = await deploy(c5.targets, engineOptions(tb, [], { concurrency: 5 }));
    assert.equal(again.hosts[victim]!.status, "unchanged", `${victim} had completed: ${again.hosts[victim]!.steps.join(", ")}`);
    for (const [n, h] of Object.entries(again.hosts)) assert.notEqual(h.status, "failed", `${n}: ${h.error ?? ""}`);
    const m = await reachability(tb, c5);
    for (const n of Object.keys(c5.ip)) assert.equal(m[n]!.length, 4, n);
  });

  it("a host powered off mid-apply: the others converge, it is named; its conf is the old or the new one; the next apply converges", async () => {
    const victim = H(3);
    const routed = compile(tb, { nodes: nodes.map((n) => (n.hostname === H(4) ? { ...n, routableNetworks: ["192.168.120.0/24"] } : n)) });
    const oldSha = confSha(c5.targets.find((t) => t.node === victim)!);
    const newSha = confSha(routed.targets.find((t) => t.node === victim)!);
    assert.notEqual(oldSha, newSha);
    let off: Promise<void> | undefined;
    const r = await deploy(routed.targets, hooked(tb, (node) => {
      if (node === victim) setTimeout(() => (off = tb.stop(victim, { powerCut: true })), 300);
    }));
    await off;
    assert.equal(r.hosts[victim]!.status, "failed");
    assert.match(r.hosts[victim]!.error!, /connection lost during apply wg0|could not connect/);
    for (const [n, h] of Object.entries(r.hosts)) if (n !== victim) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    await tb.start(victim);
    const conf = await hostConf(tb, victim);
    assert.equal(conf.temps, "", "no temp file left");
    assert.ok(conf.sha === oldSha || conf.sha === newSha, "the old or the new conf, never a torn one");
    const again = await deploy(routed.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(again.hosts)) assert.notEqual(h.status, "failed", `${n}: ${h.error ?? ""}`);
    const m = await reachability(tb, routed);
    for (const n of Object.keys(routed.ip)) assert.equal(m[n]!.length, 4, n);
  });
});
