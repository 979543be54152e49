// Per-pair preshared keys (issue 16: Mesh.presharedKeys, pskRotationTrigger) through the real engine on testbed
// hosts: every pair's PSK equal on both ends (`wg show wg0 preshared-keys`) and different between pairs, in the
// 0600 wg-quick files, encrypted in the state; a node added creates only its pairs' keys (the preview shows
// exactly those, as secrets, with 0 SSH) and a node removed deletes them; a PSK rotation keeps every TCP stream
// (worst ping gap per pair reported); switched off, the hosts drop them; no PSK or private key in
// `pulumi stack export`, previews, logs or `ps` samples.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { pulumiEnv, toolchainMissing } from "./harness";
import { ExampleSession, meshProbes, nodeBind, probeMatrix, section } from "./examples-harness";
import { formatReport, startTraffic, stopTraffic, trafficReport, worstLine, type TrafficMesh } from "../testbed/traffic";
import { PsSampler, keysInDir, stackSecrets } from "./keys-harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const NAMES = ["p1", "p2", "p3", "p4"];
const MAX_GAP_MS = 3000;

describe("per-pair preshared keys (4 hosts; real engine)", { skip }, () => {
  let s: ExampleSession;
  let m: TrafficMesh | undefined;
  /** Every PSK ever seen on a host and every private key in the state (for the leak checks at the end). */
  const seen = new Set<string>();
  const samplers: PsSampler[] = [];

  const hosts = (names: string[]) => JSON.stringify(names.map((name) => {
    const h = s.host(name);
    return { name, host: h.address, port: h.sshPort, hostKey: h.hostPublicKey };
  }));

  /** Per pair of `names`: the PSK both ends have (problems listed when they differ or one is missing). */
  async function pskMatrix(names: string[]): Promise<{ pairs: Record<string, string>; problems: string[] }> {
    const pub = s.stackOutputs().publicKeys as Record<string, string>;
    const live: Record<string, Record<string, string>> = {};
    for (const n of names) {
      const out = await s.tb.execOk(s.hostOf(n), ["wg", "show", "wg0", "preshared-keys"]);
      live[n] = Object.fromEntries(out.trim().split("\n").filter(Boolean).map((l) => l.split("\t") as [string, string]));
    }
    const pairs: Record<string, string> = {};
    const problems: string[] = [];
    for (const [i, a] of names.entries()) {
      for (const b of names.slice(i + 1)) {
        const ab = live[a]![pub[b]!];
        const ba = live[b]![pub[a]!];
        if (!ab || ab === "(none)" || ab !== ba) problems.push(`${a}–${b}: ${ab === ba ? "no PSK" : "different PSKs on the two ends"}`);
        else pairs[`${a}–${b}`] = ab;
      }
    }
    for (const k of Object.values(pairs)) seen.add(k);
    return { pairs, problems };
  }

  /** The presharedKeys part of a NodeConfig's preview section (its properties are sorted: privateKey follows). */
  const pskSection = (sec: string) => sec.slice(sec.indexOf("presharedKeys"), sec.indexOf("privateKey"));

  /** `pulumi up` with `ps` sampled on this machine and every host. */
  async function upSampled(): Promise<{ ms: number; t0: number; t1: number }> {
    const ps = await PsSampler.start(s.tb, NAMES.map((n) => s.hostOf(n)), s.ws.root);
    samplers.push(ps);
    const t0 = Date.now();
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    const t1 = Date.now();
    await ps.stop();
    for (const k of Object.values(stackSecrets(s).privateKeys)) seen.add(k);
    return { ms: r.ms, t0, t1 };
  }

  before(async () => {
    s = await ExampleSession.start("key-rotation", "rpsk", NAMES, baseEnv, { binds: [nodeBind()] });
    s.pulumiOk(["config", "set", "hosts", hosts(["p1", "p2", "p3"])]);
    s.pulumiOk(["config", "set", "presharedKeys", "true"]);
  });

  after(async () => {
    if (m) await stopTraffic(m).catch(() => undefined);
    for (const ps of samplers) await ps.stop().catch(() => undefined);
    await s?.close();
  });

  test("up: one PSK per pair, the same on both ends, different between pairs; in the 0600 wg-quick files; encrypted in the state", async (t) => {
    const { ms } = await upSampled();
    t.diagnostic(`pulumi up (3 nodes with PSKs, create): ${ms} ms wall`);
    const names = ["p1", "p2", "p3"];
    const out = s.stackOutputs();
    assert.deepEqual(await probeMatrix(s.tb, meshProbes(names, (n) => s.hostOf(n), out.meshIps, () => true)), []);
    const { pairs, problems } = await pskMatrix(names);
    assert.deepEqual(problems, []);
    assert.equal(new Set(Object.values(pairs)).size, 3, "three pairs, three different keys");
    for (const n of names) {
      const h = s.hostOf(n);
      assert.equal((await s.tb.execOk(h, ["stat", "-c", "%a", "/etc/wireguard/wg0.conf"])).trim(), "600");
      const mine = Object.entries(pairs).filter(([p]) => p.includes(n)).map(([, k]) => k);
      const found = await s.tb.exec(h, "grep -cF -f - /etc/wireguard/wg0.conf", { input: mine.map((k) => `PresharedKey = ${k}`).join("\n") + "\n" });
      assert.equal(found.stdout.trim(), "2", `${n}'s file has its two pairs' keys (${found.stderr})`);
    }
    const state = JSON.parse(s.pulumiOk(["stack", "export"]).stdout).deployment.resources as Array<{ urn: string; inputs?: Record<string, any>; outputs?: Record<string, any> }>;
    const mesh = state.find((r) => r.urn.endsWith("::keys"))!;
    assert.ok(mesh.outputs?.presharedKeyTable?.ciphertext && mesh.inputs?.presharedKeyTable?.ciphertext, "the Mesh's key table is encrypted in state (inputs and outputs)");
    const config = state.find((r) => r.urn.endsWith("::keys-p1"))!;
    assert.deepEqual(Object.keys(config.inputs?.presharedKeys ?? {}).sort(), ["p2", "p3"]);
    for (const v of Object.values(config.inputs!.presharedKeys) as Array<{ id: string; key: { ciphertext?: string } }>) {
      assert.match(v.id, /^[0-9a-f]{8}$/, "the key's id in the clear");
      assert.ok(v.key.ciphertext, "each of a node's keys is its own secret");
    }
    m = { tb: s.tb, hostOf: (n) => s.hostOf(n), names, meshIps: out.meshIps };
    await startTraffic(m);
  });

  test("a node added: the preview shows only its pairs' keys (as secrets, 0 SSH); up creates only those, every other pair keeps its key", async (t) => {
    const before = (await pskMatrix(["p1", "p2", "p3"])).pairs;
    s.pulumiOk(["config", "set", "hosts", hosts(NAMES)]);
    const p = s.pulumiOk(["preview", "--diff"]);
    assert.doesNotMatch(p.stdout + p.stderr, /connecting to/, "the preview opens no SSH connection");
    for (const n of ["p1", "p2", "p3"]) {
      const sec = section(p.stdout, `keys-${n}`);
      const psks = pskSection(sec);
      assert.match(psks, /\+ p4\s*: \{[\s\S]*\+ id\s*: "[0-9a-f]{8}"[\s\S]*\+ key\s*: \[secret\]/, `${n}: p4's key added (its id shown, the key a secret):\n${sec}`);
      assert.doesNotMatch(psks, /[~-] (p[123]|id)\b/, `${n}: no other pair's key changes:\n${sec}`);
    }
    const { ms, t0, t1 } = await upSampled();
    t.diagnostic(`pulumi up (p4 added): ${ms} ms wall`);
    const { pairs, problems } = await pskMatrix(NAMES);
    assert.deepEqual(problems, []);
    for (const [pair, key] of Object.entries(before)) assert.equal(pairs[pair], key, `${pair} keeps its key`);
    assert.equal(new Set(Object.values(pairs)).size, 6, "six pairs, six different keys");
    const report = await trafficReport(m!, t0, t1);
    for (const line of formatReport(report)) t.diagnostic(`p4 added: ${line}`);
    assert.deepEqual(report.filter((r) => !r.tcpSurvived || r.pingGapMs > 1000).map((r) => r.pair), [], "the existing pairs are untouched");
    await stopTraffic(m!);
    const out = s.stackOutputs();
    m = { tb: s.tb, hostOf: (n) => s.hostOf(n), names: NAMES, meshIps: out.meshIps };
    await startTraffic(m);
  });

  test("pskRotationTrigger: the preview shows every pair's key changing; up gives every pair a new key on both ends; TCP streams survive", async (t) => {
    const before = (await pskMatrix(NAMES)).pairs;
    s.pulumiOk(["config", "set", "pskRotationTrigger", "r1"]);
    const p = s.pulumiOk(["preview", "--diff"]);
    assert.doesNotMatch(p.stdout + p.stderr, /connecting to/);
    for (const n of NAMES) {
      const sec = section(p.stdout, `keys-${n}`);
      for (const peer of NAMES.filter((x) => x !== n)) assert.match(pskSection(sec), new RegExp(`~ ${peer}\\s*: \\{\\s*\\n\\s*~ id\\s*: "[0-9a-f]{8}" => "[0-9a-f]{8}"`), `${n}: ${peer}'s key changes (a new id):\n${sec}`);
    }
    const { ms, t0, t1 } = await upSampled();
    t.diagnostic(`pulumi up (PSK rotation, 4 nodes, 6 pairs): ${ms} ms wall`);
    const { pairs, problems } = await pskMatrix(NAMES);
    assert.deepEqual(problems, []);
    for (const [pair, key] of Object.entries(before)) assert.notEqual(pairs[pair], key, `${pair} has a new key`);
    const report = await trafficReport(m!, t0, t1);
    for (const line of formatReport(report)) t.diagnostic(`PSK rotation: ${line}`);
    t.diagnostic(`PSK rotation: ${worstLine(report)}`);
    assert.deepEqual(report.filter((x) => !x.tcpSurvived).map((x) => `${x.pair}: ${x.tcpEvents.join("; ")}`), [], "every TCP stream survives");
    assert.deepEqual(report.filter((x) => x.pingGapMs > MAX_GAP_MS || !x.pingResumed).map((x) => x.pair), []);
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
    await stopTraffic(m!);
  });

  test("a node removed: its pairs' keys are gone from the other hosts and from the state", async () => {
    s.pulumiOk(["config", "set", "hosts", hosts(["p1", "p2", "p3"])]);
    await upSampled();
    const { problems } = await pskMatrix(["p1", "p2", "p3"]);
    assert.deepEqual(problems, []);
    for (const n of ["p1", "p2", "p3"]) {
      const lines = (await s.tb.execOk(s.hostOf(n), ["wg", "show", "wg0", "preshared-keys"])).trim().split("\n");
      assert.equal(lines.length, 2, `${n} has two peers (and keys) left`);
    }
    const shown = JSON.parse(s.ws.pulumi(s.dir, ["stack", "export", "--show-secrets"]).stdout).deployment.resources as Array<{ urn: string; outputs?: Record<string, any> }>;
    const table = JSON.parse(shown.find((r) => r.urn.endsWith("::keys"))!.outputs!.presharedKeyTable.plaintext) as Record<string, Record<string, { id: string; key: string }>>;
    assert.deepEqual(Object.entries(table).flatMap(([a, row]) => Object.keys(row).map((b) => `${a}–${b}`)).sort(), ["p1–p2", "p1–p3", "p2–p3"]);
  });

  test("switched off: the hosts drop every PSK", async () => {
    s.pulumiOk(["config", "set", "presharedKeys", "false"]);
    await upSampled();
    for (const n of ["p1", "p2", "p3"]) {
      const out = await s.tb.execOk(s.hostOf(n), ["wg", "show", "wg0", "preshared-keys"]);
      assert.deepEqual(out.trim().split("\n").map((l) => l.split("\t")[1]), ["(none)", "(none)"], `${n}: no PSK left`);
      assert.equal((await s.tb.exec(s.hostOf(n), ["grep", "-c", "PresharedKey", "/etc/wireguard/wg0.conf"])).stdout.trim(), "0");
    }
  });

  test("no PSK or private key in stack export, outputs, previews, logs, the workspace's files or ps samples", async (t) => {
    for (const k of Object.values(stackSecrets(s).privateKeys)) seen.add(k);
    const keys = [...seen];
    assert.ok(keys.length >= 12 + 4, `collected ${keys.length} keys (PSKs of every generation and private keys)`);
    const plain = s.pulumiOk(["stack", "export"]).stdout + s.pulumiOk(["stack", "output", "--json"]).stdout;
    assert.equal(keys.filter((k) => plain.includes(k)).length, 0, "none in the plain state or outputs");
    assert.equal(s.outputs.filter((o) => keys.some((k) => o.includes(k))).length, 0, "none in any CLI output (previews, ups, logs)");
    assert.deepEqual(keysInDir(s.ws.root, keys), [], "none in plain text in the workspace (state, history, backups, logs)");
    let samples = 0;
    for (const ps of samplers) {
      const r = await ps.contains(keys);
      samples += r.samples;
      assert.deepEqual(r.hits, [], "none in a process's argv");
    }
    t.diagnostic(`${keys.length} keys checked against ${samples} ps samples, ${s.outputs.length} CLI outputs and the workspace`);
  });
});
