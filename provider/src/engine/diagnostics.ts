/**
 * Remote evidence for a failed step, gathered in the same round trip and put into the error the user sees
 * (secrets redacted):
 * - unit steps (enable, start, stop wg-quick@<if>): `systemctl status` and the last lines of
 *   `journalctl -u wg-quick@<if>`, printed by an EXIT trap of the change script when it fails inside such a
 *   step; with wireguard-go, also whether the host can still create an inotify instance (wireguard-go needs
 *   one for its control socket; an exhausted `fs.inotify.max_user_instances` makes `wg-quick up` fail with
 *   "Unable to modify interface: Protocol not supported");
 * - package installs: the package manager's error lines (`E: …`) first;
 * - any step: the last lines of its stderr.
 * Dial failures carry their own evidence (address, port, attempts, last error: engine/ssh/connection.ts).
 */
import { redactSecrets } from "../planner/commands";
import { shellQuote } from "../planner/shell";
import { hostPaths } from "./paths";
import type { Step } from "./types";

const BEGIN = "@@WGMESH-EVIDENCE-BEGIN@@";
const PART = "@@WGMESH-EVIDENCE@@";
const END = "@@WGMESH-EVIDENCE-END@@";
const JOURNAL_LINES = 25;

/** Steps that start, stop or enable the unit. */
export function isUnitStep(step: Step): boolean {
  return step.kind === "enable-unit" || step.kind === "stop-unit" || (step.kind === "operation" && step.op?.kind === "interface-up");
}

/** The step with the evidence tag around it (the trap prints unit evidence when the script dies inside). */
export function tagStep(step: Step): Step {
  if (!isUnitStep(step)) return step;
  return { ...step, script: `WGM_EVIDENCE=unit\n${step.script}\nWGM_EVIDENCE=` };
}

/** Prelude fragment: the EXIT trap that prints the evidence of a failed unit step. */
export function evidencePrelude(ifname: string): string {
  const unit = hostPaths(ifname).unit;
  const q = shellQuote;
  return [
    "WGM_EVIDENCE=",
    "wgm_evidence() {",
    "  WGM_RC=$?",
    "  set +eu",
    '  if [ "$WGM_RC" -ne 0 ] && [ "$WGM_EVIDENCE" = unit ]; then',
    `    printf '\\n%s\\n%s status\\n' ${q(BEGIN)} ${q(PART)}`,
    `    systemctl status --no-pager --full -n 0 ${q(unit)} 2>&1 | head -n 12`,
    `    printf '%s journal\\n' ${q(PART)}`,
    `    journalctl -u ${q(unit)} -n ${JOURNAL_LINES} --no-pager -o short 2>&1 | tail -n ${JOURNAL_LINES}`,
    "    if [ ! -d /sys/module/wireguard ] && command -v wireguard-go >/dev/null 2>&1; then",
    `      printf '%s inotify\\n' ${q(PART)}`,
    "      printf 'max_user_instances=%s\\n' \"$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null)\"",
    "      timeout 1 tail -f -n 0 /etc/hostname 2>&1 >/dev/null | grep -m 1 inotify",
    "    fi",
    `    printf '%s\\n' ${q(END)}`,
    "  fi",
    '  exit "$WGM_RC"',
    "}",
    "trap wgm_evidence EXIT",
  ].join("\n");
}

export interface UnitEvidence {
  status: string[];
  journal: string[];
  /** Set when wireguard-go is in use: the limit, and the failure to get an instance (null when one was had). */
  inotify: { maxUserInstances: number | null; failure: string | null } | null;
}

