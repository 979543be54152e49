import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import { addressesFromIpJson, factSections, factsScript, parseFacts, sanitizeWgDump } from "./facts";

const PRIV = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PUB = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const PSK = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=";

describe("facts parsing", () => {
  it("sanitizes a dump: private key and preshared keys hidden", () => {
    const dump = `${PRIV}\t${PUB}\t51820\toff\n${PUB}\t${PSK}\t(none)\t10.0.0.2/32\t0\t0\t0\toff\n${PUB}\t(none)\t(none)\t10.0.0.3/32\t0\t0\t0\t25`;
    const s = sanitizeWgDump(dump);
    assert.ok(!s.includes(PRIV) && !s.includes(PSK));
    assert.equal(s.split("\n")[0], `(hidden)\t${PUB}\t51820\toff`);
    assert.equal(s.split("\n")[2], `${PUB}\t(none)\t(none)\t10.0.0.3/32\t0\t0\t0\t25`);
  });

  it("needs a complete facts block", () => {
    assert.throws(() => factSections("@@WGMESH-FACTS-BEGIN@@\n@@WGMESH-FACTS@@ uid\n0\n"), /no complete facts block/);
  });

  it("reads all addresses from ip -j addr", () => {
    const json = JSON.stringify([
      { ifname: "lo", addr_info: [{ family: "inet", local: "127.0.0.1" }, { family: "inet6", local: "::1" }] },
      { ifname: "eth0", addr_info: [{ family: "inet", local: "192.0.2.4" }, { family: "inet6", local: "2001:db8:0:0::4" }] },
    ]);
    assert.deepEqual(addressesFromIpJson(json), ["127.0.0.1", "192.0.2.4", "2001:db8::4", "::1"]);
    assert.deepEqual(addressesFromIpJson("Option -j is unknown"), []);
  });

  it("the script runs in a local POSIX sh and parses (interface absent)", () => {
    const r = spawnSync("sh", ["-s"], { input: factsScript("wgabsent9") });
    assert.equal(r.status, 0);
    const f = parseFacts(r.stdout.toString(), "wgabsent9");
    assert.equal(f.hostname, os.hostname());
    assert.equal(f.uid, process.getuid!());
    assert.equal(f.iface.exists, false);
    assert.equal(f.live.interface, null);
    assert.equal(f.conf.exists, false);
    assert.equal(f.kernelRelease, os.release());
  });

  it("still completes inside a batched script running under set -eu", () => {
    const r = spawnSync("sh", ["-s"], { input: `set -eu\n${factsScript("wgabsent9")}echo after-facts\n` });
    assert.equal(r.status, 0);
    assert.match(r.stdout.toString(), /after-facts\n$/);
    assert.equal(parseFacts(r.stdout.toString(), "wgabsent9").iface.exists, false);
  });

  it("quotes the interface name and refuses invalid ones", () => {
    assert.ok(factsScript("wg0").includes("IF=wg0\n"));
    assert.ok(factsScript("wg0").includes("CONF=/etc/wireguard/wg0.conf\n"));
    assert.throws(() => factsScript("$(reboot)"), /invalid/);
    assert.ok(!factsScript("wg0").includes("ip link add"), "side-effect free by default");
    assert.ok(factsScript("wg0", { probeLink: true }).includes("type wireguard"));
  });
});
