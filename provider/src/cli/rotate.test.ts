/**
 * `wgmesh rotate` (issue 16) as a subprocess on state files in a temp dir — plain and encrypted — and, where
 * the Go binary is present (../shared/peers/wgmesh-go), on files the Go tool made, read back by the Go tool
 * (`-list`, and `-add` rewriting the rotated file). The Go tool reads an encrypted file's password from a
 * terminal: `script` gives it one.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { generateKeyPair, publicKeyFromPrivate } from "../core/keys";
import { decryptState, encryptState } from "../core/statecrypt";

const ROOT = path.resolve(__dirname, "../../../..");
const BIN = path.join(ROOT, "bin", "wgmesh");
const GO = process.env["WGMESH_GO_BINARY"] || path.resolve(ROOT, "../shared/peers/wgmesh-go");

let dir = "";
const file = (name: string) => path.join(dir, name);
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
/** The Go tool; with a password, through a pseudo-terminal (it reads passwords from one). */
const go = (args: string[], password?: string) => {
  const argv = [GO, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = password === undefined
    ? spawnSync(GO, args, { cwd: dir, encoding: "utf8" })
    : spawnSync("script", ["-qec", argv, "/dev/null"], { cwd: dir, encoding: "utf8", input: `${password}\n${password}\n` });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};
/** node → public key, from the Go tool's `-list`. */
const goList = (state: string, password?: string): Record<string, string> => {
  const r = go(["-state", state, ...(password ? ["-encrypt"] : []), "-list"], password);
  assert.equal(r.code, 0, r.out);
  const out: Record<string, string> = {};
  let node = "";
  for (const line of r.out.split(/\r?\n/)) {
    const n = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (n) node = n[1] as string;
    const k = /Public Key: (\S+)/.exec(line);
    if (k && node) out[node] = k[1] as string;
  }
  return out;
};

const keys = { web1: generateKeyPair(), web2: generateKeyPair() };
const stateText = () => JSON.stringify({
  interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, local_hostname: "ctl",
  nodes: Object.fromEntries(Object.entries(keys).map(([h, k], i) => [h, { hostname: h, mesh_ip: `10.99.0.${i + 1}`, public_key: k.publicKey, private_key: k.privateKey, ssh_host: `192.0.2.${i + 1}`, ssh_port: 22, listen_port: 51820, behind_nat: false, is_local: false }])),
}, null, 2);

describe("wgmesh rotate", () => {
  before(() => { dir = mkdtempSync(path.join(tmpdir(), "wgmesh-rotate-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("plain file: the node's key pair replaced in place (0600), the rest unchanged; the new key printed only as its public half", () => {
    writeFileSync(file("s.json"), stateText(), { mode: 0o600 });
    const r = run(["rotate", "s.json", "--node", "web1"]);
    assert.equal(r.code, 0, r.stderr);
    const after = JSON.parse(readFileSync(file("s.json"), "utf8"));
    const fresh = after.nodes.web1;
    assert.notEqual(fresh.private_key, keys.web1.privateKey);
    assert.equal(publicKeyFromPrivate(fresh.private_key), fresh.public_key);
    assert.equal(r.stdout, `rotated node web1: public key ${keys.web1.publicKey} -> ${fresh.public_key}\n`);
    assert.ok(!(r.stdout + r.stderr).includes(fresh.private_key), "no private key printed");
    assert.match(r.stderr, /next: wgmesh deploy s\.json/);
    assert.deepEqual(after.nodes.web2, JSON.parse(stateText()).nodes.web2);
    assert.equal(statSync(file("s.json")).mode & 0o777, 0o600);
    assert.ok(!readFileSync(file("s.json"), "utf8").includes(keys.web1.privateKey));
    assert.equal(run(["plan", "s.json"]).code, 0, "the file still plans");
  });

  test("encrypted file: stays encrypted with the same password (new salt and nonce), no trailing newline added", () => {
    writeFileSync(file("e.json"), encryptState(stateText(), "right horse"), { mode: 0o600 });
    writeFileSync(file("pw"), "right horse\n");
    const before = readFileSync(file("e.json"), "utf8");
    const r = run(["rotate", "e.json", "--node", "web2", "--password-file", "pw"]);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(file("e.json"), "utf8");
    assert.notEqual(text, before);
    assert.ok(!text.endsWith("\n"));
    const plain = JSON.parse(decryptState(text, "right horse"));
    assert.notEqual(plain.nodes.web2.private_key, keys.web2.privateKey);
    assert.equal(plain.nodes.web1.private_key, keys.web1.privateKey);
    assert.match(run(["rotate", "e.json", "--node", "web2"]).stderr, /looks encrypted/);
  });

  test("bad input: an unknown node (exit 1, named, nothing written), no --node, a wrong password", () => {
    writeFileSync(file("u.json"), stateText(), { mode: 0o600 });
    const r = run(["rotate", "u.json", "--node", "web9"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /u\.json: node "web9" is not in the state file \(its nodes: web1, web2\)/);
    assert.equal(readFileSync(file("u.json"), "utf8"), stateText(), "nothing written");
    const none = run(["rotate", "u.json"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /missing --node NAME/);
    writeFileSync(file("e2.json"), encryptState(stateText(), "right"));
    writeFileSync(file("wrong"), "wrong\n");
    const w = run(["rotate", "e2.json", "--node", "web1", "--password-file", "wrong"]);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /wrong password/);
  });

  describe("against the Go tool", { skip: existsSync(GO) ? false : `the Go binary is not at ${GO}` }, () => {
    test("a file the Go tool made and reads back: -list shows the new key; -add keeps it", () => {
      assert.equal(go(["-state", "go.json", "-init"]).code, 0);
      assert.equal(go(["-state", "go.json", "-add", "web1:10.99.0.1:192.0.2.1"]).code, 0);
      assert.equal(go(["-state", "go.json", "-add", "web2:10.99.0.2:192.0.2.2:2222"]).code, 0);
      const before = goList("go.json");
      const r = run(["rotate", "go.json", "--node", "web1"]);
      assert.equal(r.code, 0, r.stderr);
      const rotated = JSON.parse(readFileSync(file("go.json"), "utf8"));
      assert.deepEqual(goList("go.json"), { web1: rotated.nodes.web1.public_key, web2: before.web2 });
      assert.notEqual(rotated.nodes.web1.public_key, before.web1);
      assert.equal(go(["-state", "go.json", "-add", "web3:10.99.0.3:192.0.2.3"]).code, 0, "the Go tool rewrites the rotated file");
      const rewritten = JSON.parse(readFileSync(file("go.json"), "utf8"));
      assert.equal(rewritten.nodes.web1.private_key, rotated.nodes.web1.private_key, "and keeps the new key");
    });

    test("an encrypted file the Go tool made: rotated with --password-file, read back by the Go tool with the same password", () => {
      assert.equal(go(["-state", "goe.json", "-encrypt", "-init"], "pässword").code, 0);
      assert.equal(go(["-state", "goe.json", "-encrypt", "-add", "web1:10.99.0.1:192.0.2.1"], "pässword").code, 0);
      const before = goList("goe.json", "pässword");
      writeFileSync(file("gpw"), "pässword\n");
      const r = run(["rotate", "goe.json", "--node", "web1", "--password-file", "gpw"]);
      assert.equal(r.code, 0, r.stderr);
      const after = goList("goe.json", "pässword");
      assert.notEqual(after.web1, before.web1);
      assert.match(r.stdout, new RegExp(`-> ${after.web1!.replace(/[+/]/g, "\\$&")}`));
    });
  });
});
