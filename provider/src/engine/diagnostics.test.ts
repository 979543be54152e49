import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPair } from "../core/keys";
import { lastStep, renderChangeScript } from "./changes";
import { evidencePrelude, packageErrorLines, parseEvidence, redactAll, stepFailureMessage, tagStep } from "./diagnostics";
import type { Step } from "./types";

const unitStep: Step = { kind: "operation", op: { kind: "interface-up" }, description: "interface-up (systemctl start)", script: "echo 'Job for wg-quick@wg0.service failed because the control process exited with error code.' >&2; false" };

describe("diagnostics of a failed step", () => {
  it("a failing unit step prints systemctl status and the journal in the same round trip (real sh); other steps print nothing", () => {
    const script = renderChangeScript("wg0", ([{ kind: "operation", description: "ok", script: "true" }, unitStep] as Step[]).map(tagStep), { prelude: evidencePrelude("wg0"), verify: false });
    const r = spawnSync("/bin/sh", ["-s"], { input: script, encoding: "utf8" });
    assert.notEqual(r.status, 0, "the script's failure survives the trap");
    assert.equal(lastStep(r.stdout), 1);
    const ev = parseEvidence(r.stdout);
    assert.ok(ev, r.stdout);
    assert.ok(ev.status.length > 0 && ev.journal.length > 0, "both parts present (whatever this machine's systemctl says)");
    const msg = stepFailureMessage("web1", unitStep, String(r.status), r.stdout, r.stderr, [], "wg-quick@wg0");
    assert.match(msg, /^node web1: step "interface-up \(systemctl start\)" failed \(exit 1\): Job for wg-quick@wg0\.service failed/);
    assert.match(msg, /\n {2}systemctl status wg-quick@wg0:\n {4}/);
    assert.match(msg, /\n {2}journalctl -u wg-quick@wg0 \(last \d+ lines\):\n {4}/);
    assert.match(msg, /\n {2}Fix: the journal lines above say why wg-quick@wg0 failed/);

    const plain = renderChangeScript("wg0", ([{ kind: "write-conf", description: "write", script: "echo disk full >&2; false" }] as Step[]).map(tagStep), { prelude: evidencePrelude("wg0"), verify: false });
    const p = spawnSync("/bin/sh", ["-s"], { input: plain, encoding: "utf8" });
    assert.notEqual(p.status, 0);
    assert.equal(parseEvidence(p.stdout), null);
    const ok = spawnSync("/bin/sh", ["-s"], { input: renderChangeScript("wg0", [tagStep({ ...unitStep, script: "true" })], { prelude: evidencePrelude("wg0"), verify: false }), encoding: "utf8" });
    assert.equal(ok.status, 0);
    assert.equal(lastStep(ok.stdout), "done");
  });

  it("wireguard-go out of inotify instances: the evidence names the limit and the fix", () => {
    const stdout = [
      "@@WGMESH-STEP@@ 3",
      "@@WGMESH-EVIDENCE-BEGIN@@",
      "@@WGMESH-EVIDENCE@@ status",
      "× wg-quick@wg0.service - WireGuard via wg-quick(8) for wg0",
      "     Active: failed (Result: exit-code)",
      "@@WGMESH-EVIDENCE@@ journal",
      "Dec 05 10:18:57 h1 wg-quick[99]: [#] wg setconf wg0 /dev/fd/63",
      "Dec 05 10:18:57 h1 wg-quick[118]: Unable to modify interface: Protocol not supported",
      "@@WGMESH-EVIDENCE@@ inotify",
      "max_user_instances=128",
      "tail: inotify cannot be used, reverting to polling: Too many open files",
      "@@WGMESH-EVIDENCE-END@@",
    ].join("\n");
    const ev = parseEvidence(stdout)!;
    assert.deepEqual(ev.inotify, { maxUserInstances: 128, failure: "tail: inotify cannot be used, reverting to polling: Too many open files" });
    assert.equal(ev.journal.length, 2);
    const msg = stepFailureMessage("app1", unitStep, "1", stdout, "Job for wg-quick@wg0.service failed.\n", [], "wg-quick@wg0");
    assert.match(msg, /Unable to modify interface: Protocol not supported/);
    assert.match(msg, /inotify: tail: inotify cannot be used.*\(fs\.inotify\.max_user_instances = 128\)/);
    assert.match(msg, /Fix: wireguard-go needs an inotify instance .*\(sysctl -w fs\.inotify\.max_user_instances=8192/);
  });

  it("a failed install names the package manager's error line first", () => {
    const stderr = [
      "Reading package lists...",
      "Building dependency tree...",
      "Package wireguard-go is not available, but is referred to by another package.",
      "E: Package 'wireguard-go' has no installation candidate",
      "wgmesh: apt-get install wireguard-tools wireguard-go failed",
    ].join("\n");
    assert.deepEqual(packageErrorLines(stderr), ["E: Package 'wireguard-go' has no installation candidate"]);
    const install: Step = { kind: "install", description: "install wireguard-tools, wireguard-go", script: "" };
    const msg = stepFailureMessage("db1", install, "1", "", stderr, [], "wg-quick@wg0");
    assert.match(msg, /^node db1: step "install wireguard-tools, wireguard-go" failed \(exit 1\): E: Package 'wireguard-go' has no installation candidate\n/);
    assert.match(msg, /package manager output \(last lines\):\n {4}Reading package lists/);
    assert.match(msg, /Fix: make the package installable/);
    assert.deepEqual(packageErrorLines("Error: Unable to find a match: wireguard-tools\nNo match for argument: wireguard-tools"), ["Error: Unable to find a match: wireguard-tools", "No match for argument: wireguard-tools"]);
  });

  it("secrets never reach the message: here-documents and the node's own keys are redacted", () => {
    const k = generateKeyPair();
    const stdout = `@@WGMESH-EVIDENCE-BEGIN@@\n@@WGMESH-EVIDENCE@@ status\nx\n@@WGMESH-EVIDENCE@@ journal\nwg-quick: PrivateKey = ${k.privateKey}\n@@WGMESH-EVIDENCE-END@@\n`;
    const stderr = `cat <<'WGMESH_SECRET_EOF'\n${k.privateKey}\nWGMESH_SECRET_EOF\nboom ${k.privateKey}\n`;
    const msg = stepFailureMessage("n", unitStep, "1", stdout, stderr, [k.privateKey], "wg-quick@wg0");
    assert.ok(!msg.includes(k.privateKey), msg);
    assert.match(msg, /\[secret redacted\]/);
    assert.equal(redactAll(`a ${k.privateKey} b`, [k.privateKey]), "a [secret redacted] b");
  });
});
