// The testbed library: `up` boots real Debian hosts (systemd-nspawn) on a bridge segment of their own,
// optionally behind a NAT router, with SSH keys and a pinned known_hosts; `Testbed` offers the fault hooks
// later e2e tests need; `down` (cleanup.ts) removes everything found under the run prefix.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { cidrText, defaultSubnet, hostAddress, HOST_OFFSET, MACHINE_OFFSET, parseCidr, ROUTER_OFFSET } from "./addressing";
import { ensureAptRepo } from "./aptrepo";
import { cgroupPlan } from "./cgroups";
import { down, leftovers } from "./cleanup";
import {
  boot,
  bootFailure,
  containerInit,
  execIn,
  ExecOptions,
  execPrefix,
  findNspawn,
  personalize,
  stopContainer,
  waitForBoot,
  waitForSsh,
} from "./container";
import { ensureInotifyInstances, ensureNeighbourCapacity } from "./limits";
import { mountRootView } from "./mounts";
import { behindNs, bridgeNs, hostDir, hostName, hostNs, NS_PREFIX, routerNs, runName, stateDir, SUDO_USER } from "./naming";
import {
  createBehind,
  createHostLink,
  createRouter,
  createSegment,
  deleteNs,
  machineRoutes,
  nsExists,
  nsPids,
  routerPrivateAddr,
  setLink,
} from "./network";
import { log, parallel, run, RunResult } from "./proc";
import { ensureRootfs } from "./rootfs";
import { fingerprint, generateKey, keyBody, writeKnownHosts } from "./sshkeys";
import {
  DEFAULT_NAT_SUBNET,
  HostInfo,
  NAT_SSH_PORT_BASE,
  readState,
  SegmentNode,
  SSH_WAIT_MS,
  statePath,
  TestbedJson,
  TestbedState,
  UpOptions,
  writeState,
} from "./state";

export { down, leftovers, listTestbeds, status } from "./cleanup";
export type { StatusEntry } from "./cleanup";
export { DEFAULT_NAT_SUBNET, NAT_SSH_PORT_BASE } from "./state";
export type { BehindNetwork, HostInfo, SegmentNode, TestbedJson, TestbedState, UpOptions } from "./state";

export class Testbed {
  private constructor(private state: TestbedState) {}

  get name(): string {
    return this.state.name;
  }
  get hosts(): readonly HostInfo[] {
    return this.state.hosts;
  }
  get subnet(): string {
    return this.state.subnet;
  }
  get natSubnet(): string {
    return this.state.natSubnet;
  }
  /** The machine's own address on the public segment. */
  get machineAddress(): string {
    return this.state.machineAddress;
  }
  /** The NAT router's public address (undefined without NAT'd hosts). */
  get routerAddress(): string | undefined {
    return this.state.routerAddress;
  }
  get privateKeyPath(): string {
    return this.state.privateKeyPath;
  }
  get knownHostsPath(): string {
    return this.state.knownHostsPath;
  }
  /** Namespace of the public segment's bridge (to attach extra namespaces, e.g. a DHT bootstrap node). */
  get bridgeNamespace(): string {
    return bridgeNs(this.state.name);
  }

