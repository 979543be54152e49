/**
 * The pure heart of an apply: from a host's reading (facts + engine probe) and its desired state, the
 * ordered change steps and the one batched script that performs them. No I/O.
 *
 * Steps, in order: install WireGuard if missing → write the wg-quick file when its bytes (or mode/owner)
 * differ → persist IP forwarding when the node routes networks (remove our file when it no longer does) →
 * enable wg-quick@<if> → the planner's operations: `interface-up` (systemctl start, first deploy) or the
 * online `wg set` / `ip addr` / `ip route` changes (a running interface is never restarted).
 * No step at all when the host already matches: the caller then runs nothing more than the read.
 */
import { isValidKey, publicKeyFromPrivate } from "../core/keys";
import { atomicWriteFileCommand, redactSecrets, renderOperation } from "../planner/commands";
import { diff } from "../planner/diff";
import { shellCommand, shellQuote } from "../planner/shell";
import type { NodeDesiredState, Operation, Secrets } from "../planner/types";
import { confDigest, renderWgQuickConf } from "../planner/wgquick";
import { createHash } from "node:crypto";
import { EngineError, installPlan } from "./install";
import { hostPaths } from "./paths";
import type { HostReading } from "./probe";
import { readScript } from "./probe";
import type { KeySource, PresharedKeySource, Step } from "./types";
import { pskDiffOptions, pskSecrets } from "./psk";
import { withRekey } from "../planner/rekey";
import { firewallSteps } from "./firewall";

/** The persistent forwarding file (its content is fixed per interface). */
export function sysctlFileContent(ifname: string): string {
  return `# Managed by wgmesh: this node routes networks into the WireGuard mesh on ${ifname}.\nnet.ipv4.ip_forward = 1\n`;
}

/**
 * The wg-quick file of a node. With the key on the host, the file holds no key: a PostUp hook loads
 * /etc/wireguard/<if>.key (wg-quick's documented idiom), so the file's bytes are known here.
 */
export function renderConf(desired: NodeDesiredState, key: KeySource, presharedKey?: PresharedKeySource): string {
  const firewallFile = desired.firewall ? { firewallFile: hostPaths(desired.interface.name).nft } : {};
  if ("privateKey" in key) return renderWgQuickConf(desired, { privateKey: key.privateKey, ...pskSecrets(presharedKey) }, firewallFile);
  return renderWgQuickConf(desired, pskSecrets(presharedKey), { privateKeyFile: hostPaths(desired.interface.name).key, ...firewallFile });
}

/** A secret-free one-line description of a planner operation. */
export function describeOperation(op: Operation): string {
  const peer = (o: { hostname?: string; publicKey: string }) => o.hostname ?? o.publicKey;
  switch (op.kind) {
    case "peer-remove":
      return `peer-remove ${peer(op)}`;
    case "peer-set": {
      const parts: string[] = [];
      if (op.endpoint !== undefined) parts.push(`endpoint ${op.endpoint}`);
      if (op.allowedIps !== undefined) parts.push(`allowed-ips ${op.allowedIps.join(",")}`);
      if (op.persistentKeepalive !== undefined) parts.push(`keepalive ${op.persistentKeepalive}`);
      if (op.presharedKey !== undefined) parts.push(op.presharedKey ? "preshared-key set" : "preshared-key removed");
      return `peer-set ${peer(op)}${parts.length ? ` (${parts.join("; ")})` : ""}`;
    }
    case "private-key":
      return `private-key (public key ${op.publicKey ?? "?"})`;
    case "listen-port":
      return `listen-port ${op.port}`;
    case "address-set":
      return `address ${op.add}${op.remove.length ? ` (remove ${op.remove.join(", ")})` : ""}`;
    case "mtu":
      return `mtu ${op.mtu}`;
    case "route-del":
      return `route-del ${op.cidr}`;
    case "route-add":
      return `route-add ${op.cidr}`;
    case "forwarding":
      return `forwarding ${op.enabled ? "on" : "off"}`;
    case "interface-up":
      return "interface-up (systemctl start)";
    case "handshake":
      return `handshake ${peer(op)}`;
    case "handshake-confirm":
      return `handshake-confirm ${op.peers.map(peer).join(", ")} (within ${op.seconds} s, else afresh)`;
  }
}

export interface ChangePlanInput {
  node: string;
  desired: NodeDesiredState;
  key: KeySource;
  presharedKey?: PresharedKeySource;
  reading: HostReading;
}

