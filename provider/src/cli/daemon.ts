/**
 * The daemon-side commands of `wgmesh`, with the Go tool's flags, output and exit codes:
 *   init --secret | status --secret S [--json] [--interface X] [--mesh-subnet C]
 *   peers list|count|get <pubkey> (RPC socket) | test-peer --secret S --peer IP:PORT [--port N]
 * Exported both as registry `Command`s (`daemonCommands`) and as a name → (argv) => exit-code map
 * (`commands`) for the CLI dispatcher.
 *
 * Deviation (safe): our `test-peer` sends a fresh, valid public key with no mesh IP instead of Go's
 * "test-pubkey"/"test:51820", so a Go daemon that stores it never tries to `wg set` a bogus peer
 * (weakness 2); the HELLO size in "Sending HELLO … (N bytes)" differs accordingly. It also ignores
 * datagrams from anyone but the peer while it waits.
 */
import { execFile } from "node:child_process";
import * as dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { AddressInfo } from "node:net";
import { processIO, type CliIO, type Command } from "./commands";
import { generateKeyPair } from "../core/keys";
import {
  defaultSubnetCidr, deriveParams, ipv6PrefixText, MeshParams, networkIdShort, parseMeshSubnet, SubnetError,
} from "../daemon/derive";
import { openEnvelope, sealEnvelope, PROTOCOL_VERSION } from "../daemon/envelope";
import { FlagSpec, flagUsage, parseGoFlags, ParseOutcome } from "../daemon/goflags";
import { formatInit, formatPeersCount, formatPeersGet, formatPeersList, formatStatusJson, formatStatusText, FormatError, StatusView } from "../daemon/format";
import { decodeAnnouncement, encodeAnnouncement, joinHostPort, splitHostPort } from "../daemon/messages";
import { normalizeIp } from "../daemon/netaddr";
import { clientSocketPath, RpcClient, RpcError } from "../daemon/rpc";
import { formatSecretUri, generateSecret, LOW_ENTROPY_WARNING, parseSecret, SecretError } from "../daemon/secret";
import { goLogPrefix } from "../daemon/timefmt";
import { JOIN_USAGE, runJoin } from "../daemon/join";
import { runInstallService } from "../daemon/service";

export interface DaemonCommandDeps {
  /** `systemctl is-active wgmesh.service` (trimmed), or "inactive" when that fails. */
  serviceStatus(): Promise<string>;
  nowMs(): number;
  /** How long test-peer waits for the REPLY. */
  testPeerTimeoutMs: number;
}

export function systemctlIsActive(): Promise<string> {
  return new Promise((resolve) => {
    execFile("systemctl", ["is-active", "wgmesh.service"], { timeout: 5000 }, (err, stdout) => {
      resolve(err ? "inactive" : String(stdout).trim());
    });
  });
}

const defaultDeps: DaemonCommandDeps = { serviceStatus: systemctlIsActive, nowMs: Date.now, testPeerTimeoutMs: 10_000 };

/** Linux interface names as the Go daemon accepts them (length first, then characters). */
export function interfaceNameError(name: string): string | undefined {
  if (name.length > 15) return `interface name ${JSON.stringify(name)} is ${name.length} characters; maximum is 15 (kernel IFNAMSIZ limit)`;
  if (!/^[a-zA-Z][a-zA-Z0-9_-]*$/.test(name)) {
    return `interface name ${JSON.stringify(name)} is invalid; must start with a letter and contain only letters, digits, underscores, or hyphens (e.g. wg0, cloudroof0, mesh-1)`;
  }
  return undefined;
}

interface Config {
  params: MeshParams;
  iface: string;
  subnet?: ReturnType<typeof parseMeshSubnet>;
}

