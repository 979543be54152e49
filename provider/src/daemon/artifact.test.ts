import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ARTIFACT_NAME, daemonArtifactDir, locateDaemonArtifact, packageRoot } from "./artifact";

function tempArtifact(manifest: Record<string, unknown> | string | undefined, files: Record<string, number>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-artifact-"));
  if (manifest !== undefined) fs.writeFileSync(path.join(dir, "manifest.json"), typeof manifest === "string" ? manifest : JSON.stringify(manifest));
  for (const [name, size] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), Buffer.alloc(size, 7));
  return dir;
}

const GOOD = { sha256: "a".repeat(64), bytes: 300, gzBytes: 120, nodeVersion: "v20.20.2", esbuildVersion: "0.28.2", key: "k" };

test("packageRoot finds this package's package.json; the default dir is <root>/dist/artifact", () => {
  const root = packageRoot();
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).name, "@wgmesh/pulumi");
  assert.ok(fs.existsSync(path.join(root, "provider", "src", "daemon", "artifact.ts")));
  assert.equal(daemonArtifactDir({}), path.join(root, "dist", "artifact"));
  assert.throws(() => packageRoot(os.tmpdir()), /cannot find the @wgmesh\/pulumi package root/);
});

test("locateDaemonArtifact reads WGMESH_DAEMON_ARTIFACT_DIR: paths, hash, sizes, node version", () => {
  const dir = tempArtifact(GOOD, { [ARTIFACT_NAME]: 300, [`${ARTIFACT_NAME}.gz`]: 120 });
  try {
    assert.deepEqual(locateDaemonArtifact({ WGMESH_DAEMON_ARTIFACT_DIR: dir }), {
      path: path.join(dir, ARTIFACT_NAME),
      gzPath: path.join(dir, `${ARTIFACT_NAME}.gz`),
      sha256: GOOD.sha256,
      bytes: 300,
      gzBytes: 120,
      nodeVersion: "v20.20.2",
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("locateDaemonArtifact: the gzip'd copy alone is enough (the packaged plugin ships only that)", () => {
  const dir = tempArtifact(GOOD, { [`${ARTIFACT_NAME}.gz`]: 120 });
  try {
    const a = locateDaemonArtifact({ WGMESH_DAEMON_ARTIFACT_DIR: dir });
    assert.equal(a.path, null);
    assert.equal(a.gzPath, path.join(dir, `${ARTIFACT_NAME}.gz`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("locateDaemonArtifact: actionable errors for a missing manifest, file, field or a size mismatch", () => {
  const cases: [Record<string, unknown> | string | undefined, Record<string, number>, RegExp][] = [
    [undefined, {}, /artifact is missing: manifest\.json .*run `make daemon-artifact`/],
    ["{not json", {}, /not valid JSON.*make daemon-artifact/],
    [GOOD, { [ARTIFACT_NAME]: 300 }, new RegExp(`missing: ${ARTIFACT_NAME}\\.gz .*make daemon-artifact`)],
    [{ ...GOOD, sha256: "nope" }, { [ARTIFACT_NAME]: 300, [`${ARTIFACT_NAME}.gz`]: 120 }, /field "sha256" is missing or invalid/],
    [{ ...GOOD, bytes: undefined }, { [ARTIFACT_NAME]: 300, [`${ARTIFACT_NAME}.gz`]: 120 }, /field "bytes"/],
    [{ ...GOOD, nodeVersion: 20 }, { [ARTIFACT_NAME]: 300, [`${ARTIFACT_NAME}.gz`]: 120 }, /field "nodeVersion"/],
    [GOOD, { [ARTIFACT_NAME]: 299, [`${ARTIFACT_NAME}.gz`]: 120 }, /is 299 bytes but manifest\.json says 300 .*make daemon-artifact/],
  ];
  for (const [manifest, files, re] of cases) {
    const dir = tempArtifact(manifest, files);
    try {
      assert.throws(() => locateDaemonArtifact({ WGMESH_DAEMON_ARTIFACT_DIR: dir }), (e: Error) => re.test(e.message) && e.message.includes(dir), String(re));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const gone = path.join(os.tmpdir(), "wgmesh-artifact-does-not-exist");
  assert.throws(() => locateDaemonArtifact({ WGMESH_DAEMON_ARTIFACT_DIR: gone }), /WGMESH_DAEMON_ARTIFACT_DIR=.*wgmesh-artifact-does-not-exist.*make daemon-artifact/);
});
