// examples/three-tier through the real Pulumi engine on 7 testbed hosts, policies ENFORCED (issue 13):
// up → TCP connect matrix (listeners on every host: tcp/5432 on db*, tcp/8080 on app*, tcp/80 on web*) and
// ping matrix of all 42 ordered pairs equal an independent oracle of the directional rule (web → app yes,
// app → web no, ports as declared, staging isolated); db1 has an `inet filter` drop table of its own (SSH
// still works, its table untouched) → a failing policy test fails the preview (no SSH) → a policy change (a
// port added, the staging group removed): preview --diff names exactly the nodes whose rules change and shows
// the rules; up rewrites only their tables while a long-lived TCP connection keeps flowing and no tunnel
// restarts → reboot: identical rulesets → a flushed table: refresh shows the drift (and the live policy test
// that now fails), up repairs → destroy removes every table; no private key anywhere.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { pulumiEnv, toolchainMissing } from "./harness";
import {
  ExampleSession, assertHostsClean, assertNoPrivateKeys, collectPrivateKeys, connectMatrix, meshProbes, nodeBind, policyOracle,
  probeMatrix, section, startListener, type PolicySpec, type Probe,
} from "./examples-harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const NAMES = ["web1", "web2", "app1", "db1", "web3", "app2", "db2"];
const GROUPS: Record<string, string[]> = { web: ["web1", "web2"], app: ["app1"], db: ["db1"], staging: ["web3", "app2", "db2"] };
const POLICIES: Record<string, PolicySpec> = {
  "web-to-app": { from: ["web"], to: ["app"], routes: false, ports: ["tcp/8080", "icmp"] },
  "app-to-db": { from: ["app"], to: ["db"], routes: true, ports: ["tcp/5432", "icmp"] },
  "db-to-app": { from: ["db"], to: ["app"], routes: false, ports: ["tcp/8080"] },
  "staging-isolated": { from: ["staging"], to: ["staging"], routes: true },
};
/** The port each node listens on. */
const LISTEN = (n: string) => (n.startsWith("db") ? 5432 : n.startsWith("app") ? 8080 : 80);
const TABLE = ["nft", "-s", "list", "table", "inet", "wgmesh_wg0"];
const OWN_FILTER = `#!/usr/sbin/nft -f
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
		tcp dport 22 accept
		udp dport 51820 accept
		iifname "wg0" accept comment "the mesh: wgmesh's own table decides"
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
}
`;