export interface ChangePlan {
  steps: Step[];
  /** The planner's operations (a subset of the steps). */
  operations: Operation[];
  /** Packages the install step installs. */
  installed: string[];
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Check what must hold before anything can be planned; throws EngineError naming the node and the fix. */
function preconditions(input: ChangePlanInput): void {
  const { node, desired, key, reading } = input;
  const f = reading.facts;
  const ifname = desired.interface.name;
  if (f.uid !== 0) {
    throw new EngineError(`node ${node}: the host script did not run as root (uid ${f.uid ?? "unknown"}). Fix: connect as root or as a user with passwordless sudo`);
  }
  if (!f.systemd || !f.tools.systemctl) {
    throw new EngineError(`node ${node}: systemd is not running on the host; the engine manages the interface with wg-quick@${ifname}. Fix: use a systemd host`);
  }
  if (!f.tools.ip) throw new EngineError(`node ${node}: the 'ip' command (iproute2) is missing on the host. Fix: install iproute2`);
  if (f.iface.exists && f.iface.kind !== null && f.iface.kind !== "wireguard" && f.iface.kind !== "tun") {
    throw new EngineError(`node ${node}: the host already has an interface ${ifname} of type ${f.iface.kind}, not WireGuard. Fix: choose another interfaceName or remove that interface`);
  }
  if ("privateKey" in key) {
    if (!isValidKey(key.privateKey)) throw new EngineError(`node ${node}: the private key is not a WireGuard key (44 base64 characters); value withheld`);
    if (publicKeyFromPrivate(key.privateKey) !== desired.interface.publicKey) {
      throw new EngineError(`node ${node}: the private key given does not belong to the node's public key ${desired.interface.publicKey}. Fix: give the matching key pair`);
    }
  } else {
    const p = hostPaths(ifname);
    if (!reading.probe.key.exists) {
      throw new EngineError(`node ${node}: the private key is to live on the host, but ${p.key} does not exist. Fix: create it first (provisionHostKey) or give the private key`);
    }
    if (reading.probe.key.publicKey !== null && reading.probe.key.publicKey !== desired.interface.publicKey) {
      throw new EngineError(`node ${node}: the key on the host (${p.key}) has public key ${reading.probe.key.publicKey}, but the mesh expects ${desired.interface.publicKey}. Fix: use the host's public key for this node, or replace the key file`);
    }
  }
}

/** Plan the change steps of one host. Throws EngineError when the host cannot be brought to the desired state. */
export function planHostChanges(input: ChangePlanInput): ChangePlan {
  preconditions(input);
  const { desired, key, reading } = input;
  const f = reading.facts;
  const ifname = desired.interface.name;
  const p = hostPaths(ifname);
  const steps: Step[] = [];

  const install = installPlan(input.node, f, { firewall: Boolean(desired.firewall) });
  if (install) steps.push({ kind: "install", description: `install ${install.packages.join(", ")}`, script: install.script });

  // The firewall first: the wg-quick file's PreUp loads it (engine/firewall.ts).
  const firewall = firewallSteps(desired, reading);
  steps.push(...firewall.load);

  const conf = renderConf(desired, key, input.presharedKey);
  if (f.conf.sha256 !== confDigest(conf) || f.conf.mode !== "600" || f.conf.owner !== "0:0") {
    steps.push({
      kind: "write-conf",
      description: `write ${p.conf}${f.conf.exists ? "" : " (new)"}`,
      script: atomicWriteFileCommand(p.conf, conf, { mode: "600", owner: "0:0", secret: true }),
    });
  }
  steps.push(...firewall.remove);

  if (desired.forwarding) {
    const content = sysctlFileContent(ifname);
    if (reading.probe.sysctl.sha256 !== sha256(content)) {
      steps.push({ kind: "write-sysctl", description: `persist IP forwarding in ${p.sysctl}`, script: atomicWriteFileCommand(p.sysctl, content, { mode: "644", secret: false }) });
    }
  } else if (reading.probe.sysctl.exists) {
    steps.push({ kind: "remove-sysctl", description: `remove ${p.sysctl} (the node routes no networks now)`, script: shellCommand("rm", "-f", p.sysctl) });
  }

  if (f.unit.enabled !== "enabled") {
    steps.push({ kind: "enable-unit", description: `enable ${p.unit}`, script: `${shellCommand("systemctl", "enable", "-q", p.unit)} 2>&1` });
  }

  // withRekey: a key change also starts the handshakes it needs at once (planner/rekey.ts, issue 16).
  const operations = withRekey(desired, f.live, diff(desired, f.live, pskDiffOptions(input.presharedKey)));
  if (operations.some((o) => o.kind === "interface-up") && f.unit.active === "active") {
    // The unit believes it is up but its interface is gone: stop it so that start runs wg-quick again.
    steps.push({ kind: "stop-unit", description: `stop ${p.unit} (active without its interface)`, script: `${shellCommand("systemctl", "stop", p.unit)} || true` });
  }
  const secrets: Secrets = { ...pskSecrets(input.presharedKey), ...("privateKey" in key ? { privateKey: key.privateKey } : {}) };
  for (const op of operations) {
    let script: string;
    if (op.kind === "private-key" && !("privateKey" in key)) script = shellCommand("wg", "set", ifname, "private-key", p.key);
    else script = renderOperation(op, ifname, secrets, { bringUp: "systemd" });
    steps.push({ kind: "operation", description: describeOperation(op), op, script });
  }
  return { steps, operations, installed: install?.packages ?? [] };
}

/** Marker printed before each step so a failure can be attributed to it. */
export const STEP_MARK = "@@WGMESH-STEP@@";

export interface ChangeScriptOptions {
  /** End with a fresh read of the host (default true). */
  verify?: boolean;
  /** Shell text run before the first step (under the same `set -eu`), e.g. the rollback snapshot. */
  prelude?: string;
  /**
   * Shell text run after the verification read (e.g. the health gate's wait and a second read): what it
   * sees (roaming endpoints, handshakes) does not disturb the check that the steps converged.
   */
  afterVerify?: string;
}

/**
 * The one batched change script (POSIX sh, `set -eu`, stops at the first failure), followed by a fresh
 * read of the host (facts + probe) so the result is verified in the same round trip. Send it on stdin.
 *
 * Detached from the SSH channel while it runs: SIGHUP and SIGPIPE are ignored and its output goes to files
 * that are printed when it ends, so a connection cut after the script arrived cannot stop it half way (a cut
 * before it arrived whole runs nothing: the session wraps it in one `{ … }` group). Either way the host is
 * left in the state before or the state after, never between steps; the next apply converges from there.
 */
export function renderChangeScript(ifname: string, steps: Step[], options: ChangeScriptOptions = {}): string {
  const lines = ["set -eu", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "umask 022"];
  if (options.prelude) lines.push(options.prelude.replace(/\n$/, ""));
  steps.forEach((s, i) => {
    lines.push(`printf '%s %s\\n' ${shellQuote(STEP_MARK)} ${i}`);
    lines.push(s.script);
  });
  lines.push(`printf '%s %s\\n' ${shellQuote(STEP_MARK)} done`);
  let body = lines.join("\n") + "\n";
  if (options.verify !== false) body += readScript(ifname);
  if (options.afterVerify) body += options.afterVerify.endsWith("\n") ? options.afterVerify : `${options.afterVerify}\n`;
  return [
    "trap '' HUP PIPE",
    "wgm_main() {",
    body + "}",
    "if WGM_D=$(mktemp -d 2>/dev/null); then",
    '  ( wgm_main ) > "$WGM_D/out" 2> "$WGM_D/err"; WGM_RC=$?',
    // Files open, directory gone, then the output: nothing is left behind even if the channel is dead.
    '  exec 3< "$WGM_D/out" 4< "$WGM_D/err"; rm -rf "$WGM_D"',
    "  cat <&3; cat <&4 >&2; exec 3<&- 4<&-",
    "else",
    "  ( wgm_main ); WGM_RC=$?",
    "fi",
    '[ "$WGM_RC" -eq 0 ] || exit "$WGM_RC"',
  ].join("\n") + "\n";
}

/** Index of the step that was running when the script stopped (from its stdout), or "done". */
export function lastStep(stdout: string): number | "done" | null {
  const re = new RegExp(`^${STEP_MARK.replace(/[@]/g, "@")} (\\d+|done)$`, "gm");
  let last: string | null = null;
  for (let m = re.exec(stdout); m !== null; m = re.exec(stdout)) last = m[1] as string;
  if (last === null) return null;
  return last === "done" ? "done" : Number(last);
}

/** The script with every secret replaced, safe to log or show. */
export function redactedScript(script: string): string {
  return redactSecrets(script);
}
