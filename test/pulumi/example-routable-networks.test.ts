// examples/routable-networks through the real Pulumi engine on 4 testbed hosts, site1 and site2 each with a
// /24 and a device behind it (the testbed's `behind`). Policies enforced (issue 13, the default). up with
// site1's network declared → mesh matrix as the directional rule allows (ops1 and mon1 reach the sites, not the
// reverse), and site1's LAN device answers ops1 only (mon1 is a peer without allowRoutableNetworks, site2 no
// peer); the LAN device cannot open connections into the mesh (no policy from the sites) → mon1 routes site1's
// LAN by hand (AllowedIPs + route): still no reply, dropped at site1 (forward_dropped counts it), refresh shows
// mon1's drift and up repairs it → preview --expect-no-changes
// → site2's network added: preview --diff names ops1 (AllowedIPs + route) and site2 (forwarding), not mon1
// or site1 → up → ops1 reaches site2's LAN, nobody else → a peer removed by hand shows in refresh, up
// repairs → no private key anywhere → destroy leaves every host clean.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { pulumiEnv, toolchainMissing } from "./harness";
import { ExampleSession, assertHostsClean, assertNoPrivateKeys, collectPrivateKeys, escapeRe, meshProbes, policyOracle, probeMatrix, section, type Probe } from "./examples-harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const NAMES = ["site1", "site2", "ops1", "mon1"];
const GROUPS = { sites: ["site1", "site2"], ops: ["ops1"], monitoring: ["mon1"] };
const POLICIES = [
  { from: ["ops"], to: ["sites"], routes: true },
  { from: ["monitoring"], to: ["sites"], routes: false },
];

