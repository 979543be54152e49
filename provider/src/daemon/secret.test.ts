import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseSecret, generateSecret, formatSecretUri, resolveSecretInput, SecretError, goTrimSpace } from "./secret";

test("URI forms are parsed exactly as the Go daemon does", () => {
  assert.deepEqual(parseSecret("wgmesh://v1/wgmesh-test-vector-secret-0001"), { secret: "wgmesh-test-vector-secret-0001", lowEntropy: false });
  assert.deepEqual(parseSecret("  wgmesh-test-vector-secret-0001\n"), { secret: "wgmesh-test-vector-secret-0001", lowEntropy: true });
  assert.equal(parseSecret("wgmesh://v9/abcdefghijklmnopqrstu?relay=1").secret, "abcdefghijklmnopqrstu");
  assert.equal(parseSecret("wgmesh://abcdefghijklmnopqrstu?relay=1").secret, "abcdefghijklmnopqrstu?relay=1");
  assert.equal(parseSecret("wgmesh://v1/abc/defghijklmnopqrstuvw").secret, "abc/defghijklmnopqrstuvw");
  assert.equal(parseSecret("\u00a0wgmesh://v1/abcdefghijklmnopq\u3000").secret, "abcdefghijklmnopq");
  assert.equal(goTrimSpace("\ufeffx"), "\ufeffx");
});

test("secrets shorter than 16 bytes are refused (bytes, not characters)", () => {
  assert.throws(() => parseSecret("short"), { message: "secret must be at least 16 characters" });
  assert.throws(() => parseSecret("wgmesh://v1/fifteen-chars-x"), SecretError);
  assert.equal(parseSecret("0123456789abcdef").secret, "0123456789abcdef");
  assert.equal(parseSecret("ääääääää").secret.length, 8); // 16 UTF-8 bytes
  assert.throws(() => parseSecret("wgmesh://v1/short?xxxxxxxxxxxxxxxxxxxx"), SecretError);
});

test("init secret: 128 random bytes, base64url without padding, in a v1 URI", () => {
  const s = generateSecret();
  assert.equal(s.length, 171);
  assert.match(s, /^[A-Za-z0-9_-]{171}$/);
  assert.equal(Buffer.from(s, "base64url").length, 128);
  assert.notEqual(generateSecret(), s);
  const uri = formatSecretUri(s);
  assert.equal(uri, `wgmesh://v1/${s}`);
  assert.deepEqual(parseSecret(uri), { secret: s, lowEntropy: false });
});

test("join secret sources: flag, then WGMESH_SECRET, then a 0600 WGMESH_SECRET_FILE", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgm-secret-"));
  try {
    const file = path.join(dir, "secret");
    fs.writeFileSync(file, "  wgmesh://v1/from-the-file-secret-xyz \n", { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    assert.equal(resolveSecretInput({ flag: "flag-secret", env: { WGMESH_SECRET: "env", WGMESH_SECRET_FILE: file } }), "flag-secret");
    assert.equal(resolveSecretInput({ env: { WGMESH_SECRET: "env-secret", WGMESH_SECRET_FILE: file } }), "env-secret");
    assert.equal(resolveSecretInput({ flag: "", env: { WGMESH_SECRET: "", WGMESH_SECRET_FILE: file } }), "wgmesh://v1/from-the-file-secret-xyz");
    assert.equal(resolveSecretInput({ env: {} }), undefined);
    fs.chmodSync(file, 0o644);
    assert.throws(() => resolveSecretInput({ env: { WGMESH_SECRET_FILE: file } }), (e: Error) => {
      assert.ok(e instanceof SecretError);
      assert.match(e.message, /mode 0644.*chmod 600/);
      assert.ok(!e.message.includes("from-the-file"), "the secret never appears in errors");
      return true;
    });
    assert.throws(() => resolveSecretInput({ env: { WGMESH_SECRET_FILE: path.join(dir, "missing") } }), /ENOENT/);
    assert.throws(() => resolveSecretInput({ env: { WGMESH_SECRET_FILE: dir } }), /not a regular file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
