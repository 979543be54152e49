// The plugin without hosts: `pulumi package get-schema` on the built wrapper and on the plugin installed
// from its tarball returns schema.json; schema.json is generated from provider/src/plugin/schema.ts; the
// SDKs in sdk/ are exactly what wgmesh-codegen makes of schema.json (reproducible).
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, baseEnv, missing, pluginWrapper, repoRoot } from "./plugin/e2e";
import { schemaText } from "../../provider/src/plugin/schema";
import { locateDaemonArtifact } from "../../provider/src/daemon/artifact";

const skip = missing(false);
const version = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
const schemaFile = () => JSON.parse(fs.readFileSync(path.join(repoRoot, "schema.json"), "utf8"));

function treeHash(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p)] = crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");
    }
  };
  walk(root);
  return out;
}

describe("wgmesh provider plugin: schema, get-schema, tarball, SDKs", { skip }, () => {
  const ws = new Workspace();
  after(() => ws.cleanup());

  test("schema.json is up to date with provider/src/plugin/schema.ts and package.json's version", () => {
    assert.equal(fs.readFileSync(path.join(repoRoot, "schema.json"), "utf8"), schemaText(version));
    assert.equal(schemaFile().version, version);
  });

  test("`pulumi package get-schema dist/pulumi-resource-wgmesh` returns schema.json", (t) => {
    const r = ws.ok("pulumi", ["package", "get-schema", pluginWrapper], ws.root);
    t.diagnostic(`get-schema (plugin from the build): ${r.ms} ms`);
    assert.deepEqual(JSON.parse(r.stdout), schemaFile());
  });

  test("the tarball installs with `pulumi plugin install resource wgmesh <version> --file` and serves the same schema", (t) => {
    const out = path.join(ws.root, "pkg");
    const pack = ws.ok("bash", [path.join(repoRoot, "scripts/plugin-package.sh"), out], repoRoot);
    const tgz = pack.stdout.trim().split("\n").pop() as string;
    assert.equal(path.basename(tgz), `pulumi-resource-wgmesh-v${version}-linux-${process.arch === "x64" ? "amd64" : process.arch}.tar.gz`);
    t.diagnostic(`plugin tarball: ${(fs.statSync(tgz).size / 1e6).toFixed(1)} MB, packed in ${pack.ms} ms`);
    ws.ok("pulumi", ["plugin", "install", "resource", "wgmesh", version, "--file", tgz, "--non-interactive"], ws.root);
    const ls = ws.ok("pulumi", ["plugin", "ls", "--json"], ws.root);
    const plugins = JSON.parse(ls.stdout) as Array<{ name: string; kind: string; version: string }>;
    assert.ok(plugins.some((p) => p.name === "wgmesh" && p.kind === "resource" && p.version === version), ls.stdout);
    // Not the one on PATH: the installed plugin (PATH has no dist/ here).
    assert.doesNotMatch(ws.env.PATH ?? "", new RegExp(`${path.join(repoRoot, "dist")}(:|$)`));
    const r = ws.ok("pulumi", ["package", "get-schema", `wgmesh@${version}`], ws.root);
    assert.deepEqual(JSON.parse(r.stdout), schemaFile());
    // The daemon artifact DecentralizedNode uploads rides in the tarball, where daemon/artifact.ts looks for it
    // (<package root>/dist/artifact); complete (sizes as its manifest says), and no test files beside the code.
    const installed = path.join(ws.env.PULUMI_HOME as string, "plugins", `resource-wgmesh-v${version}`);
    const art = locateDaemonArtifact({ WGMESH_DAEMON_ARTIFACT_DIR: path.join(installed, "dist", "artifact") });
    t.diagnostic(`daemon artifact in the tarball: ${(art.bytes / 1e6).toFixed(1)} MB + ${(art.gzBytes / 1e6).toFixed(1)} MB gzip'd, node ${art.nodeVersion}`);
    const tests: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else if (/\.test\.(js|js\.map|d\.ts)$/.test(e.name)) tests.push(path.join(d, e.name));
      }
    };
    walk(path.join(installed, "provider"));
    assert.deepEqual(tests, [], "no compiled tests in the plugin");
  });

  test("sdk/ is exactly what wgmesh-codegen generates from schema.json (run `make gen-sdk` after a schema change)", (t) => {
    const out = path.join(ws.root, "sdk");
    const r = ws.ok(path.join(baseEnv.WGMESH_PULUMI_BIN ?? "", "wgmesh-codegen"), ["--schema", path.join(repoRoot, "schema.json"), "--out", out, "--lang", "nodejs,python,go"], ws.root);
    t.diagnostic(`codegen nodejs+python+go: ${r.ms} ms`);
    for (const lang of ["nodejs", "python", "go"]) {
      assert.deepEqual(treeHash(path.join(repoRoot, "sdk", lang)), treeHash(path.join(out, lang)), `sdk/${lang} differs from the generator's output`);
    }
    const read = (f: string) => fs.readFileSync(path.join(repoRoot, "sdk", f), "utf8");
    for (const [file, re] of [
      ["nodejs/node.ts", /additionalSecretOutputs: \["connection", "privateKey"\]/],
      ["python/pulumi_wgmesh/node.py", /additional_secret_outputs=\["connection", "privateKey"\]/],
      ["go/wgmesh/node.go", /pulumi\.AdditionalSecretOutputs\(\[\]string\{\s*"connection",\s*"privateKey",/],
      ["nodejs/nodeConfig.ts", /additionalSecretOutputs: \["connection", "privateKey"\]/],
      ["python/pulumi_wgmesh/node_config.py", /additional_secret_outputs=\["connection", "privateKey"\]/],
      ["go/wgmesh/nodeConfig.go", /pulumi\.AdditionalSecretOutputs\(\[\]string\{\s*"connection",\s*"privateKey",/],
      ["nodejs/meshSecret.ts", /additionalSecretOutputs: \["secret"\]/],
      ["python/pulumi_wgmesh/mesh_secret.py", /additional_secret_outputs=\["secret"\]/],
      ["go/wgmesh/meshSecret.go", /pulumi\.AdditionalSecretOutputs\(\[\]string\{\s*"secret",/],
      ["nodejs/decentralizedNode.ts", /additionalSecretOutputs: \["connection", "secret"\]/],
      ["python/pulumi_wgmesh/decentralized_node.py", /additional_secret_outputs=\["connection", "secret"\]/],
      ["go/wgmesh/decentralizedNode.go", /pulumi\.AdditionalSecretOutputs\(\[\]string\{\s*"connection",\s*"secret",/],
    ] as const) {
      assert.match(read(file), re, `${file}: private key, connection and mesh secret are secret outputs`);
    }
    // Secret inputs are wrapped by the SDK itself (a plain string passed as the mesh secret is stored encrypted).
    assert.match(read("nodejs/decentralizedNode.ts"), /resourceInputs\["secret"\] = args\?\.secret \? pulumi\.secret\(args\.secret\) : undefined/);
    assert.match(read("nodejs/meshSecret.ts"), /resourceInputs\["secret"\] = args\?\.secret \? pulumi\.secret\(args\.secret\) : undefined/);
    assert.match(read("python/pulumi_wgmesh/node.py"), /Generate the WireGuard key on the host/, "schema descriptions reach the SDK docs");
  });

  test("the generated SDKs compile: nodejs type-checks, python installs and imports, the Go example builds offline", () => {
    const nodejs = path.join(ws.root, "sdk-nodejs");
    fs.cpSync(path.join(repoRoot, "sdk/nodejs"), nodejs, { recursive: true });
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(nodejs, "node_modules"), "dir");
    ws.ok(process.execPath, [path.join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", ".", "--noEmit"], nodejs);
    const pylib = path.join(ws.root, "pylib");
    // From a copy: setuptools writes build/ and *.egg-info into the source directory.
    fs.cpSync(path.join(repoRoot, "sdk/python"), path.join(ws.root, "sdk-python"), { recursive: true });
    ws.ok("python3", ["-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation", "--target", pylib, path.join(ws.root, "sdk-python")], ws.root);
    ws.env.PYTHONPATH = pylib;
    const py = ws.run("python3", ["-c", "import pulumi_wgmesh as m; print(m.Mesh.__name__, m.Node.__name__, m.MeshSecret.__name__, m.DecentralizedNode.__name__)"], ws.root);
    delete ws.env.PYTHONPATH;
    assert.equal(py.status, 0, py.stderr);
    assert.equal(py.stdout.trim(), "Mesh Node MeshSecret DecentralizedNode");
    const go = path.join(ws.root, "go-example");
    fs.cpSync(path.join(repoRoot, "examples/go-full-mesh"), go, { recursive: true });
    const mod = fs.readFileSync(path.join(go, "go.mod"), "utf8").replace("=> ../../sdk", `=> ${path.join(repoRoot, "sdk")}`);
    fs.writeFileSync(path.join(go, "go.mod"), mod);
    ws.ok("go", ["build", "-o", path.join(ws.root, "go-example.bin"), "."], go);
  });
});
