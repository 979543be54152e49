import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { decodeKey, generatePrivateKey, isValidKey, keyFromStdin, publicKeyFromPrivate } from "./keys";

const WG = "/usr/bin/wg";
const wg = (args: string[], input?: string | Buffer) => spawnSync(WG, args, { input });

describe("against wireguard-tools", () => {
  test("public keys of 'wg genkey' keys equal 'wg pubkey' output", () => {
    for (let i = 0; i < 100; i++) {
      const priv = execFileSync(WG, ["genkey"], { encoding: "utf8" }).trim();
      const expected = execFileSync(WG, ["pubkey"], { input: `${priv}\n`, encoding: "utf8" }).trim();
      assert.equal(publicKeyFromPrivate(priv), expected);
    }
  });

  test("unclamped random scalars: same public key as 'wg pubkey' (clamping happens inside X25519)", () => {
    for (let i = 0; i < 100; i++) {
      const priv = randomBytes(32).toString("base64");
      const expected = execFileSync(WG, ["pubkey"], { input: priv, encoding: "utf8" }).trim();
      assert.equal(publicKeyFromPrivate(priv), expected);
    }
  });

  test("our private keys are clamped like wg genkey's and accepted by wg pubkey with the same result", () => {
    for (let i = 0; i < 100; i++) {
      const priv = generatePrivateKey();
      assert.equal(priv.length, 44);
      const b = decodeKey(priv);
      assert.equal((b[0] as number) & 7, 0);
      assert.equal((b[31] as number) & 0x80, 0);
      assert.equal((b[31] as number) & 0x40, 0x40);
      assert.equal(execFileSync(WG, ["pubkey"], { input: priv, encoding: "utf8" }).trim(), publicKeyFromPrivate(priv));
    }
  });

  test("stdin rules: accepted and rejected exactly where 'wg pubkey' accepts and rejects", () => {
    const good = execFileSync(WG, ["genkey"], { encoding: "utf8" }).trim();
    const nonCanonical = `${good.slice(0, 42)}${good[42] === "A" ? "B" : "A"}=`;
    const cases: Array<string | Buffer> = [
      good, `${good}\n`, `${good}\r\n`, `${good}   \t\n\n`, Buffer.concat([Buffer.from(good), Buffer.from([0, 0x0b, 0x0c])]),
      ` ${good}`, `${good}x`, `${good}\nsecond`, good.slice(0, 43), `${good.slice(0, 43)}A`, good.slice(0, 40), "",
      nonCanonical, `${good.slice(0, 10)}*${good.slice(11)}`, `${good.slice(0, 10)}-${good.slice(11)}`,
      `${good.slice(0, 42)}==`, Buffer.concat([Buffer.from(good.slice(0, 20)), Buffer.from([0]), Buffer.from(good.slice(21))]),
    ];
    for (const c of cases) {
      const r = wg(["pubkey"], c);
      let ours: string | null;
      try { ours = publicKeyFromPrivate(keyFromStdin(Buffer.from(c))); } catch { ours = null; }
      const label = JSON.stringify(c.toString());
      if (r.status === 0) assert.equal(`${ours}\n`, r.stdout.toString(), `accept ${label}`);
      else assert.equal(ours, null, `wg rejects ${label}, so must we`);
    }
  });
});

describe("key syntax", () => {
  test("isValidKey: 44 chars of canonical base64 decoding to 32 bytes", () => {
    const k = Buffer.alloc(32, 7).toString("base64");
    assert.ok(isValidKey(k));
    assert.ok(!isValidKey(k.slice(0, 43)));
    assert.ok(!isValidKey(`${k}=`));
    assert.ok(!isValidKey(k.replace("=", "A")));
    assert.ok(!isValidKey(Buffer.alloc(33).toString("base64")));
    assert.ok(!isValidKey(Buffer.alloc(31).toString("base64")));
    assert.ok(!isValidKey(`${k.slice(0, 42)}B=`), "non-zero unused bits");
    assert.ok(!isValidKey(k.replace(/^./, "_")));
    assert.ok(!isValidKey(undefined));
    assert.ok(!isValidKey(42));
  });

  test("decode errors never echo the value", () => {
    const secret = "SECRETSECRETSECRET";
    assert.throws(() => publicKeyFromPrivate(secret), (e: Error) => !e.message.includes(secret) && /not a valid WireGuard key/.test(e.message));
    assert.throws(() => keyFromStdin(Buffer.from(`${"A".repeat(43)}=${secret}`)), (e: Error) => !e.message.includes(secret));
  });
});
