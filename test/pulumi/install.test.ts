// Install like a user: `make dist` builds dist/release/, and each language's small example
// (examples/functions-*) is installed into a fresh directory from those files only — the npm tarball, the
// plugin tarball, the Python wheel, the Go module proxy directory — with nothing of the repository on PATH,
// in NODE_PATH/PYTHONPATH or in a go.mod replace. Then `pulumi up` on 2 testbed hosts: the mesh pings, the
// functions answer through the real engine (getMeshPlan's plan equals what was deployed, getNodeStatus sees
// the peer's handshake after a ping, generateKeyPair's private key is stored as a secret), and destroy.
// Third-party packages come from their registries' caches (npm, PyPI, the Go module cache).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { down, up, type Testbed } from "../testbed";
import { Workspace, missing, repoRoot } from "./plugin/e2e";
import { isValidKey, publicKeyFromPrivate } from "../../provider/src/core/keys";

const skip = missing(true);
const TESTBED = "qinst";
const rel = path.join(repoRoot, "dist", "release");
const version = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;

let tb: Testbed | undefined;
const timings: Record<string, number> = {};

function timed<T>(label: string, f: () => T): T {
  const t0 = Date.now();
  try {
    return f();
  } finally {
    timings[label] = Date.now() - t0;
  }
}

/** A user's environment: the Pulumi toolchain on PATH, nothing of this repository anywhere. */
function userWorkspace(): Workspace {
  const w = new Workspace();
  w.env.PATH = (w.env.PATH ?? "").split(":").filter((d) => !path.resolve(d).startsWith(repoRoot)).join(":");
  for (const k of ["NODE_PATH", "PYTHONPATH", "WGMESH_ROOT", "WGMESH_DAEMON_ARTIFACT_DIR", "WGMESH_PULUMI_SHIM_DIR"]) delete w.env[k];
  return w;
}

before(async () => {
  if (skip) return;
  const w = new Workspace();
  try {
    timed("make dist", () => w.ok("bash", [path.join(repoRoot, "scripts/dist.sh")], repoRoot));
  } finally {
    w.cleanup();
  }
  tb = await up(2, { name: TESTBED });
});

after(async () => {
  if (tb) await down(TESTBED);
  if (Object.keys(timings).length) console.log(`# install timings (ms): ${JSON.stringify(timings)}`);
});

type Lang = "typescript" | "yaml" | "python" | "go";