/** Go's NewConfig order: secret → keys → interface → subnet. Errors go to stderr as "Failed to create config: …". */
function buildConfig(io: CliIO, deps: DaemonCommandDeps, secretInput: string, iface: string, meshSubnet: string): Config | undefined {
  let parsed;
  try {
    parsed = parseSecret(secretInput);
  } catch (e) {
    if (!secretInput.trim().startsWith("wgmesh://")) io.stderr.write(`${goLogPrefix(deps.nowMs())}[WARN] ${LOW_ENTROPY_WARNING}\n`);
    io.stderr.write(`Failed to create config: failed to derive keys: ${(e as SecretError).message}\n`);
    return undefined;
  }
  if (parsed.lowEntropy) io.stderr.write(`${goLogPrefix(deps.nowMs())}[WARN] ${LOW_ENTROPY_WARNING}\n`);
  const params = deriveParams(parsed.secret);
  const name = iface || "wg0";
  const ifErr = interfaceNameError(name);
  if (ifErr) {
    io.stderr.write(`Failed to create config: invalid interface name: ${ifErr}\n`);
    return undefined;
  }
  if (meshSubnet) {
    try {
      return { params, iface: name, subnet: parseMeshSubnet(meshSubnet) };
    } catch (e) {
      io.stderr.write(`Failed to create config: ${(e as SubnetError).message}\n`);
      return undefined;
    }
  }
  return { params, iface: name };
}

function flagsOrExit(io: CliIO, out: ParseOutcome): out is Extract<ParseOutcome, { ok: true }> {
  if (out.ok) return true;
  if (!out.help) io.stderr.write(`${out.message}\n`);
  io.stderr.write(out.usage);
  return false;
}

const IFACE_USAGE = "WireGuard interface name (default: wg0 on non-macOS, utun20 on macOS)";

const INIT_FLAGS: Record<string, FlagSpec> = {
  secret: { type: "bool", usage: "Generate a new mesh secret" },
  referral: { type: "string", usage: "Referral share code to attribute this init (format: XXXXX-XXXXX)" },
};
const STATUS_FLAGS: Record<string, FlagSpec> = {
  secret: { type: "string", usage: "Mesh secret (required)" },
  json: { type: "bool", usage: "Output in JSON format" },
  interface: { type: "string", usage: IFACE_USAGE },
  "mesh-subnet": { type: "string", usage: "Custom mesh subnet CIDR (e.g. 192.168.100.0/24)" },
};
const TEST_PEER_FLAGS: Record<string, FlagSpec> = {
  secret: { type: "string", usage: "Mesh secret (required)" },
  peer: { type: "string", usage: "Peer address to test (IP:PORT)" },
  port: { type: "int", usage: "Local port to listen on (0 = random)", default: 0 },
};

export async function runInit(args: string[], io: CliIO): Promise<number> {
  const f = parseGoFlags("init", args, INIT_FLAGS);
  if (!flagsOrExit(io, f)) return f.help ? 0 : 2;
  if (!f.values["secret"]) {
    io.stderr.write(flagUsage("init", INIT_FLAGS));
    return 1;
  }
  io.stdout.write(formatInit(formatSecretUri(generateSecret())));
  return 0;
}

export async function runStatus(args: string[], io: CliIO, deps: DaemonCommandDeps = defaultDeps): Promise<number> {
  const f = parseGoFlags("status", args, STATUS_FLAGS);
  if (!flagsOrExit(io, f)) return f.help ? 0 : 2;
  const secret = f.values["secret"] as string;
  if (!secret) {
    io.stderr.write("Error: --secret is required\nUsage: wgmesh status --secret <SECRET>\n");
    return 1;
  }
  const cfg = buildConfig(io, deps, secret, f.values["interface"] as string, f.values["mesh-subnet"] as string);
  if (!cfg) return 1;
  const view: StatusView = {
    interface: cfg.iface,
    networkId: networkIdShort(cfg.params),
    meshSubnet: cfg.subnet ? cfg.subnet.cidr : defaultSubnetCidr(cfg.params),
    customSubnet: cfg.subnet !== undefined,
    ipv6Prefix: ipv6PrefixText(cfg.params),
    gossipPort: cfg.params.gossipPort,
    rendezvousId: cfg.params.rendezvousId.toString("hex"),
    serviceStatus: await deps.serviceStatus(),
  };
  io.stdout.write(f.values["json"] ? formatStatusJson(view) : formatStatusText(view));
  return 0;
}

const PEERS_USAGE = "Usage: wgmesh peers <list|count|get>\n\nCommands:\n  list            List all active peers\n  count           Show peer counts\n  get <pubkey>    Get specific peer by public key\n";

