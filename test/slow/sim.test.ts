// The daemon simulation through its command-line contract (`npm run -s sim -- … --json`, bench/sim.ts):
// the daemon's real exchange/DHT/gossip/store/expiry code for many members on an in-memory network and a
// virtual clock. Small sizes here (the 1,000-node figures are a benchmark, see README): one JSON document
// with exactly the contract's members, exit 0 when converged, the same seed → the same virtual figures,
// churn leaves no ghost and loses no member, bad arguments exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../../..");
const KEYS = ["nodes", "converged", "virtualSecondsToConverge", "messagesPerNodePerSecond", "cpuSeconds", "peakRssMB", "ghostPeers", "lostMembers"];

function sim(args: string[]): { status: number | null; doc: Record<string, unknown> | undefined; stderr: string } {
  const r = spawnSync("npm", ["run", "-s", "sim", "--", ...args], { cwd: ROOT, encoding: "utf8", timeout: 900_000, maxBuffer: 64 << 20 });
  const lines = r.stdout.trim().split("\n").filter(Boolean);
  let doc: Record<string, unknown> | undefined;
  if (lines.length === 1) doc = JSON.parse(lines[0] as string) as Record<string, unknown>;
  return { status: r.status, doc, stderr: r.stderr };
}

test("100 members with 10 % packet loss converge; one JSON document; the same seed gives the same virtual figures", () => {
  const args = ["--nodes", "100", "--loss", "10", "--seed", "7", "--json", "--quiet"];
  const a = sim(args);
  assert.equal(a.status, 0, a.stderr.slice(-3000));
  assert.ok(a.doc, "exactly one line of JSON on stdout");
  assert.deepEqual(Object.keys(a.doc), KEYS);
  assert.equal(a.doc["nodes"], 100);
  assert.equal(a.doc["converged"], true);
  assert.equal(a.doc["ghostPeers"], 0);
  assert.equal(a.doc["lostMembers"], 0);
  assert.ok((a.doc["virtualSecondsToConverge"] as number) > 0);
  assert.ok((a.doc["messagesPerNodePerSecond"] as number) > 0);
  const b = sim(args);
  assert.equal(b.status, 0, b.stderr.slice(-3000));
  const virtual = (d: Record<string, unknown>) => ({ ...d, cpuSeconds: 0, peakRssMB: 0 });
  assert.deepEqual(virtual(b.doc as Record<string, unknown>), virtual(a.doc), "cpuSeconds and peakRssMB may differ, nothing else");
});

test("churn (10 %/min leave — half crash, half GOODBYE — and 10 %/min join, 2 min): no ghost, no lost member afterwards", () => {
  const r = sim(["--nodes", "60", "--churn", "10", "--churn-minutes", "2", "--seed", "3", "--json", "--quiet"]);
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  assert.equal(r.doc?.["converged"], true);
  assert.equal(r.doc?.["ghostPeers"], 0);
  assert.equal(r.doc?.["lostMembers"], 0);
  assert.ok((r.doc?.["virtualSecondsToConverge"] as number) > 0, JSON.stringify(r.doc));
});

test("churn at the store maximum (--max-peers N): exact again within the 10-min removal time of the last departure", () => {
  // Each store holds at most N peers, as the daemon's 1,000 at 1,000 members: joiners find full stores.
  // Go's rules (kept until session 8) took 665 s here: refused joiners, departed members re-added second-hand.
  // Now a dead record gives its slot to a newcomer that contacted the member itself, a second-hand entry is
  // passed on only in its first minute with a member and is active 150 s unless the peer answers (298 s
  // here; 311 s before the last two rules), so the last departed member is out of every list well within
  // PEER_REMOVE_MS (600 s) of the last churn event.
  const r = sim(["--nodes", "40", "--churn", "10", "--churn-minutes", "2", "--max-peers", "40", "--seed", "3", "--json", "--quiet"]);
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  assert.equal(r.doc?.["converged"], true);
  assert.equal(r.doc?.["ghostPeers"], 0);
  assert.equal(r.doc?.["lostMembers"], 0);
  const s = r.doc?.["virtualSecondsToConverge"] as number;
  assert.ok(s > 0 && s <= 600, JSON.stringify(r.doc));
});

test("bad arguments exit 2 with the usage", () => {
  for (const args of [[], ["--nodes", "1"], ["--nodes", "10", "--loss", "abc"], ["--nodes", "10", "--what"]]) {
    const r = sim(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /usage: npm run -s sim -- --nodes N/);
  }
});
