/**
 * Fault injection (testbed, root): a bad network and a busy machine.
 * - 20 % packet loss and 200 ms delay on the segment (SSH, WireGuard and pings all cross it; apt's repository
 *   is a local mount): a first deploy of 4 hosts converges and every pair pings after. This kernel has no
 *   sch_netem, so the delay and loss come from test/fault/netem.py on an NFQUEUE of the bridge (faults.ts).
 * - This machine under CPU load (two busy loops per core) while a testbed of 7 hosts boots and gets its
 *   first deploy: it converges and every pair pings (5 runs in a row: `npm run bench:fault-load`).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { deploy } from "../../provider/src/engine/deploy";
import { down, up } from "../testbed";
import { compile, engineOptions, nodeOn, reachability } from "../engine/e2e/mesh";
import { segmentNetem } from "./faults";
import { loadedFirstDeploy } from "./loaded";

describe("fault injection: packet loss and delay, CPU load", { timeout: 900_000 }, () => {
  after(async () => {
    await down("knet");
    await down("kcpu");
  });

  it("20 % loss + 200 ms delay on the segment: a first deploy of 4 hosts converges, every pair pings after", async () => {
    const tb = await up(4, { name: "knet" });
    const c = compile(tb, { nodes: tb.hosts.map((h) => nodeOn(h)) });
    const netem = await segmentNetem(tb, 200, 20);
    try {
      const rtt = await tb.exec(tb.hosts[0]!.name, ["ping", "-c", "10", "-i", "0.2", "-q", tb.hosts[1]!.address]);
      const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(rtt.stdout)?.[1] ?? 0);
      assert.ok(avg >= 350, `the segment delays each way by 200 ms (rtt ${avg} ms): ${rtt.stdout}`);
      const t0 = Date.now();
      const r = await deploy(c.targets, engineOptions(tb, [], { concurrency: 4 }));
      for (const [n, h] of Object.entries(r.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
      // 20 % loss per crossing: a handshake (initiation + response) succeeds with p = 0.64 per attempt, the next
      // attempt 5 s later; 30 s leaves a pair without one with p ≈ 0.36^6 ≈ 0.2 %, not 8 s's 13 %.
      const m = await reachability(tb, c, Object.keys(c.ip), 30);
      for (const n of Object.keys(c.ip)) assert.deepEqual(m[n], Object.keys(c.ip).filter((x) => x !== n).sort(), n);
      console.log(`# netem 20% loss 200 ms: first deploy of 4 hosts ${Date.now() - t0} ms wall (ping matrix included); ` +
        `gate waits ${Object.values(r.hosts).map((h) => h.gateMs).join(", ")} ms; dial attempts ${Object.values(r.hosts).map((h) => h.dialAttempts).join(", ")}`);
    } finally {
      await netem.clear();
      await down("knet");
    }
  });

  it("CPU load (two busy loops per core) during a 7-host boot and first deploy: converges, every pair pings", async () => {
    const run = await loadedFirstDeploy("kcpu", 7);
    console.log(`# loaded first deploy: ${JSON.stringify(run)}`);
    assert.deepEqual(run.failed, []);
    assert.deepEqual(run.missingPairs, []);
  });
});