export async function runPeers(args: string[], io: CliIO, deps: DaemonCommandDeps = defaultDeps): Promise<number> {
  const action = args[0];
  if (action === undefined) {
    io.stderr.write(PEERS_USAGE);
    return 1;
  }
  const socketPath = clientSocketPath(io.env);
  let client: RpcClient;
  try {
    client = await RpcClient.connect(socketPath);
  } catch (e) {
    io.stderr.write(`Failed to connect to daemon: ${(e as Error).message}\n\nIs wgmesh daemon running?\n  Start with: wgmesh join --secret <SECRET>\n  Socket path: ${socketPath}\n`);
    return 1;
  }
  try {
    const call = async (method: string, params?: Record<string, unknown>): Promise<unknown> => client.call(method, params);
    switch (action) {
      case "list":
        io.stdout.write(formatPeersList(await call("peers.list"), deps.nowMs()));
        return 0;
      case "count":
        io.stdout.write(formatPeersCount(await call("peers.count")));
        return 0;
      case "get": {
        const key = args[1];
        if (key === undefined) {
          io.stderr.write("Usage: wgmesh peers get <pubkey>\n");
          return 1;
        }
        io.stdout.write(formatPeersGet(await call("peers.get", { pubkey: key })));
        return 0;
      }
      default:
        io.stderr.write(`Unknown action: ${action}\nAvailable actions: list, count, get\n`);
        return 1;
    }
  } catch (e) {
    if (e instanceof FormatError) io.stderr.write(`${e.message}\n`);
    else if (e instanceof RpcError) io.stderr.write(`RPC error: ${e.message}\n`);
    else io.stderr.write(`RPC error: ${(e as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

const TEST_PEER_USAGE = "Usage: wgmesh test-peer --secret <SECRET> --peer <IP:PORT>\n\nThis tests direct UDP connectivity to another wgmesh node.\nRun 'wgmesh join' on the peer first, note its exchange port,\nthen test with: wgmesh test-peer --secret <SECRET> --peer <PEER_IP>:<EXCHANGE_PORT>\n";

async function bindTestSocket(port: number): Promise<{ sock: dgram.Socket; v6: boolean }> {
  const attempt = (type: "udp4" | "udp6"): Promise<dgram.Socket> =>
    new Promise((resolve, reject) => {
      const s = dgram.createSocket(type === "udp6" ? { type, ipv6Only: false } : { type });
      s.once("error", (e) => { s.close(); reject(e); });
      s.bind(port, type === "udp6" ? "::" : "0.0.0.0", () => { s.removeAllListeners("error"); resolve(s); });
    });
  try {
    return { sock: await attempt("udp6"), v6: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL") throw e;
    return { sock: await attempt("udp4"), v6: false };
  }
}

export async function runTestPeer(args: string[], io: CliIO, deps: DaemonCommandDeps = defaultDeps): Promise<number> {
  const f = parseGoFlags("test-peer", args, TEST_PEER_FLAGS);
  if (!flagsOrExit(io, f)) return f.help ? 0 : 2;
  const localPort = f.values["port"] as number;
  if (!Number.isInteger(localPort) || localPort < 0 || localPort > 65535) {
    // A usage error before anything is bound or sent (Node would wrap the port; the Go tool refuses too).
    io.stderr.write(`invalid value "${localPort}" for flag -port: out of range (0–65535; 0 = random)\n${flagUsage("test-peer", TEST_PEER_FLAGS)}`);
    return 2;
  }
  const secret = f.values["secret"] as string;
  const peer = f.values["peer"] as string;
  if (!secret || !peer) {
    io.stderr.write(TEST_PEER_USAGE);
    return 1;
  }
  const cfg = buildConfig(io, deps, secret, "", "");
  if (!cfg) return 1;
  const key = cfg.params.gossipKey;
  io.stdout.write(`Testing peer exchange with ${peer}\nNetwork ID: ${networkIdShort(cfg.params)}\n`);
  let bound: { sock: dgram.Socket; v6: boolean };
  try {
    bound = await bindTestSocket(f.values["port"] as number);
  } catch (e) {
    io.stderr.write(`Failed to bind UDP: ${(e as Error).message}\n`);
    return 1;
  }
  const { sock, v6 } = bound;
  try {
    const localPort = (sock.address() as AddressInfo).port;
    io.stdout.write(`Listening on port ${localPort}\n`);
    const hp = splitHostPort(peer);
    let ip: string | undefined;
    if (hp && hp.port >= 1) {
      ip = normalizeIp(hp.host);
      if (!ip) {
        try {
          ip = normalizeIp((await lookup(hp.host)).address);
        } catch {
          ip = undefined;
        }
      }
    }
    if (!hp || !ip) {
      io.stderr.write(`Failed to resolve peer: address ${peer}: cannot resolve\n`);
      return 1;
    }
    const nowS = Math.floor(deps.nowMs() / 1000);
    const hello = sealEnvelope("HELLO", encodeAnnouncement({
      protocol: PROTOCOL_VERSION, wg_pubkey: generateKeyPair().publicKey, mesh_ip: "", wg_endpoint: "", timestamp: nowS,
    }), key);
    io.stdout.write(`Sending HELLO to ${peer} (${hello.length} bytes)...\n`);
    const expected = joinHostPort(ip, hp.port);
    const reply = new Promise<{ msg: Buffer; from: string } | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), deps.testPeerTimeoutMs);
      sock.on("message", (msg, rinfo) => {
        const from = joinHostPort(normalizeIp(rinfo.address) ?? rinfo.address, rinfo.port);
        if (from !== expected) return;
        clearTimeout(timer);
        resolve({ msg, from });
      });
    });
    try {
      await new Promise<void>((resolve, reject) => sock.send(hello, hp.port, v6 && !ip.includes(":") ? `::ffff:${ip}` : ip, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      io.stderr.write(`Failed to send: ${(e as Error).message}\n`);
      return 1;
    }
    io.stdout.write("Waiting for response (10s timeout)...\n");
    const got = await reply;
    if (!got) {
      io.stderr.write(`No response: read udp ${v6 ? "[::]" : "0.0.0.0"}:${localPort}: i/o timeout\n\nPossible issues:\n- Peer not running or wrong port\n- Firewall blocking UDP\n- Different secrets (different gossip keys)\n`);
      return 1;
    }
    io.stdout.write(`Received ${got.msg.length} bytes from ${got.from}\n`);
    const opened = openEnvelope(got.msg, key, Math.floor(deps.nowMs() / 1000));
    if (!opened.ok) {
      const why = opened.reason === "auth-failed" ? "decryption failed (wrong key?): cipher: message authentication failed" : `${opened.reason}: ${opened.detail}`;
      io.stdout.write(`Failed to decrypt (wrong secret?): ${why}\n`);
      return 1;
    }
    const ann = decodeAnnouncement(opened.payload);
    if (!ann.ok) {
      io.stdout.write(`Failed to decrypt (wrong secret?): invalid ${opened.type} payload: ${ann.message}\n`);
      return 1;
    }
    io.stdout.write(`SUCCESS! Peer exchange working!\n  Message type: ${opened.type}\n  Peer pubkey: ${ann.value.wg_pubkey}\n  Peer mesh IP: ${ann.value.mesh_ip}\n`);
    return 0;
  } finally {
    sock.close();
  }
}

export function makeDaemonCommands(deps: DaemonCommandDeps = defaultDeps): Command[] {
  return [
    { name: "init", summary: "Print a new mesh secret (init --secret)", usage: "Usage: wgmesh init --secret\n", run: (a, io) => runInit(a, io) },
    { name: "status", summary: "Show the parameters derived from a mesh secret", usage: "Usage: wgmesh status --secret <SECRET> [--json] [--interface NAME] [--mesh-subnet CIDR]\n", run: (a, io) => runStatus(a, io, deps) },
    { name: "peers", summary: "Ask the running daemon about its peers (list|count|get)", usage: PEERS_USAGE, run: (a, io) => runPeers(a, io, deps) },
    { name: "test-peer", summary: "One encrypted peer exchange with IP:PORT", usage: TEST_PEER_USAGE, run: (a, io) => runTestPeer(a, io, deps) },
    { name: "join", summary: "Run the decentralized mesh daemon in the foreground", usage: JOIN_USAGE, run: (a, io) => runJoin(a, io) },
    { name: "install-service", summary: "Install and start the daemon as a systemd unit (secret in a 0600 file)", usage: "Usage: wgmesh install-service [join flags] [--dry-run]\n", run: (a, io) => runInstallService(a, io) },
  ];
}

export const daemonCommands: Command[] = makeDaemonCommands();

/** name → (argv) => exit code, with the process's own I/O. */
export const commands: Record<string, (argv: string[]) => Promise<number>> = Object.fromEntries(
  daemonCommands.map((c) => [c.name, (argv: string[]) => c.run(argv, processIO())]),
);