  host(name: string): HostInfo {
    const h = this.state.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`testbed ${this.name} has no host '${name}' (hosts: ${this.state.hosts.map((x) => x.name).join(", ")})`);
    return h;
  }

  /** Reattaches to a testbed that is already up (by name, or by the CLI's JSON document). */
  static attach(nameOrJson: string | TestbedJson): Testbed {
    const name = typeof nameOrJson === "string" ? nameOrJson : nameOrJson.name;
    const s = readState(runName(name));
    if (!s) throw new Error(`no testbed '${name}' on this machine (no ${statePath(name)}); run 'npm run -s testbed -- up'`);
    return new Testbed(s);
  }

  static async up(n: number, opts: UpOptions = {}): Promise<Testbed> {
    return up(n, opts);
  }

  /** @internal */
  static fromState(s: TestbedState): Testbed {
    return new Testbed(s);
  }

  toJSON(): TestbedJson {
    return {
      name: this.name,
      hosts: this.state.hosts.map((h) => ({
        name: h.name,
        address: h.address,
        sshPort: h.sshPort,
        user: h.user,
        sudoUser: h.sudoUser,
        privateKeyPath: h.privateKeyPath,
        knownHostsPath: h.knownHostsPath,
        behindNat: h.behindNat,
      })),
    };
  }

  /** Runs a command inside a host (string: via /bin/sh -c; array: exec'd). Never throws on a non-zero exit. */
  async exec(host: string, cmd: string | string[], opts: ExecOptions = {}): Promise<RunResult> {
    const h = this.host(host);
    return execIn(h.name, h.ns, cmd, opts);
  }

  /** Like exec, but throws (naming the host and command) when the exit code is not 0. */
  async execOk(host: string, cmd: string | string[], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(host, cmd, opts);
    if (r.code !== 0) {
      throw new Error(`host ${host}: '${Array.isArray(cmd) ? cmd.join(" ") : cmd}' exited ${r.code}\n${r.stderr}${r.stdout}`);
    }
    return r.stdout;
  }

  /** Runs a command on the device of the network behind a host. */
  async execBehind(host: string, argv: string[]): Promise<RunResult> {
    const b = this.host(host).behind;
    if (!b) throw new Error(`host ${host} has no network behind it (up with behind: ['${host}'])`);
    return run(["ip", "netns", "exec", b.ns, ...argv], { check: false });
  }

  async isRunning(host: string): Promise<boolean> {
    const h = this.host(host);
    return (await containerInit(h.ns)) !== undefined;
  }

  /**
   * Powers a host off (orderly; its disk state stays). `{ powerCut: true }`: no shutdown at all — every
   * process of the host is killed at once (SIGKILL), as when the power goes; what it had not written to
   * disk is lost.
   */
  async stop(host: string, opts: { powerCut?: boolean } = {}): Promise<void> {
    const h = this.host(host);
    // by machine name, so a host booted by another process (attach) is found too
    const procs = findNspawn((m) => m === h.name);
    if (opts.powerCut) {
      for (const p of procs) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
    await Promise.all(procs.map((p) => stopContainer(p.pid, h.ns, opts.powerCut ? 0 : undefined)));
    await stopContainer(undefined, h.ns);
    h.pid = undefined;
    writeState(this.state);
  }

  /** Boots a stopped host on the same root (persisted state comes back) with a fresh network namespace. */
  async start(host: string): Promise<void> {
    const h = this.host(host);
    if (await this.isRunning(host)) return;
    await resetHostNetwork(h);
    ensureInotifyInstances();
    h.pid = boot({ name: h.name, root: h.root, dir: h.dir, ns: h.ns, repo: this.state.repo, binds: this.state.binds, cgroup: h.cgroup });
    writeState(this.state);
    await waitReady(h);
  }

  /** stop + start: like a real reboot, only what the host persisted on disk survives. */
  async reboot(host: string): Promise<void> {
    await this.stop(host);
    await this.start(host);
  }

  async stopSshd(host: string): Promise<void> {
    await this.execOk(host, "systemctl stop ssh.service");
  }

  async startSshd(host: string): Promise<void> {
    const h = this.host(host);
    await this.execOk(host, "systemctl start ssh.service");
    await waitForSsh(h.name, h.address, h.sshPort, SSH_WAIT_MS);
  }

  /** Unplugs the host from its segment (its eth0 loses the link peer's carrier). */
  async cutLink(host: string): Promise<void> {
    await setLink(this.host(host).link, false);
  }

  async restoreLink(host: string): Promise<void> {
    await setLink(this.host(host).link, true);
  }

  /**
   * Gives the host a new SSH host key and restarts sshd. known_hosts keeps the old key unless
   * updateKnownHosts is set (so a test can check that the changed key is refused). Returns the new key.
   */
  async changeHostKey(host: string, opts: { updateKnownHosts?: boolean } = {}): Promise<string> {
    const h = this.host(host);
    const file = path.join(h.dir, "ssh_host_ed25519_key");
    const key = await generateKey(file, `root@${h.name}`);
    fs.copyFileSync(file, path.join(h.root, "etc/ssh/ssh_host_ed25519_key"));
    fs.copyFileSync(`${file}.pub`, path.join(h.root, "etc/ssh/ssh_host_ed25519_key.pub"));
    await this.execOk(host, "systemctl restart ssh.service");
    await waitForSsh(h.name, h.address, h.sshPort, SSH_WAIT_MS);
    const newKey = keyBody(key.publicKey);
    if (opts.updateKnownHosts) {
      h.hostPublicKey = newKey;
      h.hostKeyFingerprint = await fingerprint(newKey);
      this.writeKnownHosts();
    }
    writeState(this.state);
    return newKey;
  }

  /** Proportional memory (PSS, KiB) of all processes of each running host. */
  async memoryKiB(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const h of this.state.hosts) {
      let sum = 0;
      for (const pid of await nsPids(h.ns)) {
        try {
          const m = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
          sum += m ? Number(m[1]) : 0;
        } catch {
          /* gone */
        }
      }
      out[h.name] = sum;
    }
    return out;
  }

  /**
   * Plugs an extra namespace into the public segment (addresses .3-.9), e.g. for a DHT bootstrap node:
   * run processes there with `ip netns exec <ns> …`; `down` kills them and removes the namespace.
   */
  async addSegmentNode(label: string): Promise<SegmentNode> {
    if (!/^[a-z0-9]{1,8}$/.test(label)) throw new Error(`segment node label '${label}': use 1-8 lower-case letters/digits`);
    const existing = this.state.segmentNodes.find((x) => x.label === label);
    if (existing && nsExists(existing.ns)) return existing;
    const used = new Set(this.state.segmentNodes.map((x) => x.address));
    const subnet = parseCidr(this.state.subnet);
    let address = "";
    for (let off = ROUTER_OFFSET + 1; off < HOST_OFFSET && !address; off++) {
      const a = hostAddress(subnet, off);
      if (!used.has(a)) address = a;
    }
    if (!address) throw new Error(`testbed ${this.name}: no free segment address for node '${label}' (at most 7)`);
    const node: SegmentNode = { label, ns: `${NS_PREFIX}${this.name}-x${label}`, address };
    await createHostLink({
      parentNs: bridgeNs(this.name),
      parentIf: `x-${label}`,
      bridge: "br0",
      hostNs: node.ns,
      address,
      len: subnet.len,
    });
    this.state.segmentNodes = [...this.state.segmentNodes.filter((x) => x.label !== label), node];
    writeState(this.state);
    return node;
  }

  /** Are all hosts running with sshd answering? (cheap health check before reusing a testbed) */
  async healthy(): Promise<boolean> {
    for (const h of this.state.hosts) {
      if (!(await this.isRunning(h.name))) return false;
      try {
        await waitForSsh(h.name, h.address, h.sshPort, 3000);
      } catch {
        return false;
      }
    }
    return true;
  }

  async down(): Promise<void> {
    await down(this.name);
  }

  /** @internal */
  writeKnownHosts(): void {
    writeKnownHosts(
      this.state.knownHostsPath,
      this.state.hosts.map((h) => ({ address: h.address, port: h.sshPort, publicKey: h.hostPublicKey })),
    );
  }
}

