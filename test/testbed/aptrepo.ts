// The local file-based apt repository the hosts install WireGuard from (their only apt source, no
// outside network): wireguard-tools, wireguard-go and every dependency the rootfs lacks, fetched with
// `apt-get download`, indexed with dpkg-scanpackages, cached by (rootfs recipe, package set).
// The build also runs `apt-get update` once in a throwaway view of the rootfs and keeps the resulting
// apt lists, so a fresh host can `apt-get install` without an `apt-get update` first.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { mountRootView, unmountAll } from "./mounts";
import { CACHE_DIR, REPO_MOUNT } from "./naming";
import { log, run } from "./proc";
import { removeStaleTemps } from "./rootfs";

/** Packages the hosts can install from the local repository (plus their dependencies). */
export const REPO_PACKAGES = ["wireguard-tools", "wireguard-go", "iptables"];
const REPO_VERSION = 1;

export function repoPath(rootfs: string): string {
  const h = crypto
    .createHash("sha256")
    .update(JSON.stringify({ v: REPO_VERSION, rootfs: path.basename(rootfs), pkgs: REPO_PACKAGES }))
    .digest("hex")
    .slice(0, 12);
  return path.join(CACHE_DIR, `apt-repo-${h}`);
}

/** Recursive Depends/Pre-Depends of the packages (host apt metadata), minus what the rootfs has installed. */
async function packageSet(rootfs: string): Promise<string[]> {
  const deps = await run([
    "apt-cache",
    "depends",
    "--recurse",
    "--no-recommends",
    "--no-suggests",
    "--no-conflicts",
    "--no-breaks",
    "--no-replaces",
    "--no-enhances",
    ...REPO_PACKAGES,
  ]);
  const names = new Set<string>();
  for (const line of deps.stdout.split("\n")) {
    const m = /^(?:\s+(?:\|)?(?:Pre)?Depends:\s+)?([a-z0-9][a-z0-9+.-]+)(?::any)?$/.exec(line.trimEnd());
    if (m) names.add(m[1]);
  }
  const installed = await run([
    "dpkg-query",
    `--admindir=${path.join(rootfs, "var/lib/dpkg")}`,
    "-W",
    "-f",
    "${Package} ${db:Status-Status}\n",
  ]);
  const have = new Set(
    installed.stdout
      .split("\n")
      .filter((l) => l.endsWith(" installed"))
      .map((l) => l.split(" ")[0]),
  );
  return [...names].filter((n) => !have.has(n) || REPO_PACKAGES.includes(n)).sort();
}

function releaseFile(dir: string): string {
  const lines = [
    "Origin: wgmesh-testbed",
    "Label: wgmesh-testbed",
    "Suite: testbed",
    "Codename: testbed",
    `Date: ${new Date().toUTCString()}`,
    "Architectures: amd64 all",
    "SHA256:",
  ];
  for (const f of ["Packages", "Packages.gz"]) {
    const data = fs.readFileSync(path.join(dir, f));
    lines.push(` ${crypto.createHash("sha256").update(data).digest("hex")} ${data.length} ${f}`);
  }
  return lines.join("\n") + "\n";
}

/** Returns the cached repository for this rootfs, building it when missing. */
export async function ensureAptRepo(rootfs: string): Promise<{ path: string; built: boolean; seconds: number }> {
  const final = repoPath(rootfs);
  if (fs.existsSync(path.join(final, "lists"))) return { path: final, built: false, seconds: 0 };
  removeStaleTemps();
  const t0 = Date.now();
  const tmp = path.join(CACHE_DIR, `.tmp-${path.basename(final)}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const view = path.join(tmp, ".view");
  try {
    const fetch = async () => {
      const pkgs = await packageSet(rootfs);
      log(`apt repo: downloading ${pkgs.join(" ")}`);
      await run(["apt-get", "download", "-q", ...pkgs], { cwd: tmp, timeoutMs: 10 * 60_000 });
    };
    try {
      await fetch();
    } catch {
      // the machine's package lists may be missing or stale (versions gone from the mirror): refresh, retry once
      log("apt repo: resolving/downloading failed; apt-get update and retry");
      await run(["apt-get", "update", "-q"], { timeoutMs: 10 * 60_000 });
      await fetch();
    }
    const scan = await run(["dpkg-scanpackages", "--multiversion", "."], { cwd: tmp });
    fs.writeFileSync(path.join(tmp, "Packages"), scan.stdout);
    await run(["sh", "-c", "gzip -9c Packages > Packages.gz"], { cwd: tmp });
    fs.writeFileSync(path.join(tmp, "Release"), releaseFile(tmp));
    for (const f of fs.readdirSync(tmp)) fs.chmodSync(path.join(tmp, f), f === ".view" ? 0o700 : 0o644);
    fs.chmodSync(tmp, 0o755);
    // apt-get update + a dry-run install inside a throwaway view of the rootfs: proves the repo resolves
    // and yields the apt lists every host gets preinstalled.
    fs.mkdirSync(view);
    const v = await mountRootView(rootfs, view);
    try {
      const check = await run(
        [
          "systemd-nspawn",
          "-q",
          "--register=no",
          "--keep-unit",
          "--private-network",
          "-D",
          v.root,
          `--bind-ro=${tmp}:${REPO_MOUNT}`,
          "/bin/sh",
          "-c",
          `apt-get update -q && apt-get install -y -s ${REPO_PACKAGES.join(" ")}`,
        ],
        { timeoutMs: 5 * 60_000 },
      );
      if (!/^Inst wireguard-tools /m.test(check.stdout)) throw new Error(`apt repo check failed:\n${check.stdout}`);
      const listsSrc = path.join(v.root, "var/lib/apt/lists");
      const lists = path.join(tmp, "lists");
      fs.mkdirSync(lists);
      for (const f of fs.readdirSync(listsSrc)) {
        const p = path.join(listsSrc, f);
        if (fs.statSync(p).isFile() && f !== "lock") fs.copyFileSync(p, path.join(lists, f));
      }
    } finally {
      await unmountAll(view);
    }
    fs.rmSync(view, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, final);
    } catch (e) {
      if (!fs.existsSync(path.join(final, "lists"))) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    await unmountAll(view);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const seconds = (Date.now() - t0) / 1000;
  log(`apt repo ready in ${seconds.toFixed(1)} s: ${final}`);
  return { path: final, built: true, seconds };
}
