import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseLiveProbe, probeConfDigest, renderLiveProbe } from "./probe";
import { confDigest } from "./wgquick";
import { IP_ADDR_JSON, IP_ROUTE4_JSON, IP_ROUTE6_JSON, WG_DUMP } from "./testdata/captured";

const PRIVATE = (WG_DUMP.split("\n")[0] as string).split("\t")[0] as string;

test("the probe blanks the private key with awk before printing (run on the captured dump)", () => {
  const awkLine = renderLiveProbe("wg0").split("\n")[1] as string;
  const awk = awkLine.slice(awkLine.indexOf("| awk") + 2);
  const r = spawnSync("sh", ["-c", awk], { input: WG_DUMP, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stdout.includes(PRIVATE));
  assert.equal(r.stdout.split("\n")[0]?.split("\t")[0], "(hidden)");
  assert.deepEqual(r.stdout.split("\n").slice(1), WG_DUMP.split("\n").slice(1), "peer lines unchanged");
});

test("probe output embedded in other output parses to the live state", () => {
  const hidden = WG_DUMP.replace(PRIVATE, "(hidden)");
  const out = ["facts: debian", "@@wgmesh-live:dump@@", hidden.trimEnd(), "@@wgmesh-live:addr@@", IP_ADDR_JSON.trimEnd(), "@@wgmesh-live:route4@@", IP_ROUTE4_JSON.trimEnd(),
    "@@wgmesh-live:route6@@", IP_ROUTE6_JSON.trimEnd(), "@@wgmesh-live:forward@@", "1", "@@wgmesh-live:end@@", "more"].join("\n");
  const live = parseLiveProbe(out, "wgfx0");
  assert.equal(live.interface?.publicKey, "YXzJoSDxIh1zgCPaSL8avF3e3ynpqA9gOPlN6/X+ZBw=");
  assert.deepEqual(live.routes, ["192.168.50.0/24", "fd00:50::/64"]);
  assert.equal(live.peers.length, 3);
  assert.equal(live.forwarding, true);
  const missing = ["@@wgmesh-live:dump@@", "@@wgmesh-live:addr@@", "@@wgmesh-live:route4@@", "@@wgmesh-live:route6@@", "@@wgmesh-live:forward@@", "0", "@@wgmesh-live:end@@"].join("\n");
  assert.deepEqual(parseLiveProbe(missing, "wg0"), { interface: null, peers: [], routes: [], forwarding: false });
  assert.throws(() => parseLiveProbe("nothing", "wg0"), /incomplete/);
});

test("the probe's file digest is sha256sum's, and matches confDigest of the same text", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-probe-"));
  try {
    const file = path.join(dir, "wg 0.conf");
    const text = "[Interface]\nAddress = 10.99.0.1/16\n";
    fs.writeFileSync(file, text);
    const snippet = renderLiveProbe("wg0", { confPath: file }).split("\n").slice(-3).join("\n"); // conf section + end marker
    const out = ["@@wgmesh-live:dump@@", "@@wgmesh-live:forward@@", "0", spawnSync("sh", ["-c", snippet], { encoding: "utf8" }).stdout].join("\n");
    assert.equal(probeConfDigest(out, "wg0"), confDigest(text));
    fs.rmSync(file);
    const none = ["@@wgmesh-live:dump@@", "@@wgmesh-live:forward@@", "0", spawnSync("sh", ["-c", snippet], { encoding: "utf8" }).stdout].join("\n");
    assert.equal(probeConfDigest(none, "wg0"), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
