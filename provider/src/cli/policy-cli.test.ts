/**
 * The policy front doors of the `wgmesh` bin (a subprocess): plan prints each node's firewall rules and judges
 * policy tests (exit 1 naming each failing test; in --json under "errors"); misspelt keys warn with the closest
 * key, --strict makes them errors, access-control look-alikes without a section are refused unless
 * --allow-full-mesh; test-peer refuses an out-of-range --port before anything is sent.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as dgram from "node:dgram";
import { generateKeyPair } from "../core/keys";

const ROOT = path.resolve(__dirname, "../../../..");
const BIN = path.join(ROOT, "bin", "wgmesh");
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: "", cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
let dir = "";
const file = (n: string) => path.join(dir, n);
const keys = { web1: generateKeyPair(), app1: generateKeyPair(), db1: generateKeyPair() };
const node = (h: keyof typeof keys, ip: string) => ({ hostname: h, mesh_ip: ip, public_key: keys[h].publicKey, ssh_host: ip.replace("10.99.0", "192.0.2"), ssh_port: 22, listen_port: 51820, behind_nat: false, is_local: false });
const base = {
  interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, local_hostname: "",
  nodes: { web1: node("web1", "10.99.0.1"), app1: node("app1", "10.99.0.2"), db1: node("db1", "10.99.0.3") },
  groups: { web: { members: ["web1"] }, app: { members: ["app1"] }, db: { members: ["db1"] } },
  access_policies: [
    { name: "web-to-app", from_groups: ["web"], to_groups: ["app"], allow_mesh_ips: true, allow_routable_networks: false, ports: ["tcp/8080"] },
    { name: "app-to-db", from_groups: ["app"], to_groups: ["db"], allow_mesh_ips: true, allow_routable_networks: false, ports: ["tcp/5432", "icmp"] },
  ],
};
const write = (name: string, doc: unknown) => writeFileSync(file(name), JSON.stringify(doc), { mode: 0o600 });

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), "wgmesh-policy-cli-"));
  write("ok.json", { ...base, policy_tests: [{ from: "app1", to: "db1", port: "tcp/5432", expect: "allow" }, { from: "web1", to: "db1", port: "tcp/5432", expect: "deny" }] });
  write("dir.json", { ...base, policy_tests: [{ from: "app1", to: "web1", port: "tcp/80", expect: "deny" }, { from: "db1", to: "app1", port: "icmp", expect: "deny" }] });
  const { groups, access_policies, ...open } = base;
  write("typo.json", { ...open, group: groups, access_policy: access_policies });
  write("warn.json", { ...base, nodes: { ...base.nodes, web1: { ...base.nodes.web1, routable_network: ["192.168.1.0/24"] } } });
  write("badport.json", { ...base, access_policies: [{ ...base.access_policies[0], ports: ["tcp/8100-8000"] }], policy_tests: [{ from: "web9", to: "db1", port: "tcp/5432", expect: "deny" }] });
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe("wgmesh plan: firewall rules and policy tests", () => {
  test("prints each node's rules (as --enforce would apply them) and the passing tests", () => {
    const r = run(["plan", file("ok.json")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Enforcement: none: peering and AllowedIPs only \(wgmesh deploy --enforce applies the firewall rules shown below\)/);
    assert.match(r.stdout, /Ports: tcp\/8080/);
    assert.match(r.stdout, /Firewall \(with --enforce\): table inet wgmesh_wg0[^\n]*\n\s+input app-to-db from app icmp: ip saddr @src_app meta l4proto icmp accept\n\s+input app-to-db from app tcp: ip saddr @src_app tcp dport 5432 accept/);
    assert.match(r.stdout, /Policy Tests \(2, all pass against this plan\)/);
    const e = run(["plan", "--enforce", file("ok.json")]);
    assert.match(e.stdout, /Enforcement: nftables/);
    assert.match(e.stdout, /  web1:[\s\S]*?Firewall: table inet wgmesh_wg0[^\n]*\n\s+\(no rule: every NEW connection from the mesh is dropped\)/);
    assert.deepEqual(Object.keys(JSON.parse(run(["plan", "--json", "--enforce", file("ok.json")]).stdout)), ["interface", "network", "nodes", "warnings"], "the --json contract of issue 3 is unchanged");
  });

  test("a failing test exits 1 naming it (and the policy): without --enforce app1 → web1 is open (peers)", () => {
    const r = run(["plan", file("dir.json")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: policy test #1 \(app1 → web1 tcp\/80, expect deny\) fails: app1 → web1 tcp\/80 is allowed: enforcement is "none" and policy "web-to-app" makes them WireGuard peers/);
    const j = JSON.parse(run(["plan", "--json", file("dir.json")]).stdout);
    assert.equal(j.errors.length, 2);
    assert.equal(run(["plan", "--enforce", file("dir.json")]).code, 0, "direction-aware with --enforce");
  });

  test("bad ports and unknown nodes in tests are rejected naming policy/test and field", () => {
    const r = run(["plan", "--json", file("badport.json")]);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.stdout);
    assert.ok(j.errors.includes('policy "web-to-app": ports entry "tcp/8100-8000" is a reversed range; write the lower port first: "tcp/8000-8100"'), j.errors.join("\n"));
    assert.ok(j.errors.some((e: string) => /^policy test #1 \(web9 → db1 tcp\/5432\): from "web9" is not a node of the mesh/.test(e)));
  });
});

describe("no silent full mesh", () => {
  test("misspelt access-control keys are refused (naming the key and the closest one) unless --allow-full-mesh", () => {
    const r = run(["plan", file("typo.json")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /key "group" looks like access control, but the file has no "groups" or "access_policies": it would be planned as a FULL MESH[^\n]*did you mean "groups"\?/);
    assert.match(r.stderr, /key "access_policy"[^\n]*did you mean "access_policies"\?/);
    const ok = run(["plan", "--allow-full-mesh", file("typo.json")]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Access Control: Disabled \(full mesh\)/);
    assert.match(ok.stderr, /warning: .*unknown key "group" \(did you mean "groups"\?\)/);
    for (const cmd of ["deploy", "teardown", "verify"]) assert.equal(run([cmd, file("typo.json")]).code, 1, `${cmd} refuses too`);
  });

  test("other unknown keys: a warning; --strict: an error", () => {
    const r = run(["plan", "--json", file("warn.json")]);
    assert.equal(r.code, 0);
    assert.ok(JSON.parse(r.stdout).warnings.some((w: string) => /node "web1": unknown key "routable_network" \(did you mean "routable_networks"\?\)/.test(w)));
    const s = run(["plan", "--strict", file("warn.json")]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /routable_network.*--strict/);
  });
});

describe("wgmesh test-peer --port", () => {
  test("out of range: a usage error (exit 2) before anything is bound or sent", async () => {
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    let got = 0;
    sock.on("message", () => got++);
    const port = sock.address().port;
    for (const p of ["70000", "-1", "65536"]) {
      const r = run(["test-peer", "--secret", "wgmesh://v1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "--peer", `127.0.0.1:${port}`, "--port", p]);
      assert.equal(r.code, 2, `--port ${p}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`invalid value "${p}" for flag -port: out of range`));
      assert.doesNotMatch(r.stdout, /Sending HELLO/);
    }
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    assert.equal(got, 0, "no packet sent");
  });
});
