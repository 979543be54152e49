// Groups, a policy, a key generated on its host and a node behind NAT, through the real engine on testbed
// hosts: hub (keyOnHost) + web (public) + edge (behind the testbed's NAT router, detected over SSH), policy
// spokes → hub. Checks NAT detection in the outputs, that the hub's private key never leaves it, the
// reachability the policy allows (and denies), a no-change preview, and a clean destroy.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { Workspace, pulumiEnv, toolchainMissing, type RunResult } from "./harness";
import { up, type Testbed } from "../testbed";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";

interface H { name: string; host: string; port: number; hostKey: string }
const config = new pulumi.Config();
const hosts = config.requireObject<H[]>("hosts");
const sshPrivateKey = config.requireSecret("sshPrivateKey");
const node = (h: H, extra: Partial<wgmesh.NodeArgs> = {}) =>
  new wgmesh.Node(h.name, { connection: { host: h.host, port: h.port, user: "root", privateKey: sshPrivateKey, hostKey: h.hostKey }, ...extra });

const hub = node(hosts[0]!, { keyOnHost: true });
const web = node(hosts[1]!);
const edge = node(hosts[2]!);
const hubs = new wgmesh.Group("hubs", { members: [hub] });
const spokes = new wgmesh.Group("spokes", { members: [web, edge], description: "everything that talks to the hub" });
const policy = new wgmesh.Policy("spokes-to-hub", { from: [spokes], to: [hubs] });
// enforcement "none": this test is about NAT and keyOnHost (the hub pings its spokes); enforced policies are
// tested in example-three-tier and example-routable-networks.
const mesh = new wgmesh.Mesh("star", { network: "10.55.0.0/24", nodes: [hub, web, edge], groups: [hubs, spokes], policies: [policy], enforcement: "none" });

