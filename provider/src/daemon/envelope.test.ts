import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { openEnvelope, sealEnvelope, decodeStdBase64 } from "./envelope";
import { deriveParams } from "./derive";
import { encodeAnnouncement } from "./messages";

const KEY_A = Buffer.from("a7caed3e6cf2f928cfe1b96616819855a142f2fdfe28e257885af73993310d5f", "hex");
const PLAIN = '{"protocol":"wgmesh-v1","wg_pubkey":"B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=","hostname":"node-a","mesh_ip":"10.53.46.186","wg_endpoint":"0.0.0.0:51820","timestamp":1800000000}';
const ENVELOPE = '{"type":"HELLO","nonce":"AAECAwQFBgcICQoL","ciphertext":"98p4ZTe/cxQvMB9ZLavyH5qn7xkeUmFOCuHIkHMFZRbn239eYXZk3mGdxngLLxQsWxK5wgD4d/G28lx5Q8rGn0sP7ElKHWxbZKsRAH30dNdRLpANI9z32B9Q6VplW23AsSQhSIpW8A493Ta1srgNQU01MTAN+TMdZbC/P++t2/AlokOV8c8laO2Hz5dY24wRsCxtbOzR6h6DTxcG8LgX2pbcn7WGYcRUz9RtO6G8vZ2BlvBKWOHekXmMbwCO7d3b6/LN52Y="}';
const T = 1800000000;

test("§2.4 fixed-nonce vector: our seal is byte-identical to Go's, and our encoder writes the same plaintext", () => {
  assert.equal(Buffer.byteLength(PLAIN), 181);
  const encoded = encodeAnnouncement({
    protocol: "wgmesh-v1", wg_pubkey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=", hostname: "node-a",
    mesh_ip: "10.53.46.186", wg_endpoint: "0.0.0.0:51820", timestamp: T,
  });
  assert.equal(encoded, PLAIN);
  const sealed = sealEnvelope("HELLO", encoded, KEY_A, Buffer.from("000102030405060708090a0b", "hex"));
  assert.equal(sealed.toString(), ENVELOPE);
  assert.equal(sealed.length, 323);
  const ct = Buffer.from(JSON.parse(ENVELOPE).ciphertext, "base64");
  assert.equal(ct.subarray(ct.length - 16).toString("hex"), "e1de91798c6f008eeddddbebf2cde766");
});

test("§2.4 vector opens with the vector-A key derived from the secret", () => {
  const key = deriveParams("wgmesh-test-vector-secret-0001").gossipKey;
  const r = openEnvelope(Buffer.from(ENVELOPE), key, T);
  assert.ok(r.ok);
  assert.equal(r.type, "HELLO");
  assert.equal(r.plaintext.toString(), PLAIN);
  assert.equal(r.payload["mesh_ip"], "10.53.46.186");
});

test("timestamp window: ±600 s accepted inclusive, 601 s rejected either way", () => {
  const env = Buffer.from(ENVELOPE);
  assert.ok(openEnvelope(env, KEY_A, T + 600).ok);
  assert.ok(openEnvelope(env, KEY_A, T - 600).ok);
  assert.deepEqual(pick(openEnvelope(env, KEY_A, T + 601)), "too-old");
  assert.deepEqual(pick(openEnvelope(env, KEY_A, T - 601)), "in-future");
});

function pick(r: ReturnType<typeof openEnvelope>): string {
  return r.ok ? "ok" : r.reason;
}

test("acceptance checks report each failure by reason", () => {
  const n = Buffer.alloc(12, 7);
  const seal = (p: string, type = "HELLO"): Buffer => sealEnvelope(type, p, KEY_A, n);
  assert.equal(pick(openEnvelope(Buffer.from("not json"), KEY_A, T)), "malformed-json");
  assert.equal(pick(openEnvelope(Buffer.from("[1,2]"), KEY_A, T)), "malformed-json");
  assert.equal(pick(openEnvelope(Buffer.from('{"type":"HELLO","nonce":"AAEC","ciphertext":"AAAA"}'), KEY_A, T)), "bad-nonce");
  assert.equal(pick(openEnvelope(Buffer.from('{"type":"HELLO","nonce":"AAECAwQFBgcICQoL"}'), KEY_A, T)), "auth-failed");
  // unpadded / url-safe base64 is refused (Go writes padded standard base64 only)
  assert.equal(pick(openEnvelope(Buffer.from('{"type":"HELLO","nonce":"AAECAwQFBgcICQo_","ciphertext":"AAAA"}'), KEY_A, T)), "bad-nonce");
  assert.equal(pick(openEnvelope(seal(PLAIN), Buffer.alloc(32, 1), T)), "auth-failed");
  assert.equal(pick(openEnvelope(seal("[]"), KEY_A, T)), "malformed-payload");
  assert.equal(pick(openEnvelope(seal("{oops"), KEY_A, T)), "malformed-payload");
  assert.equal(pick(openEnvelope(seal('{"protocol":"wgmesh-v2","timestamp":1800000000}'), KEY_A, T)), "wrong-protocol");
  assert.equal(pick(openEnvelope(seal('{"protocol":"wgmesh-v1"}'), KEY_A, T)), "too-old");
  assert.equal(pick(openEnvelope(seal('{"protocol":"wgmesh-v1","timestamp":"1800000000"}'), KEY_A, T)), "malformed-payload");
  assert.equal(pick(openEnvelope(Buffer.alloc(70000, 32), KEY_A, T)), "oversize");
  // tampering with one ciphertext bit fails authentication
  const env = JSON.parse(ENVELOPE);
  const ct = Buffer.from(env.ciphertext, "base64");
  ct[5] = (ct[5] as number) ^ 1;
  env.ciphertext = ct.toString("base64");
  assert.equal(pick(openEnvelope(Buffer.from(JSON.stringify(env)), KEY_A, T)), "auth-failed");
});

