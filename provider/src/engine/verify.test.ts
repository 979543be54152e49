import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as net from "node:net";
import { parsePolicyProbe, policyProbeScript, type LivePolicyTest } from "./verify";

describe("policy tests on a host", () => {
  it("runs in a local sh: connected, refused, reply, udp not verifiable", async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const closed = await new Promise<number>((r) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => r(p)); }); });
    const tests: LivePolicyTest[] = [
      { id: "open", address: "127.0.0.1", port: `tcp/${port}`, expect: "allow" },
      { id: "closed", address: "127.0.0.1", port: `tcp/${closed}`, expect: "allow" },
      { id: "closed-deny", address: "127.0.0.1", port: `tcp/${closed}`, expect: "deny" },
      { id: "udp", address: "127.0.0.1", port: "udp/53", expect: "deny" },
    ];
    const script = policyProbeScript(tests);
    const r = await new Promise<string>((resolve) => {
      const { spawn } = require("node:child_process") as typeof import("node:child_process");
      const c = spawn("sh", ["-s"]);
      let out = "";
      c.stdout.on("data", (d: Buffer) => (out += d));
      c.on("close", () => resolve(out));
      c.stdin.end(script);
    });
    server.close();
    assert.deepEqual(parsePolicyProbe(r, tests).map((x) => [x.id, x.outcome, x.result]), [
      ["open", "connected", "pass"],
      ["closed", "refused", "pass"],
      ["closed-deny", "refused", `fail: tcp/${closed} to 127.0.0.1: refused`],
      ["udp", "not verifiable (udp)", "pass (udp: checked against the plan only)"],
    ]);
  });

  it("judges timeouts and echo replies by the expectation; refuses odd input", () => {
    const tests: LivePolicyTest[] = [
      { id: "a", address: "10.99.0.2", port: "tcp/5432", expect: "deny" },
      { id: "b", address: "10.99.0.2", port: "icmp", expect: "allow" },
      { id: "c", address: "10.99.0.2", port: "icmp", expect: "deny" },
    ];
    const out = "@@WGMESH-PROBE@@ 0 timeout\n@@WGMESH-PROBE@@ 1 no-reply\n";
    assert.deepEqual(parsePolicyProbe(out, tests).map((x) => x.result), ["pass", "fail: icmp to 10.99.0.2: no reply", "fail: icmp to 10.99.0.2: the probe could not run (bash/timeout or ping missing on the source host)"]);
    assert.throws(() => policyProbeScript([{ id: "x", address: "10.0.0.1; reboot", port: "icmp", expect: "deny" }]), /not an IP address/);
    assert.equal(spawnSync("sh", ["-n"], { input: policyProbeScript(tests) }).status, 0);
  });
});
