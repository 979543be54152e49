/**
 * The real `wgmesh` bin as a subprocess (node bin/wgmesh ...), with fixture state files in a temp dir.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, execFileSync } from "node:child_process";
import { closeSync, fchmodSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { generateKeyPair } from "../core/keys";
import { encryptState } from "../core/statecrypt";
import { main } from "./main";
import { findCommand, registerCommand, listCommands } from "./commands";

const ROOT = path.resolve(__dirname, "../../../..");
const BIN = path.join(ROOT, "bin", "wgmesh");

function run(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: input ?? "", cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir = "";
const keys = { web1: generateKeyPair(), app1: generateKeyPair(), db1: generateKeyPair() };
const secrets = Object.values(keys).map((k) => k.privateKey);
const file = (name: string) => path.join(dir, name);

function state(extra: Record<string, unknown> = {}) {
  const n = (h: keyof typeof keys, ip: string, host: string, more: Record<string, unknown> = {}) => ({
    hostname: h, mesh_ip: ip, public_key: keys[h].publicKey, private_key: keys[h].privateKey, ssh_host: host,
    ssh_port: 22, listen_port: 51820, behind_nat: false, is_local: false, ...more,
  });
  return {
    interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, local_hostname: "ctl",
    nodes: {
      web1: n("web1", "10.99.0.1", "192.0.2.1", { behind_nat: true }),
      app1: n("app1", "10.99.0.3", "198.51.100.3", { routable_networks: ["192.168.50.0/24"] }),
      db1: n("db1", "10.99.0.2", "192.0.2.2", { public_endpoint: "db.example.com:4500", listen_port: 51821 }),
    },
    groups: { web: { members: ["web1"] }, app: { members: ["app1"] }, db: { members: ["db1"] } },
    access_policies: [
      { name: "web-to-app", from_groups: ["web"], to_groups: ["app"], allow_mesh_ips: true, allow_routable_networks: true },
      { name: "app-to-db", from_groups: ["app"], to_groups: ["db"], allow_mesh_ips: true, allow_routable_networks: false },
    ],
    ...extra,
  };
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), "wgmesh-cli-"));
  writeFileSync(file("mesh.json"), JSON.stringify(state(), null, 2), { mode: 0o600 });
  writeFileSync(file("pw"), "correct horse battery\n", { mode: 0o600 });
  writeFileSync(file("mesh.enc"), encryptState(JSON.stringify(state()), "correct horse battery"), { mode: 0o600 });
  const bad = state();
  (bad.nodes.db1 as Record<string, unknown>)["mesh_ip"] = "10.98.0.2";
  bad.groups = { ...bad.groups, web: { members: ["web1", "ghost"] } };
  writeFileSync(file("bad.json"), JSON.stringify(bad), { mode: 0o600 });
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const EXPECTED = () => ({
  interface: "wg0",
  network: "10.99.0.0/16",
  nodes: {
    app1: {
      address: "10.99.0.3/16", listenPort: 51820,
      peers: [
        { hostname: "db1", publicKey: keys.db1.publicKey, endpoint: "db.example.com:4500", allowedIps: ["10.99.0.2/32"], persistentKeepalive: null },
        { hostname: "web1", publicKey: keys.web1.publicKey, endpoint: null, allowedIps: ["10.99.0.1/32"], persistentKeepalive: null },
      ],
      routes: [],
    },
    db1: {
      address: "10.99.0.2/16", listenPort: 51821,
      peers: [{ hostname: "app1", publicKey: keys.app1.publicKey, endpoint: "198.51.100.3:51820", allowedIps: ["10.99.0.3/32"], persistentKeepalive: null }],
      routes: [],
    },
    web1: {
      address: "10.99.0.1/16", listenPort: 51820,
      peers: [{ hostname: "app1", publicKey: keys.app1.publicKey, endpoint: "198.51.100.3:51820", allowedIps: ["10.99.0.3/32", "192.168.50.0/24"], persistentKeepalive: 25 }],
      routes: ["192.168.50.0/24"],
    },
  },
  warnings: [] as string[],
});

const noSecrets = (...outputs: string[]) => {
  for (const o of outputs) for (const s of secrets) assert.ok(!o.includes(s), "a private key was printed");
};

describe("wgmesh plan", () => {
  test("--json prints exactly the contract document", () => {
    const r = run(["plan", file("mesh.json"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${JSON.stringify(EXPECTED(), null, 2)}\n`);
    assert.equal(r.stderr, "");
    noSecrets(r.stdout, r.stderr);
  });

  test("encrypted state with --password-file gives the same plan", () => {
    const r = run(["plan", "--password-file", file("pw"), file("mesh.enc"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), EXPECTED());
  });

  test("wrong password: exit 1, clear message, JSON errors", () => {
    writeFileSync(file("pw-wrong"), "nope\n");
    const r = run(["plan", file("mesh.enc"), "--password-file", file("pw-wrong"), "--json"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wrong password/);
    assert.equal(JSON.parse(r.stdout).errors.length, 1);
  });

  test("an encrypted file without --password-file is recognised", () => {
    const r = run(["plan", file("mesh.enc")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /looks encrypted.*--password-file/);
  });

  test("without --json: a readable per-node listing, no private key", () => {
    const r = run(["plan", file("mesh.json")]);
    assert.equal(r.code, 0, r.stderr);
    for (const line of [
      "Mesh Network: 10.99.0.0/16", "Interface: wg0", "Access Control: Enabled", "Groups:", "Policies:", "  web-to-app:",
      "    Routable Networks: Yes", "  web1 [NAT]:", "    Mesh IP: 10.99.0.1", "    Groups: [web]", "    SSH: 192.0.2.1:22",
      `    Public Key: ${keys.web1.publicKey}`, "      app1: 10.99.0.3/32, 192.168.50.0/24  endpoint 198.51.100.3:51820  keepalive 25s",
      "    Routes: 192.168.50.0/24", "      web1: 10.99.0.1/32  endpoint (none)",
    ]) assert.ok(r.stdout.includes(`${line}\n`), `missing line ${JSON.stringify(line)}\n${r.stdout}`);
    noSecrets(r.stdout, r.stderr);
  });

  test("--format mermaid: the mesh as a Mermaid flowchart (the planner's diagram), no key at all; --format json = --json", () => {
    const r = run(["plan", file("mesh.json"), "--format", "mermaid"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^flowchart LR\n/);
    assert.match(r.stdout, /n_web1\["web1<br\/>10\.99\.0\.1<br\/>behind NAT"\]:::nat/);
    assert.match(r.stdout, /n_app1 -.- net0/);
    assert.match(r.stdout, /n_web1 -->\|"web-to-app, \+ networks"\| n_app1/);
    for (const k of Object.values(keys)) assert.ok(!r.stdout.includes(k.publicKey), "the diagram shows no key");
    noSecrets(r.stdout, r.stderr);
    assert.equal(run(["plan", file("mesh.json"), "--format", "json"]).stdout, run(["plan", file("mesh.json"), "--json"]).stdout);
    const bad = run(["plan", file("mesh.json"), "--format", "svg"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--format "svg": use text, json or mermaid/);
    assert.match(run(["plan", file("mesh.json"), "--json", "--format", "mermaid"]).stderr, /contradict/);
  });

  test("invalid input: exit 1, every error on stderr, {errors, warnings} on stdout with --json", () => {
    const r = run(["plan", file("bad.json"), "--json"]);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc), ["errors", "warnings"]);
    assert.equal(doc.errors.length, 2);
    assert.match(doc.errors.join("\n"), /node "db1": meshIp "10\.98\.0\.2" is outside the mesh network/);
    assert.match(doc.errors.join("\n"), /group "web": member "ghost" in members is not a node/);
    for (const e of doc.errors) assert.ok(r.stderr.includes(`error: ${e}\n`));
    const plain = run(["plan", file("bad.json")]);
    assert.equal(plain.code, 1);
    assert.equal(plain.stdout, "");
    assert.match(plain.stderr, /error: node "db1"/);
    noSecrets(r.stdout, r.stderr, plain.stderr);
  });

  test("warnings are reported in the JSON document and on stderr", () => {
    const s = state({ groups: { web: { members: ["web1"] }, app: { members: ["app1"] }, db: { members: [] } } });
    writeFileSync(file("warn.json"), JSON.stringify(s));
    const r = run(["plan", file("warn.json"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).warnings, ['node "db1" is in no group: with access control on it gets no peers; add it to a group\'s members']);
    assert.match(r.stderr, /^warning: node "db1" is in no group/);
  });

  test("unreadable, malformed and misused", () => {
    const missing = run(["plan", file("nope.json")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read state file .*nope\.json.*no such file/);
    writeFileSync(file("garbage.json"), `{"nodes": {"a": {"private_key": "${secrets[0]}" oops`);
    const garbage = run(["plan", file("garbage.json"), "--json"]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /not valid JSON/);
    noSecrets(garbage.stdout, garbage.stderr);
    assert.equal(run(["plan"]).code, 1);
    assert.match(run(["plan"]).stderr, /exactly one state file[\s\S]*Usage: wgmesh plan/);
    assert.equal(run(["plan", "a", "b"]).code, 1);
    assert.match(run(["plan", file("mesh.json"), "--bogus"]).stderr, /Unknown option '--bogus'/);
    const help = run(["plan", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: wgmesh plan <mesh-state\.json> \[--json \| --format text\|json\|mermaid\] \[--password-file FILE\]/);
  });
});

describe("wgmesh genkey / pubkey", () => {
  test("genkey prints a key that wg pubkey accepts; pubkey agrees with wg pubkey byte for byte", () => {
    for (let i = 0; i < 10; i++) {
      const g = run(["genkey"]);
      assert.equal(g.code, 0);
      assert.match(g.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
      const ours = run(["pubkey"], g.stdout);
      assert.equal(ours.code, 0);
      assert.equal(ours.stdout, execFileSync("/usr/bin/wg", ["pubkey"], { input: g.stdout, encoding: "utf8" }));
    }
    const wgKey = execFileSync("/usr/bin/wg", ["genkey"], { encoding: "utf8" });
    assert.equal(run(["pubkey"], wgKey).stdout, execFileSync("/usr/bin/wg", ["pubkey"], { input: wgKey, encoding: "utf8" }));
  });

  test("genkey into a world-accessible file warns exactly like wg genkey; a private file does not", () => {
    const genkeyInto = (cmd: string[], name: string, mode: number) => {
      const fd = openSync(file(name), "w", mode);
      fchmodSync(fd, mode); // independent of the umask
      try {
        const r = spawnSync(cmd[0] as string, cmd.slice(1), { stdio: ["ignore", fd, "pipe"], encoding: "utf8" });
        return { code: r.status, stderr: r.stderr, key: readFileSync(file(name), "utf8") };
      } finally { closeSync(fd); }
    };
    const ours = genkeyInto([process.execPath, BIN, "genkey"], "k-open", 0o644);
    const theirs = genkeyInto(["/usr/bin/wg", "genkey"], "k-open-wg", 0o644);
    assert.equal(ours.code, 0);
    assert.ok(theirs.stderr.length > 0);
    assert.equal(ours.stderr, theirs.stderr);
    assert.match(ours.key, /^[A-Za-z0-9+/]{43}=\n$/);
    const quiet = genkeyInto([process.execPath, BIN, "genkey"], "k-private", 0o600);
    assert.equal(quiet.stderr, "");
  });

  test("a malformed key is exit 1 with a clear message, nothing on stdout", () => {
    for (const bad of ["", "hello\n", `${"A".repeat(43)}=x`, `${"A".repeat(42)}B=`]) {
      const r = run(["pubkey"], bad);
      assert.equal(r.code, 1, JSON.stringify(bad));
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^wgmesh pubkey: (key is not the correct length or format|trailing characters)/);
    }
    assert.equal(run(["genkey", "extra"]).code, 1);
  });
});

describe("dispatch", () => {
  test("no command: usage on stderr, exit 1; help: usage on stdout, exit 0", () => {
    const none = run([]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Usage: wgmesh <command>[\s\S]*plan[\s\S]*genkey[\s\S]*pubkey/);
    const help = run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Commands:\n {2}plan /);
    assert.match(run(["help", "pubkey"]).stdout, /^Usage: wgmesh pubkey/);
  });

  test("unknown command: exit 1, usage on stderr", () => {
    const r = run(["frobnicate"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^wgmesh: unknown command "frobnicate"\n\nwgmesh — [\s\S]*Usage: wgmesh <command>/);
  });

  test("registerCommand adds an entry main dispatches to; names are unique", async () => {
    registerCommand({ name: "echo-test", summary: "test", usage: "Usage: wgmesh echo-test\n", run: async (args, io) => { io.stdout.write(args.join(" ")); return 3; } });
    assert.ok(findCommand("echo-test"));
    assert.ok(listCommands().some((c) => c.name === "echo-test"));
    let out = "";
    const io = { stdout: { write: (s: string) => { out += s; } }, stderr: { write: () => {} }, readStdin: async () => Buffer.alloc(0), env: {}, cwd: ROOT };
    assert.equal(await main(["echo-test", "a", "b"], io), 3);
    assert.equal(out, "a b");
    assert.throws(() => registerCommand({ name: "plan", summary: "", usage: "", run: async () => 0 }), /already registered/);
  });
});
