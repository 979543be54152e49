// The key lifecycle through the provider plugin (issue 16): examples/yaml-full-mesh with `presharedKeys: true` on
// the Mesh component and a `rotationTrigger` on node1 from the stack config, through the real CLI,
// pulumi-language-yaml and the plugin, on 3 testbed hosts: one PSK per pair, equal on both ends, each a secret
// of its own in the state (the ids in the clear); the preview of a PSK rotation shows every pair's new id and of a
// node rotation node1's key changing, with 0 SSH; `up` applies both (new key in every peer's handshake).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { configure, missing, repoRoot, Workspace } from "./plugin/e2e";
import { up, type Testbed } from "../testbed";

const skip = missing(true);

/** The example with a rotation trigger on node1 and per-pair PSKs (triggers from the stack config). */
function withKeys(program: string): string {
  const config = "config:\n";
  const out = program
    .replace(config, `${config}  node1Rotation:\n    type: string\n    default: initial\n  pskRotation:\n    type: string\n    default: initial\n`)
    .replace("      hostname: ${hosts[0].name}\n", "      hostname: ${hosts[0].name}\n      rotationTrigger: ${node1Rotation}\n")
    .replace("      network: ${network}\n", "      network: ${network}\n      presharedKeys: true\n      pskRotationTrigger: ${pskRotation}\n");
  assert.equal(out.split("otationTrigger: ").length, 3, "the edit found node1 and the Mesh");
  assert.ok(out.includes("  node1Rotation:\n"), "and the config");
  return out;
}

test("YAML through the plugin: per-pair PSKs (secrets with public ids), PSK and node key rotation previewed with 0 SSH and applied", { skip, timeout: 900_000 }, async (t) => {
  const ws = new Workspace();
  let tb: Testbed | undefined;
  let dir = "";
  try {
    ws.usePluginFromPath();
    tb = await up(3, { name: "rplug" });
    dir = ws.project(path.join(repoRoot, "examples", "yaml-full-mesh"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), withKeys(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")));
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    configure(ws, dir, tb);
    const r = ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (YAML, 3 nodes, PSKs): ${r.ms} ms wall`);
    const names = tb.hosts.map((h) => h.name);
    const pskOf = async (): Promise<Record<string, string>> => {
      const pub = JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout).publicKeys as Record<string, string>;
      const live: Record<string, Record<string, string>> = {};
      for (const n of names) live[n] = Object.fromEntries((await tb!.execOk(n, ["wg", "show", "wg0", "preshared-keys"])).trim().split("\n").map((l) => l.split("\t") as [string, string]));
      const pairs: Record<string, string> = {};
      for (const [i, a] of names.entries()) for (const b of names.slice(i + 1)) {
        assert.equal(live[a]![pub[b]!], live[b]![pub[a]!], `${a}–${b}: the same PSK on both ends`);
        assert.notEqual(live[a]![pub[b]!], "(none)");
        pairs[`${a}–${b}`] = live[a]![pub[b]!]!;
      }
      return pairs;
    };
    const first = await pskOf();
    assert.equal(new Set(Object.values(first)).size, 3);
    const state = JSON.parse(ws.pulumiOk(dir, ["stack", "export"]).stdout).deployment.resources as Array<{ type: string; inputs?: Record<string, any>; outputs?: Record<string, any> }>;
    const decl = state.find((x) => x.type === "wgmesh:index:MeshDeclaration")!;
    assert.ok(decl.outputs?.presharedKeyTable?.ciphertext, "the Mesh's key table: one secret");
    for (const c of state.filter((x) => x.type === "wgmesh:index:NodeConfig")) {
      const psks = Object.values(c.inputs?.presharedKeys ?? {}) as Array<{ id: string; key: { ciphertext?: string } }>;
      assert.equal(psks.length, 2);
      for (const k of psks) assert.ok(/^[0-9a-f]{8}$/.test(k.id) && k.key.ciphertext, "each key its own secret, its id in the clear");
    }
    const plain = JSON.stringify(state);
    for (const k of Object.values(first)) assert.ok(!plain.includes(k), "no PSK in plain text in the state");

    ws.pulumiOk(dir, ["config", "set", "pskRotation", "r1"]);
    ws.pulumiOk(dir, ["config", "set", "node1Rotation", "r1"]);
    const p = ws.pulumiOk(dir, ["preview", "--diff"]);
    assert.doesNotMatch(p.stdout + p.stderr, /connecting to/, "the preview opens no SSH connection");
    assert.match(p.stdout, /~ rotationTrigger\s*: "initial" => "r1"/, p.stdout);
    assert.equal((p.stdout.match(/~ id\s*: "[0-9a-f]{8}" => "[0-9a-f]{8}"/g) ?? []).length, 6, `every pair's new key on both ends (6 entries):\n${p.stdout}`);
    for (const k of Object.values(first)) assert.ok(!(p.stdout + p.stderr).includes(k), "no PSK in the preview");
    const before = JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout).publicKeys as Record<string, string>;
    const t0 = Date.now();
    ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
    const after = JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout).publicKeys as Record<string, string>;
    assert.notEqual(after[names[0]!], before[names[0]!], "node1 has a new key");
    assert.equal(after[names[1]!], before[names[1]!]);
    const second = await pskOf();
    for (const [pair, k] of Object.entries(first)) assert.notEqual(second[pair], k, `${pair}: a new PSK`);
    for (const n of names.slice(1)) {
      let seen = false;
      for (let i = 0; i < 30 && !seen; i++) {
        const hs = await tb.execOk(n, ["wg", "show", "wg0", "latest-handshakes"]);
        seen = hs.split("\n").some((l) => l.startsWith(after[names[0]!]!) && Number(l.split("\t")[1]) * 1000 >= t0 - 1000);
        if (!seen) await tb.exec(n, ["ping", "-c", "1", "-W", "1", JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout).meshIps[names[0]!]]);
      }
      assert.ok(seen, `${n} shook hands with node1's new key`);
    }
    assert.equal(ws.pulumi(dir, ["preview", "--expect-no-changes"]).status, 0);
  } finally {
    if (dir) ws.pulumi(dir, ["destroy", "--yes", "--skip-preview"]);
    ws.cleanup();
    await tb?.down();
  }
});
