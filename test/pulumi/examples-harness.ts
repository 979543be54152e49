/**
 * Shared steps of the example tests (test/pulumi/example-*.test.ts): one testbed and one Pulumi workspace per
 * file, the example project copied in, stack config from the testbed, recorded CLI output, an independent
 * oracle of the policy rule for the expected reachability matrix, ping matrices, preview sections, the
 * private-key scan and the clean-host check. Builds on harness.ts (Workspace, pulumiEnv).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, repoRoot, type RunResult } from "./harness";
import { up, type Testbed, type UpOptions } from "../testbed";

export interface HostEntry { name: string; host: string; port: number; user: string; hostKey: string; routableNetworks?: string[] }

/** A testbed plus an example project in a workspace; every pulumi run's stdout/stderr is recorded. */
export class ExampleSession {
  readonly outputs: string[] = [];
  dir = "";
  private constructor(readonly tb: Testbed, readonly ws: Workspace, private readonly names: string[]) {}

  /**
   * Boots `names.length` hosts (testbed `tbName`; with `tbOpts.nat`, the last that many names are the hosts
   * behind the NAT router), copies examples/<example>, inits stack dev, sets the SSH key.
   */
  static async start(example: string, tbName: string, names: string[], env: NodeJS.ProcessEnv, tbOpts: Omit<UpOptions, "name"> = {}): Promise<ExampleSession> {
    const tb = await up(names.length - (tbOpts.nat ?? 0), { ...tbOpts, name: tbName });
    const s = new ExampleSession(tb, new Workspace(env), names);
    try {
      s.dir = s.ws.project(example, path.join(repoRoot, "examples", example));
      s.pulumiOk(["stack", "init", "dev"]);
      s.pulumiOk(["config", "set", "--secret", "sshPrivateKey"], fs.readFileSync(tb.privateKeyPath, "utf8"));
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  /** Testbed host name of a node name (names map to hosts in order). */
  hostOf(name: string): string {
    const i = this.names.indexOf(name);
    assert.ok(i >= 0, `unknown node ${name}`);
    return this.tb.hosts[i]!.name;
  }

  host(name: string) {
    return this.tb.hosts[this.names.indexOf(name)]!;
  }

  /** Host entries for the example's config, in the examples' {name, host, port, user, hostKey, routableNetworks?} shape. */
  entries(names: string[], routable: Record<string, string[]> = {}): HostEntry[] {
    return names.map((name) => {
      const h = this.host(name);
      return { name, host: h.address, port: h.sshPort, user: "root", hostKey: h.hostPublicKey, ...(routable[name] ? { routableNetworks: routable[name] } : {}) };
    });
  }

  pulumi(args: string[], input?: string): RunResult {
    const r = this.ws.pulumi(this.dir, args, { input });
    this.outputs.push(r.stdout, r.stderr);
    return r;
  }

  pulumiOk(args: string[], input?: string): RunResult {
    const r = this.pulumi(args, input);
    assert.equal(r.status, 0, `pulumi ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  }

  stackOutputs(): { meshIps: Record<string, string>; publicKeys: Record<string, string> } & Record<string, any> {
    return JSON.parse(this.pulumiOk(["stack", "output", "--json"]).stdout);
  }

  /** Edits the copied program (as a user edits theirs); fails unless the edit changed it. */
  editProgram(edit: (text: string) => string): void {
    const file = path.join(this.dir, "index.ts");
    const before = fs.readFileSync(file, "utf8");
    const after = edit(before);
    assert.notEqual(after, before, "the program edit changed nothing");
    fs.writeFileSync(file, after);
  }

  /** Destroys the stack if still deployed, removes the workspace, downs the testbed. */
  async close(): Promise<void> {
    try {
      if (this.dir) this.ws.pulumi(this.dir, ["destroy", "--yes", "--skip-preview"]);
    } finally {
      this.ws.cleanup();
      await this.tb.down();
    }
  }
}

/**
 * The policy rule of the wgmesh README / issue 3, written out independently of the product as the tests'
 * oracle: with groups or policies defined, X ≠ Y are peers iff some policy has X in a from-group and Y in a
 * to-group, or the reverse; X may use Y's routable networks iff some such policy from X's group to Y's has
 * allowRoutableNetworks. No groups and no policies: everyone peers with everyone, networks included.
 */
export interface PolicySpec {
  from: string[]; to: string[]; routes: boolean;
  /** allowMeshIps (default true). */
  meshIps?: boolean;
  /** Allowed "tcp/N", "tcp/N-M", "udp/N", "icmp" (default: all). */
  ports?: string[];
}
/**
 * Enforced (issue 13, enforcement "nftables"): X may open a connection to Y's mesh IP on a probe ("tcp/5432",
 * "icmp") iff some policy has X in a from-group, Y in a to-group, allowMeshIps and the probe in its ports (no
 * ports: all); into the network behind Y iff the same with allowRoutableNetworks.
 */
export function policyOracle(groups: Record<string, string[]>, policies: PolicySpec[]) {
  const groupsOf = (n: string) => Object.keys(groups).filter((g) => groups[g]!.includes(n));
  const open = Object.keys(groups).length === 0 && policies.length === 0;
  const relates = (p: PolicySpec, x: string, y: string) => groupsOf(x).some((g) => p.from.includes(g)) && groupsOf(y).some((g) => p.to.includes(g));
  const directed = (x: string, y: string, needRoutes: boolean) => policies.some((p) => (!needRoutes || p.routes) && relates(p, x, y));
  const portOk = (p: PolicySpec, probe: string) => p.ports === undefined || p.ports.some((spec) => {
    if (spec === "icmp" || probe === "icmp") return spec === probe;
    const [proto, range] = spec.split("/") as [string, string];
    const [pp, port] = probe.split("/") as [string, string];
    const [lo, hi] = range.split("-").map(Number) as [number, number | undefined];
    return proto === pp && Number(port) >= lo && Number(port) <= (hi ?? lo);
  });
  return {
    peers: (x: string, y: string) => x !== y && (open || directed(x, y, false) || directed(y, x, false)),
    routes: (x: string, y: string) => x !== y && (open || ((directed(x, y, false) || directed(y, x, false)) && directed(x, y, true))),
    /** X may open a connection to Y itself (enforced). */
    reach: (x: string, y: string, probe = "icmp") => x !== y && (open || policies.some((p) => p.meshIps !== false && relates(p, x, y) && portOk(p, probe))),
    /** X may open a connection into the network behind Y (enforced). */
    reachNetwork: (x: string, y: string, probe = "icmp") => x !== y && (open || policies.some((p) => p.routes && relates(p, x, y) && portOk(p, probe))),
  };
}

/**
 * TCP connect probes, run concurrently like `probeMatrix`: `bash`'s /dev/tcp from inside host `from` (no tool
 * of the product involved). Expected connects get 10 s, expected failures 3 s. Returns the wrong ones.
 */
export async function connectMatrix(tb: Testbed, probes: Array<Probe & { port: number }>): Promise<string[]> {
  const wrong: string[] = [];
  await Promise.all(probes.map(async (p) => {
    const r = await tb.exec(p.from, ["timeout", p.expect ? "10" : "3", "bash", "-c", `exec 3<>/dev/tcp/${p.target}/${p.port}`]);
    if ((r.code === 0) !== p.expect) wrong.push(`${p.label}: expected ${p.expect ? "connect" : "no connection"}, got ${r.code === 0 ? "connected" : `none (${r.code}: ${r.stderr.trim()})`}`);
  }));
  return wrong.sort();
}

/** A TCP echo listener on every address of the host (a transient systemd unit, survives the exec; gone at reboot). */
export async function startListener(tb: Testbed, host: string, port: number): Promise<void> {
  const js = `require("net").createServer((s) => { s.on("error", () => {}); s.pipe(s); }).listen(${port}, "0.0.0.0")`;
  await tb.execOk(host, ["systemd-run", `--unit=flisten${port}`, "/usr/local/bin/node", "-e", js]);
  for (let i = 0; i < 50; i++) {
    if ((await tb.exec(host, ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`])).code === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${host}: listener on ${port} did not come up`);
}

export { nodeBind } from "../testbed/traffic";

export interface Probe { label: string; from: string; target: string; expect: boolean; behind?: boolean }

/**
 * Runs every probe concurrently: one ping inside host `from` (or on the device behind it) to `target`.
 * Returns the probes whose outcome differs from `expect` (empty = the matrix is exactly as expected).
 * Expected successes get 10 s (the first packet may wait for a handshake), expected failures 3 s.
 */
export async function probeMatrix(tb: Testbed, probes: Probe[]): Promise<string[]> {
  const wrong: string[] = [];
  await Promise.all(probes.map(async (p) => {
    const argv = ["ping", "-n", "-c", "1", "-w", p.expect ? "10" : "3", p.target];
    const r = p.behind ? await tb.execBehind(p.from, argv) : await tb.exec(p.from, argv);
    if ((r.code === 0) !== p.expect) wrong.push(`${p.label}: expected ${p.expect ? "reply" : "no reply"}, got ${r.code === 0 ? "reply" : "none"}`);
  }));
  return wrong.sort();
}

/** Every ordered pair of `names`, mesh IP to mesh IP, expected to answer iff the oracle makes them peers. */
export function meshProbes(names: string[], hostOf: (n: string) => string, meshIps: Record<string, string>, peers: (x: string, y: string) => boolean): Probe[] {
  return names.flatMap((x) => names.filter((y) => y !== x).map((y) => ({ label: `${x} → ${y} (${meshIps[y]})`, from: hostOf(x), target: meshIps[y]!, expect: peers(x, y) })));
}

/** The part of a `preview --diff` / `refresh --diff` output about the resource whose URN ends in `::name`. */
export function section(out: string, name: string): string {
  const i = out.indexOf(`::${name}]`);
  if (i < 0) return "";
  const rest = out.slice(i);
  const j = rest.search(/\n\s*[-+~]?\s*(pulumi-nodejs:dynamic:Resource|pulumi:pulumi:Stack|pulumi:providers)/);
  return j < 0 ? rest : rest.slice(0, j);
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Adds every node private key now in the stack (read with --show-secrets, outside the recorded output) to `keys`. */
export function collectPrivateKeys(s: ExampleSession, keys: Set<string>): Set<string> {
  const shown = s.ws.pulumi(s.dir, ["stack", "export", "--show-secrets"]);
  assert.equal(shown.status, 0, shown.stderr);
  for (const r of JSON.parse(shown.stdout).deployment.resources ?? []) {
    const pk = r.outputs?.privateKey;
    const value = typeof pk === "object" && pk && typeof pk.plaintext === "string" ? JSON.parse(pk.plaintext) : pk;
    if (typeof value === "string" && /^[A-Za-z0-9+/]{43}=$/.test(value)) keys.add(value);
  }
  return keys;
}

/** None of `keys` in the plain `stack export`, the stack outputs, or any recorded CLI output. */
export function assertNoPrivateKeys(s: ExampleSession, keys: Set<string>): void {
  const plain = s.pulumiOk(["stack", "export"]).stdout;
  const outs = s.pulumiOk(["stack", "output", "--json"]).stdout;
  for (const k of keys) {
    assert.ok(!plain.includes(k), "a private key in plaintext in stack export");
    assert.ok(!outs.includes(k), "a private key in the stack outputs");
    const hits = s.outputs.filter((o) => o.includes(k)).length;
    assert.equal(hits, 0, `a private key in ${hits} of ${s.outputs.length} recorded outputs of pulumi runs`);
  }
}

/** Every testbed host: no wg0, an empty /etc/wireguard, wg-quick@wg0 not enabled. */
export async function assertHostsClean(tb: Testbed): Promise<void> {
  for (const h of tb.hosts) {
    assert.notEqual((await tb.exec(h.name, ["ip", "link", "show", "wg0"])).code, 0, `${h.name}: wg0 gone`);
    assert.equal((await tb.exec(h.name, "ls -A /etc/wireguard 2>/dev/null")).stdout.trim(), "", `${h.name}: /etc/wireguard empty`);
    assert.notEqual((await tb.exec(h.name, ["systemctl", "is-enabled", "wg-quick@wg0"])).stdout.trim(), "enabled", `${h.name}: unit not enabled`);
  }
}
