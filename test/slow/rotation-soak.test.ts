// Key rotation, repeated (issue 16): examples/key-rotation with per-pair PSKs on 5 testbed hosts (a1 keeps its
// key on the host, n1 is behind NAT), pings and a TCP stream between every pair for the whole run, and
// WGMESH_ROTATION_ROUNDS (default 9) `pulumi up`s cycling through: one node's key (a different node each time),
// every node's key, every pair's PSK. Reports per round the worst ping/TCP gap of any pair and per pair the
// worst over all rounds; asserts every TCP stream survived the whole run and no ping gap exceeded 3 s.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { pulumiEnv, toolchainMissing } from "../pulumi/harness";
import { ExampleSession, meshProbes, nodeBind, probeMatrix } from "../pulumi/examples-harness";
import { formatReport, gapText, startTraffic, stopTraffic, trafficReport, worstLine, type PairReport, type TrafficMesh } from "../testbed/traffic";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv) || (process.getuid?.() !== 0 ? "the testbed needs root" : false);
const NAMES = ["a1", "a2", "a3", "a4", "n1"];
const ROUNDS = Number(process.env.WGMESH_ROTATION_ROUNDS ?? 9);

describe(`key rotation soak: ${ROUNDS} rotations with traffic between every pair (5 hosts, keyOnHost, NAT, PSKs)`, { skip, timeout: 3_600_000 }, () => {
  let s: ExampleSession;
  let m: TrafficMesh;

  before(async () => {
    s = await ExampleSession.start("key-rotation", "rsoak", NAMES, baseEnv, { nat: 1, binds: [nodeBind()] });
    s.pulumiOk(["config", "set", "hosts", JSON.stringify(NAMES.map((name) => {
      const h = s.host(name);
      return { name, host: h.address, port: h.sshPort, hostKey: h.hostPublicKey, ...(name === "a1" ? { keyOnHost: true } : {}) };
    }))]);
    s.pulumiOk(["config", "set", "presharedKeys", "true"]);
  });

  after(async () => {
    if (m) await stopTraffic(m).catch(() => undefined);
    await s?.close();
  });

  test("rounds of rotation: every TCP stream survives all of them, no ping gap over 3 s", async (t) => {
    s.pulumiOk(["up", "--yes", "--skip-preview"]);
    const out = s.stackOutputs();
    assert.deepEqual(await probeMatrix(s.tb, meshProbes(NAMES, (n) => s.hostOf(n), out.meshIps, () => true)), []);
    m = { tb: s.tb, hostOf: (n) => s.hostOf(n), names: NAMES, meshIps: out.meshIps };
    await startTraffic(m);

    const worstPerPair = new Map<string, { ping: number; tcp: number }>();
    const perRound: number[] = [];
    const broken: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const kind = (["one", "all", "psk"] as const)[i % 3];
      const label = kind === "one" ? `round ${i + 1}: ${NAMES[Math.floor(i / 3) % NAMES.length]}'s key` : kind === "all" ? `round ${i + 1}: every node's key` : `round ${i + 1}: every pair's PSK`;
      if (kind === "one") s.pulumiOk(["config", "set", "--path", `rotate.${NAMES[Math.floor(i / 3) % NAMES.length]}`, `r${i}`]);
      else if (kind === "all") s.pulumiOk(["config", "set", "rotateAll", `r${i}`]);
      else s.pulumiOk(["config", "set", "pskRotationTrigger", `r${i}`]);
      const t0 = Date.now();
      const r = s.pulumiOk(["up", "--yes", "--skip-preview"]);
      const report: PairReport[] = await trafficReport(m, t0, Date.now());
      t.diagnostic(`${label}: pulumi up ${r.ms} ms; ${worstLine(report)}`);
      let roundBroken = false;
      for (const x of report) {
        const w = worstPerPair.get(x.pair) ?? { ping: 0, tcp: 0 };
        worstPerPair.set(x.pair, { ping: Math.max(w.ping, x.pingGapMs), tcp: Math.max(w.tcp, x.tcpGapMs) });
        if (!x.tcpSurvived || !x.pingResumed || x.pingGapMs > 3000) {
          broken.push(`${label}: ${formatReport([x])[0]}`);
          roundBroken = true;
        }
      }
      // What the engine said about the switch (handshake re-starts, the gate's waits) on a round that broke.
      if (roundBroken) for (const line of r.stdout.split("\n").filter((l) => /no handshake with peer|health gate|reported, not rolled back/.test(l))) t.diagnostic(`${label}: ${line.trim()}`);
      perRound.push(Math.max(0, ...report.map((x) => x.pingGapMs)));
    }
    for (const [pair, w] of worstPerPair) t.diagnostic(`over all rounds, ${pair}: worst ping gap ${gapText(w.ping)}, worst TCP gap ${gapText(w.tcp)}`);
    const sorted = [...perRound].sort((a, b) => a - b);
    t.diagnostic(`worst ping gap of a round: median ${gapText(sorted[Math.floor(sorted.length / 2)] ?? 0)}, max ${gapText(sorted[sorted.length - 1] ?? 0)} (${ROUNDS} rounds)`);
    assert.deepEqual(broken, []);
    assert.equal(s.pulumi(["preview", "--expect-no-changes"]).status, 0);
  });
});
