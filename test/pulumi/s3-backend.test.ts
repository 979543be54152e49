// A shared state backend, for real: moto's S3-compatible server (PyPI `moto[server]`, installed by
// scripts/moto-prepare.sh in /var/cache/wgmesh/moto-<version>) started here on loopback, and Pulumi's own
// s3:// backend against it — the setup of a team that keeps its state in S3 (or MinIO, Ceph, R2, …).
// examples/full-mesh, unchanged, on 3 testbed hosts (testbed `xs3`):
//   - operator A runs `up`; operator B, in another working directory of the same project and stack, runs
//     `up` while A's update holds the stack lock → B is refused by Pulumi's lock and changes nothing;
//     A's update completes; the state in the bucket has exactly one update and one copy of each resource,
//     no lock left behind, and both operators see it (B's preview: no changes);
//   - operator C, a fresh checkout (the project files and the committed Pulumi.dev.yaml, nothing else — as
//     a CI job), changes the hosts config and runs `preview --diff`: the exact diff of that change, computed
//     from the shared state, while nothing is written to the bucket.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, pulumiEnv, repoRoot, toolchainMissing, type RunResult } from "./harness";
import { up, type Testbed } from "../testbed";
import { freePort } from "../engine/sshd/sshd";

const MOTO_VERSION = "5.2.5";
const MOTO = process.env["WGMESH_MOTO_SERVER"] ?? `/var/cache/wgmesh/moto-${MOTO_VERSION}/bin/moto_server`;
const BUCKET = "wgmesh-state";
const NAMES = ["app1", "app2", "app3"];

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false) ||
  (fs.existsSync(MOTO) ? false : `moto server not installed (${MOTO}); run: bash scripts/moto-prepare.sh`);

/** `pulumi …` as a child process, for running two operators at once. */
function pulumiAsync(ws: Workspace, cwd: string, args: string[]): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const c = spawn("pulumi", [...args, "--non-interactive"], { cwd, env: ws.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.once("error", reject);
    c.once("close", (status) => resolve({ status, stdout, stderr, ms: Date.now() - t0 }));
  });
}

