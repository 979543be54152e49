// Decentralized mode through the provider plugin: a Pulumi YAML program (examples/yaml-decentralized)
// with one wgmesh:MeshSecret and two wgmesh:DecentralizedNodes, run by the real CLI, pulumi-language-yaml and
// the plugin installed from its tarball (which must carry the daemon artifact), against 2 testbed hosts on one
// LAN segment (LAN discovery on, DHT off):
//   up → outputs (mesh IP, public key) are what the hosts say, the secret only in a 0600 file and as a secret
//   in the state → the daemons peer (`wgmesh peers count`, pings over mesh IPs) → no-change preview → a daemon
//   stopped by hand shows in refresh, up repairs it → destroy leaves no binary, config, unit or interface.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { down, up, type Testbed } from "../testbed";
import { outputViolations, unwrappedSecrets } from "../../provider/src/plugin/conform";
import { Workspace, configure, installPluginTarball, loadSchema, missing, repoRoot, type Run } from "./plugin/e2e";

const TESTBED = "p8yaml";
const TYPES = { secret: "wgmesh:index:MeshSecret", node: "wgmesh:index:DecentralizedNode" };
const skip = missing(true) ||
  (fs.existsSync(path.join(repoRoot, "dist/artifact/manifest.json")) ? false : "the daemon artifact is missing (make daemon-artifact)");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outputs {
  meshSecret: string;
  meshSubnet: string;
  gossipPort: number;
  nodes: Array<{ hostname: string; meshIp: string; publicKey: string }>;
}

