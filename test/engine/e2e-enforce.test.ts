/**
 * E2E (testbed, root), issue 13 through the `wgmesh` command: a Go-format state file with policy ports and
 * policy_tests. `deploy --enforce` loads each node's nftables table; `verify --enforce` runs the tests from the
 * hosts (all pass); a flushed table makes `verify` fail naming the test (exit 2); `deploy --enforce` repairs only
 * that host; `deploy` without --enforce removes every table and file; `teardown` leaves nothing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { generateKeyPair } from "../../provider/src/core/keys";
import { down, up, type Testbed } from "../testbed";

const NAME = "fcli";
const ROOT = path.resolve(__dirname, "../../..");
const TABLE = ["nft", "-s", "list", "table", "inet", "wgmesh_wg0"];

describe("engine e2e: wgmesh deploy --enforce / verify on 3 hosts", { timeout: 600_000 }, () => {
  let tb: Testbed;
  let dir = "";
  const wgmesh = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "wgmesh"), ...args, "--identity", tb.privateKeyPath, "--known-hosts", tb.knownHostsPath], { encoding: "utf8", input: "" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  /** What the hosts say when a verify fails: tunnels (public parts only), tables, counters, conntrack. */
  const evidence = async () => {
    const out: string[] = [];
    for (const h of tb.hosts) {
      const r = await tb.exec(h.name, ["sh", "-c", "date +%T.%N; wg show wg0; nft list table inet wgmesh_wg0; ip -s link show wg0; cat /proc/net/nf_conntrack 2>/dev/null | grep -v 'dport=22 ' | head -40"]);
      out.push(`---- ${h.name}\n${r.stdout}${r.stderr}`);
    }
    return out.join("\n");
  };

  before(async () => {
    tb = await up(3, { name: NAME });
    dir = mkdtempSync(path.join(tmpdir(), "wgmesh-enforce-"));
    const node = (h: string, i: number) => {
      const k = generateKeyPair();
      return { hostname: h, mesh_ip: `10.99.0.${i + 1}`, public_key: k.publicKey, private_key: k.privateKey, ssh_host: tb.hosts[i]!.address, ssh_port: 22, listen_port: 51820, behind_nat: false, is_local: false };
    };
    const state = {
      interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, local_hostname: "",
      nodes: { web1: node("web1", 0), app1: node("app1", 1), db1: node("db1", 2) },
      groups: { web: { members: ["web1"] }, app: { members: ["app1"] }, db: { members: ["db1"] } },
      access_policies: [
        { name: "web-to-app", from_groups: ["web"], to_groups: ["app"], allow_mesh_ips: true, allow_routable_networks: false, ports: ["tcp/8080", "icmp"] },
        { name: "app-to-db", from_groups: ["app"], to_groups: ["db"], allow_mesh_ips: true, allow_routable_networks: false, ports: ["tcp/5432"] },
      ],
      policy_tests: [
        { from: "web1", to: "app1", port: "tcp/8080", expect: "allow" },
        { from: "web1", to: "app1", port: "icmp", expect: "allow" },
        { from: "app1", to: "web1", port: "tcp/80", expect: "deny" },
        { from: "app1", to: "db1", port: "tcp/5432", expect: "allow" },
        { from: "app1", to: "db1", port: "icmp", expect: "deny" },
        { from: "web1", to: "db1", port: "tcp/5432", expect: "deny" },
      ],
    };
    writeFileSync(path.join(dir, "mesh.json"), JSON.stringify(state, null, 2), { mode: 0o600 });
    const { policy_tests: _tests, ...open } = state;
    writeFileSync(path.join(dir, "open.json"), JSON.stringify(open, null, 2), { mode: 0o600 });
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await down(NAME);
  });

  it("deploy --enforce, verify, a flushed table caught by verify and repaired, enforcement removed, teardown clean", async () => {
    const file = path.join(dir, "mesh.json");
    const d = wgmesh("deploy", "--enforce", "--json", file);
    assert.equal(d.code, 0, d.stderr);
    for (const h of tb.hosts) assert.match(await tb.execOk(h.name, TABLE), /chain mesh_input/, `${h.name} has its table`);

    const v = wgmesh("verify", "--enforce", file);
    assert.equal(v.code, 0, `${v.stdout}\n${v.stderr}`);
    assert.match(v.stdout, /PASS policy test #3 \(app1 → web1 tcp\/80, expect deny\): timeout/);
    assert.match(v.stdout, /6 passed, 0 failed/);

    await tb.execOk(tb.hosts[0]!.name, ["nft", "flush", "table", "inet", "wgmesh_wg0"]); // web1
    const bad = wgmesh("verify", "--enforce", "--json", file);
    assert.equal(bad.code, 2, bad.stderr);
    const doc = JSON.parse(bad.stdout);
    assert.deepEqual(doc.tests.filter((t: { result: string }) => t.result !== "pass").map((t: { from: string; to: string; port: string; result: string }) => `${t.from} → ${t.to} ${t.port}: ${t.result}`),
      ["app1 → web1 tcp/80: fail: tcp/80 to 10.99.0.1: refused"]);
    const fix = wgmesh("deploy", "--enforce", "--json", file);
    assert.equal(fix.code, 0, fix.stderr);
    assert.deepEqual(Object.fromEntries(Object.entries(JSON.parse(fix.stdout).hosts).map(([n, h]) => [n, (h as { status: string }).status])), { app1: "unchanged", db1: "unchanged", web1: "changed" });
    const again = wgmesh("verify", "--enforce", file);
    assert.equal(again.code, 0, `verify after the repair:\n${again.stdout}\n${again.stderr}\n${again.code === 0 ? "" : await evidence()}`);

    // Without --enforce the direction-dependent tests fail against the plan: deploy refuses, naming them.
    const refused = wgmesh("deploy", file);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /policy test #3 \(app1 → web1 tcp\/80, expect deny\) fails: app1 → web1 tcp\/80 is allowed: enforcement is "none"[^\n]*--enforce/);
    const off = wgmesh("deploy", "--json", path.join(dir, "open.json"));
    assert.equal(off.code, 0, off.stderr);
    for (const h of tb.hosts) {
      assert.notEqual((await tb.exec(h.name, TABLE)).code, 0, `${h.name}: table removed without --enforce`);
      assert.notEqual((await tb.exec(h.name, ["test", "-e", "/etc/wireguard/wg0.nft"])).code, 0);
      assert.doesNotMatch(await tb.execOk(h.name, ["cat", "/etc/wireguard/wg0.conf"]), /PreUp/);
    }
    assert.equal(wgmesh("deploy", "--enforce", file).code, 0);
    const t = wgmesh("teardown", file);
    assert.equal(t.code, 0, t.stderr);
    for (const h of tb.hosts) {
      assert.notEqual((await tb.exec(h.name, TABLE)).code, 0, `${h.name}: table gone after teardown`);
      assert.equal((await tb.exec(h.name, "ls -A /etc/wireguard")).stdout.trim(), "");
    }
  });
});
