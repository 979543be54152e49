#!/usr/bin/env node
// Builds the self-contained daemon artifact: ONE Linux x64 executable = a copy of this machine's Node 20
// binary with the daemon-only CLI (provider/src/cli/daemon-main.ts, bundled by esbuild) injected as a Node
// single executable application (SEA) blob by postject. Hosts need nothing else (no Node, no npm).
//
//   node scripts/daemon-artifact.js [--code-cache] [--no-strip] [--force] [--quiet]
//
// Reproducible: the same bundle and Node binary give the same bytes (sha256) on any machine. --code-cache
// adds V8's code cache to the blob (≈ 130 KiB; startup gain within noise here) but makes every build differ.
// The copy of node is stripped of its debug symbols when `strip` is there (94 → 82 MiB here; --no-strip).
//
// Output: dist/artifact/wgmesh-linux-x64, dist/artifact/wgmesh-linux-x64.gz (for upload over SSH),
// dist/artifact/manifest.json ({sha256, bytes, gzSha256, gzBytes, nodeVersion, esbuildVersion, key, …}).
// The result is cached outside the repository in $WGMESH_ARTIFACT_CACHE (default
// /var/cache/wgmesh/daemon-artifact, or ~/.cache/wgmesh/daemon-artifact when that is not writable) under
// <key>/, key = sha256(bundle bytes + node version + postject version + build options): a rebuild with
// unchanged inputs only bundles (≈0.2 s) and links the cached files into dist/artifact/
// ($WGMESH_ARTIFACT_OUT to place them elsewhere).
//
// The build refuses a bundle that reaches ssh2/@pulumi (the daemon must not carry the SSH engine) or that
// still loads a non-builtin module at run time (a SEA's require() only knows Node's builtins).
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const zlib = require("node:zlib");
const { spawnSync } = require("node:child_process");
const { isBuiltin } = require("node:module");

const ROOT = path.resolve(__dirname, "..");
const ENTRY = path.join(ROOT, "provider/src/cli/daemon-main.ts");
const OUT_DIR = path.resolve(process.env.WGMESH_ARTIFACT_OUT || path.join(ROOT, "dist/artifact"));
const NAME = "wgmesh-linux-x64";
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/** Bumped when this script changes what it produces from the same inputs. */
const RECIPE = 3;
/** Packages the daemon must never carry (the SSH engine and Pulumi live in the other entry point). */
const FORBIDDEN = [/node_modules\/ssh2\//, /node_modules\/@pulumi\//, /node_modules\/cpu-features\//, /node_modules\/protobufjs\//];
/**
 * Optional requires (inside try/catch) of packages that are not installed: bundled as an empty module, so the
 * SEA never tries a disk require at run time (Node would print a warning into the daemon's log).
 */
const OPTIONAL_ABSENT = ["supports-color"];
const emptyOptionals = {
  name: "empty-optionals",
  setup(b) {
    const filter = new RegExp(`^(${OPTIONAL_ABSENT.map((n) => n.replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&")).join("|")})$`);
    b.onResolve({ filter }, (a) => ({ path: a.path, namespace: "empty-optional" }));
    b.onLoad({ filter: /.*/, namespace: "empty-optional" }, () => ({ contents: "module.exports = {};", loader: "js" }));
  },
};

const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!["--code-cache", "--no-strip", "--force", "--quiet", "--help", "-h"].includes(a)) {
    process.stderr.write(`daemon-artifact: unknown argument ${a}\n`);
    process.exit(2);
  }
}
if (args.has("--help") || args.has("-h")) {
  const lines = fs.readFileSync(__filename, "utf8").split("\n");
  process.stdout.write(lines.slice(1, lines.indexOf('"use strict";')).map((l) => l.replace(/^\/\/ ?/, "")).join("\n") + "\n");
  process.exit(0);
}
const quiet = args.has("--quiet") || process.env.WGMESH_ARTIFACT_QUIET === "1";
const useCodeCache = args.has("--code-cache");
const t0 = process.hrtime.bigint();
const ms = (from) => Number((process.hrtime.bigint() - from) / 1_000_000n);
const log = (msg) => { if (!quiet) process.stderr.write(`daemon-artifact [${(ms(t0) / 1000).toFixed(1)}s] ${msg}\n`); };
const fail = (msg) => { process.stderr.write(`daemon-artifact: ${msg}\n`); process.exit(1); };
const sha256 = (buf) => crypto.createHash("sha256").update(buf).digest("hex");
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

function requireDev(name) {
  try {
    return require(require.resolve(name, { paths: [ROOT] }));
  } catch (e) {
    fail(`cannot load ${name} (${e.message}); run \`npm ci\` (it is a devDependency)`);
  }
}