describe("examples/three-tier on 7 testbed hosts, policies enforced by nftables (real engine)", { skip }, () => {
  let s: ExampleSession;
  const keys = new Set<string>();
  let ownFilter = "";

  const matrices = async (policies: PolicySpec[], groups = GROUPS, names = NAMES): Promise<string[]> => {
    const out = s.stackOutputs();
    const o = policyOracle(groups, policies);
    const tcp: Array<Probe & { port: number }> = names.flatMap((x) => names.filter((y) => y !== x).map((y) => ({
      label: `${x} → ${y} tcp/${LISTEN(y)}`, from: s.hostOf(x), target: out.meshIps[y]!, port: LISTEN(y), expect: o.reach(x, y, `tcp/${LISTEN(y)}`),
    })));
    const icmp = meshProbes(names, (n) => s.hostOf(n), out.meshIps, (x, y) => o.reach(x, y, "icmp"));
    const [a, b] = await Promise.all([connectMatrix(s.tb, tcp), probeMatrix(s.tb, icmp)]);
    return [...a, ...b];
  };
  const unitStart = async (n: string) => (await s.tb.execOk(s.hostOf(n), ["systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "wg-quick@wg0"])).trim() +
    "/" + JSON.parse(await s.tb.execOk(s.hostOf(n), ["ip", "-j", "link", "show", "wg0"]))[0].ifindex;

  before(async () => {
    s = await ExampleSession.start("three-tier", "ftier", NAMES, baseEnv, { binds: [nodeBind()] });
    s.pulumiOk(["config", "set", "hosts", JSON.stringify(s.entries(NAMES))]);
    // db1 comes with a firewall of its own: input policy drop, SSH and WireGuard accepted, wg0 delegated.
    const db1 = s.hostOf("db1");
    await s.tb.execOk(db1, "cat > /etc/nftables.conf && systemctl enable -q --now nftables", { input: OWN_FILTER });
    ownFilter = await s.tb.execOk(db1, ["nft", "list", "table", "inet", "filter"]);
    assert.match(ownFilter, /policy drop/);
    for (const n of NAMES) await startListener(s.tb, s.hostOf(n), LISTEN(n));
  });
  after(async () => {
    await s?.close();
  });

  test("up: connect and ping matrices are exactly the directional policies; db1's own drop table untouched", async (t) => {
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (7 nodes, 4 groups, 4 policies, enforced): ${r.ms} ms wall`);
    for (const n of NAMES) assert.match(r.stdout, new RegExp(`\\[${n}\\] \\d+ operation\\(s\\) applied`), `progress for ${n}`);
    collectPrivateKeys(s, keys);
    assert.equal(keys.size, 7, "positive control: 7 private keys read with --show-secrets");
    const o = policyOracle(GROUPS, Object.values(POLICIES));
    // The statements of the issue, as a check on the oracle itself.
    assert.ok(o.reach("web1", "app1", "tcp/8080") && !o.reach("app1", "web1", "tcp/80") && o.peers("app1", "web1"));
    assert.ok(o.reach("app1", "db1", "tcp/5432") && !o.reach("app1", "db1", "tcp/22") && !o.reach("web1", "db1", "tcp/5432") && !o.reach("web3", "db1"));
    const t0 = Date.now();
    assert.deepEqual(await matrices(Object.values(POLICIES)), []);
    t.diagnostic(`connect + ping matrices (84 probes): ${Date.now() - t0} ms`);
    // app1 → web1 NEW was refused by web1's table: its drop counter counted it.
    const counter = await s.tb.execOk(s.hostOf("web1"), ["nft", "list", "counter", "inet", "wgmesh_wg0", "input_dropped"]);
    assert.match(counter, /packets [1-9]\d*/, counter);
    // db1: reachable over SSH (the up ran), its own table unchanged, ours beside it.
    assert.equal(await s.tb.execOk(s.hostOf("db1"), ["nft", "list", "table", "inet", "filter"]), ownFilter);
    assert.match(await s.tb.execOk(s.hostOf("db1"), TABLE), /ip saddr @src_app tcp dport 5432 accept comment "input app-to-db from app tcp"/);
    assert.match(await s.tb.execOk(s.hostOf("app1"), ["cat", "/etc/wireguard/wg0.conf"]), /^PreUp = nft -f \/etc\/wireguard\/wg0\.nft$/m);
    const noChange = s.pulumi(["preview", "--expect-no-changes"]);
    assert.equal(noChange.status, 0, `no changes expected after up:\n${noChange.stdout}\n${noChange.stderr}`);
    const refresh = s.pulumiOk(["refresh", "--yes", "--diff"]);
    assert.doesNotMatch(refresh.stdout, /fail: /, "refresh ran the policy tests on the hosts: all pass");
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("a failing policy test fails the preview with the policy named, without any SSH", () => {
    s.editProgram((p) => p.replace(`    { from: "web3", to: "db1", port: "icmp", expect: "deny" },\n`, `    { from: "web3", to: "db1", port: "icmp", expect: "deny" },\n    { from: "app1", to: "web1", port: "tcp/80", expect: "allow" },\n`));
    const r = s.pulumi(["preview"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /policy test #7 \(app1 → web1 tcp\/80, expect allow\) fails: app1 → web1 tcp\/80 is denied: no policy lets app1's groups \[app\] reach web1's groups \[web\]; "web-to-app" relates them only from web1 to app1/);
    assert.doesNotMatch(r.stdout + r.stderr, /connecting to/, "no SSH during preview");
    s.editProgram((p) => p.replace(`    { from: "app1", to: "web1", port: "tcp/80", expect: "allow" },\n`, ""));
  });

  test("a port added and the staging group removed: only app1 and the staging nodes change; a long-lived TCP connection flows on; no tunnel restarts", async (t) => {
    const out = s.stackOutputs();
    // A long-lived connection web1 → app1:8080 (allowed before and after), echoing every 100 ms.
    const js = `const s = require("net").connect(8080, ${JSON.stringify(out.meshIps.app1)}); let n = 0; const fs = require("fs");
s.on("data", (d) => { n += String(d).split("x").length - 1; fs.writeFileSync("/run/flong.count", String(n)); });
s.on("close", () => { fs.writeFileSync("/run/flong.closed", "closed"); process.exit(0); }); s.on("error", () => {});
setInterval(() => s.write("x"), 100);`;
    await s.tb.execOk(s.hostOf("web1"), ["systemd-run", "--unit=flong", "/usr/local/bin/node", "-e", js]);
    const count = async () => Number((await s.tb.exec(s.hostOf("web1"), ["cat", "/run/flong.count"])).stdout || "0");
    for (let i = 0; i < 50 && (await count()) < 5; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await count()) >= 5, "the long-lived connection echoes");
    const starts = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await unitStart(n)] as const)));
    const tables = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await s.tb.execOk(s.hostOf(n), TABLE)] as const)));

    s.editProgram((p) => p
      .replace(`ports: ["tcp/8080", "icmp"] })`, `ports: ["tcp/8080", "tcp/9090", "icmp"] })`)
      .replace(/^  new wgmesh\.Policy\("staging-isolated".*\n/m, "")
      .replace("groups: [web, app, db, staging],", "groups: [web, app, db],"));
    const p = s.pulumiOk(["preview", "--diff"]);
    const o = p.stdout;
    assert.doesNotMatch(o + p.stderr, /connecting to/, "preview opens no SSH connection");
    assert.match(section(o, "tiers-app1"), /~ input web-to-app from web tcp\s*: "ip saddr @src_web tcp dport 8080 accept" => "ip saddr @src_web tcp dport \{ 8080, 9090 \} accept"/, `app1's rule gains the port:\n${o}`);
    for (const n of ["web3", "app2", "db2"]) {
      assert.match(section(o, `tiers-${n}`), /- input staging-isolated from staging\s*: "ip saddr @src_staging accept"/, `${n} loses the staging rule`);
    }
    for (const n of ["web1", "web2", "db1"]) assert.equal(section(o, `tiers-${n}`), "", `tiers-${n} is unchanged, not in the diff`);
    const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (policy change): ${r.ms} ms wall`);
    for (const n of ["web1", "web2", "db1"]) {
      assert.doesNotMatch(r.stdout, new RegExp(`\\[${n}\\] connecting`), `${n} was not touched`);
      assert.equal(await s.tb.execOk(s.hostOf(n), TABLE), tables[n], `${n}'s table unchanged`);
    }
    assert.notEqual(await s.tb.execOk(s.hostOf("app1"), TABLE), tables.app1, "app1's table rewritten");
    const before = await count();
    await new Promise((res) => setTimeout(res, 1000));
    assert.ok((await count()) > before, "the long-lived connection still flows after the change");
    assert.notEqual((await s.tb.exec(s.hostOf("web1"), ["cat", "/run/flong.closed"])).code, 0, "and it was never closed");
    for (const n of NAMES) assert.equal(await unitStart(n), starts[n], `${n}: no tunnel restart (same unit start, same wg0)`);
    await s.tb.exec(s.hostOf("web1"), ["systemctl", "stop", "flong"]);
    const policies = { ...POLICIES, "web-to-app": { ...POLICIES["web-to-app"]!, ports: ["tcp/8080", "tcp/9090", "icmp"] } };
    delete (policies as Record<string, PolicySpec>)["staging-isolated"];
    const { staging: _gone, ...groups } = GROUPS;
    assert.deepEqual(await matrices(Object.values(policies), groups), []);
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("reboot: the same rulesets come back (db1's own nftables.service flushes the ruleset at boot, before wg-quick)", async () => {
    const before = { app1: await s.tb.execOk(s.hostOf("app1"), TABLE), db1: await s.tb.execOk(s.hostOf("db1"), TABLE) };
    await Promise.all(["app1", "db1"].map((n) => s.tb.reboot(s.hostOf(n))));
    for (const n of ["app1", "db1"]) {
      for (let i = 0; i < 100 && (await s.tb.exec(s.hostOf(n), ["systemctl", "is-active", "wg-quick@wg0"])).stdout.trim() !== "active"; i++) await new Promise((r) => setTimeout(r, 200));
      assert.equal(await s.tb.execOk(s.hostOf(n), TABLE), before[n as "app1" | "db1"], `${n}: identical ruleset after reboot`);
    }
    assert.equal(await s.tb.execOk(s.hostOf("db1"), ["nft", "list", "table", "inet", "filter"]), ownFilter, "db1's own table as before");
    await startListener(s.tb, s.hostOf("db1"), 5432);
    await startListener(s.tb, s.hostOf("app1"), 8080);
    const out = s.stackOutputs();
    assert.deepEqual(await connectMatrix(s.tb, [
      { label: "app1 → db1 tcp/5432", from: s.hostOf("app1"), target: out.meshIps.db1!, port: 5432, expect: true },
      { label: "web1 → app1 tcp/8080", from: s.hostOf("web1"), target: out.meshIps.app1!, port: 8080, expect: true },
      { label: "app1 → web1 tcp/80", from: s.hostOf("app1"), target: out.meshIps.web1!, port: 80, expect: false },
      { label: "web1 → db1 tcp/5432", from: s.hostOf("web1"), target: out.meshIps.db1!, port: 5432, expect: false },
    ]), []);
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("a flushed table: refresh shows the drift and the live policy test that fails; up repairs", async () => {
    const web1 = s.hostOf("web1");
    const planned = await s.tb.execOk(web1, TABLE);
    await s.tb.execOk(web1, ["nft", "flush", "table", "inet", "wgmesh_wg0"]);
    const out = s.stackOutputs();
    assert.deepEqual(await connectMatrix(s.tb, [{ label: "app1 → web1 tcp/80 (flushed)", from: s.hostOf("app1"), target: out.meshIps.web1!, port: 80, expect: true }]), [], "drift is real");
    const refresh = s.pulumiOk(["refresh", "--yes", "--diff"]);
    assert.match(section(refresh.stdout, "tiers-web1"), /~ firewall\s*: "as planned" => "differs from the plan"/, `refresh shows web1's table drifted:\n${refresh.stdout}`);
    assert.match(section(refresh.stdout, "tiers-app1"), /~ web1 tcp\/80\s*: \{[^}]*?~ result\s*: "pass" => "fail: tcp\/80 to [0-9.]+: connected"/, "and app1's policy test against web1 now fails on the host");
    assert.notEqual(s.pulumi(["preview", "--expect-no-changes"]).status, 0, "drift is a pending change");
    s.pulumiOk(["up", "--yes", "--skip-preview"]);
    assert.equal(await s.tb.execOk(web1, TABLE), planned, "web1's table repaired");
    assert.deepEqual(await connectMatrix(s.tb, [{ label: "app1 → web1 tcp/80 (repaired)", from: s.hostOf("app1"), target: out.meshIps.web1!, port: 80, expect: false }]), []);
    s.pulumiOk(["refresh", "--yes"]);
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("destroy removes every table and file; db1's own table stays; no private key in state or any command output", async () => {
    collectPrivateKeys(s, keys);
    s.pulumiOk(["destroy", "--yes", "--skip-preview"]);
    await assertHostsClean(s.tb);
    for (const n of NAMES) assert.notEqual((await s.tb.exec(s.hostOf(n), TABLE)).code, 0, `${n}: table inet wgmesh_wg0 gone`);
    assert.equal(await s.tb.execOk(s.hostOf("db1"), ["nft", "list", "table", "inet", "filter"]), ownFilter);
    assertNoPrivateKeys(s, keys);
    s.dir = ""; // nothing left for after()
  });
});
