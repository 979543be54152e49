// Smoke test of the Pulumi toolchain built by scripts/pulumi-toolchain.sh: the real CLI and language hosts
// run real programs (TypeScript with a dynamic provider, YAML, Python, Go) against a file backend in a
// temp dir, with the environment a user gets from `source scripts/pulumi-env.sh`.
// Skips (with the command to run) only when the toolchain cache has not been built.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pulumiEnv, repoRoot } from "./harness";

const baseEnv = pulumiEnv();
const binDir = baseEnv.WGMESH_PULUMI_BIN ?? "";
const cliPath = path.join(binDir, "pulumi");
const skip = fs.existsSync(cliPath)
  ? false
  : `Pulumi toolchain not built (no ${cliPath}); run: bash scripts/pulumi-toolchain.sh`;

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let workRoot = "";
let env: NodeJS.ProcessEnv = {};
const passphrase = crypto.randomBytes(18).toString("base64");

function run(cmd: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): RunResult {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd, env: { ...env, ...extraEnv }, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

function pulumi(cwd: string, ...args: string[]): RunResult {
  return run("pulumi", [...args, "--non-interactive"], cwd);
}

/** Runs pulumi and fails the test with its full output when it does not exit 0. */
function pulumiOk(cwd: string, ...args: string[]): RunResult {
  const r = pulumi(cwd, ...args);
  assert.equal(r.status, 0, `pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

function newProject(name: string, files: Record<string, string>): string {
  const dir = path.join(workRoot, name);
  fs.mkdirSync(dir, { recursive: true });
  writeFiles(dir, files);
  return dir;
}

/** Exported stack state (no --show-secrets), parsed; raw text is returned too for plaintext greps. */
function exportStack(cwd: string): { text: string; deployment: any } {
  const r = pulumiOk(cwd, "stack", "export");
  return { text: r.stdout, deployment: JSON.parse(r.stdout) };
}

function stackOutputs(cwd: string, showSecrets: boolean): Record<string, unknown> {
  const args = ["stack", "output", "--json"];
  if (showSecrets) args.push("--show-secrets");
  return JSON.parse(pulumiOk(cwd, ...args).stdout);
}

/** A resource count from `pulumi stack export`, excluding the stack itself. */
function resourceTypes(deployment: any): string[] {
  return (deployment.deployment.resources ?? []).map((r: { type: string }) => r.type);
}

describe("pulumi toolchain (real CLI + language hosts)", { skip }, () => {
  before(() => {
    workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-toolchain-"));
    const stateDir = path.join(workRoot, "state");
    fs.mkdirSync(stateDir);
    env = {
      ...baseEnv,
      PULUMI_HOME: path.join(workRoot, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${stateDir}`,
      PULUMI_CONFIG_PASSPHRASE: passphrase,
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      // Go programs build offline from the module cache the toolchain script filled.
      GOPROXY: "off",
      GOFLAGS: "-mod=mod",
    };
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
  });

  after(() => {
    if (workRoot) fs.rmSync(workRoot, { recursive: true, force: true });
  });

  test("the environment puts the built CLI, hosts, shim and python venv first on PATH, and no repository path", () => {
    const which = (b: string) => run("bash", ["-c", `command -v ${b}`], repoRoot).stdout.trim();
    assert.equal(which("pulumi"), cliPath);
    for (const host of ["nodejs", "python", "go", "yaml"]) {
      assert.equal(which(`pulumi-language-${host}`), path.join(binDir, `pulumi-language-${host}`));
    }
    // The dynamic-provider shim beside the CLI (as Pulumi's releases place it): no "using … from $PATH" warning.
    assert.equal(which("pulumi-resource-pulumi-nodejs"), path.join(binDir, "pulumi-resource-pulumi-nodejs"));
    assert.equal(which("python3"), path.join(baseEnv.WGMESH_PULUMI_VENV ?? "", "bin/python3"));
    assert.deepEqual((baseEnv.PATH ?? "").split(":").filter((d) => d.startsWith(repoRoot)), [], "PATH holds no directory of the repository");
    assert.equal(run("pulumi", ["version"], repoRoot).stdout.trim(), `v${baseEnv.WGMESH_PULUMI_VERSION}`);
    assert.equal(baseEnv.PULUMI_SKIP_UPDATE_CHECK, "true");
    assert.match(baseEnv.PULUMI_BACKEND_URL ?? "", /^file:\/\//);
  });

  test("TypeScript project: dynamic provider with a secret output through up / preview / diff / destroy", (t) => {
    const dir = newProject("ts", {
      "Pulumi.yaml": "name: toolchain-ts\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
      "package.json": JSON.stringify({ name: "toolchain-ts", version: "0.0.0", private: true, main: "index.ts" }),
      "tsconfig.json": JSON.stringify({
        compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true },
        files: ["index.ts"],
      }),
      "index.ts": TS_PROGRAM,
    });
    // Resolve @pulumi/pulumi (and what the provider requires) from the repo's node_modules, as an example
    // project inside the repo would. Node resolves the symlink to its real path, so the provider code the
    // shim deserializes finds the same modules.
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"), "dir");

    pulumiOk(dir, "stack", "init", "dev");
    pulumiOk(dir, "config", "set", "label", "v1");

    const up = pulumiOk(dir, "up", "--yes", "--skip-preview");
    t.diagnostic(`pulumi up (TypeScript, 1 dynamic resource, create): ${up.ms} ms wall`);
    assert.match(up.stdout, /\+ +1 created|1 created/);

    const secrets = stackOutputs(dir, true);
    const privateKey = String(secrets.privateKey);
    const publicKey = String(secrets.publicKey);
    assert.match(privateKey, /^[A-Za-z0-9+/]{43}=$/, "privateKey is a base64 X25519 key");
    assert.equal(publicKey, x25519Public(privateKey), "publicKey output is derived from the (secret) privateKey");
    assert.equal(secrets.label, "v1");
    assert.equal(stackOutputs(dir, false).privateKey, "[secret]", "privateKey is a secret output");

    const exported = exportStack(dir);
    assert.ok(exported.text.includes(publicKey), "positive control: the public key is in the export in plaintext");
    assert.ok(!exported.text.includes(privateKey), "the private key must not appear in plaintext in `pulumi stack export`");
    const res = exported.deployment.deployment.resources.find((r: any) => r.type === "pulumi-nodejs:dynamic:Resource");
    assert.ok(res, `dynamic resource in state; types: ${resourceTypes(exported.deployment).join(", ")}`);
    assert.equal(res.outputs.privateKey?.["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    assert.ok(res.outputs.privateKey.ciphertext, "secret output stored as ciphertext");

    const refresh = pulumiOk(dir, "refresh", "--yes", "--skip-preview");
    assert.doesNotMatch(refresh.stdout, /updated|deleted/, `refresh of an unchanged resource reports no drift:\n${refresh.stdout}`);

    const noChange = pulumi(dir, "preview", "--expect-no-changes");
    assert.equal(noChange.status, 0, `preview --expect-no-changes after up:\n${noChange.stdout}\n${noChange.stderr}`);

    pulumiOk(dir, "config", "set", "label", "v2");
    const mustFail = pulumi(dir, "preview", "--expect-no-changes");
    assert.notEqual(mustFail.status, 0, "preview --expect-no-changes must fail once an input changed");
    const diff = pulumiOk(dir, "preview", "--diff");
    t.diagnostic(`pulumi preview --diff (TypeScript, 1 dynamic resource): ${diff.ms} ms wall`);
    assert.match(diff.stdout, /~ +label *: +"v1" +=> +"v2"/, `preview --diff shows the changed input:\n${diff.stdout}`);
    assert.match(diff.stdout, /1 to update/);

    const upd = pulumiOk(dir, "up", "--yes", "--skip-preview");
    t.diagnostic(`pulumi up (TypeScript, 1 dynamic resource, update): ${upd.ms} ms wall`);
    const after = stackOutputs(dir, true);
    assert.equal(after.label, "v2");
    assert.equal(after.privateKey, privateKey, "update keeps the key created by create");
    assert.ok(!exportStack(dir).text.includes(privateKey), "still no plaintext private key after update");

    const destroy = pulumiOk(dir, "destroy", "--yes", "--skip-preview");
    assert.match(destroy.stdout, /1 deleted/);
    assert.deepEqual(resourceTypes(exportStack(dir).deployment), []);
    pulumiOk(dir, "stack", "rm", "--yes", "dev");
  });

  test("Automation API inline program with a dynamic provider runs on the built CLI", async (t) => {
    // Loaded here, not at the top: the module is only needed when the toolchain exists.
    const auto: typeof import("@pulumi/pulumi/automation") = require("@pulumi/pulumi/automation");
    const pulumiSdk: typeof import("@pulumi/pulumi") = require("@pulumi/pulumi");
    const workDir = newProject("automation", {});
    // The dynamic-provider shim resolves @pulumi/pulumi from the workspace's directory.
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(workDir, "node_modules"), "dir");
    const envVars: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) envVars[k] = v;
    const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(binDir) });
    const program = async () => {
      const provider: import("@pulumi/pulumi").dynamic.ResourceProvider = {
        async create(inputs: any) {
          const { createHash } = require("node:crypto");
          return { id: "auto-1", outs: { ...inputs, digest: createHash("sha256").update(inputs.text).digest("hex") } };
        },
      };
      class Digest extends pulumiSdk.dynamic.Resource {
        declare public readonly digest: import("@pulumi/pulumi").Output<string>;
        constructor(name: string, text: string) {
          super(provider, name, { text, digest: undefined }, {});
        }
      }
      return { digest: new Digest("automation-digest", "wgmesh").digest };
    };
    const stack = await auto.LocalWorkspace.createOrSelectStack(
      { stackName: "dev", projectName: "toolchain-automation", program },
      { workDir, pulumiCommand, envVars, pulumiHome: env.PULUMI_HOME },
    );
    try {
      const t0 = Date.now();
      const up = await stack.up();
      t.diagnostic(`Automation API inline up (1 dynamic resource): ${Date.now() - t0} ms`);
      assert.equal(up.summary.result, "succeeded");
      assert.equal(up.outputs.digest.value, crypto.createHash("sha256").update("wgmesh").digest("hex"));
      const pre = await stack.preview();
      assert.deepEqual(pre.changeSummary, { same: 2 });
      await stack.destroy();
    } finally {
      await stack.workspace.removeStack("dev", { force: true });
    }
  });

  test("YAML program runs through pulumi-language-yaml", (t) => {
    const dir = newProject("yaml", { "Pulumi.yaml": YAML_PROGRAM });
    pulumiOk(dir, "stack", "init", "dev");
    pulumiOk(dir, "config", "set", "--secret", "token", "yaml-token-7f3a9c");
    const up = pulumiOk(dir, "up", "--yes", "--skip-preview");
    t.diagnostic(`pulumi up (YAML): ${up.ms} ms wall`);
    const outs = stackOutputs(dir, true);
    assert.equal(outs.message, "hello from yaml");
    assert.equal(outs.token, "yaml-token-7f3a9c");
    assert.equal(stackOutputs(dir, false).token, "[secret]");
    assert.ok(!exportStack(dir).text.includes("yaml-token-7f3a9c"));
    pulumiOk(dir, "destroy", "--yes", "--skip-preview");
    pulumiOk(dir, "stack", "rm", "--yes", "dev");
  });

  test("Python program runs through pulumi-language-python and the virtualenv", (t) => {
    const dir = newProject("python", {
      "Pulumi.yaml": "name: toolchain-python\nruntime: python\n",
      "__main__.py": PYTHON_PROGRAM,
    });
    pulumiOk(dir, "stack", "init", "dev");
    const up = pulumiOk(dir, "up", "--yes", "--skip-preview");
    t.diagnostic(`pulumi up (Python): ${up.ms} ms wall`);
    const outs = stackOutputs(dir, true);
    assert.equal(outs.message, "hello from python");
    assert.equal(outs.sdkVersion, baseEnv.WGMESH_PULUMI_PYPI_VERSION, "the program ran with the venv's pulumi package");
    assert.equal(stackOutputs(dir, false).secret, "[secret]");
    assert.ok(!exportStack(dir).text.includes("python-secret-51c2"));
    pulumiOk(dir, "destroy", "--yes", "--skip-preview");
    pulumiOk(dir, "stack", "rm", "--yes", "dev");
  });

  test("Go program runs through pulumi-language-go (offline, from the module cache)", (t) => {
    const dir = newProject("go", {
      "Pulumi.yaml": "name: toolchain-go\nruntime: go\n",
      "main.go": GO_PROGRAM,
    });
    // The program takes the CLI wrapper module's requirements (sdk/v3 at the CLI's version and the exact
    // versions the toolchain build downloaded), so it builds offline from the module cache.
    const cliMod = fs.readFileSync(path.join(repoRoot, "tools/pulumi/cli/go.mod"), "utf8");
    fs.writeFileSync(
      path.join(dir, "go.mod"),
      cliMod.replace(/^module .*$/m, "module toolchain-go").replace(/^tool .*$/gm, ""),
    );
    assert.match(cliMod, new RegExp(`github.com/pulumi/pulumi/sdk/v3 v${baseEnv.WGMESH_PULUMI_VERSION}\\b`));
    fs.copyFileSync(path.join(repoRoot, "tools/pulumi/cli/go.sum"), path.join(dir, "go.sum"));
    pulumiOk(dir, "stack", "init", "dev");
    const up = pulumiOk(dir, "up", "--yes", "--skip-preview");
    t.diagnostic(`pulumi up (Go, includes go build): ${up.ms} ms wall`);
    const outs = stackOutputs(dir, true);
    assert.equal(outs.message, "hello from go");
    assert.equal(stackOutputs(dir, false).secret, "[secret]");
    assert.ok(!exportStack(dir).text.includes("go-secret-9d41"));
    pulumiOk(dir, "destroy", "--yes", "--skip-preview");
    pulumiOk(dir, "stack", "rm", "--yes", "dev");
  });

  test("wgmesh-codegen generates nodejs, python and go SDKs that compile, with the secret output marked", () => {
    const dir = newProject("codegen", { "schema.json": JSON.stringify(CODEGEN_SCHEMA, null, 2) });
    const codegen = path.join(binDir, "wgmesh-codegen");
    const gen = (out: string) => run(codegen, ["--schema", "schema.json", "--out", out, "--lang", "nodejs,python,go"], dir);
    const r = gen("sdk");
    assert.equal(r.status, 0, `codegen failed:\n${r.stdout}\n${r.stderr}`);

    const read = (f: string) => fs.readFileSync(path.join(dir, "sdk", f), "utf8");
    assert.match(read("nodejs/key.ts"), /additionalSecretOutputs: \["privateKey"\]/);
    assert.match(read("python/pulumi_wgmeshtest/key.py"), /additional_secret_outputs=\["privateKey"\]/);
    assert.match(read("go/wgmeshtest/key.go"), /pulumi\.AdditionalSecretOutputs\(\[\]string\{\s*"privateKey",/);
    assert.match(read("nodejs/key.ts"), /The private key\./, "schema descriptions reach the SDK docs");

    // Reproducible: a second run gives byte-identical trees.
    assert.equal(gen("sdk2").status, 0);
    assert.deepEqual(treeHash(path.join(dir, "sdk2")), treeHash(path.join(dir, "sdk")));

    // nodejs: type-checks against the repo's @pulumi/pulumi.
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "sdk/nodejs/node_modules"), "dir");
    const tsc = run(process.execPath, [path.join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", ".", "--noEmit"], path.join(dir, "sdk/nodejs"));
    assert.equal(tsc.status, 0, `generated nodejs SDK does not type-check:\n${tsc.stdout}${tsc.stderr}`);

    // python: pip-installs (offline, into a temp target) and imports with the venv's pulumi.
    const pylib = path.join(dir, "pylib");
    const pip = run("python3", ["-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation", "--target", pylib, "sdk/python"], dir);
    assert.equal(pip.status, 0, `pip install of the generated python SDK failed:\n${pip.stdout}${pip.stderr}`);
    const py = run("python3", ["-c", "import pulumi_wgmeshtest as m; print(m.Key.__name__)"], dir, { PYTHONPATH: pylib });
    assert.equal(py.status, 0, `generated python SDK does not import:\n${py.stderr}`);
    assert.equal(py.stdout.trim(), "Key");

    // go: builds offline against sdk/v3 at the CLI's version.
    const cliMod = fs.readFileSync(path.join(repoRoot, "tools/pulumi/cli/go.mod"), "utf8");
    fs.writeFileSync(
      path.join(dir, "sdk/go/go.mod"),
      cliMod.replace(/^module .*$/m, "module github.com/example/wgmesh/sdk/go").replace(/^tool .*$/gm, ""),
    );
    fs.copyFileSync(path.join(repoRoot, "tools/pulumi/cli/go.sum"), path.join(dir, "sdk/go/go.sum"));
    const gob = run("go", ["build", "./..."], path.join(dir, "sdk/go"));
    assert.equal(gob.status, 0, `generated go SDK does not build:\n${gob.stderr}`);

    // An invalid schema is refused with the binder's message, not turned into an SDK.
    const bad = structuredClone(CODEGEN_SCHEMA) as any;
    bad.resources["wgmeshtest:index:Key"].properties.publicKey = { $ref: "#/types/wgmeshtest:index:Missing" };
    fs.writeFileSync(path.join(dir, "bad.json"), JSON.stringify(bad));
    const badRun = run(codegen, ["--schema", "bad.json", "--out", "sdk-bad"], dir);
    assert.notEqual(badRun.status, 0);
    assert.match(badRun.stderr, /not a valid Pulumi schema[\s\S]*Missing/);
    assert.ok(!fs.existsSync(path.join(dir, "sdk-bad")));
  });
});

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

