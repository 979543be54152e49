import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { sortCidrs } from "../core/cidr";
import { publicKeyFromPrivate } from "../core/keys";
import { parseWgQuickConf, renderWgQuickConf } from "./wgquick";
import { arbDesired, arbKey, arbUniverse } from "./testdata/arbitraries";
import type { NodeDesiredState, Secrets } from "./types";

const PRIV = Buffer.alloc(32, 0x11).toString("base64");
const PSK = Buffer.alloc(32, 0x22).toString("base64");
const PA = Buffer.alloc(32, 0x33).toString("base64");
const PB = Buffer.alloc(32, 0x44).toString("base64");

function state(): NodeDesiredState {
  return {
    hostname: "gw1",
    interface: { name: "wg0", address: "10.99.0.1/16", listenPort: 51820, mtu: 1380, publicKey: Buffer.alloc(32, 0x55).toString("base64") },
    peers: [
      { hostname: "app1", publicKey: PA, endpoint: "198.51.100.3:51820", allowedIps: ["192.168.50.0/24", "10.99.0.3/32"], persistentKeepalive: 25, presharedKey: true },
      { hostname: "nat1", publicKey: PB, endpoint: null, allowedIps: ["10.99.0.4/32"], persistentKeepalive: null, presharedKey: false },
    ],
    routes: ["192.168.50.0/24", "fd00:50::/64"],
    forwarding: true,
  };
}

test("renders the exact wg-quick file", () => {
  assert.equal(
    renderWgQuickConf(state(), { privateKey: PRIV, presharedKey: PSK }),
    [
      "# Managed by wgmesh; local changes are overwritten.",
      "# node: gw1",
      "[Interface]",
      "Address = 10.99.0.1/16",
      "ListenPort = 51820",
      `PrivateKey = ${PRIV}`,
      "MTU = 1380",
      "Table = off",
      "PostUp = ip -4 route replace 192.168.50.0/24 dev wg0",
      "PostUp = ip -6 route replace fd00:50::/64 dev wg0",
      "",
      "# app1",
      "[Peer]",
      `PublicKey = ${PA}`,
      `PresharedKey = ${PSK}`,
      "Endpoint = 198.51.100.3:51820",
      "AllowedIPs = 10.99.0.3/32, 192.168.50.0/24",
      "PersistentKeepalive = 25",
      "",
      "# nat1",
      "[Peer]",
      `PublicKey = ${PB}`,
      "AllowedIPs = 10.99.0.4/32",
      "",
    ].join("\n"),
  );
});

test("no MTU line when the MTU is not set; keys never in comments", () => {
  const s = state();
  s.interface.mtu = null;
  const text = renderWgQuickConf(s, { privateKey: PRIV, presharedKey: PSK });
  assert.ok(!/^MTU/m.test(text));
  for (const line of text.split("\n").filter((l) => l.includes("#"))) {
    for (const k of [PRIV, PSK, PA, PB, s.interface.publicKey]) assert.ok(!line.includes(k), line);
  }
});

test("missing or malformed secrets are refused without echoing them", () => {
  assert.throws(() => renderWgQuickConf(state(), { presharedKey: PSK }), /node gw1: Secrets.privateKey is required/);
  assert.throws(() => renderWgQuickConf(state(), { privateKey: PRIV }), /the preshared key of peer .* is required/);
  assert.throws(() => renderWgQuickConf(state(), { privateKey: "secret\nPostUp = rm -rf /", presharedKey: PSK }), (e: Error) => !e.message.includes("rm -rf") && /not a WireGuard key/.test(e.message));
});

test("values that would break out of a line are refused", () => {
  const s = state();
  (s.peers[0] as { hostname: string }).hostname = "app1\nPostUp = touch /tmp/pwned";
  assert.throws(() => renderWgQuickConf(s, { privateKey: PRIV, presharedKey: PSK }), /peer hostname/);
  const t = state();
  t.interface.name = "wg0;reboot";
  assert.throws(() => renderWgQuickConf(t, { privateKey: PRIV, presharedKey: PSK }), /interface name/);
});

