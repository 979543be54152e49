/**
 * Operations → POSIX shell text, every word through `shellQuote`.
 *
 * Secrets (interface private key, preshared keys, the wg-quick file that contains them) never appear in
 * argv: each command that needs one reads it from a quoted here-document on its own stdin
 * (`wg set IF private-key /dev/stdin <<'WGMESH_SECRET_EOF' … WGMESH_SECRET_EOF`). The here-document is part
 * of the script text, and the script itself must travel on the SSH channel's stdin (`sh -s`), never as
 * `sh -c SCRIPT`. `redactSecrets` replaces every such here-document body, so a script can be logged.
 */
import { isValidKey } from "../core/keys";
import { shellCommand, shellQuote } from "./shell";
import type { Operation, Secrets } from "./types";

/** Delimiter of every here-document that carries a secret (what `redactSecrets` looks for). */
export const SECRET_HEREDOC = "WGMESH_SECRET_EOF";
const REDACTED = "[secret redacted]";

/** wg-quick's own rule for interface names (also a valid Linux ifname). */
export function assertInterfaceName(ifname: string): void {
  if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(ifname)) {
    throw new Error(`interface name ${JSON.stringify(ifname)} is invalid: use 1-15 characters from a-z A-Z 0-9 _ = + . -`);
  }
}

function secretKey(value: string | undefined, what: string): string {
  if (value === undefined) throw new Error(`${what} is required for this operation but was not provided`);
  if (!isValidKey(value)) throw new Error(`${what} is not a WireGuard key (44 base64 characters); value withheld`);
  return value;
}

/** The PSK of one peer: its own (per-pair PSKs, by public key), else the shared one; undefined when none. */
export function peerPresharedKey(secrets: Secrets, publicKey: string): string | undefined {
  const own = secrets.presharedKeys;
  return own && Object.prototype.hasOwnProperty.call(own, publicKey) ? own[publicKey] : secrets.presharedKey;
}

/** `command` with `secret` fed on its stdin through a quoted here-document. */
export function withSecretOnStdin(command: string, secret: string): string {
  if (secret.split("\n").includes(SECRET_HEREDOC)) throw new Error("a secret cannot contain the here-document delimiter line");
  const body = secret.endsWith("\n") ? secret : `${secret}\n`;
  return `${command} <<'${SECRET_HEREDOC}'\n${body}${SECRET_HEREDOC}`;
}

function family(cidr: string): "-4" | "-6" {
  // CIDRs reaching here are canonical (planner output); the word is quoted whatever it is.
  return cidr.includes(":") ? "-6" : "-4";
}

/** The one route command, used online (route-add) and in the wg-quick file (PostUp): identical kernel result. */
export function routeAddCommand(ifname: string, cidr: string): string {
  assertInterfaceName(ifname);
  return shellCommand("ip", family(cidr), "route", "replace", cidr, "dev", ifname);
}

/**
 * Delete a route from the interface; succeeds when the route is already gone (an address change may have
 * flushed it), fails with a message when it is still there after a failed delete.
 */
export function routeDelCommand(ifname: string, cidr: string): string {
  assertInterfaceName(ifname);
  const f = family(cidr);
  return (
    `if ! ${shellCommand("ip", f, "route", "del", cidr, "dev", ifname)} 2>/dev/null && ` +
    `[ -n "$(${shellCommand("ip", f, "route", "show", "exact", cidr, "dev", ifname)})" ]; then ` +
    `echo ${shellQuote(`wgmesh: could not delete route ${cidr} from ${ifname}`)} >&2; exit 1; fi`
  );
}

export interface RenderOptions {
  /** How `interface-up` starts the interface: `wg-quick up IF` (default) or `systemctl start wg-quick@IF`. */
  bringUp?: "wg-quick" | "systemd";
  /** Directory of the wg-quick file for `wg-quick up` (default /etc/wireguard, where `wg-quick up IF` looks). */
  confDir?: string;
}

