// examples/hub-and-spoke through the real Pulumi engine on 5 testbed hosts: up → every ordered pair pinged
// over the mesh: offices ↔ HQ answer, office ↔ office and hq1 ↔ hq2 do not (no policy relates them) →
// preview --expect-no-changes → office3 removed from the config: preview --diff deletes it and names hq1 and
// hq2 losing it, offices untouched → up tears it down on its host → a peer removed by hand shows in refresh,
// up repairs → no private key anywhere → destroy leaves every host clean.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { pulumiEnv, toolchainMissing } from "./harness";
import { ExampleSession, assertHostsClean, assertNoPrivateKeys, collectPrivateKeys, meshProbes, policyOracle, probeMatrix, section } from "./examples-harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const HQ = ["hq1", "hq2"];
const OFFICES = ["office1", "office2", "office3"];
const NAMES = [...HQ, ...OFFICES];
const POLICIES = [
  { from: ["office"], to: ["hq"], routes: true },
  { from: ["hq"], to: ["office"], routes: false },
];

describe("examples/hub-and-spoke on 5 testbed hosts (real engine)", { skip }, () => {
  let s: ExampleSession;
  const keys = new Set<string>();

  before(async () => {
    s = await ExampleSession.start("hub-and-spoke", "p6hs", NAMES, baseEnv);
    s.pulumiOk(["config", "set", "hq", JSON.stringify(s.entries(HQ))]);
    s.pulumiOk(["config", "set", "offices", JSON.stringify(s.entries(OFFICES))]);
  });
  after(async () => {
    await s?.close();
  });

  test("up: offices reach HQ and HQ the offices; offices never each other", async (t) => {
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (5 nodes, 2 groups, 2 policies): ${r.ms} ms wall`);
    const out = s.stackOutputs();
    assert.deepEqual(Object.keys(out.meshIps).sort(), NAMES);
    collectPrivateKeys(s, keys);
    assert.equal(keys.size, 5, "positive control: 5 private keys read with --show-secrets");
    const oracle = policyOracle({ hq: HQ, office: OFFICES }, POLICIES);
    assert.ok(oracle.peers("office1", "hq2") && !oracle.peers("office1", "office2") && !oracle.peers("hq1", "hq2"));
    const probes = meshProbes(NAMES, (n) => s.hostOf(n), out.meshIps, oracle.peers);
    assert.equal(probes.filter((p) => p.expect).length, 12, "12 ordered pairs allowed, 8 denied");
    assert.deepEqual(await probeMatrix(s.tb, probes), []);
    assert.deepEqual((await s.tb.execOk(s.hostOf("office2"), ["wg", "show", "wg0", "peers"])).trim().split("\n").sort(),
      [out.publicKeys.hq1, out.publicKeys.hq2].sort(), "an office peers with HQ only");
    const noChange = s.pulumi(["preview", "--expect-no-changes"]);
    assert.equal(noChange.status, 0, `no changes expected after up:\n${noChange.stdout}\n${noChange.stderr}`);
  });

  test("office3 removed: preview --diff deletes it and names HQ's lost peer only; up tears it down", async (t) => {
    const before = s.stackOutputs();
    s.pulumiOk(["config", "set", "offices", JSON.stringify(s.entries(["office1", "office2"]))]);
    const p = s.pulumiOk(["preview", "--diff"]);
    const o = p.stdout;
    assert.match(o, /- pulumi-nodejs:dynamic:Resource: \(delete\)\s*\[id=hs\/office3\]/, `hs-office3 is deleted:\n${o}`);
    assert.match(o, /- pulumi-nodejs:dynamic:Resource: \(delete\)\s*\[id=office3\]/, "the office3 Node is deleted");
    for (const h of HQ) {
      const sec = section(o, `hs-${h}`);
      assert.match(sec, /~ peers\s*:[\s\S]*?^\s*- office3 key=/m, `${h} loses office3`);
      assert.doesNotMatch(sec, /^\s*[-+] office[12] key=/m, `${h}'s view of office1/2 is unchanged`);
    }
    for (const n of ["office1", "office2"]) assert.equal(section(o, `hs-${n}`), "", `hs-${n} is unchanged, not in the diff`);
    assert.ok(o.includes(before.publicKeys.office3), "the removed peer is shown by its public key");
    assert.doesNotMatch(o + p.stderr, /connecting to/, "preview opens no SSH connection");
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (office3 removed): ${r.ms} ms wall`);
    const gone = await s.tb.exec(s.hostOf("office3"), "ip link show wg0; ls /etc/wireguard/wg0.conf; systemctl is-enabled wg-quick@wg0");
    assert.match(gone.stdout + gone.stderr, /does not exist/);
    assert.doesNotMatch(gone.stdout, /^enabled$/m);
    for (const h of HQ) assert.doesNotMatch(await s.tb.execOk(s.hostOf(h), ["wg", "show", "wg0", "peers"]), new RegExp(before.publicKeys.office3.replace(/[+/]/g, "\\$&")));
    const out = s.stackOutputs();
    const left = ["hq1", "hq2", "office1", "office2"];
    assert.deepEqual(Object.keys(out.meshIps).sort(), left);
    for (const n of left) assert.equal(out.meshIps[n], before.meshIps[n], `${n} keeps its mesh IP`);
    const oracle = policyOracle({ hq: HQ, office: ["office1", "office2"] }, POLICIES);
    assert.deepEqual(await probeMatrix(s.tb, meshProbes(left, (n) => s.hostOf(n), out.meshIps, oracle.peers)), []);
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("refresh shows a peer removed by hand on hq1; the next up repairs it", async () => {
    const out = s.stackOutputs();
    await s.tb.execOk(s.hostOf("hq1"), ["wg", "set", "wg0", "peer", out.publicKeys.office1, "remove"]);
    const refresh = s.pulumiOk(["refresh", "--yes", "--diff"]);
    assert.match(section(refresh.stdout, "hs-hq1"), /~ peers\s*:[\s\S]*?^\s*- office1 key=/m, `refresh shows office1 gone from hq1:\n${refresh.stdout}`);
    assert.notEqual(s.pulumi(["preview", "--expect-no-changes"]).status, 0, "drift is a pending change");
    s.pulumiOk(["up", "--yes", "--skip-preview"]);
    assert.equal((await s.tb.exec(s.hostOf("hq1"), ["ping", "-n", "-c", "1", "-w", "10", out.meshIps.office1])).code, 0, "hq1 → office1 again");
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("destroy leaves no interface, unit or conf; no private key in state or any command output", async () => {
    collectPrivateKeys(s, keys);
    s.pulumiOk(["destroy", "--yes", "--skip-preview"]);
    await assertHostsClean(s.tb);
    assertNoPrivateKeys(s, keys);
    s.dir = "";
  });
});
