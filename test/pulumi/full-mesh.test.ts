// examples/full-mesh through the real Pulumi engine against 3 real testbed hosts:
// up → ping matrix over the mesh IPs → preview --expect-no-changes → manual drift → refresh shows it → up
// repairs → (sshd stopped everywhere) preview --diff of a node removal + routable network, from state alone →
// up → node back → destroy leaves no interface/unit/conf. Every private key: 0 hits in exported state,
// outputs and CLI output.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, pulumiEnv, repoRoot, toolchainMissing, type RunResult } from "./harness";
import { up, type Testbed } from "../testbed";
import { diagnosticsByResource } from "./previewdiff";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const NAMES = ["app1", "app2", "app3"];

describe("examples/full-mesh on 3 testbed hosts (real engine)", { skip }, () => {
  let tb: Testbed;
  let ws: Workspace;
  let dir = "";
  const outputs: string[] = [];

  const pulumi = (args: string[], input?: string): RunResult => {
    const r = ws.pulumi(dir, args, { input });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const pulumiOk = (args: string[], input?: string): RunResult => {
    const r = pulumi(args, input);
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  };
  const hostsConfig = (names: string[], extra: Record<string, object> = {}) =>
    JSON.stringify(names.map((name) => {
      const h = tb.hosts[NAMES.indexOf(name)]!;
      return { name, host: h.address, port: h.sshPort, user: "root", hostKey: h.hostPublicKey, ...(extra[name] ?? {}) };
    }));
  const hostOf = (name: string) => tb.hosts[NAMES.indexOf(name)]!.name;

  /** Every ordered pair pinged over the mesh; failures, each followed once by the hosts' `wg show` (no private key) for diagnosis. */
  async function pingMatrix(names: string[], meshIps: Record<string, string>): Promise<string[]> {
    const failures: string[] = [];
    await Promise.all(names.flatMap((from) => names.map(async (to) => {
      const r = await tb.exec(hostOf(from), ["ping", "-c", "1", "-w", "10", meshIps[to]!]);
      if (r.code !== 0) failures.push(`${from} → ${to} (${meshIps[to]})`);
    })));
    if (failures.length === 0) return failures;
    const involved = [...new Set(failures.flatMap((f) => f.split(" ").filter((w) => names.includes(w))))].sort();
    const shows = await Promise.all(involved.map(async (n) => `--- ${n}: wg show wg0\n${(await tb.exec(hostOf(n), ["wg", "show", "wg0"])).stdout}`));
    return [...failures.sort(), ...shows];
  }

  before(async () => {
    tb = await up(3, { name: "p6fm" });
    ws = new Workspace(baseEnv);
    dir = ws.project("full-mesh", path.join(repoRoot, "examples/full-mesh"));
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    ws.pulumiOk(dir, ["config", "set", "hosts", hostsConfig(NAMES)]);
    ws.pulumiOk(dir, ["config", "set", "--secret", "sshPrivateKey"], { input: fs.readFileSync(tb.privateKeyPath, "utf8") });
  });

  after(async () => {
    try {
      if (dir) ws.pulumi(dir, ["destroy", "--yes", "--skip-preview"]);
    } finally {
      ws?.cleanup();
      await tb?.down();
    }
  });

  test("up: 3 nodes meshed, every node pings every mesh IP", async (t) => {
    const r = pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (3 nodes, create incl. package install): ${r.ms} ms wall`);
    assert.match(r.stdout, /\+ 8 created/);
    // Progress on each node's NodeConfig row (the resource's URN), not at stack level.
    const rows = diagnosticsByResource(r.stdout);
    for (const n of NAMES) {
      const row = rows.get(`pulumi-nodejs:dynamic:Resource (demo-${n})`) ?? [];
      assert.ok(row.some((l) => new RegExp(`^\\[${n}\\] \\d+ operation\\(s\\) applied$`).test(l)), `progress for ${n} on its row:\n${r.stdout}`);
    }
    const out = JSON.parse(pulumiOk(["stack", "output", "--json"]).stdout);
    assert.deepEqual(Object.keys(out.meshIps).sort(), NAMES);
    assert.deepEqual(out.behindNat, { app1: false, app2: false, app3: false });
    for (const n of NAMES) assert.equal(out.endpoints[n], `${tb.hosts[NAMES.indexOf(n)]!.address}:51820`);
    assert.deepEqual(await pingMatrix(NAMES, out.meshIps), []);
    const noChange = pulumi(["preview", "--expect-no-changes"]);
    assert.equal(noChange.status, 0, `no changes expected after up:\n${noChange.stdout}\n${noChange.stderr}`);
  });

  test("refresh reports a peer removed by hand; the next up repairs it", async () => {
    const out = JSON.parse(pulumiOk(["stack", "output", "--json"]).stdout);
    await tb.execOk(hostOf("app1"), ["wg", "set", "wg0", "peer", out.publicKeys.app2, "remove"]);
    await tb.execOk(hostOf("app3"), ["systemctl", "disable", "-q", "wg-quick@wg0"]);
    const refresh = pulumiOk(["refresh", "--yes", "--diff"]);
    assert.match(refresh.stdout, /demo-app1[\s\S]*~ peers\s*:[\s\S]*?^\s*- app2 key=/m, `refresh shows app2 gone from demo-app1:\n${refresh.stdout}`);
    assert.match(refresh.stdout, /demo-app3\][\s\S]*?~ hostFiles\s*: \{[^}]*~ unit\s*: "enabled" => "disabled"/, `refresh shows the disabled unit on app3:\n${refresh.stdout}`);
    assert.notEqual(pulumi(["preview", "--expect-no-changes"]).status, 0, "drift must be a pending change");
    pulumiOk(["up", "--yes", "--skip-preview"]);
    assert.match(await tb.execOk(hostOf("app1"), ["wg", "show", "wg0", "peers"]), new RegExp(out.publicKeys.app2.replace(/[+/]/g, "\\$&")));
    assert.equal((await tb.exec(hostOf("app3"), ["systemctl", "is-enabled", "wg-quick@wg0"])).stdout.trim(), "enabled", "up re-enabled the unit");
    assert.equal(pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("with sshd stopped on every host, preview --diff names the removed node and the changed peers/routes", async () => {
    const out = JSON.parse(pulumiOk(["stack", "output", "--json"]).stdout);
    await Promise.all(tb.hosts.map((h) => tb.stopSshd(h.name)));
    try {
      pulumiOk(["config", "set", "hosts", hostsConfig(["app1", "app2"], { app1: { routableNetworks: ["192.168.60.0/24"] } })]);
      const p = pulumiOk(["preview", "--diff"]);
      const s = p.stdout;
      assert.doesNotMatch(s + p.stderr, /connecting to/);
      // demo-app3 is deleted; app1 and app2 lose peer app3; app2 gains app1's network in AllowedIPs and a route.
      assert.match(s, /- pulumi-nodejs:dynamic:Resource: \(delete\)\s*\[id=demo\/app3\]/);
      const section = (name: string) => {
        const i = s.indexOf(`dynamic:Resource::${name}]`);
        assert.ok(i >= 0, `${name} in the preview`);
        const j = s.indexOf("pulumi-nodejs:dynamic:Resource:", i);
        return s.slice(i, j < 0 ? undefined : j);
      };
      const app2 = section("demo-app2");
      assert.match(app2, /^\s*- app3 key=/m);
      assert.match(app2, /^\s*\+ app1 key=\S+ allowedIps=10\.99\.0\.\d+\/32,192\.168\.60\.0\/24( |$)/m);
      assert.match(app2, /~ routes\s*: \[\s*\+ \[0\]: "192\.168\.60\.0\/24"/);
      const app1 = section("demo-app1");
      assert.match(app1, /^\s*- app3 key=/m);
      assert.match(app1, /~ forwarding\s*: false => true/);
      assert.doesNotMatch(app1, /~ app2:/, "app1's view of app2 is unchanged");
      assert.match(s, /\[id=app3\][\s\S]*/);
      assert.ok(s.includes(out.publicKeys.app3), "the removed peer is shown by its key");
    } finally {
      await Promise.all(tb.hosts.map((h) => tb.startSshd(h.name)));
    }
  });

  test("up removes app3 (torn down on its host), then adding it back shows as one added peer per node", async () => {
    pulumiOk(["up", "--yes", "--skip-preview"]);
    const app3 = await tb.exec(hostOf("app3"), "ip link show wg0; ls /etc/wireguard/wg0.conf; systemctl is-enabled wg-quick@wg0");
    assert.match(app3.stderr + app3.stdout, /does not exist/);
    assert.doesNotMatch(app3.stdout, /^enabled$/m);
    const out = JSON.parse(pulumiOk(["stack", "output", "--json"]).stdout);
    assert.deepEqual(await pingMatrix(["app1", "app2"], out.meshIps), []);

    pulumiOk(["config", "set", "hosts", hostsConfig(NAMES, { app1: { routableNetworks: ["192.168.60.0/24"] } })]);
    const p = pulumiOk(["preview", "--diff"]);
    assert.match(p.stdout, /\+ pulumi-nodejs:dynamic:Resource: \(create\)\s*\[urn=[^\]]*::demo-app3\]/);
    assert.match(p.stdout, /demo-app1\][\s\S]*?~ peers\s*:[\s\S]*?^\s*\+ app3 key=/m);
    assert.match(p.stdout, /\+ 2 to create/);
    pulumiOk(["up", "--yes", "--skip-preview"]);
    const again = JSON.parse(pulumiOk(["stack", "output", "--json"]).stdout);
    assert.equal(again.meshIps.app1, out.meshIps.app1, "app1 keeps its mesh IP");
    assert.equal(again.meshIps.app2, out.meshIps.app2, "app2 keeps its mesh IP");
    assert.deepEqual(await pingMatrix(NAMES, again.meshIps), []);
    assert.equal(pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("no private key in plaintext: stack export, outputs, CLI output; secret outputs stored encrypted", () => {
    // Read the keys with --show-secrets outside the recorded CLI output (that output is the one place they may be).
    const shown = ws.pulumi(dir, ["stack", "export", "--show-secrets"]);
    assert.equal(shown.status, 0, shown.stderr);
    const secretExport = JSON.parse(shown.stdout);
    const keys = new Set<string>();
    for (const r of secretExport.deployment.resources ?? []) {
      const pk = r.outputs?.privateKey;
      // --show-secrets keeps the secret envelope, with the JSON-encoded value in "plaintext".
      const value = typeof pk === "object" && pk && typeof pk.plaintext === "string" ? JSON.parse(pk.plaintext) : pk;
      if (typeof value === "string" && /^[A-Za-z0-9+/]{43}=$/.test(value)) keys.add(value);
    }
    assert.equal(keys.size, 3, `positive control: three node private keys, read with --show-secrets (${JSON.stringify(secretExport.deployment.resources.find((r: any) => r.urn.endsWith("::app1"))?.outputs?.privateKey)?.slice(0, 60)})`);
    const plain = pulumiOk(["stack", "export"]).stdout;
    const outs = pulumiOk(["stack", "output", "--json"]).stdout;
    const sshKey = fs.readFileSync(tb.privateKeyPath, "utf8").split("\n").filter((l) => l.length > 40)[1] ?? "";
    for (const k of keys) {
      assert.ok(!plain.includes(k), "private key in plaintext in stack export");
      assert.ok(!outs.includes(k), "private key in stack outputs");
      assert.equal(outputs.filter((o) => o.includes(k)).length, 0, `private key in the output of one of ${outputs.length / 2} pulumi runs (up, preview, refresh, destroy …)`);
    }
    assert.ok(sshKey.length > 40 && !plain.includes(sshKey), "SSH key not in plaintext in the export");
    const state = JSON.parse(plain);
    const node = state.deployment.resources.find((r: any) => r.urn.endsWith("::app1"));
    assert.ok(node.outputs.privateKey.ciphertext && node.inputs.connection.ciphertext, "privateKey and connection encrypted");
  });

  test("destroy leaves no interface, unit or conf on any host", async () => {
    pulumiOk(["destroy", "--yes", "--skip-preview"]);
    for (const h of tb.hosts) {
      assert.equal((await tb.exec(h.name, ["ip", "link", "show", "wg0"])).code !== 0, true, `${h.name}: wg0 gone`);
      assert.equal((await tb.exec(h.name, "ls -A /etc/wireguard 2>/dev/null")).stdout.trim(), "", `${h.name}: /etc/wireguard empty`);
      assert.notEqual((await tb.exec(h.name, ["systemctl", "is-enabled", "wg-quick@wg0"])).stdout.trim(), "enabled");
    }
    dir = ""; // nothing left for after()
  });
});
