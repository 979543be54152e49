// Migration on real hosts: a mesh deployed by `wgmesh deploy` from a seed Go state file, migrated with
// `wgmesh migrate`, then `pulumi up` of the generated project adopts it with 0 host mutations (every host
// reports "unchanged", the same keys and addresses stay up), and `pulumi destroy` removes it.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { compileMesh } from "../../provider/src/core/compile";
import { generateKeyPair } from "../../provider/src/core/keys";
import { meshToState, formatStateFile } from "../../provider/src/core/statefile";
import { Workspace, linkNodeModules, pulumiEnv, repoRoot, toolchainMissing } from "./harness";
import { up, type Testbed } from "../testbed";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);

describe("migrate a deployed mesh, then pulumi up changes nothing on the hosts", { skip }, () => {
  let tb: Testbed;
  let ws: Workspace;
  let project = "";

  before(async () => {
    tb = await up(3, { name: "p6mig" });
    ws = new Workspace(baseEnv, { WGMESH_KNOWN_HOSTS: tb.knownHostsPath });
  });
  after(async () => {
    try {
      if (project) ws.pulumi(project, ["destroy", "--yes", "--skip-preview", "--stack", "prod"]);
    } finally {
      ws?.cleanup();
      await tb?.down();
    }
  });

  test("deploy from the seed state → migrate → up: 0 operations on every host → destroy leaves nothing", async (t) => {
    const names = ["alpha", "beta", "gamma"];
    const keys = names.map(() => generateKeyPair());
    const c = compileMesh({
      network: "10.66.0.0/24",
      nodes: names.map((hostname, i) => ({ hostname, sshHost: tb.hosts[i]!.address, sshPort: tb.hosts[i]!.sshPort, privateKey: keys[i]!.privateKey })),
      groups: [{ name: "front", members: ["alpha"] }, { name: "back", members: ["beta", "gamma"] }],
      policies: [{ name: "front-to-back", fromGroups: ["front"], toGroups: ["back"] }],
    });
    assert.ok(c.ok);
    const stateFile = path.join(ws.root, "mesh-state.json");
    fs.writeFileSync(stateFile, formatStateFile(meshToState(c.mesh)), { mode: 0o600 });

    const wgmesh = (args: string[]) => ws.run(process.execPath, [path.join(repoRoot, "bin/wgmesh"), ...args], ws.root);
    const dep = wgmesh(["deploy", stateFile, "--identity", tb.privateKeyPath, "--known-hosts", tb.knownHostsPath, "--json"]);
    assert.equal(dep.status, 0, `seed deploy failed:\n${dep.stdout}\n${dep.stderr}`);
    const before = await Promise.all(tb.hosts.map((h) => tb.execOk(h.name, ["wg", "show", "wg0", "dump"])));

    project = path.join(ws.root, "migrated");
    const mig = wgmesh(["migrate", stateFile, "--stack", "prod", "--out", project, "--mesh", "seed"]);
    assert.equal(mig.status, 0, `migrate failed:\n${mig.stdout}\n${mig.stderr}`);
    linkNodeModules(project);
    ws.pulumiOk(project, ["config", "set", "--secret", "sshPrivateKey", "--stack", "prod"], { input: fs.readFileSync(tb.privateKeyPath, "utf8") });

    const upRun = ws.pulumiOk(project, ["up", "--yes", "--skip-preview", "--stack", "prod"]);
    t.diagnostic(`pulumi up adopting 3 deployed hosts: ${upRun.ms} ms wall`);
    for (const n of names) assert.match(upRun.stdout, new RegExp(`\\[${n}\\] unchanged`), `host ${n} unchanged:\n${upRun.stdout}`);
    assert.doesNotMatch(upRun.stdout, /operation\(s\) applied|installing /);
    const after = await Promise.all(tb.hosts.map((h) => tb.execOk(h.name, ["wg", "show", "wg0", "dump"])));
    const stable = (d: string) => d.split("\n").map((l) => l.split("\t").slice(0, 4).join("\t")).sort().join("\n");
    assert.deepEqual(after.map(stable), before.map(stable), "same keys, ports, peers, endpoints");
    const outs = JSON.parse(ws.pulumiOk(project, ["stack", "output", "--json", "--stack", "prod"]).stdout);
    assert.deepEqual(outs.meshIps, Object.fromEntries(c.mesh.nodes.map((n) => [n.hostname, n.meshIp])));
    assert.deepEqual(outs.publicKeys, Object.fromEntries(names.map((n, i) => [n, keys[i]!.publicKey])));
    const again = ws.pulumi(project, ["preview", "--expect-no-changes", "--diff", "--stack", "prod"]);
    assert.equal(again.status, 0, `no changes expected after adopting:\n${again.stdout}\n${again.stderr}`);
    const exported = ws.pulumiOk(project, ["stack", "export", "--stack", "prod"]).stdout;
    for (const k of keys) assert.ok(!exported.includes(k.privateKey) && !upRun.stdout.includes(k.privateKey));

    ws.pulumiOk(project, ["destroy", "--yes", "--skip-preview", "--stack", "prod"]);
    project = "";
    for (const h of tb.hosts) {
      assert.notEqual((await tb.exec(h.name, ["ip", "link", "show", "wg0"])).code, 0);
      assert.equal((await tb.exec(h.name, "ls -A /etc/wireguard 2>/dev/null")).stdout.trim(), "");
    }
  });
});
