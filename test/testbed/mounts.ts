// Copy-on-write views of the cached rootfs: an overlayfs per host (upper dir persists across reboots),
// falling back to a full copy when overlay mounts are not permitted.
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "./proc";

export interface RootView {
  /** The directory the host boots from. */
  root: string;
  kind: "overlay" | "copy";
}

/** Mounts lower (read-only) + upper/work under dir/root, or copies lower when overlay is refused. */
export async function mountRootView(lower: string, dir: string): Promise<RootView> {
  const upper = path.join(dir, "upper");
  const work = path.join(dir, "work");
  const root = path.join(dir, "root");
  if (isMountPoint(root)) return { root, kind: "overlay" };
  if (fs.existsSync(path.join(dir, "copy-marker"))) return { root, kind: "copy" };
  for (const d of [upper, work, root]) fs.mkdirSync(d, { recursive: true });
  // WGMESH_TESTBED_ROOT=copy forces the fallback (to test it, or where overlay misbehaves)
  if (process.env.WGMESH_TESTBED_ROOT !== "copy") {
    const r = await run(
      ["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${upper},workdir=${work}`, root],
      { check: false },
    );
    if (r.code === 0) return { root, kind: "overlay" };
  }
  // Fallback: a full private copy (slower; reflinks when the filesystem can).
  fs.rmSync(root, { recursive: true, force: true });
  await run(["cp", "-a", "--reflink=auto", lower, root]);
  fs.writeFileSync(path.join(dir, "copy-marker"), "");
  return { root, kind: "copy" };
}

/** Mount points (as seen from this mount namespace) at or below dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  const text = fs.readFileSync("/proc/self/mountinfo", "utf8");
  const out: string[] = [];
  const base = dir.replace(/\/+$/, "");
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length < 5) continue;
    const mp = f[4].replace(/\\040/g, " ");
    if (mp === base || mp.startsWith(base + "/")) out.push(mp);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

export function isMountPoint(p: string): boolean {
  return mountsUnder(p).includes(p.replace(/\/+$/, ""));
}

/** Unmounts everything at or below dir (lazy as a last resort). */
export async function unmountAll(dir: string): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    const mps = mountsUnder(dir);
    if (mps.length === 0) return;
    for (const mp of mps) {
      const r = await run(["umount", mp], { check: false });
      if (r.code !== 0 && pass === 2) await run(["umount", "-l", mp], { check: false });
    }
  }
}
