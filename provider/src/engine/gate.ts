/**
 * The health gate's host half: a POSIX sh fragment that runs at the end of a change script (after the
 * steps, before the verification read — so the gate costs no round trip of its own) and waits, bounded,
 * for evidence that each gated peer is reachable; and its parser. The rules are planner/health.ts's.
 *
 * Per second, until every peer has evidence or the timeout: one `wg show <if> latest-handshakes`, one
 * `wg show <if> transfer`, one awk over them (linear in the peers), and one echo request to each peer still
 * without evidence (backgrounded, `ping -c 1 -W 1`). Evidence: an echo reply (both modes); in handshake mode
 * also a handshake newer than the script's start ($WGM_T0) or received bytes above those at the start of
 * the wait. Never fails the script (its own subshell, `set +eu`).
 */
import { shellQuote } from "../planner/shell";
import { assertInterfaceName, SCRIPT_T0_VAR } from "../planner/commands";
import type { GateEvidence, GateOutcome, GatePlan, HealthMode } from "../planner/health";

const BEGIN = "@@WGMESH-GATE-BEGIN@@";
const END = "@@WGMESH-GATE-END@@";

/** Shell variable the change script's prelude sets to its start (unix seconds); handshakes after it count. */
export const T0_VAR = SCRIPT_T0_VAR;

/** `WGM_T0=<now>`: the first line of a gated script. */
export function gateStartLine(): string {
  return `${T0_VAR}=$(date +%s)`;
}

/** One pass of the wait (exported for its unit test): files base, hs, tr, replies, ok, peers → new evidence, pending. */
export const AWK_STEP = [
  "FILENAME==ARGV[1] { base[$1]=$2; next }",
  "FILENAME==ARGV[2] { hs[$1]=$2; next }",
  "FILENAME==ARGV[3] { rx[$1]=$2; next }",
  "FILENAME==ARGV[4] { rep[$1]=1; next }",
  "FILENAME==ARGV[5] { got[$1]=1; next }",
  "FILENAME==ARGV[6] { n=$1; k=$2; if (n in got) next; ev=\"\";",
  "  if (n in rep) ev=\"reply\";",
  "  else if (mode != \"ping\") { if ((k in hs) && hs[k]+0 > t0+0) ev=\"handshake\"; else if ((k in rx) && rx[k]+0 > base[k]+0) ev=\"traffic\" }",
  "  if (ev != \"\") print n, ev, el >> okf; else print n, $3 }",
].join("\n");

/** The final report (exported for its unit test): files ok, peers → "peer KEY EVIDENCE|none MS". */
export const AWK_REPORT = [
  "FILENAME==ARGV[1] { ev[$1]=$2; at[$1]=$3; next }",
  "{ if ($1 in ev) print \"peer\", $2, ev[$1], at[$1]; else print \"peer\", $2, \"none\", el }",
].join("\n");

/**
 * The gate fragment for `plan` (empty string when there is nothing to wait for). `mode` may differ from
 * the plan's when re-checking after a rollback.
 */
export function gateScript(ifname: string, plan: Pick<GatePlan, "peers" | "check">, mode: HealthMode = plan.check.mode): string {
  assertInterfaceName(ifname);
  if (mode === "off" || plan.peers.length === 0) return "";
  const peers = plan.peers.map((p, i) => `${i} ${p.publicKey} ${p.probe ?? "-"}`).join("\n");
  for (const p of plan.peers) {
    if (!/^[A-Za-z0-9+/]{43}=$/.test(p.publicKey)) throw new Error(`gate: peer ${p.hostname}: not a WireGuard public key`);
    if (p.probe !== null && !/^[0-9a-fA-F.:]+$/.test(p.probe)) throw new Error(`gate: peer ${p.hostname}: probe address ${JSON.stringify(p.probe)} is not an IP address`);
  }
  const q = shellQuote;
  return [
    "(",
    "set +eu",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH",
    `IF=${q(ifname)}; MODE=${q(mode)}; LIMIT=${Math.max(1, Math.round(plan.check.timeoutSeconds))}; T0=\${${T0_VAR}:-0}`,
    "ms() { t=$(date +%s%3N 2>/dev/null); case \"$t\" in ''|*[!0-9]*) echo $(( $(date +%s) * 1000 ));; *) echo \"$t\";; esac; }",
    `printf '\\n${BEGIN}\\n'`,
    "if ! command -v wg >/dev/null 2>&1; then echo nowg; else",
    "if [ \"$MODE\" = ping ] && ! command -v ping >/dev/null 2>&1; then echo noping; fi",
    "D=$(mktemp -d 2>/dev/null) || { D=/tmp/wgmesh-gate.$$; mkdir -p \"$D\"; }",
    "cat > \"$D/peers\" <<'WGMESH_GATE_EOF'",
    peers,
    "WGMESH_GATE_EOF",
    ": > \"$D/replies\"; : > \"$D/ok\"",
    "wg show \"$IF\" transfer > \"$D/base\" 2>/dev/null",
    "START=$(ms); END=$((START + LIMIT * 1000))",
    "while :; do",
    "  NOW=$(ms)",
    "  wg show \"$IF\" latest-handshakes > \"$D/hs\" 2>/dev/null",
    "  wg show \"$IF\" transfer > \"$D/tr\" 2>/dev/null",
    `  awk -v mode="$MODE" -v t0="$T0" -v el=$((NOW - START)) -v okf="$D/ok" ${q(AWK_STEP)} "$D/base" "$D/hs" "$D/tr" "$D/replies" "$D/ok" "$D/peers" > "$D/pending"`,
    "  [ -s \"$D/pending\" ] || break",
    "  [ \"$NOW\" -ge \"$END\" ] && break",
    "  while read -r n ip; do",
    "    [ \"$ip\" = - ] && continue",
    "    ( ping -c 1 -W 1 -q \"$ip\" >/dev/null 2>&1 && echo \"$n\" >> \"$D/replies\" ) &",
    "  done < \"$D/pending\"",
    "  sleep 1",
    "done",
    "wait",
    `awk -v el=$(( $(ms) - START )) ${q(AWK_REPORT)} "$D/ok" "$D/peers"`,
    "echo \"waited $(( $(ms) - START ))\"",
    "rm -rf \"$D\"",
    "fi",
    `printf '${END}\\n'`,
    ")",
  ].join("\n") + "\n";
}

/** The gate's evidence from a script's stdout (null when the script printed no gate section). */
export function parseGate(stdout: string): GateOutcome | null {
  const start = stdout.lastIndexOf(BEGIN);
  if (start < 0) return null;
  const stop = stdout.indexOf(END, start);
  const body = stdout.slice(start + BEGIN.length, stop < 0 ? undefined : stop);
  const outcome: GateOutcome = { ran: true, waitedMs: 0, peers: [] };
  for (const line of body.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "nowg") outcome.ran = false;
    else if (f[0] === "noping") outcome.noPing = true;
    else if (f[0] === "waited" && /^\d+$/.test(f[1] ?? "")) outcome.waitedMs = Number(f[1]);
    else if (f[0] === "peer" && f.length === 4 && /^\d+$/.test(f[3] ?? "")) {
      const ev = f[2] as string;
      const e: GateEvidence = { publicKey: f[1] as string, ok: ev !== "none", waitedMs: Number(f[3]) };
      if (ev === "handshake" || ev === "traffic" || ev === "reply") e.evidence = ev;
      outcome.peers.push(e);
    }
  }
  if (stop < 0) outcome.ran = false; // cut short: no verdict from it
  return outcome;
}