describe("examples/routable-networks on 4 testbed hosts, 2 with a LAN behind (real engine)", { skip }, () => {
  let s: ExampleSession;
  const keys = new Set<string>();
  let lan1 = { cidr: "", device: "" };
  let lan2 = { cidr: "", device: "" };
  const oracle = policyOracle(GROUPS, POLICIES);

  /** From every other node to the LAN device behind `site`: a reply iff `allowed(node)`. */
  const lanProbes = (site: string, device: string, allowed: (n: string) => boolean): Probe[] =>
    NAMES.filter((n) => n !== site).map((n) => ({ label: `${n} → ${site}'s LAN device ${device}`, from: s.hostOf(n), target: device, expect: allowed(n) }));

  before(async () => {
    s = await ExampleSession.start("routable-networks", "frn", NAMES, baseEnv, { behind: ["frn-h1", "frn-h2"] });
    const b1 = s.host("site1").behind;
    const b2 = s.host("site2").behind;
    assert.ok(b1 && b2, "site1 and site2 have a network behind them");
    lan1 = b1;
    lan2 = b2;
    assert.notEqual(lan1.cidr, lan2.cidr);
    s.pulumiOk(["config", "set", "hosts", JSON.stringify(s.entries(NAMES, { site1: [lan1.cidr] }))]);
  });
  after(async () => {
    await s?.close();
  });

  test("up: site1's LAN is reachable from ops1 only; the mesh matrix follows the policies", async (t) => {
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (4 nodes, 1 routable network): ${r.ms} ms wall`);
    const out = s.stackOutputs();
    collectPrivateKeys(s, keys);
    assert.equal(keys.size, 4, "positive control: 4 private keys read with --show-secrets");
    assert.ok(oracle.routes("ops1", "site1") && oracle.peers("mon1", "site1") && !oracle.routes("mon1", "site1") && !oracle.peers("site1", "site2"));
    assert.ok(oracle.reach("mon1", "site1") && !oracle.reach("site1", "mon1") && oracle.reachNetwork("ops1", "site1") && !oracle.reachNetwork("mon1", "site1"));
    const probes: Probe[] = [
      ...meshProbes(NAMES, (n) => s.hostOf(n), out.meshIps, (x, y) => oracle.reach(x, y)),
      ...lanProbes("site1", lan1.device, (n) => oracle.reachNetwork(n, "site1")),
      // Not declared yet: site2's LAN is nobody's.
      ...lanProbes("site2", lan2.device, () => false),
      // From the device behind site1 (default route via site1): ops1's AllowedIPs accept site1's LAN, but no policy
      // lets the sites (or what is behind them) open connections to ops1 or mon1: enforced at their input hook.
      ...["ops1", "mon1", "site2"].map((n) => ({ label: `site1's LAN device → ${n}`, from: s.hostOf("site1"), target: out.meshIps[n]!, expect: false, behind: true })),
    ];
    assert.equal(probes.filter((p) => p.expect).length, 4 + 1, "4 directed mesh pairs (ops1/mon1 → sites), ops1 → LAN1");
    assert.deepEqual(await probeMatrix(s.tb, probes), []);
    assert.match(await s.tb.execOk(s.hostOf("ops1"), ["ip", "route", "show", lan1.cidr]), /dev wg0/, "ops1 routes site1's LAN into the mesh");
    assert.equal((await s.tb.execOk(s.hostOf("mon1"), ["ip", "route", "show", lan1.cidr])).trim(), "", "mon1 gets no route");
    assert.equal((await s.tb.execOk(s.hostOf("site1"), ["sysctl", "-n", "net.ipv4.ip_forward"])).trim(), "1", "site1 forwards");
    const noChange = s.pulumi(["preview", "--expect-no-changes"]);
    assert.equal(noChange.status, 0, `no changes expected after up:\n${noChange.stdout}\n${noChange.stderr}`);
  });

  test("mon1 routes site1's LAN by hand: dropped at site1 (forward_dropped counts it); refresh shows the drift, up repairs", async () => {
    const out = s.stackOutputs();
    const mon1 = s.hostOf("mon1");
    const site1 = s.hostOf("site1");
    const dropped = async () => Number(/packets (\d+)/.exec(await s.tb.execOk(site1, ["nft", "list", "counter", "inet", "wgmesh_wg0", "forward_dropped"]))?.[1] ?? "-1");
    const before = await dropped();
    await s.tb.execOk(mon1, ["wg", "set", "wg0", "peer", out.publicKeys.site1!, "allowed-ips", `${out.meshIps.site1}/32,${lan1.cidr}`]);
    await s.tb.execOk(mon1, ["ip", "route", "replace", lan1.cidr, "dev", "wg0"]);
    assert.notEqual((await s.tb.exec(mon1, ["ping", "-n", "-c", "3", "-i", "0.3", "-w", "4", lan1.device])).code, 0, "mon1 cannot reach site1's LAN even so");
    assert.ok((await dropped()) >= before + 1, `site1's forward_dropped counter grew (${before} → ${await dropped()})`);
    assert.equal((await s.tb.exec(mon1, ["ping", "-n", "-c", "1", "-w", "10", out.meshIps.site1!])).code, 0, "mon1 → site1's mesh IP still allowed");
    const refresh = s.pulumiOk(["refresh", "--yes", "--diff"]);
    assert.match(section(refresh.stdout, "rn-mon1"), /~ routes\s*: \[/, `refresh shows mon1's hand-made route:\n${refresh.stdout}`);
    s.pulumiOk(["up", "--yes", "--skip-preview"]);
    assert.equal((await s.tb.execOk(mon1, ["ip", "route", "show", lan1.cidr])).trim(), "", "the hand-made route is gone");
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("site2's network added: preview --diff names ops1 and site2 only; up makes it reachable from ops1", async (t) => {
    s.pulumiOk(["config", "set", "hosts", JSON.stringify(s.entries(NAMES, { site1: [lan1.cidr], site2: [lan2.cidr] }))]);
    const p = s.pulumiOk(["preview", "--diff"]);
    const o = p.stdout;
    const ops1 = section(o, "rn-ops1");
    assert.match(ops1, new RegExp(`^\\s*\\+ site2 key=\\S+ allowedIps=[0-9./]+,${escapeRe(lan2.cidr)}( |$)`, "m"), `ops1's peer site2 gains the LAN:\n${o}`);
    assert.match(ops1, new RegExp(`~ routes\\s*: \\[[\\s\\S]*?\\+ \\[\\d\\]: "${escapeRe(lan2.cidr)}"`), "ops1 gains the route");
    assert.doesNotMatch(ops1, /^\s*[-+] site1 key=/m, "ops1's view of site1 is unchanged");
    assert.match(section(o, "rn-site2"), /~ forwarding\s*: false => true/, "site2 starts forwarding");
    for (const n of ["site1", "mon1"]) assert.equal(section(o, `rn-${n}`), "", `rn-${n} is unchanged, not in the diff`);
    assert.doesNotMatch(o + p.stderr, /connecting to/, "preview opens no SSH connection");
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (routable network added): ${r.ms} ms wall`);
    assert.deepEqual(await probeMatrix(s.tb, [
      ...lanProbes("site1", lan1.device, (n) => oracle.reachNetwork(n, "site1")),
      ...lanProbes("site2", lan2.device, (n) => oracle.reachNetwork(n, "site2")),
    ]), []);
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("refresh shows a peer removed by hand on ops1; the next up repairs it", async () => {
    const out = s.stackOutputs();
    await s.tb.execOk(s.hostOf("ops1"), ["wg", "set", "wg0", "peer", out.publicKeys.site1, "remove"]);
    assert.notEqual((await s.tb.exec(s.hostOf("ops1"), ["ping", "-n", "-c", "1", "-w", "2", lan1.device])).code, 0, "drift is real");
    const refresh = s.pulumiOk(["refresh", "--yes", "--diff"]);
    assert.match(section(refresh.stdout, "rn-ops1"), /~ peers\s*:[\s\S]*?^\s*- site1 key=/m, `refresh shows site1 gone from ops1:\n${refresh.stdout}`);
    assert.notEqual(s.pulumi(["preview", "--expect-no-changes"]).status, 0, "drift is a pending change");
    s.pulumiOk(["up", "--yes", "--skip-preview"]);
    assert.equal((await s.tb.exec(s.hostOf("ops1"), ["ping", "-n", "-c", "1", "-w", "10", lan1.device])).code, 0, "ops1 → site1's LAN again");
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
