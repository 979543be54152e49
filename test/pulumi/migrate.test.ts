// `wgmesh migrate`: a Go wgmesh state file (plain and encrypted) becomes a TypeScript Pulumi project with the
// same nodes/groups/policies; every private key becomes secret config of the stack via the real pulumi CLI
// (stdin, never argv); the generated project previews through the real engine with no host reachable.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { compileMesh } from "../../provider/src/core/compile";
import { generateKeyPair } from "../../provider/src/core/keys";
import { meshToState, formatStateFile } from "../../provider/src/core/statefile";
import { encryptState } from "../../provider/src/core/statecrypt";
import { Workspace, linkNodeModules, pulumiEnv, repoRoot, toolchainMissing } from "./harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv);

describe("wgmesh migrate (real pulumi CLI)", { skip }, () => {
  let ws: Workspace;
  const keys = { web1: generateKeyPair(), web2: generateKeyPair(), db1: generateKeyPair() };

  before(() => { ws = new Workspace(baseEnv); });
  after(() => ws?.cleanup());

  function stateText(): string {
    const c = compileMesh({
      network: "10.77.0.0/24",
      nodes: [
        { hostname: "web1", sshHost: "127.0.0.1", sshPort: 1, privateKey: keys.web1.privateKey, routableNetworks: ["192.168.50.0/24"] },
        { hostname: "web2", sshHost: "127.0.0.1", sshPort: 1, privateKey: keys.web2.privateKey, meshIp: "10.77.0.20" },
        { hostname: "db1", sshHost: "127.0.0.1", sshPort: 1, privateKey: keys.db1.privateKey, behindNat: true },
      ],
      groups: [{ name: "web", members: ["web1", "web2"] }, { name: "db", members: ["db1"] }],
      policies: [{ name: "web-to-db", fromGroups: ["web"], toGroups: ["db"], allowRoutableNetworks: true }],
    });
    assert.ok(c.ok);
    return formatStateFile(meshToState(c.mesh));
  }

  function migrate(args: string[]) {
    return ws.run(process.execPath, [path.join(repoRoot, "bin/wgmesh"), "migrate", ...args], ws.root);
  }

  for (const encrypted of [false, true]) {
    test(`${encrypted ? "encrypted" : "plain"} state file → project + secret keys in stack config; preview with no host`, (t) => {
      const name = encrypted ? "enc" : "plain";
      const stateFile = path.join(ws.root, `${name}-state.json`);
      const text = stateText();
      const args: string[] = [];
      if (encrypted) {
        fs.writeFileSync(path.join(ws.root, "pw"), "correct horse\n");
        fs.writeFileSync(stateFile, encryptState(text, "correct horse"));
        args.push("--password-file", "pw");
      } else {
        fs.writeFileSync(stateFile, text);
      }
      const out = path.join(ws.root, `${name}-project`);
      const r = migrate([stateFile, "--stack", "prod", "--out", out, "--mesh", "prod", ...args]);
      assert.equal(r.status, 0, `migrate failed:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /3 nodes, 2 groups, 1 policies\); stored 3 private key\(s\) as secret config of stack prod/);

      const program = fs.readFileSync(path.join(out, "index.ts"), "utf8");
      assert.match(program, /new wgmesh\.Node\("web2", \{[\s\S]*?meshIp: "10\.77\.0\.20"/);
      assert.match(program, /new wgmesh\.Node\("db1", \{[\s\S]*?behindNat: true/);
      assert.match(program, /new wgmesh\.Policy\("policy-web-to-db", \{ name: "web-to-db", from: \[group_web\], to: \[group_db\], allowMeshIps: true, allowRoutableNetworks: true \}\)/);
      const everything = [r.stdout, r.stderr, ...fs.readdirSync(out).map((f) => fs.readFileSync(path.join(out, f), "utf8"))].join("\n");
      for (const k of Object.values(keys)) assert.ok(!everything.includes(k.privateKey), "no private key in the project files or CLI output");

      const cfg = JSON.parse(ws.pulumiOk(out, ["config", "--json", "--show-secrets", "--stack", "prod"]).stdout);
      for (const [h, k] of Object.entries(keys)) {
        assert.equal(cfg[`${path.basename("wgmesh-mesh")}:wgPrivateKey-${h}`]?.value, k.privateKey, `key of ${h} stored`);
        assert.equal(cfg[`wgmesh-mesh:wgPrivateKey-${h}`]?.secret, true);
      }

      linkNodeModules(out);
      ws.pulumiOk(out, ["config", "set", "--secret", "sshPrivateKey", "--stack", "prod"], { input: "unused" });
      const p = ws.pulumiOk(out, ["preview", "--diff", "--stack", "prod"]);
      t.diagnostic(`preview of the migrated project: ${p.ms} ms`);
      assert.match(p.stdout, /meshIps\s*: \{\s*db1\s*: "10\.77\.0\.\d+"\s*web1: "10\.77\.0\.\d+"\s*web2: "10\.77\.0\.20"/);
      assert.match(p.stdout, /dynamic:Resource::prod-web1\]/);
      for (const k of Object.values(keys)) assert.ok(!(p.stdout + p.stderr).includes(k.privateKey));
      // The imported keys are used as given: the public keys are already known at preview.
      assert.ok(p.stdout.includes(keys.db1.publicKey), "the public keys of imported keys are known at preview");
      assert.match(p.stdout, /prod-web1\][\s\S]*?peers\s*:[\s\S]*?db1 key=\S+ allowedIps=10\.77\.0\.1\/32( |$)/m);
    });
  }

  test("refuses a non-empty --out and a wrong password without writing keys", () => {
    const stateFile = path.join(ws.root, "x-state.json");
    fs.writeFileSync(stateFile, encryptState(stateText(), "right"));
    fs.writeFileSync(path.join(ws.root, "bad-pw"), "wrong\n");
    const wrong = migrate([stateFile, "--stack", "s", "--out", path.join(ws.root, "x"), "--password-file", "bad-pw"]);
    assert.notEqual(wrong.status, 0);
    assert.ok(!fs.existsSync(path.join(ws.root, "x")));
    fs.mkdirSync(path.join(ws.root, "full"));
    fs.writeFileSync(path.join(ws.root, "full", "f"), "");
    fs.writeFileSync(stateFile, stateText());
    const full = migrate([stateFile, "--stack", "s", "--out", path.join(ws.root, "full")]);
    assert.notEqual(full.status, 0);
    assert.match(full.stderr, /not empty/);
  });
});
