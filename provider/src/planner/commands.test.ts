import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { atomicWriteFileCommand, redactSecrets, renderOperation, renderScript, SECRET_HEREDOC } from "./commands";
import { shellQuote } from "./shell";
import type { Operation } from "./types";

const PRIV = Buffer.alloc(32, 0x11).toString("base64");
const PSK = Buffer.alloc(32, 0x22).toString("base64");
const PK = Buffer.alloc(32, 0x33).toString("base64");
const secrets = { privateKey: PRIV, presharedKey: PSK };

test("every operation kind renders to the expected command", () => {
  const r = (op: Operation): string => renderOperation(op, "wg0", secrets);
  assert.equal(r({ kind: "peer-remove", publicKey: PK }), `wg set wg0 peer ${PK} remove`);
  assert.equal(
    r({ kind: "peer-set", publicKey: PK, endpoint: "[fd00::1]:51820", persistentKeepalive: 0, allowedIps: ["10.99.0.3/32", "192.168.50.0/24"], presharedKey: false }),
    `wg set wg0 peer ${PK} preshared-key /dev/null endpoint '[fd00::1]:51820' persistent-keepalive 0 allowed-ips 10.99.0.3/32,192.168.50.0/24`,
  );
  assert.equal(r({ kind: "peer-set", publicKey: PK, allowedIps: [] }), `wg set wg0 peer ${PK} allowed-ips ''`);
  assert.equal(r({ kind: "peer-set", publicKey: PK, presharedKey: true }), `wg set wg0 peer ${PK} preshared-key /dev/stdin <<'${SECRET_HEREDOC}'\n${PSK}\n${SECRET_HEREDOC}`);
  assert.equal(r({ kind: "private-key" }), `wg set wg0 private-key /dev/stdin <<'${SECRET_HEREDOC}'\n${PRIV}\n${SECRET_HEREDOC}`);
  assert.equal(r({ kind: "listen-port", port: 51821 }), "wg set wg0 listen-port 51821");
  assert.equal(r({ kind: "address-set", remove: ["10.99.0.1/24"], add: "10.99.0.1/16" }), "ip -4 address del 10.99.0.1/24 dev wg0\nip -4 address replace 10.99.0.1/16 dev wg0");
  assert.equal(r({ kind: "mtu", mtu: 1380 }), "ip link set dev wg0 mtu 1380");
  assert.equal(r({ kind: "route-add", cidr: "192.168.50.0/24" }), "ip -4 route replace 192.168.50.0/24 dev wg0");
  assert.equal(
    r({ kind: "route-del", cidr: "fd00:50::/64" }),
    `if ! ip -6 route del fd00:50::/64 dev wg0 2>/dev/null && [ -n "$(ip -6 route show exact fd00:50::/64 dev wg0)" ]; then echo 'wgmesh: could not delete route fd00:50::/64 from wg0' >&2; exit 1; fi`,
  );
  assert.equal(r({ kind: "forwarding", enabled: true }), "echo 1 > /proc/sys/net/ipv4/ip_forward");
  assert.equal(r({ kind: "interface-up" }), "wg-quick up wg0");
  assert.equal(renderOperation({ kind: "interface-up" }, "wg0", {}, { bringUp: "systemd" }), "systemctl start wg-quick@wg0");
});

test("secrets only inside here-documents, never in a command line; missing secrets are an error", () => {
  const script = renderScript(
    [{ kind: "private-key" }, { kind: "peer-set", publicKey: PK, presharedKey: true, allowedIps: ["10.99.0.3/32"] }],
    "wg0",
    secrets,
  );
  for (const line of script.split("\n")) {
    if (line.includes(PRIV) || line.includes(PSK)) assert.ok(line === PRIV || line === PSK, `secret on a command line: ${line}`);
  }
  assert.equal(spawnSync("sh", ["-n"], { input: script }).status, 0, "script is valid sh");
  assert.throws(() => renderOperation({ kind: "private-key" }, "wg0", {}), /Secrets.privateKey is required/);
  assert.throws(() => renderOperation({ kind: "private-key" }, "wg0", { privateKey: "x\nreboot" }), (e: Error) => !e.message.includes("reboot"));
  assert.throws(() => renderOperation({ kind: "mtu", mtu: 1 }, "wg0 x", {}), /interface name/);
});