describe("YAML through the plugin: MeshSecret + 2 DecentralizedNodes on 2 testbed hosts, LAN discovery (real engine)", { skip, timeout: 900_000 }, () => {
  let ws: Workspace;
  let tb: Testbed;
  let dir = "";
  let secret = "";
  const recorded: Run[] = [];
  const pulumi = (args: string[], input?: string): Run => {
    const r = ws.pulumi(dir, args, input);
    recorded.push(r);
    return r;
  };
  const pulumiOk = (args: string[]): Run => {
    const r = pulumi(args);
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  };
  const outputs = () => JSON.parse(pulumiOk(["stack", "output", "--json"]).stdout) as Outputs;
  const host = (i: number) => tb.hosts[i]!.name;

  /** Until `wgmesh peers count` says 1 on both hosts and each pings the other's mesh IP. */
  async function meshUp(out: Outputs, within = 90_000): Promise<number> {
    const t0 = Date.now();
    let last = "";
    while (Date.now() - t0 < within) {
      last = "";
      for (let i = 0; i < 2; i++) {
        const c = await tb.exec(host(i), ["wgmesh", "peers", "count"]);
        if (!c.stdout.includes("Active peers: 1\n")) last += `${host(i)}: ${(c.stdout + c.stderr).trim() || "(no answer)"}; `;
      }
      if (last === "") {
        const p = await Promise.all([0, 1].map((i) => tb.exec(host(i), ["ping", "-n", "-c", "1", "-i", "0.5", "-w", "20", out.nodes[1 - i]!.meshIp])));
        if (p.every((r) => r.code === 0)) return Date.now() - t0;
        last = `no ping: ${p.map((r, i) => `${host(i)} → ${out.nodes[1 - i]!.meshIp}: exit ${r.code}`).join(", ")}`;
      }
      await sleep(1000);
    }
    const logs = await Promise.all([0, 1].map(async (i) => `--- ${host(i)}\n${(await tb.exec(host(i), ["journalctl", "-u", "wgmesh", "-n", "30", "--no-pager"])).stdout}`));
    return assert.fail(`the two daemons did not peer within ${within} ms (${last})\n${logs.join("\n")}`);
  }

  before(async () => {
    ws = new Workspace();
    // The plugin must find the artifact it was packed with, not one named by the environment.
    delete ws.env.WGMESH_DAEMON_ARTIFACT_DIR;
    const t0 = Date.now();
    const tgz = installPluginTarball(ws);
    console.log(`# plugin tarball ${(fs.statSync(tgz).size / 1e6).toFixed(1)} MB, packed and installed in ${Date.now() - t0} ms`);
    tb = await up(2, { name: TESTBED, subnet: "172.31.95.0/24" });
    dir = ws.project(path.join(repoRoot, "examples/yaml-decentralized"));
    pulumiOk(["stack", "init", "dev"]);
    configure(ws, dir, tb);
  });

  after(async () => {
    try {
      if (dir && ws) ws.pulumi(dir, ["destroy", "--yes", "--skip-preview"]);
    } finally {
      ws?.cleanup();
      await down(TESTBED);
    }
  });

  test("up: outputs are the hosts' own key and address; the secret only in a 0600 file and encrypted in the state; state conforms to schema.json", async (t) => {
    const r = pulumiOk(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (MeshSecret + 2 DecentralizedNodes, incl. apt install and daemon upload): ${r.ms} ms wall`);
    assert.match(r.stdout, /4 created/, r.stdout);
    const out = outputs();
    assert.match(JSON.stringify(out.meshSecret), /secret/i, "the secret output is shown as [secret]");
    const shown = ws.pulumi(dir, ["stack", "output", "--json", "--show-secrets"]); // not recorded: it shows the secret on purpose
    assert.equal(shown.status, 0, shown.stderr);
    secret = (JSON.parse(shown.stdout) as Outputs).meshSecret;
    assert.match(secret, /^wgmesh:\/\/v1\/[A-Za-z0-9_-]{171}$/);
    assert.deepEqual(out.nodes.map((n) => n.hostname), [host(0), host(1)]);
    const prefix = out.meshSubnet.split("/")[0]!.split(".").slice(0, 2).join(".");
    const digest = createHash("sha256").update(`${secret}\n`).digest("hex");
    for (let i = 0; i < 2; i++) {
      const h = host(i);
      const n = out.nodes[i]!;
      assert.equal((await tb.execOk(h, ["wg", "show", "wg0", "public-key"])).trim(), n.publicKey, `${h}: publicKey output is wg0's key`);
      const addrs = await tb.execOk(h, ["ip", "-4", "-o", "addr", "show", "dev", "wg0"]);
      assert.match(addrs, new RegExp(`inet ${n.meshIp.replace(/\./g, "\\.")}/`), `${h}: meshIp output ${n.meshIp} is on wg0`);
      assert.ok(n.meshIp.startsWith(`${prefix}.`), `${h}: ${n.meshIp} in ${out.meshSubnet}`);
      assert.equal((await tb.execOk(h, ["stat", "-c", "%a %U", "/etc/wgmesh/secret"])).trim(), "600 root");
      assert.equal((await tb.execOk(h, "sha256sum /etc/wgmesh/secret | cut -d ' ' -f 1")).trim(), digest, `${h}: the secret file holds the stack's secret`);
      assert.match(await tb.execOk(h, ["systemctl", "is-active", "wgmesh"]), /^active/);
      const visible = await tb.execOk(h, "cat /etc/systemd/system/wgmesh.service; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done; journalctl -u wgmesh --no-pager");
      assert.ok(!visible.includes(secret.slice(12)), `${h}: the secret is in no unit, argv or log`);
    }
    assert.notEqual(out.nodes[0]!.publicKey, out.nodes[1]!.publicKey);

    // State: conforms to schema.json, schema secrets stored as secrets, the mesh secret nowhere in plaintext.
    const schema = loadSchema();
    const plainExport = pulumiOk(["stack", "export"]).stdout;
    assert.ok(!plainExport.includes(secret.slice(12)), "the mesh secret appears in plaintext in `pulumi stack export`");
    assert.ok(!plainExport.includes("OPENSSH PRIVATE KEY"), "the SSH key appears in plaintext in `pulumi stack export`");
    const full = JSON.parse(ws.pulumiOk(dir, ["stack", "export", "--show-secrets"]).stdout);
    const byType: Record<string, number> = {};
    const artifactSha = JSON.parse(fs.readFileSync(installedArtifactManifest(ws), "utf8")).sha256 as string;
    for (const res of full.deployment.resources as Array<{ type: string; urn: string; outputs: Record<string, unknown> }>) {
      if (!res.type.startsWith("wgmesh:")) continue;
      byType[res.type] = (byType[res.type] ?? 0) + 1;
      assert.deepEqual(outputViolations(schema, res.type, res.outputs), [], `${res.urn} outputs conform to schema.json`);
      if (res.type === TYPES.node) {
        assert.equal(res.outputs.daemonSha256, artifactSha, `${res.urn}: the daemon installed is the artifact packed in the plugin tarball`);
        assert.deepEqual(res.outputs.hostState, { binary: "as planned", unit: "as planned", secret: "as planned", service: "running" });
      }
    }
    assert.deepEqual(byType, { [TYPES.secret]: 1, [TYPES.node]: 2 });
    for (const res of JSON.parse(plainExport).deployment.resources as Array<{ type: string; urn: string; outputs: Record<string, unknown> }>) {
      if (res.type.startsWith("wgmesh:")) assert.deepEqual(unwrappedSecrets(schema, res.type, res.outputs), [], `${res.urn}: schema-secret outputs stored as secrets`);
    }
  });

  test("the daemons peer over LAN discovery: `wgmesh peers count` says 1 on both, each pings the other's mesh IP", async (t) => {
    const ms = await meshUp(outputs());
    t.diagnostic(`peers count 1 on both hosts and pings both ways ${ms} ms after up returned`);
  });

  test("preview --expect-no-changes after up", (t) => {
    const p = pulumi(["preview", "--expect-no-changes", "--diff"]);
    assert.equal(p.status, 0, `no changes expected after up:\n${p.stdout}\n${p.stderr}`);
    t.diagnostic(`pulumi preview (no changes): ${p.ms} ms wall`);
  });

  test("a daemon stopped by hand: refresh shows the drift on that node only, up restarts it, the mesh heals", async (t) => {
    const before = outputs();
    await tb.execOk(host(1), ["systemctl", "stop", "wgmesh"]);
    const refresh = pulumiOk(["refresh", "--yes", "--skip-preview", "--diff"]);
    const updated = refresh.stdout.split("~ wgmesh:index:DecentralizedNode: (update)").slice(1);
    assert.equal(updated.length, 1, `refresh updates one DecentralizedNode:\n${refresh.stdout}`);
    assert.match(updated[0]!, /\[urn=\S+::node2\]/, refresh.stdout);
    assert.match(updated[0]!, /~ service\s*: "running" => "not running \(inactive\)"/, refresh.stdout);
    const p = pulumiOk(["preview"]);
    assert.match(p.stdout, /1 to update/, p.stdout);
    const repair = pulumiOk(["up", "--yes", "--skip-preview"]);
    assert.match(repair.stdout, /1 updated/, repair.stdout);
    t.diagnostic(`refresh shows the stopped daemon, up restarts it (${repair.ms} ms wall)`);
    assert.match(await tb.execOk(host(1), ["systemctl", "is-active", "wgmesh"]), /^active/);
    const after = outputs();
    assert.deepEqual(after.nodes, before.nodes, "same key and mesh IP after the restart");
    await meshUp(after);
    assert.equal(pulumi(["preview", "--expect-no-changes"]).status, 0, "no changes after the repair");
  });

  test("the mesh secret is in no recorded pulumi output", () => {
    assert.ok(secret !== "");
    for (const r of recorded) assert.ok(!r.stdout.includes(secret.slice(12)) && !r.stderr.includes(secret.slice(12)), "the mesh secret appears in pulumi's output");
  });

  test("destroy: binary, /etc/wgmesh, unit, state and wg0 gone from both hosts", async (t) => {
    const d = pulumiOk(["destroy", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi destroy: ${d.ms} ms wall`);
    assert.match(d.stdout, /4 deleted/, d.stdout);
    for (let i = 0; i < 2; i++) {
      const h = host(i);
      const left = await tb.exec(h, "ls -d /usr/local/bin/wgmesh /etc/wgmesh /etc/systemd/system/wgmesh.service /var/lib/wgmesh 2>/dev/null; ip -o link show wg0 2>/dev/null; systemctl is-active wgmesh");
      assert.equal(left.stdout.trim(), "inactive", `${h}: nothing left (${left.stdout})`);
    }
    pulumiOk(["stack", "rm", "--yes", "dev"]);
    dir = "";
  });
});

/** manifest.json of the daemon artifact inside the plugin installed in the workspace's PULUMI_HOME. */
function installedArtifactManifest(ws: Workspace): string {
  const plugins = path.join(ws.env.PULUMI_HOME as string, "plugins");
  const dirs = fs.readdirSync(plugins, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name.startsWith("resource-wgmesh-")).map((d) => d.name);
  assert.equal(dirs.length, 1, `one installed wgmesh plugin in ${plugins}: ${dirs.join(", ")}`);
  return path.join(plugins, dirs[0]!, "dist", "artifact", "manifest.json");
}