/** Render one operation as shell text (one command, or one command with a secret here-document). */
export function renderOperation(op: Operation, ifname: string, secrets: Secrets, options: RenderOptions = {}): string {
  assertInterfaceName(ifname);
  switch (op.kind) {
    case "peer-remove":
      return shellCommand("wg", "set", ifname, "peer", op.publicKey, "remove");
    case "peer-set": {
      const words: Array<string | number> = ["wg", "set", ifname, "peer", op.publicKey];
      if (op.presharedKey !== undefined) words.push("preshared-key", op.presharedKey ? "/dev/stdin" : "/dev/null");
      if (op.endpoint !== undefined) words.push("endpoint", op.endpoint);
      if (op.persistentKeepalive !== undefined) words.push("persistent-keepalive", op.persistentKeepalive);
      if (op.allowedIps !== undefined) words.push("allowed-ips", op.allowedIps.join(","));
      const cmd = shellCommand(...words);
      return op.presharedKey === true ? withSecretOnStdin(cmd, secretKey(peerPresharedKey(secrets, op.publicKey), `the preshared key of peer ${op.hostname ?? op.publicKey}`)) : cmd;
    }
    case "handshake": {
      // Keepalive switched on from off sends one keepalive at once (kernel and wireguard-go alike); with no
      // session that is a handshake initiation. Then back to the peer's setting.
      const keep = op.persistentKeepalive ?? 0;
      const steps = keep > 0 ? [0, keep] : [1, 0];
      return steps.map((s) => shellCommand("wg", "set", ifname, "peer", op.publicKey, "persistent-keepalive", s)).join("\n");
    }
    case "handshake-confirm":
      return renderHandshakeConfirm(op, ifname, secrets);
    case "private-key":
      return withSecretOnStdin(shellCommand("wg", "set", ifname, "private-key", "/dev/stdin"), secretKey(secrets.privateKey, "Secrets.privateKey"));
    case "listen-port":
      return shellCommand("wg", "set", ifname, "listen-port", op.port);
    case "address-set": {
      const lines = op.remove.map((a) => shellCommand("ip", family(a), "address", "del", a, "dev", ifname));
      lines.push(shellCommand("ip", family(op.add), "address", "replace", op.add, "dev", ifname));
      return lines.join("\n");
    }
    case "mtu":
      return shellCommand("ip", "link", "set", "dev", ifname, "mtu", op.mtu);
    case "route-del":
      return routeDelCommand(ifname, op.cidr);
    case "route-add":
      return routeAddCommand(ifname, op.cidr);
    case "forwarding":
      return `echo ${op.enabled ? 1 : 0} > /proc/sys/net/ipv4/ip_forward`;
    case "interface-up":
      if (options.bringUp === "systemd") return shellCommand("systemctl", "start", `wg-quick@${ifname}`);
      if (options.confDir !== undefined && options.confDir.replace(/\/+$/, "") !== "/etc/wireguard") {
        return shellCommand("wg-quick", "up", `${options.confDir.replace(/\/+$/, "")}/${ifname}.conf`);
      }
      return shellCommand("wg-quick", "up", ifname);
  }
}

/**
 * Shell variable holding the change script's start (unix seconds), set by the script's first line
 * (engine/gate.ts `gateStartLine`); `handshake-confirm` counts handshakes after it (its own start if unset).
 */
export const SCRIPT_T0_VAR = "WGM_T0";

/** How a `handshake-confirm` line on the script's stdout begins when it adds a peer's entry again. */
export const HANDSHAKE_AGAIN_NOTE = "wgmesh: no handshake with peer";

/**
 * `handshake-confirm` (planner/rekey.ts): wait, bounded, for a handshake newer than the script's start with
 * each peer; add the entry of each peer still without one again (same settings; the endpoint is the
 * configured one, else the one it was last seen at) and start a handshake. One `wg show` + awk per 100 ms.
 */
function renderHandshakeConfirm(op: Extract<Operation, { kind: "handshake-confirm" }>, ifname: string, secrets: Secrets): string {
  const keys = op.peers.map((p) => {
    if (!isValidKey(p.publicKey)) throw new Error(`handshake-confirm: peer ${p.hostname ?? "?"}: not a WireGuard public key`);
    return p.publicKey;
  });
  const ms = "$(wgm_hc_ms)";
  const lines = [
    `wgm_hc_ms() { t=$(date +%s%3N 2>/dev/null); case "$t" in ''|*[!0-9]*) echo $(( $(date +%s) * 1000 )) ;; *) echo "$t" ;; esac; }`,
    `wgm_hc_t0=\${${SCRIPT_T0_VAR}:-$(date +%s)}; wgm_hc_end=$((${ms} + ${Math.max(0, Math.round(op.seconds * 1000))}))`,
    "while :; do",
    `  wgm_hc_wait=" $(${shellCommand("wg", "show", ifname, "latest-handshakes")} | awk -v t0="$wgm_hc_t0" -v keys=${shellQuote(keys.join(" "))} ` +
      `${shellQuote('BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) w[k[i]] = 1 } ($1 in w) && $2 + 0 >= t0 + 0 { delete w[$1] } END { for (x in w) printf "%s ", x }')}) "`,
    '  [ "$wgm_hc_wait" = "  " ] && break',
    `  [ ${ms} -ge "$wgm_hc_end" ] && break`,
    "  sleep 0.1",
    "done",
  ];
  for (const p of op.peers) {
    const words: Array<string | number> = ["wg", "set", ifname, "peer", p.publicKey];
    if (p.presharedKey) words.push("preshared-key", "/dev/stdin");
    words.push("persistent-keepalive", p.persistentKeepalive ?? 0, "allowed-ips", p.allowedIps.join(","));
    let add = `${shellCommand(...words)}${p.endpoint === null ? ' "$@"' : ` ${shellCommand("endpoint", p.endpoint)}`}`;
    if (p.presharedKey) add = withSecretOnStdin(add, secretKey(peerPresharedKey(secrets, p.publicKey), `the preshared key of peer ${p.hostname ?? p.publicKey}`));
    const endpoint = p.endpoint === null
      ? [
          `  wgm_hc_ep=$(${shellCommand("wg", "show", ifname, "endpoints")} | awk -v k=${shellQuote(p.publicKey)} '$1 == k { print $2 }')`,
          '  set --; case "$wgm_hc_ep" in ""|"(none)") ;; *) set -- endpoint "$wgm_hc_ep" ;; esac',
        ]
      : [];
    lines.push(
      `case "$wgm_hc_wait" in *${shellQuote(` ${p.publicKey} `)}*)`,
      `  echo ${shellQuote(`${HANDSHAKE_AGAIN_NOTE} ${p.hostname ?? p.publicKey} within ${op.seconds} s of the switch: adding its entry again`)}`,
      ...endpoint,
      `  ${shellCommand("wg", "set", ifname, "peer", p.publicKey, "remove")}`,
      add.replace(/^/, "  "),
      renderOperation({ kind: "handshake", publicKey: p.publicKey, hostname: p.hostname, persistentKeepalive: p.persistentKeepalive }, ifname, secrets).replace(/^/gm, "  "),
      "  ;;",
      "esac",
    );
  }
  return lines.join("\n");
}

