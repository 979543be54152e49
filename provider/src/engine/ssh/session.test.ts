import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execCommand, wrapScript } from "./session";

/** Run a payload through a local `sh -s`, as sshd would. */
function shS(payload: string): { stdout: string; status: number | null } {
  const r = spawnSync("sh", ["-s"], { input: payload });
  return { stdout: r.stdout.toString(), status: r.status };
}

describe("session script wrapping", () => {
  it("runs as root with a plain `sh -s` and through a sudo -n wrapper otherwise", () => {
    assert.equal(execCommand(false), "sh -s");
    const cmd = execCommand(true);
    assert.match(cmd, /^sh -c '/);
    assert.ok(cmd.includes("exec sudo -n sh -s"));
  });

  it("the sudo wrapper fails with its marker and status 125 when sudo is missing", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-path-"));
    try {
      fs.symlinkSync("/bin/sh", path.join(bin, "sh"));
      const r = spawnSync("/bin/sh", ["-c", execCommand(true)], { env: { PATH: bin }, input: "echo should-not-run\n" });
      assert.equal(r.status, 125);
      assert.equal(r.stdout.toString(), "");
      assert.equal(r.stderr.toString(), "wgmesh-sudo-failed: sudo is not installed\n");
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it("wraps a script in one group with stdin from /dev/null or a quoted here-document", () => {
    assert.equal(wrapScript("echo a"), "{\necho a\n} </dev/null\n");
    assert.equal(shS(wrapScript("cat; echo end")).stdout, "end\n");
    const data = "a $HOME `x` 'q'\n\\n";
    assert.equal(shS(wrapScript("cat", data)).stdout, `${data}\n`);
    assert.equal(shS(wrapScript("exit 7")).status, 7);
    assert.throws(() => wrapScript("echo \0"), /NUL/);
    assert.throws(() => wrapScript("cat", "a\0b"), /NUL/);
  });
});