test("redaction removes every secret and keeps the commands", () => {
  const script = renderScript([{ kind: "private-key" }, { kind: "peer-set", publicKey: PK, presharedKey: true }, { kind: "listen-port", port: 1 }], "wg0", secrets);
  const red = redactSecrets(script);
  assert.ok(!red.includes(PRIV) && !red.includes(PSK));
  assert.ok(red.includes(PK), "public keys stay");
  assert.ok(red.includes("wg set wg0 listen-port 1"));
  assert.equal(red.split("[secret redacted]").length - 1, 2);
  const file = atomicWriteFileCommand("/etc/wireguard/wg0.conf", `PrivateKey = ${PRIV}\n`);
  assert.ok(!redactSecrets(file).includes(PRIV));
});

function noNul(s: string): boolean {
  return !s.includes("\0") && !/[\ud800-\udfff]/.test(s);
}

test("property: any string survives shellQuote through sh -c, sh -s (stdin script) and bash eval", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: fc.constantFrom("'", '"', "\\", "$", "`", "\n", " ", "*", "!", "a", ";", "#", "~", "-", "%i") })).filter(noNul), (s) => {
      const q = shellQuote(s);
      const viaC = spawnSync("sh", ["-c", `printf %s ${q}`], { encoding: "utf8" });
      assert.equal(viaC.stdout, s);
      const viaStdin = spawnSync("sh", ["-s"], { input: `printf %s ${q}\n`, encoding: "utf8" });
      assert.equal(viaStdin.stdout, s);
      const viaBash = spawnSync("bash", ["-c", 'eval "$1"', "bash", `printf %s ${q}`], { encoding: "utf8" });
      assert.equal(viaBash.stdout, s);
    }),
    { numRuns: 150 },
  );
});