const CODEGEN_SCHEMA = {
  name: "wgmeshtest",
  version: "0.1.0",
  description: "Toolchain smoke-test schema",
  language: {
    nodejs: { packageName: "@wgmesh/toolchain-test", dependencies: { "@pulumi/pulumi": "^3.0.0" } },
    python: { packageName: "pulumi_wgmeshtest" },
    go: { importBasePath: "github.com/example/wgmesh/sdk/go/wgmeshtest" },
  },
  resources: {
    "wgmeshtest:index:Key": {
      description: "A WireGuard keypair.",
      inputProperties: { label: { type: "string", description: "A label." } },
      requiredInputs: ["label"],
      properties: {
        label: { type: "string", description: "A label." },
        privateKey: { type: "string", secret: true, description: "The private key." },
        publicKey: { type: "string", description: "The public key." },
      },
      required: ["label", "privateKey", "publicKey"],
    },
  },
};

function x25519Public(privateKeyB64: string): string {
  // The same derivation the provider used, done here independently with node:crypto.
  const der = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), Buffer.from(privateKeyB64, "base64")]);
  const key = crypto.createPublicKey(crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  const spki = key.export({ format: "der", type: "spki" });
  return spki.subarray(spki.length - 32).toString("base64");
}

// A dynamic provider whose create makes an X25519 keypair. Modules are required inside the methods so
// Pulumi's closure serialization captures no module objects, only code.
const TS_PROGRAM = `import * as pulumi from "@pulumi/pulumi";

interface KeyInputs { label: string }

const keyProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: KeyInputs) {
    const { x25519 } = require("@noble/curves/ed25519");
    const { randomUUID } = require("node:crypto");
    const priv: Uint8Array = x25519.utils.randomPrivateKey();
    return {
      id: randomUUID(),
      outs: {
        label: inputs.label,
        privateKey: Buffer.from(priv).toString("base64"),
        publicKey: Buffer.from(x25519.getPublicKey(priv)).toString("base64"),
      },
    };
  },
  async update(_id: string, olds: any, news: KeyInputs) {
    return { outs: { ...olds, label: news.label } };
  },
};

class Key extends pulumi.dynamic.Resource {
  declare public readonly label: pulumi.Output<string>;
  declare public readonly privateKey: pulumi.Output<string>;
  declare public readonly publicKey: pulumi.Output<string>;
  constructor(name: string, args: { label: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(keyProvider, name, { ...args, privateKey: undefined, publicKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] });
  }
}

const config = new pulumi.Config();
const key = new Key("smoke-node1", { label: config.require("label") });
export const label = key.label;
export const privateKey = key.privateKey;
export const publicKey = key.publicKey;
`;

const YAML_PROGRAM = `name: toolchain-yaml
runtime: yaml
config:
  token:
    type: string
    secret: true
variables:
  greeting: hello
outputs:
  message: \${greeting} from yaml
  token: \${token}
`;

const PYTHON_PROGRAM = `import importlib.metadata
import pulumi

pulumi.export("message", "hello from python")
pulumi.export("sdkVersion", importlib.metadata.version("pulumi"))
pulumi.export("secret", pulumi.Output.secret("python-secret-51c2"))
`;

const GO_PROGRAM = `package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		ctx.Export("message", pulumi.String("hello from go"))
		ctx.Export("secret", pulumi.ToSecret(pulumi.String("go-secret-9d41")))
		return nil
	})
}
`;
