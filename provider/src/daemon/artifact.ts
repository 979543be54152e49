/**
 * Where the self-contained daemon artifact is (`make daemon-artifact` → `scripts/daemon-artifact.js`): one
 * Linux x64 executable (Node 20 + the daemon-only CLI as a single executable application), its gzip'd copy
 * for upload over SSH, and `manifest.json` with their sizes and hashes. Used by the Pulumi side to install
 * the daemon on hosts that have nothing prepared.
 *
 * Lookup: `$WGMESH_DAEMON_ARTIFACT_DIR` if set, else `<package root>/dist/artifact/`.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const ARTIFACT_NAME = "wgmesh-linux-x64";
const PACKAGE_NAME = "@wgmesh/pulumi";

export interface DaemonArtifact {
  /** The executable; null where only the gzip'd copy is shipped (the packaged plugin: hosts get the .gz). */
  path: string | null;
  /** Its gzip'd copy (`gunzip` on the host gives `path`'s bytes). */
  gzPath: string;
  /** sha256 (hex) of the raw executable: what to check on the host after unpacking. */
  sha256: string;
  bytes: number;
  gzBytes: number;
  /** The Node version inside the artifact, e.g. "v20.20.2". */
  nodeVersion: string;
}

/**
 * The directory of this package (the one whose package.json is `@wgmesh/pulumi`), walking up from
 * `from` (default: this module's directory — works from `dist/provider/src/daemon` and from sources).
 */
export function packageRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown };
      if (pkg.name === PACKAGE_NAME) return dir;
    } catch {
      // no (readable) package.json here: keep walking
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${from}`);
  }
}

/** The artifact directory that `locateDaemonArtifact` reads. */
export function daemonArtifactDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env["WGMESH_DAEMON_ARTIFACT_DIR"];
  return fromEnv ? path.resolve(fromEnv) : path.join(packageRoot(), "dist", "artifact");
}

function missing(dir: string, what: string, viaEnv: boolean): Error {
  const where = viaEnv ? `WGMESH_DAEMON_ARTIFACT_DIR=${dir}` : dir;
  return new Error(`the self-contained wgmesh daemon artifact is missing: ${what} (in ${where}); run \`make daemon-artifact\`${viaEnv ? " and point WGMESH_DAEMON_ARTIFACT_DIR at its dist/artifact directory (or unset it)" : " in the package directory"}`);
}

/**
 * The built daemon artifact, checked: manifest readable and complete, the gzip'd copy (and the executable,
 * when present) with the sizes the manifest states (a size mismatch means a stale or half-copied file). Throws an error saying what is missing
 * and how to build it.
 */
export function locateDaemonArtifact(env: NodeJS.ProcessEnv = process.env): DaemonArtifact {
  const viaEnv = Boolean(env["WGMESH_DAEMON_ARTIFACT_DIR"]);
  const dir = daemonArtifactDir(env);
  const manifestPath = path.join(dir, "manifest.json");
  let raw: string;
  try {
    raw = fs.readFileSync(manifestPath, "utf8");
  } catch {
    throw missing(dir, "manifest.json", viaEnv);
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(raw) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${manifestPath} is not valid JSON (${(e as Error).message}); rebuild it with \`make daemon-artifact\``);
  }
  const str = (k: string, re: RegExp): string => {
    const v = m[k];
    if (typeof v !== "string" || !re.test(v)) throw new Error(`${manifestPath}: field "${k}" is missing or invalid; rebuild it with \`make daemon-artifact\``);
    return v;
  };
  const int = (k: string): number => {
    const v = m[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new Error(`${manifestPath}: field "${k}" is missing or invalid; rebuild it with \`make daemon-artifact\``);
    return v;
  };
  const artifact: DaemonArtifact = {
    path: path.join(dir, ARTIFACT_NAME),
    gzPath: path.join(dir, `${ARTIFACT_NAME}.gz`),
    sha256: str("sha256", /^[0-9a-f]{64}$/),
    bytes: int("bytes"),
    gzBytes: int("gzBytes"),
    nodeVersion: str("nodeVersion", /^v\d+\.\d+\.\d+/),
  };
  if (!fs.existsSync(artifact.path as string)) artifact.path = null;
  for (const [file, size] of [[artifact.path, artifact.bytes], [artifact.gzPath, artifact.gzBytes]] as const) {
    if (file === null) continue;
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      throw missing(dir, path.basename(file), viaEnv);
    }
    if (st.size !== size) {
      throw new Error(`${file} is ${st.size} bytes but manifest.json says ${size} (stale or partly copied); rebuild it with \`make daemon-artifact\``);
    }
  }
  return artifact;
}