test("atomic write: content exact, mode 600, owner root, no temp file left; a failure leaves the target untouched", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-atomic-"));
  try {
    const target = path.join(dir, "sub dir", "wg0.conf");
    const content = `[Interface]\nPrivateKey = ${PRIV}\n# it's $HOME \`x\`\n`;
    const r = spawnSync("sh", ["-s"], { input: `set -eu\n${atomicWriteFileCommand(target, content)}\n`, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(target, "utf8"), content);
    const st = fs.statSync(target);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), ["wg0.conf"]);
    const bad = spawnSync("sh", ["-s"], { input: `set -eu\n${atomicWriteFileCommand(target, "new\n", { owner: "no-such-user-wgmesh:0" })}\n`, encoding: "utf8" });
    assert.notEqual(bad.status, 0);
    assert.equal(fs.readFileSync(target, "utf8"), content);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), ["wg0.conf"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("interface-up can name a wg-quick file outside /etc/wireguard", () => {
  assert.equal(renderOperation({ kind: "interface-up" }, "wg0", {}, { confDir: "/etc/wireguard/" }), "wg-quick up wg0");
  assert.equal(renderOperation({ kind: "interface-up" }, "wg0", {}, { confDir: "/tmp/my dir" }), "wg-quick up '/tmp/my dir/wg0.conf'");
});

test("per-pair PSKs (issue 16): each peer-set reads its peer's own key from stdin; a missing one names the peer, never a key", () => {
  const other = Buffer.alloc(32, 0x77).toString("base64");
  const own = { privateKey: PRIV, presharedKey: PSK, presharedKeys: { [PK]: other } };
  assert.equal(renderOperation({ kind: "peer-set", publicKey: PK, presharedKey: true }, "wg0", own), `wg set wg0 peer ${PK} preshared-key /dev/stdin <<'${SECRET_HEREDOC}'\n${other}\n${SECRET_HEREDOC}`);
  assert.throws(
    () => renderOperation({ kind: "peer-set", publicKey: PK, hostname: "web2", presharedKey: true }, "wg0", { presharedKeys: {} }),
    (e: Error) => /the preshared key of peer web2 is required/.test(e.message) && !e.message.includes(other),
  );
  assert.equal(redactSecrets(renderScript([{ kind: "peer-set", publicKey: PK, presharedKey: true }], "wg0", own)).includes(other), false);
});

// handshake-confirm runs in sh against a recording `wg` on PATH (what the shell logic decides; the real
// WireGuard behaviour is the rotation soak's and e2e-rotate's, on the testbed).
function runConfirm(op: Extract<Operation, { kind: "handshake-confirm" }>, handshakes: string, endpoints: string, psk?: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-confirm-"));
  try {
    fs.writeFileSync(path.join(dir, "hs"), handshakes);
    fs.writeFileSync(path.join(dir, "ep"), endpoints);
    fs.writeFileSync(path.join(dir, "wg"), [
      "#!/bin/sh",
      `D=${shellQuote(dir)}`,
      'if [ "$1" = show ]; then case "$3" in latest-handshakes) cat "$D/hs" ;; endpoints) cat "$D/ep" ;; esac; exit 0; fi',
      'echo "$*" >> "$D/log"',
      'case " $* " in *" /dev/stdin "*) echo "stdin $(cat)" >> "$D/log" ;; esac',
    ].join("\n") + "\n", { mode: 0o755 });
    const body = renderOperation(op, "wg0", psk === undefined ? {} : { presharedKey: psk });
    const r = spawnSync("sh", ["-c", `set -eu\nWGM_T0=100\n${body}\n`], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    assert.equal(r.status, 0, r.stderr);
    return fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8").trim().split("\n") : [];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("handshake-confirm: a peer with a handshake since the script's start is left alone; one without is added again and kicked", () => {
  const [C, D] = [Buffer.alloc(32, 3).toString("base64"), Buffer.alloc(32, 4).toString("base64")];
  const psk = Buffer.alloc(32, 9).toString("base64");
  const op: Extract<Operation, { kind: "handshake-confirm" }> = {
    kind: "handshake-confirm",
    seconds: 0.2,
    peers: [
      { publicKey: C, hostname: "c", endpoint: "192.0.2.3:51820", allowedIps: ["10.9.0.3/32", "192.168.5.0/24"], persistentKeepalive: null, presharedKey: true },
      { publicKey: D, hostname: "d", endpoint: null, allowedIps: ["10.9.0.4/32"], persistentKeepalive: 25, presharedKey: false },
    ],
  };
  // c: handshake before the start (50 < 100) → again; d: after (100 ≥ 100) → alone.
  assert.deepEqual(runConfirm(op, `${C}\t50\n${D}\t100\n`, "", psk), [
    `set wg0 peer ${C} remove`,
    `set wg0 peer ${C} preshared-key /dev/stdin persistent-keepalive 0 allowed-ips 10.9.0.3/32,192.168.5.0/24 endpoint 192.0.2.3:51820`,
    `stdin ${psk}`,
    `set wg0 peer ${C} persistent-keepalive 1`,
    `set wg0 peer ${C} persistent-keepalive 0`,
  ]);
  // both recent: nothing at all.
  assert.deepEqual(runConfirm(op, `${C}\t101\n${D}\t102\n`, "", psk), []);
  // d behind NAT, none yet: its entry comes back at the address it was last seen at, or with none.
  const onlyD = { ...op, peers: op.peers.slice(1) };
  assert.deepEqual(runConfirm(onlyD, `${D}\t0\n`, `${D}\t198.51.100.7:40001\n`), [
    `set wg0 peer ${D} remove`,
    `set wg0 peer ${D} persistent-keepalive 25 allowed-ips 10.9.0.4/32 endpoint 198.51.100.7:40001`,
    `set wg0 peer ${D} persistent-keepalive 0`,
    `set wg0 peer ${D} persistent-keepalive 25`,
  ]);
  assert.deepEqual(runConfirm(onlyD, "", `${D}\t(none)\n`), [
    `set wg0 peer ${D} remove`,
    `set wg0 peer ${D} persistent-keepalive 25 allowed-ips 10.9.0.4/32`,
    `set wg0 peer ${D} persistent-keepalive 0`,
    `set wg0 peer ${D} persistent-keepalive 25`,
  ]);
  assert.ok(!redactSecrets(renderOperation(op, "wg0", { presharedKey: psk })).includes(psk), "the PSK only in a here-document");
});