/** Render operations in order, one entry per operation. */
export function renderOperations(ops: Operation[], ifname: string, secrets: Secrets, options: RenderOptions = {}): string[] {
  return ops.map((op) => renderOperation(op, ifname, secrets, options));
}

/** A complete POSIX sh script (stops at the first failing command). Feed it on stdin: `sh -s`. */
export function renderScript(ops: Operation[], ifname: string, secrets: Secrets, options: RenderOptions = {}): string {
  return ["set -eu", ...renderOperations(ops, ifname, secrets, options)].join("\n") + "\n";
}

/** Replace the body of every secret here-document by a marker, so the script can be logged or shown. */
export function redactSecrets(script: string): string {
  const out: string[] = [];
  let inSecret = false;
  for (const line of script.split("\n")) {
    if (inSecret) {
      if (line === SECRET_HEREDOC) {
        out.push(REDACTED, line);
        inSecret = false;
      }
      continue;
    }
    out.push(line);
    if (line.includes(`<<'${SECRET_HEREDOC}'`)) inSecret = true;
  }
  return out.join("\n");
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export interface AtomicWriteOptions {
  /** Octal mode of the final file (default "600"). */
  mode?: string;
  /** "uid:gid" (default "0:0", root). */
  owner?: string;
  /** The content is secret (default true): its here-document is redactable. */
  secret?: boolean;
}

/**
 * Shell snippet that writes `content` to `path` atomically: umask 077, a temp file in the same directory
 * (created 0600 by mktemp), chmod, chown, fsync, `mv -f` over the target; the temp file is removed on
 * any failure. The content travels in a quoted here-document (no expansion), redactable when secret.
 */
export function atomicWriteFileCommand(path: string, content: string, options: AtomicWriteOptions = {}): string {
  if (!path.startsWith("/") || path.endsWith("/")) throw new Error(`atomic write: '${path}' must be an absolute file path`);
  if (content.includes("\0")) throw new Error(`atomic write of ${path}: content cannot contain NUL bytes`);
  const mode = options.mode ?? "600";
  if (!/^[0-7]{3,4}$/.test(mode)) throw new Error(`atomic write of ${path}: mode '${mode}' is not octal`);
  const owner = options.owner ?? "0:0";
  const delimiter = options.secret === false ? "WGMESH_FILE_EOF" : SECRET_HEREDOC;
  const body = content === "" || content.endsWith("\n") ? content : `${content}\n`;
  if (body.split("\n").includes(delimiter)) throw new Error(`atomic write of ${path}: content contains the delimiter line`);
  const dir = dirname(path);
  const tmpl = `${dir === "/" ? "" : dir}/.${basename(path)}.XXXXXX`;
  const q = shellQuote;
  return [
    `mkdir -p ${q(dir)} && (`,
    `umask 077`,
    `tmp=$(mktemp ${q(tmpl)}) || exit 1`,
    `if cat > "$tmp" <<'${delimiter}' && chmod ${mode} "$tmp" && chown ${q(owner)} "$tmp" && { sync "$tmp" 2>/dev/null || sync; } && mv -f "$tmp" ${q(path)}; then :; else rm -f "$tmp"; exit 1; fi`,
    `${body}${delimiter}`,
    `)`,
  ].join("\n");
}