/** A fresh project directory with the example's program files, its dependencies installed from dist/release. */
function install(w: Workspace, lang: Lang): string {
  const example = path.join(repoRoot, "examples", `functions-${lang}`);
  const dir = path.join(w.root, `project-${lang}`);
  fs.mkdirSync(dir);
  const program = { typescript: ["Pulumi.yaml", "index.ts", "tsconfig.json"], yaml: ["Pulumi.yaml"], python: ["Pulumi.yaml", "__main__.py"], go: ["Pulumi.yaml", "main.go"] }[lang];
  for (const f of program) fs.copyFileSync(path.join(example, f), path.join(dir, f));
  switch (lang) {
    case "typescript":
      // The example's package.json, with the package from its tarball (TypeScript itself a devDependency, as
      // in Pulumi's templates: without one Pulumi compiles with its vendored TypeScript 3.8).
      const pkg = JSON.parse(fs.readFileSync(path.join(example, "package.json"), "utf8")) as { dependencies: Record<string, string> };
      pkg.dependencies["@wgmesh/pulumi"] = `file:${path.join(rel, `wgmesh-pulumi-${version}.tgz`)}`;
      fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
      timed("typescript: npm install", () => w.ok("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], dir));
      assert.ok(!fs.lstatSync(path.join(dir, "node_modules/@wgmesh/pulumi")).isSymbolicLink(), "the package is installed from the tarball, not linked");
      assert.match(w.ok(path.join(dir, "node_modules/.bin/wgmesh"), ["plan", "--help"], dir).stdout, /^Usage: wgmesh plan <mesh-state\.json> \[--json \| --format text\|json\|mermaid\]/, "the package's wgmesh command runs");
      break;
    case "python": {
      // A virtualenv of the project, as a user makes one; its bin first on PATH (the python host runs `python3`).
      w.ok("python3", ["-m", "venv", path.join(dir, "venv")], dir);
      const pulumiVersion = w.env.WGMESH_PULUMI_PYPI_VERSION as string;
      timed("python: pip install", () => w.ok(path.join(dir, "venv/bin/pip"), ["install", "-q", "--disable-pip-version-check", `pulumi==${pulumiVersion}`, path.join(rel, `pulumi_wgmesh-${version}-py3-none-any.whl`)], dir));
      break;
    }
    case "go": {
      // The example's go.mod without the replace of the repository's SDK: the module comes from the proxy
      // directory of dist/release (go.sum: the example's, i.e. what `go mod tidy` writes; go adds our module).
      const mod = fs.readFileSync(path.join(example, "go.mod"), "utf8").replace(/\nreplace github\.com\/wgmesh\/pulumi-wgmesh\/sdk => .*\n/, "\n").replace("github.com/wgmesh/pulumi-wgmesh/sdk v0.0.0", `github.com/wgmesh/pulumi-wgmesh/sdk v${version}`);
      assert.doesNotMatch(mod, /=> \.\.?\//, "no local replace left");
      fs.writeFileSync(path.join(dir, "go.mod"), mod);
      fs.copyFileSync(path.join(example, "go.sum"), path.join(dir, "go.sum"));
      break;
    }
    case "yaml":
      break;
  }
  if (lang !== "typescript") {
    // The plugin from its tarball, into this workspace's PULUMI_HOME.
    const tarball = path.join(rel, `pulumi-resource-wgmesh-v${version}-linux-amd64.tar.gz`);
    timed(`${lang}: pulumi plugin install`, () => w.ok("pulumi", ["plugin", "install", "resource", "wgmesh", version, "--file", tarball, "--non-interactive"], dir));
  }
  return dir;
}

/** The language's environment for running the program: the project's venv first; Go modules from dist/release. */
function useLanguage(w: Workspace, lang: Lang, dir: string): void {
  if (lang === "python") w.env.PATH = `${path.join(dir, "venv/bin")}:${w.env.PATH}`;
  if (lang === "go") {
    w.env.GOPROXY = `file://${path.join(rel, "goproxy")}`;
    w.env.GONOSUMDB = "github.com/wgmesh/pulumi-wgmesh";
    w.env.GOFLAGS = "-mod=mod";
  }
}

for (const lang of ["typescript", "yaml", "python", "go"] as Lang[]) {
  test(`${lang}: installed from dist/release only, up / ping / functions / destroy`, { skip, timeout: 900_000 }, async (t) => {
    const w = userWorkspace();
    const bed = tb as Testbed;
    try {
      const dir = install(w, lang);
      useLanguage(w, lang, dir);
      const stack = `install-${lang}`;
      w.pulumiOk(dir, ["stack", "init", stack]);
      bed.hosts.forEach((h, i) => {
        for (const [k, v] of [["name", h.name], ["host", h.address], ["port", String(h.sshPort)], ["hostKey", h.hostPublicKey]] as const) w.pulumiOk(dir, ["config", "set", "--path", `hosts[${i}].${k}`, v]);
      });
      w.pulumiOk(dir, ["config", "set", "--secret", "sshPrivateKey"], fs.readFileSync(bed.privateKeyPath, "utf8"));
      const upRun = timed(`${lang}: pulumi up`, () => w.pulumiOk(dir, ["up", "--yes", "--skip-preview"]));
      t.diagnostic(`${lang}: pulumi up ${upRun.ms} ms`);
      assert.match(upRun.stdout, /\+ \d+ created/);
      assert.doesNotMatch(upRun.stdout + upRun.stderr, /warning: using pulumi-\S+ from \$PATH/, "no plugin from PATH: everything installed");
      assert.doesNotMatch(upRun.stdout + upRun.stderr, new RegExp(repoRoot.replace(/[/.]/g, "\\$&")), "nothing ran from the repository");
      const outs = (show = false) => JSON.parse(w.pulumiOk(dir, ["stack", "output", "--json", ...(show ? ["--show-secrets"] : [])]).stdout) as Record<string, any>;
      const o = outs(true);
      const [h1, h2] = bed.hosts.map((h) => h.name) as [string, string];
      const meshIps = o.meshIps as Record<string, string>;
      assert.equal((await bed.exec(h1, ["ping", "-c", "1", "-i", "0.5", "-w", "20", meshIps[h2] as string])).code, 0, `${h1} pings ${h2} over the mesh`);
      // getMeshPlan: the plan of the same declaration equals what was deployed.
      const planned = o.plannedNodes as Record<string, { meshIp: string; peers: Record<string, { allowedIps: string[] }> }>;
      assert.deepEqual(Object.fromEntries(Object.entries(planned).map(([h, n]) => [h, n.meshIp])), meshIps, "the plan's allocation is the deployed one");
      assert.deepEqual(planned[h1]?.peers[h2]?.allowedIps, [`${meshIps[h2]}/32`]);
      assert.match(String(o.diagram), /^flowchart LR\n/);
      // generateKeyPair: a valid pair; the private key is stored as a secret only.
      assert.ok(isValidKey(o.newPrivateKey));
      assert.equal(publicKeyFromPrivate(o.newPrivateKey as string), o.newPublicKey);
      assert.ok(!w.pulumiOk(dir, ["stack", "export"]).stdout.includes(o.newPrivateKey as string), "the generated private key is not in the state in plaintext");
      assert.equal(outs().newPrivateKey, "[secret]");
      // getNodeStatus: after the ping, the next run reads h2 as h1's peer with a recent handshake.
      const again = w.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
      assert.match(again.stdout, /\d+ unchanged/);
      const status = outs(true).status as { up: boolean; peers: Array<{ hostname: string; handshakeAgeSeconds?: number | null; rxBytes: number; txBytes: number }> };
      assert.equal(status.up, true);
      const peer = status.peers.find((p) => p.hostname === h2);
      assert.ok(peer, `${h1}'s status names ${h2}: ${JSON.stringify(status)}`);
      assert.ok(typeof peer.handshakeAgeSeconds === "number" && peer.handshakeAgeSeconds >= 0 && peer.handshakeAgeSeconds < 600, `a recent handshake: ${JSON.stringify(peer)}`);
      assert.ok(peer.rxBytes > 0 && peer.txBytes > 0, `bytes moved: ${JSON.stringify(peer)}`);
      const destroy = w.pulumiOk(dir, ["destroy", "--yes", "--skip-preview"]);
      assert.match(destroy.stdout, /deleted/);
      assert.notEqual((await bed.exec(h1, ["ip", "link", "show", "wg0"])).code, 0, "destroy removed wg0");
      w.pulumiOk(dir, ["stack", "rm", "--yes", stack]);
    } finally {
      w.cleanup();
    }
  });
}
