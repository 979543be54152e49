/**
 * `wgmesh install-service`: writes the mesh secret to /etc/wgmesh/secret (0600, directory 0700) and a
 * systemd unit that passes only its *path* (`Environment=WGMESH_SECRET_FILE=…`), so the secret never
 * reaches any argv or /proc/PID/cmdline (Go puts it in ExecStart: weakness 15). ExecStart runs no shell;
 * every argument is quoted with systemd's own rules. Then `systemctl daemon-reload` and
 * `systemctl enable --now wgmesh.service`. `--dry-run` prints the unit and writes nothing.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as sea from "node:sea";
import type { CommandIO } from "./io";
import { packageRoot } from "./artifact";
import { FlagSpec, parseGoFlags } from "./goflags";
import { JOIN_FLAGS, JoinConfig, parseJoinConfig } from "./join";
import { writeSecretFile } from "./state";

export const UNIT_PATH = "/etc/systemd/system/wgmesh.service";
export const SECRET_PATH = "/etc/wgmesh/secret";

/** One ExecStart word, quoted for systemd (no shell involved): "…" with \ and " escaped, % and $ doubled. */
export function systemdQuote(word: string): string {
  if (/[\x00-\x1f\x7f]/.test(word)) throw new Error("a unit argument cannot contain control characters");
  return `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

/** join's arguments for the unit: everything but the secret; defaults left out. */
export function joinArgs(cfg: JoinConfig, values: Record<string, string | number | boolean>): string[] {
  const a: string[] = ["join"];
  if (cfg.iface !== "wg0") a.push("--interface", cfg.iface);
  if (cfg.listenPort !== 51820) a.push("--listen-port", String(cfg.listenPort));
  if (cfg.advertiseRoutes.length) a.push("--advertise-routes", cfg.advertiseRoutes.join(","));
  if (cfg.logLevel !== "info") a.push("--log-level", cfg.logLevel);
  if (cfg.gossip) a.push("--gossip");
  if (!cfg.lan) a.push("--no-lan-discovery");
  if (!cfg.dht) a.push("--no-dht");
  if (values["socket-path"]) a.push("--socket-path", cfg.socketPath);
  if (values["dht-bootstrap"]) a.push("--dht-bootstrap", cfg.dhtBootstrap.join(","));
  if (cfg.subnet) a.push("--mesh-subnet", cfg.subnet.cidr);
  return a;
}

/** True when this process is the self-contained artifact (a Node single executable application). */
export function runningAsSea(): boolean {
  return sea.isSea();
}

/**
 * The argv prefix that runs this same `wgmesh` again: the artifact itself when running as one (its
 * `process.execPath` is the artifact), else this Node and the package's `bin/wgmesh`.
 */
export function selfCommand(isSea: boolean = runningAsSea()): string[] {
  if (isSea) return [process.execPath];
  return [process.execPath, path.join(packageRoot(), "bin", "wgmesh")];
}

export function renderUnit(exec: string[], secretPath = SECRET_PATH): string {
  return [
    "[Unit]",
    "Description=WireGuard Mesh Network (wgmesh)",
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `Environment=${systemdQuote(`WGMESH_SECRET_FILE=${secretPath}`)}`,
    // the self-contained executable still honours NODE_OPTIONS (e.g. --require): never take one from outside
    "UnsetEnvironment=NODE_OPTIONS",
    `ExecStart=${exec.map(systemdQuote).join(" ")}`,
    "Restart=always",
    "RestartSec=5",
    "LimitNOFILE=65535",
    "NoNewPrivileges=yes",
    "ProtectSystem=full",
    "ProtectHome=true",
    "ReadWritePaths=/var/lib/wgmesh",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

const FLAGS: Record<string, FlagSpec> = { ...JOIN_FLAGS, "dry-run": { type: "bool", usage: "Print the unit; write and enable nothing" } };

function systemctl(args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => execFile("systemctl", args, { timeout: 30_000 }, (err, _o, stderr) => resolve(err ? String(stderr).trim() || err.message : undefined)));
}

export async function runInstallService(args: string[], io: CommandIO): Promise<number> {
  const f = parseGoFlags("install-service", args, FLAGS);
  if (!f.ok) {
    if (!f.help) io.stderr.write(`${f.message}\n`);
    io.stderr.write(f.usage);
    return f.help ? 0 : 2;
  }
  let cfg: JoinConfig;
  try {
    cfg = parseJoinConfig(f.values, io.env);
  } catch (e) {
    io.stderr.write(`Error: ${(e as Error).message}\n`);
    return 1;
  }
  const unit = renderUnit([...selfCommand(), ...joinArgs(cfg, f.values)]);
  if (f.values["dry-run"]) {
    io.stdout.write(unit);
    return 0;
  }
  try {
    fs.mkdirSync("/var/lib/wgmesh", { recursive: true, mode: 0o700 });
    writeSecretFile(SECRET_PATH, `${cfg.secretInput}\n`);
    fs.writeFileSync(UNIT_PATH, unit, { mode: 0o644 });
  } catch (e) {
    io.stderr.write(`Error: cannot write ${SECRET_PATH} / ${UNIT_PATH}: ${(e as Error).message} (run as root)\n`);
    return 1;
  }
  for (const a of [["daemon-reload"], ["enable", "--now", "wgmesh.service"]]) {
    const err = await systemctl(a);
    if (err) {
      io.stderr.write(`Error: systemctl ${a.join(" ")}: ${err}\n`);
      return 1;
    }
  }
  io.stdout.write(`Installed ${UNIT_PATH} (secret in ${SECRET_PATH}, mode 0600) and started wgmesh.service\n`);
  return 0;
}
