// The hosts' root filesystem: Debian bookworm minbase made by debootstrap from the machine's own apt mirror,
// configured once (users, sshd, apt source = the local repository), cached under CACHE_DIR by recipe hash.
// Built in a temp dir and renamed atomically, so a killed build never leaves a half cache.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CACHE_DIR, REPO_MOUNT, SUDO_UID, SUDO_USER } from "./naming";
import { log, run } from "./proc";

export const SUITE = "bookworm";
export const INCLUDE = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "openssh-server",
  "iproute2",
  "nftables",
  "iputils-ping",
  "sudo",
  "procps",
  "ca-certificates",
];

/** Units a test host does not need (they cost boot time and memory or try to reach the outside). */
const MASKED_UNITS = [
  "console-getty.service",
  "getty@.service",
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "dpkg-db-backup.timer",
  "e2scrub_all.timer",
  "e2scrub_reap.service",
  "fstrim.timer",
  "systemd-networkd-wait-online.service",
  "systemd-timesyncd.service",
];

/** Runs inside the fresh tree (chroot) once. Constant text: part of the recipe hash. */
const CONFIGURE_SCRIPT = `
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
useradd -m -u ${SUDO_UID} -s /bin/bash ${SUDO_USER}
usermod -p '*' ${SUDO_USER}
printf '%s ALL=(ALL) NOPASSWD:ALL\\n' ${SUDO_USER} > /etc/sudoers.d/${SUDO_USER}
chmod 0440 /etc/sudoers.d/${SUDO_USER}
install -d -m 0700 /root/.ssh
install -d -m 0700 -o ${SUDO_UID} -g ${SUDO_UID} /home/${SUDO_USER}/.ssh
rm -f /etc/ssh/ssh_host_*
cat > /etc/ssh/sshd_config.d/testbed.conf <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 100:30:200
CONF
rm -f /etc/apt/sources.list
rm -rf /etc/apt/sources.list.d && mkdir -p /etc/apt/sources.list.d
echo 'deb [trusted=yes] file:${REPO_MOUNT} ./' > /etc/apt/sources.list.d/wgmesh-testbed.list
printf 'Acquire::Languages "none";\\n' > /etc/apt/apt.conf.d/90testbed
install -d ${REPO_MOUNT}
for u in ${MASKED_UNITS.join(" ")}; do ln -sf /dev/null /etc/systemd/system/$u; done
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\\nStorage=volatile\\nRuntimeMaxUse=16M\\n' > /etc/systemd/journald.conf.d/testbed.conf
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /var/tmp/*
`;

/** The mirror the machine itself uses (first deb.debian.org-style URI of its apt sources). */
export function machineMirror(): string {
  const dir = "/etc/apt/sources.list.d";
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
  if (fs.existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  for (const f of files) {
    if (!/\.(sources|list)$/.test(f)) continue;
    const text = fs.readFileSync(f, "utf8");
    // deb822: a stanza whose Suites include bookworm; one-line: `deb URI bookworm main`
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes(SUITE) && /^Types:.*\bdeb\b/m.test(stanza)) return uri;
    }
    for (const line of text.split("\n")) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m && m[2] === SUITE) return m[1];
    }
  }
  throw new Error(`no apt source for Debian ${SUITE} found in /etc/apt/sources.list(.d); set WGMESH_TESTBED_MIRROR`);
}

export interface Recipe {
  version: number;
  suite: string;
  variant: string;
  mirror: string;
  include: string[];
  configure: string;
}

export function recipe(): Recipe {
  return {
    version: 1,
    suite: SUITE,
    variant: "minbase",
    mirror: process.env.WGMESH_TESTBED_MIRROR ?? machineMirror(),
    include: INCLUDE,
    configure: CONFIGURE_SCRIPT,
  };
}

export function recipeHash(r: Recipe = recipe()): string {
  return crypto.createHash("sha256").update(JSON.stringify(r)).digest("hex").slice(0, 12);
}

export function rootfsPath(r: Recipe = recipe()): string {
  return path.join(CACHE_DIR, `rootfs-${recipeHash(r)}`);
}

/** Removes leftovers of killed builds (temp dirs whose builder process is gone). */
export function removeStaleTemps(): void {
  if (!fs.existsSync(CACHE_DIR)) return;
  for (const entry of fs.readdirSync(CACHE_DIR)) {
    const m = /^\.tmp-.*-(\d+)$/.exec(entry);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) fs.rmSync(path.join(CACHE_DIR, entry), { recursive: true, force: true });
  }
}

/** Returns the cached rootfs for the current recipe, building it first when missing. */
export async function ensureRootfs(): Promise<{ path: string; built: boolean; seconds: number }> {
  const r = recipe();
  const final = rootfsPath(r);
  if (fs.existsSync(path.join(final, "etc/os-release"))) return { path: final, built: false, seconds: 0 };
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  removeStaleTemps();
  const tmp = path.join(CACHE_DIR, `.tmp-rootfs-${recipeHash(r)}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const t0 = Date.now();
  log(`building rootfs ${path.basename(final)}: debootstrap --variant=${r.variant} ${r.suite} from ${r.mirror}`);
  try {
    await run(
      ["debootstrap", `--variant=${r.variant}`, `--include=${r.include.join(",")}`, r.suite, tmp, r.mirror],
      { timeoutMs: 30 * 60_000 },
    );
    log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(1)} s; configuring`);
    await run(["chroot", tmp, "/bin/bash", "-c", r.configure], { timeoutMs: 5 * 60_000 });
    fs.writeFileSync(path.join(tmp, ".testbed-recipe.json"), JSON.stringify(r, null, 2));
    try {
      fs.renameSync(tmp, final);
    } catch (e) {
      // another builder won the race: its tree is as good as ours
      if (!fs.existsSync(path.join(final, "etc/os-release"))) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const seconds = (Date.now() - t0) / 1000;
  log(`rootfs ready in ${seconds.toFixed(1)} s: ${final}`);
  return { path: final, built: true, seconds };
}