function run(cmd, argv, what, cwd = ROOT) {
  const r = spawnSync(cmd, argv, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) fail(`${what} failed (${cmd} ${argv.join(" ")}): ${r.error ? r.error.message : (r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

function cacheRoot() {
  if (process.env.WGMESH_ARTIFACT_CACHE) return process.env.WGMESH_ARTIFACT_CACHE;
  const sys = "/var/cache/wgmesh/daemon-artifact";
  try {
    fs.mkdirSync(sys, { recursive: true });
    fs.accessSync(sys, fs.constants.W_OK);
    return sys;
  } catch {
    return path.join(os.homedir(), ".cache/wgmesh/daemon-artifact");
  }
}

/** Put `src` at `dst`: a hard link when on the same filesystem (instant), else a copy. */
function place(src, dst) {
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

async function main() {
  if (process.platform !== "linux" || process.arch !== "x64") fail(`builds ${NAME} only on linux-x64 (this is ${process.platform}-${process.arch})`);
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 20) fail(`needs Node >= 20 for single executable applications (this is ${process.version})`);
  const esbuild = requireDev("esbuild");
  const postjectVersion = requireDev("postject/package.json").version;
  const nodeBin = fs.realpathSync(process.execPath);

  // 1. bundle
  let t = process.hrtime.bigint();
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    write: false,
    metafile: true,
    legalComments: "none",
    plugins: [emptyOptionals],
    absWorkingDir: ROOT,
    outfile: path.join(OUT_DIR, "wgmesh-daemon.js"),
    logLevel: "warning",
  });
  const bundle = Buffer.from(result.outputFiles[0].contents);
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = inputs.filter((i) => FORBIDDEN.some((re) => re.test(i)));
  if (forbidden.length) fail(`the daemon bundle reaches modules it must not carry:\n  ${forbidden.join("\n  ")}\n(import them only from cli/builtins.ts, never from the daemon's modules)`);
  const externals = [...new Set(Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)))];
  const unresolved = externals.filter((p) => !isBuiltin(p));
  if (unresolved.length) fail(`the bundle still loads non-builtin modules at run time: ${unresolved.join(", ")} (a SEA can require only Node builtins)`);
  if (!inputs.some((i) => i.includes("node_modules/bittorrent-dht/"))) fail("bittorrent-dht is not in the bundle (the DHT layer would fail on hosts)");
  log(`bundled ${path.relative(ROOT, ENTRY)}: ${(bundle.length / 1024).toFixed(0)} KiB, ${inputs.length} modules (${ms(t)} ms)`);

  // 2. cache key
  const strip = !args.has("--no-strip") && spawnSync("strip", ["--version"], { stdio: "ignore" }).status === 0;
  const options = { recipe: RECIPE, useCodeCache, strip, nodeBinarySha: "" };
  // the node binary itself is part of the input; hashing 100 MB costs ≈0.3 s, cached by (path, size, mtime)
  options.nodeBinarySha = nodeBinaryHash(nodeBin);
  const key = sha256(Buffer.concat([bundle, Buffer.from(`\0${process.version}\0${postjectVersion}\0${JSON.stringify(options)}`)]));
  const root = cacheRoot();
  const dir = path.join(root, key);
  const manifestPath = path.join(dir, "manifest.json");
  let manifest;
  if (!args.has("--force") && fs.existsSync(manifestPath) && fs.existsSync(path.join(dir, NAME)) && fs.existsSync(path.join(dir, `${NAME}.gz`))) {
    manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
    log(`cache hit ${dir}`);
  } else {
    manifest = build({ bundle, key, dir, nodeBin, esbuildVersion: esbuild.version, postjectVersion, useCodeCache, strip, modules: inputs.length });
    prune(root, key);
  }

  // 3. place into dist/artifact
  t = process.hrtime.bigint();
  fs.mkdirSync(OUT_DIR, { recursive: true });
  place(path.join(dir, NAME), path.join(OUT_DIR, NAME));
  place(path.join(dir, `${NAME}.gz`), path.join(OUT_DIR, `${NAME}.gz`));
  fs.writeFileSync(path.join(OUT_DIR, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`placed ${path.relative(ROOT, OUT_DIR)}/${NAME} (${mib(manifest.bytes)}, gz ${mib(manifest.gzBytes)}) in ${ms(t)} ms`);
  log(`done in ${ms(t0)} ms (key ${key.slice(0, 12)})`);
}

function nodeBinaryHash(nodeBin) {
  const st = fs.statSync(nodeBin);
  const memo = path.join(cacheRoot(), "node-binaries.json");
  let table = {};
  try { table = JSON.parse(fs.readFileSync(memo, "utf8")); } catch { /* first run */ }
  const id = `${nodeBin}:${st.size}:${st.mtimeMs}:${st.ino}`;
  if (table[id]) return table[id];
  const h = sha256(fs.readFileSync(nodeBin));
  table = { [id]: h };
  try {
    fs.mkdirSync(path.dirname(memo), { recursive: true });
    fs.writeFileSync(memo, JSON.stringify(table));
  } catch { /* the memo is an optimisation */ }
  return h;
}

function build({ bundle, key, dir, nodeBin, esbuildVersion, postjectVersion, useCodeCache, strip, modules }) {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    const bin = path.join(tmp, NAME);
    // SEA blob
    let t = process.hrtime.bigint();
    // paths relative to tmp: the blob records the main script's path as given (a temp dir name would make
    // every build differ); stack traces show it as "wgmesh-daemon.js"
    fs.writeFileSync(path.join(tmp, "wgmesh-daemon.js"), bundle);
    fs.writeFileSync(path.join(tmp, "sea-config.json"), JSON.stringify({
      main: "wgmesh-daemon.js",
      output: "sea-prep.blob",
      disableExperimentalSEAWarning: true,
      useCodeCache,
    }));
    run(nodeBin, ["--experimental-sea-config", "sea-config.json"], "SEA blob generation", tmp);
    const blobBytes = fs.statSync(path.join(tmp, "sea-prep.blob")).size;
    log(`SEA blob ${(blobBytes / 1024).toFixed(0)} KiB (code cache ${useCodeCache ? "on" : "off"}) in ${ms(t)} ms`);
    // copy node (stripped of debug symbols when binutils is there), inject
    t = process.hrtime.bigint();
    const nodeBytes = fs.readFileSync(nodeBin);
    if (!nodeBytes.includes(Buffer.from(`${FUSE}:0`))) fail(`${nodeBin} has no unflipped ${FUSE} sentinel (not a SEA-capable Node binary, or already injected)`);
    fs.copyFileSync(nodeBin, bin);
    fs.chmodSync(bin, 0o755);
    if (strip) run("strip", ["--strip-all", bin], "strip");
    log(`copied ${nodeBin} (${mib(nodeBytes.length)}${strip ? `, stripped to ${mib(fs.statSync(bin).size)}` : ""}) in ${ms(t)} ms`);
    t = process.hrtime.bigint();
    run(process.execPath, [require.resolve("postject/dist/cli.js", { paths: [ROOT] }), bin, "NODE_SEA_BLOB", path.join(tmp, "sea-prep.blob"), "--sentinel-fuse", FUSE], "postject");
    log(`postject injected NODE_SEA_BLOB in ${ms(t)} ms`);
    // smoke: the artifact runs its own code, not node's REPL/CLI
    t = process.hrtime.bigint();
    const smoke = spawnSync(bin, ["help"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    if (smoke.status !== 0 || !/\bjoin\b/.test(smoke.stdout) || /^  deploy\s/m.test(smoke.stdout)) fail(`the built artifact does not run as the daemon CLI: exit ${smoke.status}\n${smoke.stdout}${smoke.stderr}`);
    log(`smoke test \`${NAME} help\` ok in ${ms(t)} ms`);
    // gzip for upload
    t = process.hrtime.bigint();
    const raw = fs.readFileSync(bin);
    const gz = zlib.gzipSync(raw, { level: 6 });
    fs.writeFileSync(`${bin}.gz`, gz);
    log(`gzip ${mib(raw.length)} → ${mib(gz.length)} in ${ms(t)} ms`);
    const manifest = {
      name: NAME,
      sha256: sha256(raw),
      bytes: raw.length,
      gzSha256: sha256(gz),
      gzBytes: gz.length,
      nodeVersion: process.version,
      esbuildVersion,
      postjectVersion,
      key,
      bundleBytes: bundle.length,
      bundleModules: modules,
      useCodeCache,
      stripped: strip,
      platform: "linux-x64",
    };
    fs.writeFileSync(path.join(tmp, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const f of ["wgmesh-daemon.js", "sea-config.json", "sea-prep.blob"]) fs.rmSync(path.join(tmp, f));
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // a concurrent build of the same key won the rename: its result is the same artifact
      if (!fs.existsSync(path.join(dir, "manifest.json"))) throw e;
      log(`a concurrent build placed ${dir} first; using it`);
      return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    }
    return manifest;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    if (fs.existsSync(tmp)) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Keep the 3 most recent builds (each ≈ 120 MB). */
function prune(root, keep) {
  const entries = fs.readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[0-9a-f]{64}$/.test(e.name) && e.name !== keep)
    .map((e) => ({ p: path.join(root, e.name), m: fs.statSync(path.join(root, e.name)).mtimeMs }))
    .sort((a, b) => b.m - a.m);
  for (const e of entries.slice(2)) fs.rmSync(e.p, { recursive: true, force: true });
  // stale temp dirs of killed builds (older than an hour)
  for (const e of fs.readdirSync(root)) {
    const p = path.join(root, e);
    if (e.includes(".tmp-") && Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
