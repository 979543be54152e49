// examples/decentralized through the real Pulumi engine on 4 testbed hosts (one behind the NAT router), with a
// local DHT bootstrap node on the segment: MeshSecret + DecentralizedNode per host → the self-contained daemon
// installed over SSH on hosts with no Node.js, secret only in a 0600 file → full mesh (peers count, ping over
// mesh IPs), outputs equal what the hosts say → no-change preview → an option change updates in place (same
// mesh IPs) → a network advertised and withdrawn live (SIGHUP, no restart) → a daemon stopped by hand shows in refresh and up repairs it → bad input fails at preview with
// no SSH → destroy leaves the hosts clean.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, pulumiEnv, repoRoot, toolchainMissing, type RunResult } from "./harness";
import { up, type Testbed } from "../testbed";
import { section } from "./examples-harness";
import { startDhtBootstrap } from "../daemon/testbed-dht";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false) ||
  (fs.existsSync(path.join(repoRoot, "dist/artifact/manifest.json")) ? false : "the daemon artifact is missing (make daemon-artifact)");
const NAMES = ["a", "b", "c", "d"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("examples/decentralized: MeshSecret + DecentralizedNode on 4 testbed hosts, one behind NAT (real engine)", { skip }, () => {
  let tb: Testbed;
  let ws: Workspace;
  let dir = "";
  const hostOf: Record<string, string> = {};
  const recorded: string[] = [];
  const pulumi = (args: string[], input?: string): RunResult => {
    const r = ws.pulumi(dir, args, { input });
    recorded.push(r.stdout, r.stderr);
    return r;
  };
  const run = (args: string[], input?: string): RunResult => {
    const r = pulumi(args, input);
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  };
  const outputs = () => JSON.parse(run(["stack", "output", "--json"]).stdout) as { meshIps: Record<string, string>; publicKeys: Record<string, string>; meshSubnet: string; gossipPort: number; meshSecret: string };
  let hostsConfig: Array<Record<string, unknown>> = [];

  const peersCount = async (n: string) => (await tb.exec(hostOf[n]!, ["wgmesh", "peers", "count"])).stdout;
  async function fullMesh(ips: Record<string, string>, within = 120_000): Promise<void> {
    const end = Date.now() + within;
    let last = "";
    while (Date.now() < end) {
      last = "";
      for (const n of NAMES) {
        const c = await peersCount(n);
        if (!c.includes(`Active peers: ${NAMES.length - 1}\n`)) last += `${n}: ${c.trim() || "(no answer)"}; `;
      }
      if (last === "") {
        const wrong: string[] = [];
        await Promise.all(NAMES.flatMap((x) => NAMES.filter((y) => y !== x).map(async (y) => {
          if ((await tb.exec(hostOf[x]!, ["ping", "-n", "-c", "1", "-w", "5", ips[y]!])).code !== 0) wrong.push(`${x} → ${y}`);
        })));
        if (wrong.length === 0) return;
        last = `no ping: ${wrong.join(", ")}`;
      }
      await sleep(1000);
    }
    const logs = await Promise.all(NAMES.map(async (n) => `--- ${n}\n${(await tb.exec(hostOf[n]!, ["journalctl", "-u", "wgmesh", "-n", "25", "--no-pager"])).stdout}`));
    assert.fail(`no full mesh within ${within} ms (${last})\n${logs.join("\n")}`);
  }

  before(async () => {
    tb = await up(3, { nat: 1, name: "p8dc", subnet: "172.31.94.0/24" });
    // The DHT bootstrap node starts first (a daemon announcing into an empty DHT would wait for its next round).
    const seg = await startDhtBootstrap(tb);
    ws = new Workspace(baseEnv);
    dir = ws.project("decentralized", path.join(repoRoot, "examples", "decentralized"));
    assert.equal(tb.hosts.length, 4);
    assert.equal(tb.hosts[3]!.behindNat, true, "d is behind the NAT router");
    hostsConfig = tb.hosts.map((h, i) => {
      hostOf[NAMES[i]!] = h.name;
      return { name: NAMES[i], host: h.address, port: h.sshPort, user: "root", hostKey: h.hostPublicKey };
    });
    run(["stack", "init", "dev"]);
    run(["config", "set", "hosts", JSON.stringify(hostsConfig)]);
    run(["config", "set", "dhtBootstrap", JSON.stringify([`${seg.address}:6881`])]);
    run(["config", "set", "--secret", "sshPrivateKey"], fs.readFileSync(tb.privateKeyPath, "utf8"));
  });
  after(async () => {
    try {
      if (dir) ws.pulumi(dir, ["destroy", "--yes", "--skip-preview"]);
    } finally {
      ws?.cleanup();
      await tb?.down();
    }
  });

  test("bad input fails at preview, naming the node, the property and the fix, before any SSH", () => {
    const bad = hostsConfig.map((h, i) => (i === 1 ? { ...h, advertiseRoutes: ["0.0.0.0/0"] } : h));
    run(["config", "set", "hosts", JSON.stringify(bad)]);
    try {
      const p = pulumi(["preview"]);
      assert.notEqual(p.status, 0, "preview must fail");
      assert.match(p.stdout + p.stderr, /decentralized node "b": advertiseRoutes: .*no default route/);
      assert.doesNotMatch(p.stdout + p.stderr, /connecting to/);
    } finally {
      run(["config", "set", "hosts", JSON.stringify(hostsConfig)]);
    }
  });

  test("up: the daemon on every host (no Node.js there), secret only in a 0600 file, one full mesh", async (t) => {
    for (const n of NAMES) assert.notEqual((await tb.exec(hostOf[n]!, "command -v node || command -v nodejs")).code, 0, `${n} has no Node.js of its own`);
    // c has no gzip: the provider unpacks the artifact itself and sends it raw
    await tb.execOk(hostOf.c!, "mv /usr/bin/gzip /usr/bin/gzip.hidden && ! command -v gzip");
    const r = run(["up", "--yes", "--skip-preview"]);
    await tb.execOk(hostOf.c!, "mv /usr/bin/gzip.hidden /usr/bin/gzip");
    t.diagnostic(`pulumi up (MeshSecret + 4 DecentralizedNodes incl. apt install and upload): ${r.ms} ms wall`);
    const out = outputs();
    assert.equal(typeof out.meshSecret, "string", "the secret output is shown as a secret");
    assert.match(out.meshSecret, /secret/i);
    const shown = ws.pulumi(dir, ["stack", "output", "--json", "--show-secrets"]); // not recorded: it shows the secret on purpose
    assert.equal(shown.status, 0, shown.stderr);
    const secret = JSON.parse(shown.stdout).meshSecret as string;
    assert.match(secret, /^wgmesh:\/\/v1\/[A-Za-z0-9_-]{171}$/);
    assert.deepEqual(Object.keys(out.meshIps).sort(), NAMES);
    const prefix = out.meshSubnet.split(".").slice(0, 2).join(".");
    const digest = createHash("sha256").update(`${secret}\n`).digest("hex");
    for (const n of NAMES) {
      const h = hostOf[n]!;
      assert.ok(out.meshIps[n]!.startsWith(`${prefix}.`), `${n}: ${out.meshIps[n]} in ${out.meshSubnet}`);
      assert.equal((await tb.execOk(h, ["wg", "show", "wg0", "public-key"])).trim(), out.publicKeys[n], `${n}: the public key output is the host's`);
      assert.equal((await tb.execOk(h, ["stat", "-c", "%a %U", "/etc/wgmesh/secret"])).trim(), "600 root");
      assert.equal((await tb.execOk(h, "sha256sum /etc/wgmesh/secret | cut -d ' ' -f 1")).trim(), digest, `${n}: the secret file holds the stack's secret`);
      const visible = await tb.execOk(h, "cat /etc/systemd/system/wgmesh.service; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done; journalctl -u wgmesh --no-pager");
      assert.ok(!visible.includes(secret.slice(12)), `${n}: the secret is in no unit, argv or log`);
      assert.doesNotMatch(visible, /\(node:\d+\) Warning/, `${n}: the daemon runs without Node warnings`);
      assert.match(await tb.execOk(h, ["systemctl", "is-active", "wgmesh"]), /^active/);
    }
    const plain = run(["stack", "export"]).stdout + JSON.stringify(out);
    assert.ok(!plain.includes(secret.slice(12)), "the secret is encrypted in the state and hidden in outputs");
    await fullMesh(out.meshIps);
    const noChange = pulumi(["preview", "--expect-no-changes"]);
    assert.equal(noChange.status, 0, `no changes expected after up:\n${noChange.stdout}\n${noChange.stderr}`);
    assert.ok(!recorded.some((o) => o.includes(secret.slice(12))), "the secret is in no recorded pulumi output");
  });

  test("gossip switched on: preview shows an in-place update per node; up keeps mesh IPs and keys", async (t) => {
    const before = outputs();
    run(["config", "set", "gossip", "true"]);
    const p = run(["preview", "--diff"]);
    for (const n of NAMES) {
      const sec = section(p.stdout, n);
      assert.match(sec, /\+ gossip\s*: true/, `${n}: gossip added\n${p.stdout}`);
      assert.doesNotMatch(sec, /replace/, `${n} is updated in place`);
    }
    assert.doesNotMatch(p.stdout + p.stderr, /connecting to/, "preview opens no SSH connection");
    const r = run(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (gossip on, 4 daemons restarted): ${r.ms} ms wall`);
    const out = outputs();
    assert.deepEqual(out.meshIps, before.meshIps);
    assert.deepEqual(out.publicKeys, before.publicKeys);
    assert.match(await tb.execOk(hostOf.a!, ["cat", "/etc/systemd/system/wgmesh.service"]), /"--gossip"/);
    await fullMesh(out.meshIps);
    assert.equal(pulumi(["preview", "--expect-no-changes"]).status, 0);
  });

  test("a network advertised by a, then withdrawn: applied live by SIGHUP (no daemon restart), the others route it", async (t) => {
    const pid = async () => (await tb.execOk(hostOf.a!, ["systemctl", "show", "-p", "MainPID", "--value", "wgmesh"])).trim();
    const before = await pid();
    await tb.execOk(hostOf.a!, "ip link add lan150 type veth peer name lan150b && ip addr add 192.168.150.1/24 dev lan150 && ip link set lan150b up && ip link set lan150 up");
    const withRoutes = hostsConfig.map((h, i) => (i === 0 ? { ...h, advertiseRoutes: ["192.168.150.0/24"] } : h));
    run(["config", "set", "hosts", JSON.stringify(withRoutes)]);
    const p = run(["preview", "--diff"]);
    assert.match(section(p.stdout, "a"), /advertiseRoutes/, p.stdout);
    for (const n of ["b", "c", "d"]) assert.equal(section(p.stdout, n), "", `${n} unchanged`);
    const r = run(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (routes advertised, SIGHUP): ${r.ms} ms wall`);
    assert.match(r.stdout + r.stderr, /SIGHUP/, "the up says it reloaded");
    assert.equal(await pid(), before, "the daemon on a was not restarted");
    const routeOn = async (n: string) => (await tb.exec(hostOf[n]!, ["ip", "route", "show", "192.168.150.0/24"])).stdout.includes("dev wg0");
    for (const n of ["b", "c", "d"]) {
      const end = Date.now() + 30_000;
      while (!(await routeOn(n)) && Date.now() < end) await sleep(500);
      if (!(await routeOn(n))) {
        const j = async (x: string) => `--- ${x}\n${(await tb.exec(hostOf[x]!, ["journalctl", "-u", "wgmesh", "-n", "40", "--no-pager"])).stdout}`;
        assert.fail(`${n} does not route 192.168.150.0/24 into the mesh\n${await j("a")}\n${await j(n)}\n${(await tb.exec(hostOf.a!, "cat /var/lib/wgmesh/wg0.reload; ip route; ip addr")).stdout}`);
      }
      assert.equal((await tb.exec(hostOf[n]!, ["ping", "-n", "-c", "1", "-w", "5", "192.168.150.1"])).code, 0, `${n} reaches a's network`);
    }
    assert.equal(pulumi(["preview", "--expect-no-changes"]).status, 0);
    run(["config", "set", "hosts", JSON.stringify(hostsConfig)]);
    run(["up", "--yes", "--skip-preview"]);
    assert.equal(await pid(), before, "withdrawn live too");
    for (const n of ["b", "c", "d"]) {
      const end = Date.now() + 30_000;
      while ((await routeOn(n)) && Date.now() < end) await sleep(500);
      assert.ok(!(await routeOn(n)), `${n} dropped the withdrawn route`);
    }
  });

  test("a daemon stopped by hand: refresh shows it, up restarts it, the mesh heals", async () => {
    const out = outputs();
    await tb.execOk(hostOf.b!, ["systemctl", "stop", "wgmesh"]);
    const refresh = run(["refresh", "--yes", "--diff"]);
    assert.match(section(refresh.stdout, "b"), /~ service\s*: "running" => "not running \(inactive\)"/, refresh.stdout);
    for (const n of ["a", "c", "d"]) assert.equal(section(refresh.stdout, n), "", `${n} unchanged`);
    const p = run(["preview", "--diff"]);
    assert.match(p.stdout, /~ 1 to update/, p.stdout);
    assert.notEqual(section(p.stdout, "b"), "", "b is the one to update");
    run(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(outputs().meshIps, out.meshIps, "b came back with the same mesh IP");
    await fullMesh(out.meshIps);
  });

  test("destroy: daemons stopped, unit, binary, secret, key and interface gone from every host", async () => {
    run(["destroy", "--yes", "--skip-preview"]);
    for (const n of NAMES) {
      const h = hostOf[n]!;
      const left = await tb.exec(h, "ls /etc/systemd/system/wgmesh.service /usr/local/bin/wgmesh /etc/wgmesh /var/lib/wgmesh 2>/dev/null; ip -o link show wg0 2>/dev/null; systemctl is-active wgmesh");
      assert.equal(left.stdout.trim(), "inactive", `${n}: nothing left (${left.stdout})`);
    }
    dir = "";
  });
});