describe("shared state backend: Pulumi's s3:// backend on a real S3-compatible server (moto)", { skip }, () => {
  let tb: Testbed;
  let moto: ChildProcess | undefined;
  let endpoint = "";
  const ops: Record<string, Workspace> = {};
  const dirs: Record<string, string> = {};
  const passphrase = `shared-${Date.now()}-passphrase`;

  /** Keys in the bucket under a prefix (S3 ListObjectsV2, unsigned: moto accepts it). */
  async function listKeys(prefix: string): Promise<string[]> {
    const r = await fetch(`http://${endpoint}/${BUCKET}?list-type=2&prefix=${encodeURIComponent(prefix)}`);
    assert.equal(r.status, 200, `ListObjectsV2 ${prefix}`);
    return [...(await r.text()).matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1] as string);
  }

  const hostsConfig = (extra: Record<string, object> = {}) =>
    JSON.stringify(NAMES.map((name, i) => {
      const h = tb.hosts[i]!;
      return { name, host: h.address, port: h.sshPort, user: "root", hostKey: h.hostPublicKey, ...(extra[name] ?? {}) };
    }));

  const ok = (r: RunResult, what: string): RunResult => {
    assert.equal(r.status, 0, `${what} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  };

  before(async () => {
    const port = await freePort();
    endpoint = `127.0.0.1:${port}`;
    const t0 = Date.now();
    moto = spawn(MOTO, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
    let motoLog = "";
    moto.stderr?.on("data", (d: Buffer) => (motoLog = (motoLog + d.toString()).slice(-4000)));
    for (;;) {
      try {
        if ((await fetch(`http://${endpoint}/`)).ok) break;
      } catch {
        // not listening yet
      }
      if (moto.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`moto_server did not come up on ${endpoint}\n${motoLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const created = await fetch(`http://${endpoint}/${BUCKET}`, { method: "PUT" });
    assert.equal(created.status, 200, `CreateBucket: ${await created.text()}`);
    console.log(`# moto ${MOTO_VERSION} S3 server up on ${endpoint} in ${Date.now() - t0} ms, bucket ${BUCKET} created`);

    tb = await up(3, { name: "xs3" });
    // Three operators, each with their own PULUMI_HOME (their own machine), one backend and one passphrase.
    const backend = `s3://${BUCKET}?endpoint=${endpoint}&disableSSL=true&s3ForcePathStyle=true&region=us-east-1`;
    for (const op of ["a", "b", "c"]) {
      ops[op] = new Workspace(baseEnv, {
        PULUMI_BACKEND_URL: backend,
        PULUMI_CONFIG_PASSPHRASE: passphrase,
        AWS_ACCESS_KEY_ID: "wgmesh-test",
        AWS_SECRET_ACCESS_KEY: "wgmesh-test-secret",
        AWS_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
      });
      delete ops[op]!.env["AWS_PROFILE"];
    }
    dirs["a"] = ops["a"]!.project("full-mesh", path.join(repoRoot, "examples/full-mesh"));
    const a = ops["a"]!;
    ok(a.pulumi(dirs["a"]!, ["stack", "init", "dev"]), "stack init");
    ok(a.pulumi(dirs["a"]!, ["config", "set", "hosts", hostsConfig(), "--stack", "dev"]), "config set hosts");
    ok(a.pulumi(dirs["a"]!, ["config", "set", "--secret", "sshPrivateKey", "--stack", "dev"], { input: fs.readFileSync(tb.privateKeyPath, "utf8") }), "config set sshPrivateKey");
    // B works in its own checkout of the same project: the files plus the committed stack settings.
    dirs["b"] = ops["b"]!.project("full-mesh", path.join(repoRoot, "examples/full-mesh"));
    fs.copyFileSync(path.join(dirs["a"]!, "Pulumi.dev.yaml"), path.join(dirs["b"]!, "Pulumi.dev.yaml"));
  });

  after(async () => {
    try {
      if (dirs["a"] && ops["a"]) ops["a"].pulumi(dirs["a"], ["destroy", "--yes", "--skip-preview", "--stack", "dev"]);
    } finally {
      for (const w of Object.values(ops)) w.cleanup();
      moto?.kill("SIGTERM");
      await tb?.down();
    }
  });

  test("two operators run up at once: B is refused by the stack lock, A completes, the state is whole", async (t) => {
    const a = ops["a"]!;
    const b = ops["b"]!;
    assert.deepEqual(await listKeys(".pulumi/locks/"), [], "no lock before");
    const upA = pulumiAsync(a, dirs["a"]!, ["up", "--yes", "--skip-preview", "--stack", "dev"]);
    // B starts while A's update holds the lock (the lock object is in the bucket).
    const t0 = Date.now();
    let locks: string[] = [];
    while ((locks = await listKeys(".pulumi/locks/")).length === 0) {
      if (Date.now() - t0 > 120_000) throw new Error(`A's lock never appeared in the bucket\n${JSON.stringify(await upA)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const upB = await pulumiAsync(b, dirs["b"]!, ["up", "--yes", "--skip-preview", "--stack", "dev"]);
    const ra = await upA;
    assert.match(locks[0]!, /^\.pulumi\/locks\/organization\/wgmesh-full-mesh\/dev\/[0-9a-f-]+\.json$/);
    t.diagnostic(`A: up (3 hosts, install + configure) ${ra.ms} ms; B refused after ${upB.ms} ms`);
    assert.notEqual(upB.status, 0, `B must be refused while A holds the lock:\n${upB.stdout}\n${upB.stderr}`);
    assert.match(upB.stdout + upB.stderr, /the stack is currently locked by 1 lock\(s\)/);
    ok(ra, "A's up");
    assert.match(ra.stdout, /\+ 8 created/);

    // The state: one update (A's), each resource once, no pending operation, no lock left.
    assert.deepEqual(await listKeys(".pulumi/locks/"), [], "no lock after");
    const history = JSON.parse(ok(b.pulumi(dirs["b"]!, ["stack", "history", "--json", "--stack", "dev"]), "history").stdout) as { kind: string; result: string }[];
    assert.deepEqual(history.map((h) => `${h.kind}:${h.result}`), ["update:succeeded"]);
    const state = JSON.parse(ok(b.pulumi(dirs["b"]!, ["stack", "export", "--stack", "dev"]), "export").stdout) as { deployment: { resources: { urn: string }[]; pending_operations?: unknown[] } };
    const urns = state.deployment.resources.map((r) => r.urn);
    assert.equal(new Set(urns).size, urns.length, "each resource once");
    assert.equal(urns.filter((u) => u.includes("dynamic:Resource")).length, 7, "3 Nodes, the Mesh, 3 NodeConfigs");
    assert.deepEqual(state.deployment.pending_operations ?? [], []);
    // B, refused before, now sees A's state: nothing to do.
    const noChange = b.pulumi(dirs["b"]!, ["preview", "--expect-no-changes", "--stack", "dev"]);
    assert.equal(noChange.status, 0, `B sees A's update:\n${noChange.stdout}\n${noChange.stderr}`);
  });

  test("a third operator's preview --diff from a fresh checkout shows the exact diff, and writes nothing", async (t) => {
    const c = ops["c"]!;
    dirs["c"] = c.project("full-mesh", path.join(repoRoot, "examples/full-mesh"));
    fs.copyFileSync(path.join(dirs["a"]!, "Pulumi.dev.yaml"), path.join(dirs["c"]!, "Pulumi.dev.yaml"));
    // The change under review: app1 routes 192.168.60.0/24 for the mesh.
    ok(c.pulumi(dirs["c"]!, ["config", "set", "hosts", hostsConfig({ app1: { routableNetworks: ["192.168.60.0/24"] } }), "--stack", "dev"]), "config set");
    const before = await listKeys(".pulumi/");
    const p = ok(c.pulumi(dirs["c"]!, ["preview", "--diff", "--stack", "dev"]), "preview --diff");
    t.diagnostic(`C: preview --diff from a fresh checkout ${p.ms} ms`);
    const s = p.stdout;
    const section = (name: string): string => {
      const i = s.indexOf(`dynamic:Resource::${name}]`);
      assert.ok(i >= 0, `${name} in the preview:\n${s}`);
      const j = s.indexOf("pulumi-nodejs:dynamic:Resource:", i);
      return s.slice(i, j < 0 ? undefined : j);
    };
    // app1 starts forwarding; app2 and app3 get app1's network in its AllowedIPs and a route; nothing else.
    assert.match(section("demo-app1"), /~ forwarding\s*: false => true/);
    for (const n of ["demo-app2", "demo-app3"]) {
      const sec = section(n);
      assert.match(sec, /^\s*\+ app1 key=\S+ allowedIps=10\.99\.0\.\d+\/32,192\.168\.60\.0\/24( |$)/m, `${n}:\n${sec}`);
      assert.match(sec, /~ routes\s*: \[\s*\+ \[0\]: "192\.168\.60\.0\/24"/, `${n}:\n${sec}`);
      assert.doesNotMatch(sec, /^\s*[-+] app[23] key=/m, `${n}: its other peer is unchanged`);
    }
    assert.doesNotMatch(s, /\(create\)|\(delete\)|\(replace\)/);
    assert.match(s, /~ \d+ to update/);
    assert.match(s, /\d+ unchanged/);
    // A preview writes nothing to the shared state (no update, no lock left, same objects).
    assert.deepEqual(await listKeys(".pulumi/"), before);
    const history = JSON.parse(ok(c.pulumi(dirs["c"]!, ["stack", "history", "--json", "--stack", "dev"]), "history").stdout) as unknown[];
    assert.equal(history.length, 1);
  });
});