export const meshIps = mesh.meshIps;
export const publicKeys = mesh.publicKeys;
export const endpoints = mesh.endpoints;
export const behindNat = mesh.behindNat;
export const hubPrivateKey = hub.privateKey;
`;

describe("star with a policy, keyOnHost and a node behind NAT (real engine, testbed)", { skip }, () => {
  let tb: Testbed;
  let ws: Workspace;
  let dir = "";
  const run = (args: string[], input?: string): RunResult => {
    const r = ws.pulumi(dir, args, { input });
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  };
  const hostFor: Record<string, string> = {};

  before(async () => {
    tb = await up(2, { nat: 1, name: "p6nat" });
    ws = new Workspace(baseEnv);
    dir = ws.project("star", {
      "Pulumi.yaml": "name: star\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
      "package.json": JSON.stringify({ name: "star", version: "0.0.0", private: true, main: "index.ts" }),
      "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] }),
      "index.ts": PROGRAM,
    });
    const names = ["hub", "web", "edge"];
    const hosts = tb.hosts.map((h, i) => {
      hostFor[names[i]!] = h.name;
      return { name: names[i], host: h.address, port: h.sshPort, hostKey: h.hostPublicKey };
    });
    assert.equal(tb.hosts[2]!.behindNat, true, "the third testbed host is behind the NAT router");
    run(["stack", "init", "dev"]);
    run(["config", "set", "hosts", JSON.stringify(hosts)]);
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

  test("up: NAT detected, hub key stays on the hub, the policy's peers and only those", async (t) => {
    const r = run(["up", "--yes", "--skip-preview"]);
    t.diagnostic(`pulumi up (3 nodes, 2 groups, 1 policy, NAT, keyOnHost): ${r.ms} ms wall`);
    const out = JSON.parse(run(["stack", "output", "--json", "--show-secrets"]).stdout);
    assert.deepEqual(out.behindNat, { edge: true, hub: false, web: false });
    assert.equal(out.endpoints.edge, null, "no endpoint for the node behind NAT");
    assert.equal(out.hubPrivateKey ?? null, null, "keyOnHost: no private key output");
    const hubPub = (await tb.execOk(hostFor.hub!, ["wg", "show", "wg0", "public-key"])).trim();
    assert.equal(out.publicKeys.hub, hubPub, "the hub's public key is the one generated on the hub");
    assert.equal((await tb.execOk(hostFor.hub!, ["stat", "-c", "%a", "/etc/wireguard/wg0.key"])).trim(), "600");

    // edge (behind NAT) keeps the hub session alive; then everyone the policy allows can talk.
    // -w: keep trying (one probe a second) until the first reply: the first packets may wait for a handshake.
    const ping = (from: string, to: string, deadline = 10) => tb.exec(hostFor[from]!, ["ping", "-c", "1", "-w", String(deadline), out.meshIps[to]]);
    assert.equal((await ping("edge", "hub")).code, 0, "edge → hub");
    assert.equal((await ping("web", "hub")).code, 0, "web → hub");
    assert.equal((await ping("hub", "edge")).code, 0, "hub → edge (NAT node reached through its session)");
    assert.equal((await ping("hub", "web")).code, 0, "hub → web");
    assert.notEqual((await ping("web", "edge", 3)).code, 0, "web → edge is not allowed by the policy (not peers)");
    const edgePeers = await tb.execOk(hostFor.edge!, ["wg", "show", "wg0", "persistent-keepalive"]);
    assert.match(edgePeers, /\t25$/m, "the node behind NAT sends keepalives");

    const exported = run(["stack", "export"]).stdout;
    const state = JSON.parse(exported);
    const hubCfg = state.deployment.resources.find((x: any) => x.urn.endsWith("::star-hub"));
    assert.ok(hubCfg && hubCfg.inputs.keyOnHost === true && hubCfg.inputs.privateKey === undefined, "hub NodeConfig carries no private key");
    const noChange = ws.pulumi(dir, ["preview", "--expect-no-changes"]);
    assert.equal(noChange.status, 0, `${noChange.stdout}\n${noChange.stderr}`);
  });

  test("a key regenerated on the hub: refresh reads its new public key, up re-peers everyone with it", async () => {
    const before = JSON.parse(run(["stack", "output", "--json"]).stdout);
    await tb.execOk(hostFor.hub!, "umask 077; wg genkey > /etc/wireguard/wg0.key.new && mv /etc/wireguard/wg0.key.new /etc/wireguard/wg0.key");
    const fresh = (await tb.execOk(hostFor.hub!, "wg pubkey < /etc/wireguard/wg0.key")).trim();
    assert.notEqual(fresh, before.publicKeys.hub);
    run(["refresh", "--yes"]);
    // The Node's state now holds the key read from the host (its diff compares inputs only, so the refresh
    // display lists it unchanged); the plan follows: every peer of the hub shows the new key.
    const hubNode = JSON.parse(run(["stack", "export"]).stdout).deployment.resources.find((x: any) => x.urn.endsWith("::hub"));
    assert.equal(hubNode.outputs.publicKey, fresh, "refresh stored the hub's new public key");
    const preview = run(["preview", "--diff"]);
    assert.match(preview.stdout, new RegExp(`star-web\\][\\s\\S]*?- hub key=${before.publicKeys.hub.replace(/[+/]/g, "\\$&")} [\\s\\S]*?\\+ hub key=${fresh.replace(/[+/]/g, "\\$&")} `), preview.stdout);
    run(["up", "--yes", "--skip-preview"]);
    const after = JSON.parse(run(["stack", "output", "--json"]).stdout);
    assert.equal(after.publicKeys.hub, fresh);
    assert.equal((await tb.execOk(hostFor.hub!, ["wg", "show", "wg0", "public-key"])).trim(), fresh, "the hub's interface uses the new key");
    assert.match(await tb.execOk(hostFor.web!, ["wg", "show", "wg0", "peers"]), new RegExp(fresh.replace(/[+/]/g, "\\$&")));
    assert.equal((await tb.exec(hostFor.web!, ["ping", "-c", "1", "-w", "10", after.meshIps.hub])).code, 0, "web → hub with the new key");
    assert.equal(ws.pulumi(dir, ["preview", "--expect-no-changes"]).status, 0);
  });

  test("the hub's key deleted on the host: refresh drops the Node, up creates it again and re-peers", async () => {
    const before = JSON.parse(run(["stack", "output", "--json"]).stdout);
    await tb.execOk(hostFor.hub!, ["rm", "-f", "/etc/wireguard/wg0.key"]);
    const refresh = run(["refresh", "--yes"]);
    assert.match(refresh.stdout + refresh.stderr, /\[hub\] its key on the host is gone/);
    const urns = JSON.parse(run(["stack", "export"]).stdout).deployment.resources.map((x: any) => x.urn as string);
    assert.ok(!urns.some((u: string) => u.endsWith("::hub")), "the hub Node left the state");
    run(["up", "--yes", "--skip-preview"]);
    const after = JSON.parse(run(["stack", "output", "--json"]).stdout);
    assert.notEqual(after.publicKeys.hub, before.publicKeys.hub, "a new key");
    assert.equal((await tb.execOk(hostFor.hub!, ["wg", "show", "wg0", "public-key"])).trim(), after.publicKeys.hub);
    assert.equal((await tb.exec(hostFor.web!, ["ping", "-c", "1", "-w", "10", after.meshIps.hub])).code, 0, "web → hub with the new key");
    assert.equal(after.meshIps.hub, before.meshIps.hub, "same mesh IP");
    assert.equal(ws.pulumi(dir, ["preview", "--expect-no-changes"]).status, 0);
  });

  test("destroy removes everything, including the key generated on the hub", async () => {
    run(["destroy", "--yes", "--skip-preview"]);
    dir = "";
    for (const h of tb.hosts) {
      assert.notEqual((await tb.exec(h.name, ["ip", "link", "show", "wg0"])).code, 0, `${h.name}: wg0 gone`);
      assert.equal((await tb.exec(h.name, "ls -A /etc/wireguard 2>/dev/null")).stdout.trim(), "", `${h.name}: /etc/wireguard empty`);
    }
  });
});
