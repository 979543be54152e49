import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { daemonIdentity, daemonReadScript, hostState, parseDaemonReading, planDaemonSteps, plannedFiles, sha256Hex, PLANNED_DAEMON_STATE, type DaemonReading } from "./daemon";
import { deriveParams, meshIPv4 } from "../daemon/derive";
import { parseSecret } from "../daemon/secret";

const SECRET = "wgmesh://v1/engine-daemon-test-secret-0123456789abcdefghijklmn";
const PUB = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const BIN = "a".repeat(64);

function localReading(): DaemonReading {
  // The read script is read-only: run it here against an interface that does not exist.
  const r = spawnSync("sh", ["-s"], { input: daemonReadScript("wgmdtest9"), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return parseDaemonReading(r.stdout, "wgmdtest9");
}

function installed(over: Partial<DaemonReading> = {}): DaemonReading {
  const base = localReading();
  const { unit, secretFile } = plannedFiles({ secret: SECRET, options: { gossip: true } });
  return { ...base, binarySha256: BIN, unitSha256: sha256Hex(unit), secretSha256: sha256Hex(secretFile), secretMode: "600", enabled: "enabled", active: "active", ...over };
}

describe("engine: decentralized daemon", () => {
  it("the read script runs (read-only) and parses; a bare host has none of the daemon", () => {
    const r = localReading();
    assert.equal(r.facts.iface.exists, false);
    assert.equal(r.unitSha256, null);
    assert.equal(r.secretSha256, null);
    const st = hostState(r, { binarySha256: BIN, ...plannedFiles({ secret: SECRET, options: {} }) });
    assert.equal(st.unit, "missing");
    assert.equal(st.secret, "missing");
    assert.match(st.service, /^not enabled/);
  });

  it("the unit names the secret FILE and the options, never the secret", () => {
    const { unit, secretFile } = plannedFiles({ secret: SECRET, options: { gossip: true, listenPort: 51999 } });
    assert.ok(!unit.includes("engine-daemon-test-secret"));
    assert.match(unit, /^ExecStart="\/usr\/local\/bin\/wgmesh" "join" "--listen-port" "51999" "--gossip"$/m);
    assert.match(unit, /^Environment="WGMESH_SECRET_FILE=\/etc\/wgmesh\/secret"$/m);
    assert.equal(secretFile, `${SECRET}\n`);
  });

  it("a host as planned needs no step; each difference its own steps; the secret only travels on stdin", () => {
    const planned = { binarySha256: BIN, ...plannedFiles({ secret: SECRET, options: { gossip: true } }) };
    const ok = installed();
    const st = hostState(ok, planned);
    assert.deepEqual(st, PLANNED_DAEMON_STATE);
    const withTools = { ...ok, facts: { ...ok.facts, tools: { ...ok.facts.tools, wg: true, wgQuick: true, wireguardGo: true } } };
    assert.deepEqual(planDaemonSteps("n1", withTools, st, planned, "wg0"), []);

    const stopped = installed({ active: "inactive" });
    const s1 = planDaemonSteps("n1", { ...stopped, facts: withTools.facts }, hostState(stopped, planned), planned, "wg0");
    assert.deepEqual(s1.map((s) => s.description), ["enable and (re)start wgmesh.service"]);

    const otherSecret = installed({ secretSha256: sha256Hex("wgmesh://v1/another\n") });
    const s2 = planDaemonSteps("n1", { ...otherSecret, facts: withTools.facts }, hostState(otherSecret, planned), planned, "wg0");
    assert.deepEqual(s2.map((s) => s.description), ["write /etc/wgmesh/secret (0600)", "enable and (re)start wgmesh.service"]);
    for (const s of s2) assert.ok(!s.script.includes("engine-daemon-test-secret"), "no secret in any step's text");

    const loose = installed({ secretMode: "644" });
    assert.equal(hostState(loose, planned).secret, "mode 644");

    const oldUnit = installed({ unitSha256: sha256Hex("old") });
    const s3 = planDaemonSteps("n1", { ...oldUnit, facts: withTools.facts }, hostState(oldUnit, planned), planned, "wg0");
    assert.deepEqual(s3.map((s) => s.description), ["write /etc/systemd/system/wgmesh.service and /var/lib/wgmesh/wg0.reload", "enable and (re)start wgmesh.service"]);

    const newBinary = installed({ binarySha256: "b".repeat(64) });
    assert.equal(hostState(newBinary, planned).binary, "differs");
    assert.deepEqual(planDaemonSteps("n1", { ...newBinary, facts: withTools.facts }, hostState(newBinary, planned), planned, "wg0").map((s) => s.kind), ["enable-unit"], "a new binary restarts the daemon");
  });

  it("only advertised routes or log level changed on a running daemon: unit + reload file rewritten, SIGHUP, no restart", () => {
    const now = plannedFiles({ secret: SECRET, options: { gossip: true, advertiseRoutes: ["192.168.5.0/24"], logLevel: "debug" } });
    const was = plannedFiles({ secret: SECRET, options: { gossip: true } });
    assert.match(now.reloadFile, /^advertise-routes=192\.168\.5\.0\/24$/m);
    assert.match(now.reloadFile, /^log-level=debug$/m);
    assert.match(was.reloadFile, /^advertise-routes=$/m, "none advertised: an empty list withdraws them");
    const planned = { binarySha256: BIN, ...now };
    const tools = (r: DaemonReading) => ({ ...r, facts: { ...r.facts, tools: { ...r.facts.tools, wg: true, wgQuick: true, wireguardGo: true } } });
    const r = tools(installed({ unitSha256: sha256Hex(was.unit), unitText: was.unit }));
    const steps = planDaemonSteps("n1", r, hostState(r, planned), planned, "wg0");
    assert.deepEqual(steps.map((x) => x.description), ["write /etc/systemd/system/wgmesh.service and /var/lib/wgmesh/wg0.reload", "reload wgmesh.service (SIGHUP: routes/log level applied live)"]);
    assert.match(steps[1]!.script, /systemctl 'kill' '--signal=HUP' '--kill-who=main' 'wgmesh.service'|systemctl kill --signal=HUP --kill-who=main wgmesh.service/);
    // anything else in the unit (here: gossip off) needs a restart
    const other = plannedFiles({ secret: SECRET, options: { advertiseRoutes: ["192.168.5.0/24"] } });
    const r2 = tools(installed({ unitSha256: sha256Hex(was.unit), unitText: was.unit }));
    const p2 = { binarySha256: BIN, ...other };
    assert.deepEqual(planDaemonSteps("n1", r2, hostState(r2, p2), p2, "wg0").map((x) => x.kind), ["write-conf", "enable-unit"]);
    assert.match(planDaemonSteps("n1", r2, hostState(r2, p2), p2, "wg0")[1]!.description, /\(re\)start/);
    // a stopped daemon is started, not signalled
    const r3 = tools(installed({ unitSha256: sha256Hex(was.unit), unitText: was.unit, active: "failed" }));
    assert.match(planDaemonSteps("n1", r3, hostState(r3, planned), planned, "wg0").at(-1)!.description, /\(re\)start/);
  });

  it("a host without WireGuard gets its packages first", () => {
    const r = installed({ active: "inactive" });
    const bare = { ...r, facts: { ...r.facts, packageManager: "apt" as const, tools: { ...r.facts.tools, wg: false, wgQuick: false, wireguardGo: false }, wireguardGoNeeded: true } };
    const files = plannedFiles({ secret: SECRET, options: { gossip: true } });
    const steps = planDaemonSteps("n1", bare, hostState(bare, { binarySha256: BIN, ...files }), files, "wg0");
    assert.equal(steps[0]?.description, "install wireguard-tools, wireguard-go");
  });

  it("identity: the public key and the IPv4 address inside the mesh subnet, or an error naming the node", () => {
    const p = deriveParams(parseSecret(SECRET).secret);
    const ip = meshIPv4(p, PUB);
    const r = localReading();
    const up = { ...r, facts: { ...r.facts, live: { ...r.facts.live, interface: { name: "wg0", publicKey: PUB, listenPort: 51820, addresses: ["192.168.1.5/24", `${ip}/16`, "fd12::1/64"], mtu: null } } } };
    assert.deepEqual(daemonIdentity("n1", up, SECRET, undefined), { publicKey: PUB, meshIp: ip, meshIpv6: "fd12::1" });
    const noAddr = { ...up, facts: { ...up.facts, live: { ...up.facts.live, interface: { ...up.facts.live.interface!, addresses: ["192.168.1.5/24"] } } } };
    assert.throws(() => daemonIdentity("n1", noAddr, SECRET, undefined), /node n1: .*no mesh address.*journalctl -u wgmesh.service/);
  });
});