/**
 * Reuses the testbed `opts.name` when it is up with the same shape and healthy (saves boot time across
 * test files); otherwise brings up a fresh one. State on reused hosts is whatever earlier tests left.
 */
export async function acquire(n: number, opts: UpOptions = {}): Promise<Testbed> {
  const name = runName(opts.name ?? "tb");
  const s = readState(name);
  const want = { hosts: n, nat: opts.nat ?? 0, subnet: opts.subnet, natSubnet: opts.natSubnet, behind: opts.behind ?? [], binds: opts.binds ?? [] };
  if (s && JSON.stringify(s.spec) === JSON.stringify(want)) {
    const tb = Testbed.fromState(s);
    if (await tb.healthy()) {
      log(`reusing testbed '${name}' (${s.hosts.length} host(s) up)`);
      return tb;
    }
  }
  return up(n, opts);
}

/** Waits until a booted host answers SSH and its systemd finished booting (logins allowed). */
async function waitReady(h: HostInfo): Promise<void> {
  await waitForSsh(h.name, h.address, h.sshPort, SSH_WAIT_MS, () => bootFailure(h.name, h.pid, h.dir));
  const state = await waitForBoot(h.name, h.ns, SSH_WAIT_MS);
  if (state !== "running") log(`host ${h.name}: ${state}`);
}