/** The unit evidence printed by the trap (null when there is none). */
export function parseEvidence(stdout: string): UnitEvidence | null {
  const start = stdout.lastIndexOf(BEGIN);
  if (start < 0) return null;
  const stop = stdout.indexOf(END, start);
  const body = stdout.slice(start + BEGIN.length, stop < 0 ? undefined : stop);
  const parts = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of body.split("\n")) {
    if (line.startsWith(`${PART} `)) {
      current = [];
      parts.set(line.slice(PART.length + 1).trim(), current);
    } else if (current && line.trim() !== "") current.push(line.replace(/\s+$/, ""));
  }
  const ino = parts.get("inotify");
  let inotify: UnitEvidence["inotify"] = null;
  if (ino) {
    const max = ino.find((l) => l.startsWith("max_user_instances="))?.slice("max_user_instances=".length) ?? "";
    inotify = { maxUserInstances: /^\d+$/.test(max) ? Number(max) : null, failure: ino.find((l) => /inotify/.test(l) && !l.startsWith("max_user_instances=")) ?? null };
  }
  return { status: parts.get("status") ?? [], journal: parts.get("journal") ?? [], inotify };
}

/** The package manager's own error lines (apt `E:`, dnf `Error:`), in order. */
export function packageErrorLines(stderr: string): string[] {
  return stderr.split("\n").map((l) => l.trim()).filter((l) => /^(E:|Err:|Error:|No match for argument)/.test(l) || /Unable to locate package|has no installation candidate/.test(l));
}

/** `text` with secret here-documents and the given secret values replaced. */
export function redactAll(text: string, secrets: readonly string[]): string {
  let out = redactSecrets(text);
  for (const s of secrets) if (s.length >= 8) out = out.split(s).join("[secret redacted]");
  return out;
}

const indent = (lines: readonly string[]) => lines.map((l) => `    ${l}`).join("\n");

/**
 * The error of a failed step: what failed, its stderr's last lines, and the evidence for its kind, secrets
 * redacted. `unit` names the unit (for the journal command shown).
 */
export function stepFailureMessage(
  node: string,
  step: Step | undefined,
  exit: string,
  stdout: string,
  stderr: string,
  secrets: readonly string[],
  unit: string,
): string {
  const clean = redactAll(stderr, secrets).trim();
  const what = step ? `step ${JSON.stringify(step.description)}` : "the change script";
  const tail = clean.split("\n").filter((l) => l.trim() !== "").slice(-8);
  const parts: string[] = [];
  if (step?.kind === "install") {
    const errs = packageErrorLines(clean);
    parts.push(`node ${node}: ${what} failed (exit ${exit}): ${errs.length ? errs.join(" | ") : tail.join(" | ") || "no error output"}`);
    if (errs.length) parts.push(`  package manager output (last lines):\n${indent(tail)}`);
    parts.push("  Fix: make the package installable from the host's package sources (apt-cache policy <package>; apt-get update), or install it by hand, then re-run");
    return parts.join("\n");
  }
  parts.push(`node ${node}: ${what} failed (exit ${exit}): ${tail.join(" | ") || "no error output"}`);
  const ev = step && isUnitStep(step) ? parseEvidence(stdout) : null;
  if (ev) {
    if (ev.status.length) parts.push(`  systemctl status ${unit}:\n${indent(redactAll(ev.status.join("\n"), secrets).split("\n"))}`);
    if (ev.journal.length) parts.push(`  journalctl -u ${unit} (last ${ev.journal.length} lines):\n${indent(redactAll(ev.journal.join("\n"), secrets).split("\n"))}`);
    if (ev.inotify?.failure) {
      parts.push(`  inotify: ${ev.inotify.failure} (fs.inotify.max_user_instances = ${ev.inotify.maxUserInstances ?? "?"})`);
      parts.push("  Fix: wireguard-go needs an inotify instance for its control socket and the host's limit is used up: " +
        "raise it (sysctl -w fs.inotify.max_user_instances=8192, and persist it in /etc/sysctl.d/), then re-run");
    } else {
      parts.push(`  Fix: the journal lines above say why ${unit} failed; \`journalctl -u ${unit}\` on the host has the rest. Re-run once it is fixed`);
    }
  }
  return parts.join("\n");
}