test("property: rendering is deterministic and parses back to the same state and secrets", () => {
  fc.assert(
    fc.property(arbUniverse.chain((u) => fc.tuple(arbDesired(u.keys), arbKey, arbKey)), ([d, priv, psk]) => {
      const secrets: Secrets = { privateKey: priv, presharedKey: psk };
      const text = renderWgQuickConf(d, secrets);
      assert.equal(renderWgQuickConf(structuredClone(d), secrets), text);
      const { conf, secrets: back } = parseWgQuickConf(text, d.interface.name);
      assert.equal(conf.hostname, d.hostname);
      assert.deepEqual(conf.interface, { addresses: [d.interface.address], listenPort: d.interface.listenPort, mtu: d.interface.mtu, table: "off", hasPrivateKey: true, publicKey: publicKeyFromPrivate(priv) });
      assert.deepEqual(conf.routes, sortCidrs(d.routes));
      assert.deepEqual(conf.otherHooks, []);
      assert.deepEqual(conf.peers, d.peers.map((p) => ({ ...p, allowedIps: sortCidrs(p.allowedIps) })));
      assert.equal(back.privateKey, priv);
      if (d.peers.some((p) => p.presharedKey)) assert.equal(back.presharedKey, psk);
    }),
    { numRuns: 200 },
  );
});

test("privateKeyFile: no key in the file, a PostUp hook loads it (quoted path)", () => {
  const text = renderWgQuickConf(state(), { presharedKey: PSK }, { privateKeyFile: "/etc/wireguard/wg0.key" });
  assert.ok(!text.includes("PrivateKey"));
  assert.ok(text.includes("\nListenPort = 51820\nPostUp = wg set wg0 private-key /etc/wireguard/wg0.key\nMTU = 1380\n"));
  const odd = renderWgQuickConf(state(), { presharedKey: PSK }, { privateKeyFile: "/etc/wire guard/k'ey" });
  assert.ok(odd.includes(`PostUp = wg set wg0 private-key '/etc/wire guard/k'\\''ey'`));
  assert.throws(() => renderWgQuickConf(state(), { presharedKey: PSK }, { privateKeyFile: "wg0.key" }), /absolute/);
  assert.throws(() => renderWgQuickConf(state(), { presharedKey: PSK }, { privateKeyFile: "/etc/#x" }), /'#'/);
});

test("per-pair PSKs (issue 16): each peer's own key (by public key) in its section; parsed back per peer", () => {
  const s = state();
  (s.peers[1] as { presharedKey: boolean }).presharedKey = true;
  const PSK2 = Buffer.alloc(32, 0x66).toString("base64");
  const text = renderWgQuickConf(s, { privateKey: PRIV, presharedKeys: { [PA]: PSK, [PB]: PSK2 } });
  assert.match(text, new RegExp(`PublicKey = ${PA.replace(/[+/]/g, "\\$&")}\nPresharedKey = ${PSK.replace(/[+/]/g, "\\$&")}\n`));
  assert.match(text, new RegExp(`PublicKey = ${PB.replace(/[+/]/g, "\\$&")}\nPresharedKey = ${PSK2.replace(/[+/]/g, "\\$&")}\n`));
  const back = parseWgQuickConf(text);
  assert.deepEqual(back.secrets.presharedKeys, { [PA]: PSK, [PB]: PSK2 });
  assert.equal(back.secrets.presharedKey, undefined, "no single shared PSK");
  assert.equal(renderWgQuickConf(s, back.secrets), text, "the parsed secrets render the same file");
  // A peer without its own key falls back to the shared one; with neither, the error names the peer only.
  assert.equal(renderWgQuickConf(s, { privateKey: PRIV, presharedKey: PSK2, presharedKeys: { [PA]: PSK } }), text);
  assert.throws(() => renderWgQuickConf(s, { privateKey: PRIV, presharedKeys: { [PA]: PSK } }), (e: Error) => /the preshared key of peer nat1 is required/.test(e.message) && !e.message.includes(PSK));
});
