// Two operators on one stack (file backend): a second `pulumi up` started while the first runs is refused
// by Pulumi's own stack lock (before it runs the program or touches a host); the first completes; nothing
// is lost — every resource in the state, the mesh pings, the next `pulumi up` is a no-op. Also: the per-node
// `health` output after up (examples/full-mesh exports it), and a change that breaks a connected peer: the up
// fails naming the node, the peer and the change, every host that has the peer is rolled back, and the stack
// keeps the previous state (issue 14's health gate through the real Pulumi engine).
import { parsePeerLines } from "../../provider/src/pulumi/lifecycle/peerLines";
import { parseHealthLines } from "../../provider/src/pulumi/lifecycle/healthLines";
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, pulumiEnv, repoRoot, toolchainMissing, type RunResult } from "./harness";
import { up, type Testbed } from "../testbed";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const NAMES = ["op1", "op2", "op3"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("two operators: concurrent pulumi up on one stack (file backend)", { skip }, () => {
  let tb: Testbed;
  let ws: Workspace;
  let dir = "";

  /** `pulumi …` in the background (the harness's runner is synchronous). */
  const pulumiAsync = (args: string[]): Promise<RunResult> => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: dir, env: ws.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr, ms: Date.now() - t0 }));
  });

  /** The lock files of the stack in the file backend. */
  const locks = (): string[] => {
    const root = path.join(ws.root, "state", ".pulumi", "locks");
    const out: string[] = [];
    const walk = (d: string) => {
      if (!fs.existsSync(d)) return;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (p: string) => { if (!p.endsWith(".attrs")) out.push(p); })(path.join(d, e.name)); // gocloud fileblob keeps a .attrs file beside each object
    };
    walk(root);
    return out;
  };

  before(async () => {
    tb = await up(3, { name: "kops" });
    ws = new Workspace(baseEnv);
    dir = ws.project("full-mesh", path.join(repoRoot, "examples/full-mesh"));
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    const hosts = NAMES.map((name, i) => ({ name, host: tb.hosts[i]!.address, port: tb.hosts[i]!.sshPort, user: "root", hostKey: tb.hosts[i]!.hostPublicKey }));
    ws.pulumiOk(dir, ["config", "set", "hosts", JSON.stringify(hosts)]);
    ws.pulumiOk(dir, ["config", "set", "--secret", "sshPrivateKey"], { input: fs.readFileSync(tb.privateKeyPath, "utf8") });
  });

  after(async () => {
    try {
      if (dir) ws.pulumi(dir, ["destroy", "--yes", "--skip-preview"]);
    } finally {
      ws?.cleanup();
      await tb?.down();
    }
  });

  test("the second up is refused by the stack lock, the first completes, nothing is lost", async () => {
    const first = pulumiAsync(["up", "--yes", "--skip-preview"]);
    // The second operator starts while the first holds the lock (the lock is taken before the program runs).
    for (let i = 0; i < 600 && locks().length === 0; i++) await sleep(50);
    assert.equal(locks().length, 1, "the first up holds the stack's lock");
    const second = await pulumiAsync(["up", "--yes", "--skip-preview"]);
    assert.notEqual(second.status, 0);
    assert.match(second.stdout + second.stderr, /the stack is currently locked by 1 lock\(s\)/);
    assert.doesNotMatch(second.stdout + second.stderr, /wgmesh \[/, "the refused run touched no host");
    const a = await first;
    assert.equal(a.status, 0, `first up:\n${a.stdout}\n${a.stderr}`);
    assert.match(a.stdout, /\+ 8 created/);
    assert.deepEqual(locks(), [], "the lock is released");

    const state = JSON.parse(ws.pulumiOk(dir, ["stack", "export"]).stdout) as { deployment: { resources: Array<{ type: string }>; pending_operations?: unknown[] } };
    assert.equal(state.deployment.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource").length, 7, "3 Nodes, the Mesh, 3 NodeConfigs");
    assert.deepEqual(state.deployment.pending_operations ?? [], []);
    const out = JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout) as { meshIps: Record<string, string>; health: Record<string, { peers: string }> };
    for (const [n, h] of Object.entries(out.health)) {
      const peers = parseHealthLines(h.peers);
      assert.deepEqual(Object.keys(peers).sort(), NAMES.filter((x) => x !== n).sort(), n);
      for (const [p, ph] of Object.entries(peers)) assert.equal(ph.state, "reachable", `${n} → ${p}`);
    }
    for (const [i, from] of NAMES.entries()) {
      for (const to of NAMES) if (to !== from) assert.equal((await tb.exec(tb.hosts[i]!.name, ["ping", "-c", "1", "-w", "10", out.meshIps[to]!])).code, 0, `${from} → ${to}`);
    }
    const again = ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
    assert.doesNotMatch(again.stdout, /created|updated|deleted/, "the next up changes nothing");
  });

  test("a change that breaks a connected peer: up fails naming node, peer and change; the hosts are rolled back; the stack keeps the previous state", async () => {
    // op2's peers are told to dial a dead port. op2 must not talk first (WireGuard would learn its real
    // address by roaming): its only unsolicited packet is the passive keepalive 10 s after the last data.
    const meshIps = (JSON.parse(ws.pulumiOk(dir, ["stack", "output", "--json"]).stdout) as { meshIps: Record<string, string> }).meshIps;
    await sleep(11_000);
    const hosts = NAMES.map((name, i) => ({ name, host: tb.hosts[i]!.address, port: tb.hosts[i]!.sshPort, user: "root", hostKey: tb.hosts[i]!.hostPublicKey }));
    const dead = `${tb.hosts[1]!.address}:9999`;
    ws.pulumiOk(dir, ["config", "set", "hosts", JSON.stringify(hosts.map((h) => (h.name === "op2" ? { ...h, publicEndpoint: dead } : h)))]);
    const broken = ws.pulumi(dir, ["up", "--yes", "--skip-preview"]);
    const text = broken.stdout + broken.stderr;
    assert.notEqual(broken.status, 0, text);
    for (const n of ["op1", "op3"]) {
      assert.match(text, new RegExp(`node ${n}: the change made 1 peer unreachable and was rolled back on this host:`), text);
    }
    assert.match(text, new RegExp(`peer op2 \\(no handshake and no traffic back within 15 s; it was connected before the change\\); changed: endpoint [0-9.]+:51820 → ${dead.replace(/\./g, "\\.")}`), text);
    assert.match(text, /op2 reachable again after/, text);
    for (const i of [0, 2]) {
      const ep = await tb.execOk(tb.hosts[i]!.name, ["wg", "show", "wg0", "endpoints"]);
      assert.match(ep, new RegExp(`${tb.hosts[1]!.address.replace(/\./g, "\\.")}:51820`), `${NAMES[i]} dials op2 where it did before`);
      assert.equal((await tb.exec(tb.hosts[i]!.name, ["ping", "-c", "1", "-w", "10", meshIps.op2!])).code, 0, `${NAMES[i]} → op2 pings after the rollback`);
    }
    const state = JSON.parse(ws.pulumiOk(dir, ["stack", "export"]).stdout) as { deployment: { resources: Array<{ urn: string; inputs: { peers?: string } }> } };
    const configs = state.deployment.resources.filter((x) => /::demo-op[13]$/.test(x.urn) && x.inputs.peers).map((x) => {
      const d = parsePeerLines(x.inputs.peers as string);
      if (!d.ok) throw new Error(`${x.urn}: peers do not read: ${d.errors.join("; ")}`);
      return { urn: x.urn, inputs: { peers: d.peers } };
    });
    assert.equal(configs.length, 2, "op1's and op3's NodeConfigs");
    for (const r of configs) assert.match(r.inputs.peers!.op2?.endpoint ?? "", /:51820$/, `${r.urn}: the stack keeps the previous (working) peers`);
    // Back to the working declaration: the hosts already run it.
    ws.pulumiOk(dir, ["config", "set", "hosts", JSON.stringify(hosts)]);
    ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
    const same = ws.pulumi(dir, ["preview", "--expect-no-changes"]);
    assert.equal(same.status, 0, `nothing left to do:\n${same.stdout}${same.stderr}`);
  });
});
