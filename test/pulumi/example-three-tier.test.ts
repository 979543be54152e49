// examples/three-tier through the real Pulumi engine on 7 testbed hosts: up → every ordered pair pinged over
// the mesh, exactly the pairs the policy rule peers answer → preview --expect-no-changes → drop the
// web-to-app policy: preview --diff names web1, web2, app1 and their lost peers, nobody else → up → matrix
// again → a peer removed by hand shows in refresh, up repairs → no private key anywhere → destroy leaves
// every host clean.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { pulumiEnv, toolchainMissing } from "./harness";
import { ExampleSession, assertHostsClean, assertNoPrivateKeys, collectPrivateKeys, meshProbes, policyOracle, probeMatrix, section, type PolicySpec } from "./examples-harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const NAMES = ["web1", "web2", "app1", "db1", "web3", "app2", "db2"];
const GROUPS = { web: ["web1", "web2"], app: ["app1"], db: ["db1"], staging: ["web3", "app2", "db2"] };
const POLICIES: Record<string, PolicySpec> = {
  "web-to-app": { from: ["web"], to: ["app"], routes: false },
  "app-to-db": { from: ["app"], to: ["db"], routes: true },
  "db-to-app": { from: ["db"], to: ["app"], routes: false },
  "staging-isolated": { from: ["staging"], to: ["staging"], routes: true },
};

describe("examples/three-tier on 7 testbed hosts (real engine)", { skip }, () => {
  let s: ExampleSession;
  const keys = new Set<string>();

  before(async () => {
    s = await ExampleSession.start("three-tier", "p6tt", NAMES, baseEnv);
    s.pulumiOk(["config", "set", "hosts", JSON.stringify(s.entries(NAMES))]);
  });
  after(async () => {
    await s?.close();
  });

  test("up: exactly the pairs the policies peer reach each other's mesh IP", async (t) => {
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (7 nodes, 4 groups, 4 policies): ${r.ms} ms wall`);
    for (const n of NAMES) assert.match(r.stdout, new RegExp(`wgmesh \\[${n}\\] \\d+ operation\\(s\\) applied`), `progress for ${n}`);
    const out = s.stackOutputs();
    assert.deepEqual(Object.keys(out.meshIps).sort(), [...NAMES].sort());
    collectPrivateKeys(s, keys);
    assert.equal(keys.size, 7, "positive control: 7 private keys read with --show-secrets");
    const oracle = policyOracle(GROUPS, Object.values(POLICIES));
    // The README's statements, as a check on the oracle itself.
    assert.ok(oracle.peers("web1", "app1") && !oracle.peers("web1", "db1") && oracle.peers("app1", "db1") && !oracle.peers("web3", "web1") && oracle.peers("web3", "db2"));
    const probes = meshProbes(NAMES, (n) => s.hostOf(n), out.meshIps, oracle.peers);
    assert.equal(probes.filter((p) => p.expect).length, 12, "12 ordered pairs allowed, 30 denied");
    const t0 = Date.now();
    assert.deepEqual(await probeMatrix(s.tb, probes), []);
    t.diagnostic(`ping matrix (42 probes): ${Date.now() - t0} ms`);
    // Peers on the hosts are the same as the rule: web1 has only app1, app1 has web1, web2, db1.
    assert.equal((await s.tb.execOk(s.hostOf("web1"), ["wg", "show", "wg0", "peers"])).trim(), out.publicKeys.app1);
    assert.deepEqual((await s.tb.execOk(s.hostOf("app1"), ["wg", "show", "wg0", "peers"])).trim().split("\n").sort(),
      [out.publicKeys.web1, out.publicKeys.web2, out.publicKeys.db1].sort());
    const noChange = s.pulumi(["preview", "--expect-no-changes"]);
    assert.equal(noChange.status, 0, `no changes expected after up:\n${noChange.stdout}\n${noChange.stderr}`);
  });

  test("dropping web-to-app: preview --diff names web1, web2, app1 and the peers they lose; up applies it", async (t) => {
    s.editProgram((text) => text.replace(/^.*new wgmesh\.Policy\("web-to-app".*\n/m, ""));
    const p = s.pulumiOk(["preview", "--diff"]);
    const o = p.stdout;
    assert.match(o, /- pulumi-nodejs:dynamic:Resource: \(delete\)[\s\S]*?::web-to-app\]/, "the policy is deleted");
    assert.match(section(o, "tiers-web1"), /~ peers\s*: \{\s*- app1: \{/, `web1 loses app1:\n${o}`);
    assert.match(section(o, "tiers-web2"), /~ peers\s*: \{\s*- app1: \{/, "web2 loses app1");
    const app1 = section(o, "tiers-app1");
    assert.match(app1, /- web1: \{/, "app1 loses web1");
    assert.match(app1, /- web2: \{/, "app1 loses web2");
    assert.doesNotMatch(app1, /- db1: \{/, "app1 keeps db1");
    for (const n of ["db1", "web3", "app2", "db2"]) assert.equal(section(o, `tiers-${n}`), "", `tiers-${n} is unchanged, not in the diff`);
    assert.doesNotMatch(p.stdout + p.stderr, /connecting to/, "preview opens no SSH connection");
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (policy dropped): ${r.ms} ms wall`);
    const out = s.stackOutputs();
    const { ["web-to-app"]: _dropped, ...rest } = POLICIES;
    const oracle = policyOracle(GROUPS, Object.values(rest));
    assert.ok(!oracle.peers("web1", "app1"));
    assert.deepEqual(await probeMatrix(s.tb, meshProbes(NAMES, (n) => s.hostOf(n), out.meshIps, oracle.peers)), []);
    assert.equal((await s.tb.execOk(s.hostOf("web1"), ["wg", "show", "wg0", "peers"])).trim(), "", "web1 has no peer left");
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("refresh shows a peer removed by hand on db2; the next up repairs it", async () => {
    const out = s.stackOutputs();
    await s.tb.execOk(s.hostOf("db2"), ["wg", "set", "wg0", "peer", out.publicKeys.web3, "remove"]);
    assert.notEqual((await s.tb.exec(s.hostOf("db2"), ["ping", "-n", "-c", "1", "-w", "2", out.meshIps.web3])).code, 0, "drift is real");
    const refresh = s.pulumiOk(["refresh", "--yes", "--diff"]);
    assert.match(section(refresh.stdout, "tiers-db2"), /~ peers\s*: \{[\s\S]*?- web3: \{/, `refresh shows web3 gone from db2:\n${refresh.stdout}`);
    assert.notEqual(s.pulumi(["preview", "--expect-no-changes"]).status, 0, "drift is a pending change");
    s.pulumiOk(["up", "--yes", "--skip-preview"]);
    assert.equal((await s.tb.exec(s.hostOf("db2"), ["ping", "-n", "-c", "1", "-w", "10", out.meshIps.web3])).code, 0, "db2 → web3 again");
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("destroy leaves no interface, unit or conf; no private key in state or any command output", async () => {
    collectPrivateKeys(s, keys);
    s.pulumiOk(["destroy", "--yes", "--skip-preview"]);
    await assertHostsClean(s.tb);
    assertNoPrivateKeys(s, keys);
    s.dir = ""; // nothing left for after()
  });
});
