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
