import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AWK_REPORT, AWK_STEP, gateScript, gateStartLine, parseGate } from "./gate";
import { DEFAULT_HEALTH_CHECK, type GatedPeer } from "../planner/health";

const K = (c: string): string => `${c.repeat(43)}=`.replace(/^(.{42})./, "$1A");
const peer = (c: string, probe: string | null): GatedPeer => ({ hostname: `p${c}`, publicKey: K(c), probe, healthyBefore: true, isNew: false, changes: [], keyChange: false, rollbackOnFailure: true });

describe("health gate (host side)", () => {
  it("one pass: reply, handshake after the start, or more bytes received is evidence; the rest is pending with its probe", () => {
    const [a, b, c, d] = [K("a"), K("b"), K("c"), K("d")];
    const files = {
      base: `${a}\t100\t50\n${b}\t100\t50\n${c}\t100\t50\n${d}\t100\t50\n`,
      hs: `${a}\t1700000005\n${b}\t1699999990\n${c}\t0\n${d}\t1700000000\n`,
      tr: `${a}\t100\t60\n${b}\t180\t60\n${c}\t100\t60\n${d}\t100\t60\n`,
      replies: "3\n",
      ok: "",
      peers: `0 ${a} 10.99.0.2\n1 ${b} 10.99.0.3\n2 ${c} -\n3 ${d} 10.99.0.5\n`,
    };
    const order = ["base", "hs", "tr", "replies", "ok", "peers"];
    // The real awk over real files, as the host runs it.
    const dir = mkdtempSync(path.join(os.tmpdir(), "wgmesh-gate-"));
    for (const [n, text] of Object.entries(files)) writeFileSync(path.join(dir, n), text);
    const run = (mode: string) => {
      writeFileSync(path.join(dir, "ok"), "");
      const x = spawnSync("awk", ["-v", `mode=${mode}`, "-v", "t0=1700000000", "-v", "el=1200", "-v", `okf=${path.join(dir, "ok")}`, AWK_STEP, ...order.map((n) => path.join(dir, n))], { encoding: "utf8" });
      assert.equal(x.status, 0, x.stderr);
      return { pending: x.stdout, ok: readFileSync(path.join(dir, "ok"), "utf8") };
    };
    const h = run("handshake");
    // a: handshake after t0; b: rx 100 → 180; c: nothing (no probe address); d: an echo reply.
    assert.equal(h.ok, "0 handshake 1200\n1 traffic 1200\n3 reply 1200\n");
    assert.equal(h.pending, "2 -\n");
    const p = run("ping");
    assert.equal(p.ok, "3 reply 1200\n", "ping mode: only an echo reply counts");
    assert.equal(p.pending, "0 10.99.0.2\n1 10.99.0.3\n2 -\n");
    // Evidence already recorded is not looked at again.
    writeFileSync(path.join(dir, "ok"), "3 reply 900\n");
    const again = spawnSync("awk", ["-v", "mode=ping", "-v", "t0=0", "-v", "el=2000", "-v", `okf=${path.join(dir, "ok")}`, AWK_STEP, ...order.map((n) => path.join(dir, n))], { encoding: "utf8" });
    assert.equal(again.stdout, "0 10.99.0.2\n1 10.99.0.3\n2 -\n");
    const report = spawnSync("awk", ["-v", "el=15000", AWK_REPORT, path.join(dir, "ok"), path.join(dir, "peers")], { encoding: "utf8" });
    assert.equal(report.stdout, `peer ${a} none 15000\npeer ${b} none 15000\npeer ${c} none 15000\npeer ${d} reply 900\n`);
    rmSync(dir, { recursive: true });
  });

  it("the fragment: nothing for mode off or no peers; quoted values; a host without wg says so (real sh)", () => {
    assert.equal(gateScript("wg0", { check: DEFAULT_HEALTH_CHECK, peers: [] }), "");
    assert.equal(gateScript("wg0", { check: { mode: "off", timeoutSeconds: 15 }, peers: [peer("a", "10.99.0.2")] }), "");
    assert.throws(() => gateScript("wg0", { check: DEFAULT_HEALTH_CHECK, peers: [{ ...peer("a", "10.99.0.2; reboot") }] }), /not an IP address/);
    assert.throws(() => gateScript("bad name", { check: DEFAULT_HEALTH_CHECK, peers: [peer("a", null)] }), /interface name/);
    // A real run on this machine against an interface that does not exist (no probe addresses: nothing is
    // sent anywhere): the wait ends at its bound with no evidence for anyone.
    const script = `${gateStartLine()}\n${gateScript("wgmtest9", { check: { mode: "handshake", timeoutSeconds: 1 }, peers: [peer("a", null), peer("b", null)] })}`;
    const r = spawnSync("/bin/sh", ["-s"], { input: script, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = parseGate(r.stdout)!;
    if (!out.ran) return; // no wg on this machine: the fragment said so
    assert.deepEqual(out.peers.map((p) => [p.publicKey, p.ok]), [[K("a"), false], [K("b"), false]]);
    assert.ok(out.waitedMs >= 1000 && out.waitedMs < 10_000, `bounded wait (${out.waitedMs} ms)`);
  });

  it("parses the report; a cut-short section gives no verdict", () => {
    const [a, b] = [K("a"), K("b")];
    const text = `x\n@@WGMESH-GATE-BEGIN@@\npeer ${a} handshake 1012\npeer ${b} none 15003\nwaited 15010\n@@WGMESH-GATE-END@@\n`;
    assert.deepEqual(parseGate(text), {
      ran: true,
      waitedMs: 15010,
      peers: [{ publicKey: a, ok: true, evidence: "handshake", waitedMs: 1012 }, { publicKey: b, ok: false, waitedMs: 15003 }],
    });
    assert.equal(parseGate("no gate here"), null);
    assert.equal(parseGate(`@@WGMESH-GATE-BEGIN@@\npeer ${a} reply 5\n`)!.ran, false);
    assert.equal(parseGate(`@@WGMESH-GATE-BEGIN@@\nnoping\nwaited 3\n@@WGMESH-GATE-END@@\n`)!.noPing, true);
  });
});
