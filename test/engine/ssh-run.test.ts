/**
 * `SshSession.run` against a REAL sshd on 127.0.0.1: the script travels on stdin to `sh -s` (secrets never
 * in any process's argv, sampled from /proc while it runs), is parsed whole before it runs, gets its own
 * stdin data without expansion, reports exit status/stderr, obeys timeouts, and logs no secrets.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, SshError, type SshSession } from "../../provider/src/engine/ssh";
import { redactSecrets, withSecretOnStdin } from "../../provider/src/planner/commands";
import { fileCleanups, genKey, type Sshd, startSshd, tempDir } from "./sshd/sshd";

const cleanups = fileCleanups();

/** All processes' argv (NUL-joined) right now. */
function allCmdlines(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(fs.readFileSync(`/proc/${pid}/cmdline`).toString("latin1"));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe("running scripts over a real sshd", () => {
  let work: string;
  let sshd: Sshd;
  let session: SshSession;
  const logs: string[] = [];

  before(async () => {
    work = tempDir("wgmesh-run-test-");
    cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
    const key = genKey(work, "id_test");
    sshd = await startSshd({ authorizedKeys: [key.publicKey] });
    cleanups.push(() => sshd.stop());
    session = await connect({ host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey, hostKey: sshd.hostKeyPub },
      { logger: (level, m) => logs.push(`${level} ${m}`) });
    cleanups.push(() => session.close());
  });

  it("runs a multi-line script from stdin and reports stdout, stderr and the exit status", async () => {
    const r = await session.run([
      "x='a b'",
      "cat <<EOF",
      "x is $x",
      "EOF",
      "echo to-stderr >&2",
      "exit 3",
    ].join("\n"));
    assert.equal(r.stdout, "x is a b\n");
    assert.equal(r.stderr, "to-stderr\n");
    assert.equal(r.exitCode, 3);
    assert.equal(r.signal, null);
  });

  it("secrets in the script never appear in any process's argv (sampled from /proc while it runs)", async () => {
    const secret = `SECRET${randomBytes(16).toString("hex")}`;
    const nap = `0.0${Math.floor(Math.random() * 900 + 100)}`; // a unique, non-secret sleep argument
    // The script runs until the sampler has seen it often enough (not for a fixed time: on a loaded machine
    // with many processes — a 100-host testbed beside this suite — one sweep of /proc took long enough that
    // a fixed 1.8 s gave fewer than 10 samples).
    const release = path.join(work, `release-${randomBytes(4).toString("hex")}`);
    const script = `SECRET_VALUE='${secret}'\nprintf '%s' "$SECRET_VALUE" >/dev/null\nwhile [ ! -e '${release}' ]; do sleep ${nap}; done\necho done\n`;
    let samples = 0;
    let overlapping = 0;
    let leaked: string | null = null;
    let finished = false;
    const running = session.run(script, { label: "secret-test" }).finally(() => { finished = true; });
    const sampler = (async () => {
      const giveUp = Date.now() + 120_000;
      while (!finished) {
        let sawSleep = false;
        for (const c of allCmdlines()) {
          if (c.includes(secret)) leaked = c.replace(/\0/g, " ");
          if (c === `sleep\0${nap}\0`) sawSleep = true;
        }
        samples++;
        if (sawSleep) overlapping++;
        if ((overlapping >= 10 || Date.now() > giveUp) && !fs.existsSync(release)) fs.writeFileSync(release, "");
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const [r] = await Promise.all([running, sampler]);
    assert.equal(r.stdout, "done\n");
    assert.ok(overlapping >= 10, `the sampling overlapped the running script (${overlapping} of ${samples} samples)`);
    assert.equal(leaked, null, `secret found in argv: ${leaked}`);
    assert.ok(!logs.join("\n").includes(secret), "secret not in the logs");
    assert.ok(logs.some((l) => l.includes("run secret-test (") && l.includes("bytes")), "a summary was logged");
  });

  it("hands stdin data to the script verbatim (no expansion), and /dev/null otherwise so nothing eats the script", async () => {
    const data = "line with 'quotes' \"dq\" $HOME `date` \\ and\nWGMESH_STDIN_fake\nlast";
    const r = await session.run("cat\necho after-cat", { stdin: data });
    assert.equal(r.stdout, `${data}\nafter-cat\n`);
    const r2 = await session.run("cat\necho after-cat");
    assert.equal(r2.stdout, "after-cat\n", "cat read /dev/null, not the rest of the script");
  });

  it("parses the whole script before running any of it: a syntax error at the end runs nothing", async () => {
    const marker = path.join(work, "ran-partially");
    const r = await session.run(`touch '${marker}'\nif then fi fi\n`);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /syntax error/i);
    assert.equal(fs.existsSync(marker), false);
  });

  it("logs a redacted script when given the planner's redactSecrets, never the secret", async () => {
    const secret = `psk-${randomBytes(12).toString("hex")}`;
    const script = withSecretOnStdin("cat >/dev/null", secret) + "\necho ok\n";
    logs.length = 0;
    const r = await session.run(script, { label: "redacted", redact: redactSecrets });
    assert.equal(r.stdout, "ok\n");
    const text = logs.join("\n");
    assert.ok(text.includes("[secret redacted]"), text);
    assert.ok(text.includes("cat >/dev/null"), text);
    assert.ok(!text.includes(secret));
  });

  it("aborts a run after timeoutMs with an exec error, and the session stays usable", async () => {
    await assert.rejects(session.run("sleep 5", { timeoutMs: 300, label: "slow" }),
      (e: unknown) => e instanceof SshError && e.code === "exec" && /slow did not finish within 300 ms/.test(e.message));
    assert.equal((await session.run("echo still-here")).stdout, "still-here\n");
  });

  it("a connection lost during a run rejects with a 'closed' error, and later runs say the session is closed", async () => {
    const key = genKey(work, "id_lost");
    fs.appendFileSync(sshd.authorizedKeysFile, `${key.publicKey}\n`);
    const s = await connect({ host: "127.0.0.1", port: sshd.port, privateKey: key.privateKey, hostKey: sshd.hostKeyPub });
    // The script kills its own sshd session process: the TCP connection drops mid-run.
    await assert.rejects(s.run("sleep 0.2; kill -KILL $PPID; sleep 5", { label: "doomed" }),
      (e: unknown) => e instanceof SshError && e.code === "closed" && /connection lost during doomed/.test(e.message));
    await assert.rejects(s.run("true"), (e: unknown) => e instanceof SshError && e.code === "closed");
    await s.close();
  });

  it("reports death by signal", async () => {
    const r = await session.run("kill -KILL $$");
    assert.equal(r.exitCode, null);
    assert.equal(r.signal, "SIGKILL");
  });
});