/** Recreates a host's network namespace (and the network behind it): a reboot starts with fresh kernel state. */
async function resetHostNetwork(h: HostInfo): Promise<void> {
  if (h.behind) await deleteNs(h.behind.ns);
  await createHostLink(h.link);
  if (h.behind) await createBehind({ hostNs: h.ns, ns: h.behind.ns, cidr: parseCidr(h.behind.cidr) });
}

/** Brings up a fresh testbed (an existing one of the same name is removed first). */
export async function up(n: number, opts: UpOptions = {}): Promise<Testbed> {
  const name = runName(opts.name ?? "tb");
  const nat = opts.nat ?? 0;
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(nat) || nat < 0 || n + nat === 0) {
    throw new Error(`up: --hosts must be ≥ 0 and --nat ≥ 0 with at least one host in total (got hosts=${n}, nat=${nat})`);
  }
  if (n + nat > 200) throw new Error("up: at most 200 hosts per testbed");
  const t0 = Date.now();
  if (readState(name) || (await leftovers(name)).length) {
    log(`removing the previous testbed '${name}'`);
    await down(name);
  }
  const rootfs = await ensureRootfs();
  const repo = await ensureAptRepo(rootfs.path);

  const subnet = parseCidr(opts.subnet ?? defaultSubnet(name, await machineRoutes()));
  const natSubnet = parseCidr(opts.natSubnet ?? DEFAULT_NAT_SUBNET);
  const dir = stateDir(name);
  fs.mkdirSync(path.join(dir, "hosts"), { recursive: true, mode: 0o700 });
  const state: TestbedState = {
    version: 1,
    name,
    subnet: cidrText(subnet),
    natSubnet: cidrText(natSubnet),
    machineAddress: hostAddress(subnet, MACHINE_OFFSET),
    routerAddress: nat > 0 ? hostAddress(subnet, ROUTER_OFFSET) : undefined,
    rootfs: rootfs.path,
    repo: repo.path,
    privateKeyPath: path.join(dir, "id_ed25519"),
    clientPublicKey: "",
    knownHostsPath: path.join(dir, "known_hosts"),
    hosts: [],
    binds: opts.binds ?? [],
    segmentNodes: [],
    spec: { hosts: n, nat, subnet: opts.subnet, natSubnet: opts.natSubnet, behind: opts.behind ?? [], binds: opts.binds ?? [] },
    createdAt: new Date().toISOString(),
  };
  for (const b of state.binds) {
    if (!path.isAbsolute(b.source) || !fs.existsSync(b.source)) throw new Error(`up: bind source '${b.source}' must be an existing absolute path`);
  }
  try {
    const client = await generateKey(state.privateKeyPath, `testbed-${name}`);
    state.clientPublicKey = client.publicKey;

    const specs: Array<{ kind: "public" | "nat"; index: number }> = [
      ...Array.from({ length: n }, (_, i) => ({ kind: "public" as const, index: i + 1 })),
      ...Array.from({ length: nat }, (_, i) => ({ kind: "nat" as const, index: i + 1 })),
    ];
    for (const s of specs) {
      const hn = hostName(name, s.kind, s.index);
      const pub = s.kind === "public";
      const segmentAddress = pub ? hostAddress(subnet, HOST_OFFSET + s.index) : hostAddress(natSubnet, HOST_OFFSET + s.index);
      state.hosts.push({
        name: hn,
        kind: s.kind,
        index: s.index,
        address: pub ? segmentAddress : state.routerAddress!,
        sshPort: pub ? 22 : NAT_SSH_PORT_BASE + s.index,
        segmentAddress,
        user: "root",
        sudoUser: SUDO_USER,
        privateKeyPath: state.privateKeyPath,
        knownHostsPath: state.knownHostsPath,
        hostPublicKey: "",
        hostKeyFingerprint: "",
        behindNat: !pub,
        ns: hostNs(hn),
        link: {
          parentNs: pub ? bridgeNs(name) : routerNs(name),
          parentIf: `v-${pub ? "h" : "n"}${s.index}`,
          bridge: pub ? "br0" : "brp",
          hostNs: hostNs(hn),
          address: segmentAddress,
          len: pub ? subnet.len : natSubnet.len,
          gateway: pub ? undefined : routerPrivateAddr(natSubnet),
        },
        dir: hostDir(name, hn),
        root: path.join(hostDir(name, hn), "root"),
        rootKind: "overlay",
        cgroup: cgroupPlan(hn),
      });
    }
    let nextBehind = 101;
    for (const b of opts.behind ?? []) {
      const spec = typeof b === "string" ? { host: b } : b;
      // A host named as the caller names the testbed: with WGMESH_TESTBED_PREFIX its name carries the prefix too.
      const h = state.hosts.find((x) => x.name === spec.host) ?? state.hosts.find((x) => x.name === `${process.env.WGMESH_TESTBED_PREFIX ?? ""}${spec.host}`);
      if (!h) throw new Error(`up: behind names host '${spec.host}', which is not in this testbed`);
      const cidr = parseCidr(spec.cidr ?? `192.168.${nextBehind++}.0/24`);
      h.behind = { cidr: cidrText(cidr), gateway: hostAddress(cidr, 1), device: hostAddress(cidr, 2), ns: behindNs(h.name) };
    }
    writeState(state);

    log(`network: segment ${state.subnet} (machine ${state.machineAddress})${nat ? `, NAT router ${state.routerAddress} → ${state.natSubnet}` : ""}`);
    await createSegment(name, subnet, state.machineAddress);
    if (nat > 0) {
      await createRouter({
        prefix: name,
        publicAddr: state.routerAddress!,
        publicLen: subnet.len,
        natSubnet,
        forwards: state.hosts.filter((h) => h.behindNat).map((h) => ({ port: h.sshPort, to: h.segmentAddress })),
      });
    }
    await parallel(state.hosts, 4, async (h) => {
      fs.mkdirSync(h.dir, { recursive: true });
      await resetHostNetwork(h);
      const key = await generateKey(path.join(h.dir, "ssh_host_ed25519_key"), `root@${h.name}`);
      h.hostPublicKey = keyBody(key.publicKey);
      h.hostKeyFingerprint = await fingerprint(h.hostPublicKey);
      const view = await mountRootView(rootfs.path, h.dir);
      h.rootKind = view.kind;
      personalize(h.root, {
        name: h.name,
        hostKeyFile: key.privateKeyPath,
        clientPublicKey: client.publicKey,
        aptLists: path.join(repo.path, "lists"),
      });
    });
    const tb = Testbed.fromState(state);
    tb.writeKnownHosts();
    writeState(state);

    ensureInotifyInstances();
    ensureNeighbourCapacity(state.hosts.length);
    const tBoot = Date.now();
    log(`booting ${state.hosts.length} host(s) (${state.hosts[0].rootKind} roots)`);
    for (const h of state.hosts) {
      h.pid = boot({ name: h.name, root: h.root, dir: h.dir, ns: h.ns, repo: repo.path, binds: state.binds, cgroup: h.cgroup });
    }
    writeState(state);
    await parallel(state.hosts, state.hosts.length, waitReady);
    log(
      `testbed '${name}' up: ${state.hosts.length} host(s) booted and answering SSH ${((Date.now() - tBoot) / 1000).toFixed(1)} s after boot, ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s in total`,
    );
    return tb;
  } catch (e) {
    if (process.env.TESTBED_KEEP_ON_FAILURE !== "1") {
      log(`up failed, removing testbed '${name}': ${(e as Error).message}`);
      await down(name).catch(() => undefined);
    }
    throw e;
  }
}

/** Runs a command in a host with the caller's stdio (for the CLI); resolves with its exit code. */
export async function execInteractive(prefix: string, host: string, argv: string[]): Promise<number> {
  const tb = Testbed.attach(prefix);
  const h = tb.host(host);
  const init = await containerInit(h.ns);
  if (!init) throw new Error(`host ${host} is not running`);
  const full = [...execPrefix(init), ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}

