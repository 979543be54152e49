// A stack run from another checkout (another operator's machine, a CI runner, a reinstall elsewhere): the
// package that wrote the state is no longer at the path recorded in it. Pulumi reads and deletes a dynamic
// resource with the provider text in the state (`__provider`), so that text must find the runtime where the
// package is installed now — by package name from the project — not only at the absolute path it had.
// Real engine, file backend, no hosts (a MeshSecret touches none).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, pulumiEnv, repoRoot, toolchainMissing } from "./harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv);

describe("a stack run from a checkout where the package lives elsewhere (real engine)", { skip }, () => {
  let ws: Workspace;
  let dir = "";

  /** A copy of the package (what `npm install` puts in a project) at `where`. */
  const installPackage = (where: string) => {
    fs.mkdirSync(path.join(where, "dist"), { recursive: true });
    fs.cpSync(path.join(repoRoot, "dist", "provider"), path.join(where, "dist", "provider"), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, "package.json"), path.join(where, "package.json"));
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(where, "node_modules"), "dir");
  };
  /** The project's node_modules/@wgmesh/pulumi → `where`. */
  const usePackage = (where: string) => {
    const link = path.join(dir, "node_modules", "@wgmesh", "pulumi");
    fs.rmSync(link, { force: true, recursive: true });
    fs.symlinkSync(where, link, "dir");
  };
  const program = (withSecret: boolean) =>
    fs.writeFileSync(path.join(dir, "index.js"), withSecret
      ? `const wgmesh = require("@wgmesh/pulumi");\nconst s = new wgmesh.MeshSecret("s", {});\nexports.secretId = s.id;\n`
      : `exports.none = true;\n`);

  before(() => {
    ws = new Workspace(baseEnv);
    dir = ws.project("relocated", {
      "Pulumi.yaml": "name: relocated\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n",
      "package.json": JSON.stringify({ name: "relocated", version: "0.0.0", private: true, main: "index.js" }),
    });
  });
  after(() => ws?.cleanup());

  test("created from checkout A; A moved away: refresh reads and up deletes through the package installed now", () => {
    const a = path.join(ws.root, "checkout-a");
    const b = path.join(ws.root, "checkout-b");
    installPackage(a);
    usePackage(a);
    program(true);
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    ws.pulumiOk(dir, ["up", "--yes"]);
    const exported = ws.pulumiOk(dir, ["stack", "export"]).stdout;
    assert.ok(exported.includes("@wgmesh/pulumi/dist/provider/src/pulumi/dynamic.js"), "the state's provider text names the package");
    assert.ok(exported.includes(path.join(a, "dist")), "and the path it was written from (the fallback)");

    fs.renameSync(a, b); // checkout A is gone; the project now uses B
    usePackage(b);
    const refreshed = ws.pulumi(dir, ["refresh", "--yes"]);
    assert.equal(refreshed.status, 0, `refresh (read with the state's provider text):\n${refreshed.stdout}\n${refreshed.stderr}`);
    program(false);
    const r = ws.pulumi(dir, ["up", "--yes"]);
    assert.equal(r.status, 0, `up deleting the secret (delete with the state's provider text):\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /- 1 deleted/);
    assert.doesNotMatch(r.stdout + r.stderr, /Cannot find module/);
  });

  test("no package installed at all: the error names what was looked for and the fix", () => {
    const c = path.join(ws.root, "checkout-c");
    installPackage(c);
    usePackage(c);
    program(true);
    ws.pulumiOk(dir, ["stack", "init", "other"]); // its own stack, whatever the first test left
    ws.pulumiOk(dir, ["up", "--yes"]);
    fs.rmSync(path.join(dir, "node_modules", "@wgmesh", "pulumi"), { force: true, recursive: true });
    fs.rmSync(c, { recursive: true, force: true });
    const r = ws.pulumi(dir, ["destroy", "--yes"]);
    assert.notEqual(r.status, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /cannot load the provider's runtime to delete this meshSecret: not found from /);
    assert.match(out, /npm install @wgmesh\/pulumi/);
    // with the package back, the destroy completes
    const d = path.join(ws.root, "checkout-d");
    installPackage(d);
    usePackage(d);
    ws.pulumiOk(dir, ["destroy", "--yes"]);
  });
});