test("strict padded base64", () => {
  assert.equal(decodeStdBase64("AAECAwQFBgcICQoL")?.length, 12);
  assert.equal(decodeStdBase64("AAE=")?.toString("hex"), "0001");
  assert.equal(decodeStdBase64("AAE"), undefined);
  assert.equal(decodeStdBase64("AA-_"), undefined);
  assert.equal(decodeStdBase64("AAF="), undefined); // non-canonical trailing bits
  for (const s of ["QQ=AQUFB", "QQ==QUFB", "QUF BQUF", "====", "A===", "QUFB\nQUF", "QUFBQR=="]) assert.equal(decodeStdBase64(s), undefined, s);
  assert.equal(decodeStdBase64("")?.length, 0);
});

test("property: strict base64 accepts exactly the texts that are the canonical encoding of what they decode to", () => {
  const reference = (s: string): Buffer | undefined => {
    if (s.length % 4 !== 0) return undefined;
    const b = Buffer.from(s, "base64");
    return b.toString("base64") === s ? b : undefined;
  };
  const same = (s: string): void => {
    const want = reference(s);
    const got = decodeStdBase64(s);
    assert.equal(got === undefined, want === undefined, JSON.stringify(s));
    if (want && got) assert.ok(want.equals(got));
  };
  const letter = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.\u00e9");
  fc.assert(fc.property(fc.array(letter, { maxLength: 24 }), (cs) => same(cs.join(""))), { numRuns: 5000 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.tuple(fc.nat(80), letter), { maxLength: 3 }), (bytes, edits) => {
    let s = Buffer.from(bytes).toString("base64");
    for (const [i, c] of edits) if (s.length) s = s.slice(0, i % s.length) + c + s.slice((i % s.length) + 1);
    same(s);
  }), { numRuns: 5000 });
});

test("property: random bytes and mutated valid envelopes never throw", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
    const r = openEnvelope(Buffer.from(bytes), KEY_A, T);
    assert.equal(r.ok, false);
  }), { numRuns: 2000 });
  const base = Buffer.from(ENVELOPE);
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (muts) => {
    const b = Buffer.from(base);
    for (const [i, v] of muts) b[i] = v;
    const r = openEnvelope(b, KEY_A, T);
    if (r.ok) assert.equal(r.plaintext.toString(), PLAIN); // only whitespace-equivalent edits may survive
  }), { numRuns: 3000 });
});

test("vector D: the Go repository's fixture (testdata/compat/envelope/v1) opens, and re-seals byte-identically", () => {
  const bin = '{"type":"ANNOUNCE","nonce":"cHh19v2qm0dR9mdg","ciphertext":"0sMbi/3mufY+tHfDIavjUIOc5uD0b1/ZdsvkVGSLKZiVxbJcHgPe+OLTRe+1MoN34gNzgsIM6xaqWgUytrzqrwenO1sE65bKhHadhi4NxZPa6P+buoiYz7UlXtqpWAhWwwvln/v6WqPryfEYt7HVNogVlRDJzKBAHbaqoPct0GpMsaIqmKIAbdPXGLmy090qimZ/R9Yj9qZ+3Afwx3OsmWTJIsW7e8x8V0EOoQuF8Izj1NKyOiHhJftPClQ9Hah9u+iSs93Vvw=="}';
  const expected = "eyJwcm90b2NvbCI6IndnbWVzaC12MSIsIndnX3B1YmtleSI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE9IiwiaG9zdG5hbWUiOiJjb21wYXQtdjEiLCJtZXNoX2lwIjoiMTAuNDIuMC43Iiwid2dfZW5kcG9pbnQiOiIxMjcuMC4wLjE6NTE4MjAiLCJ0aW1lc3RhbXAiOjE4MDAwMDAwMDB9";
  const key = deriveParams("wgmesh-envelope-compatibility-secret").gossipKey;
  const r = openEnvelope(Buffer.from(bin), key, T);
  assert.ok(r.ok);
  assert.equal(r.type, "ANNOUNCE");
  assert.equal(r.plaintext.toString("base64"), expected);
  const p = r.payload as Record<string, string | number>;
  const re = encodeAnnouncement({
    protocol: p["protocol"] as string, wg_pubkey: p["wg_pubkey"] as string, hostname: p["hostname"] as string,
    mesh_ip: p["mesh_ip"] as string, wg_endpoint: p["wg_endpoint"] as string, timestamp: p["timestamp"] as number,
  });
  assert.equal(re, r.plaintext.toString());
  assert.equal(sealEnvelope("ANNOUNCE", re, key, Buffer.from("cHh19v2qm0dR9mdg", "base64")).toString(), bin);
});
