import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rollbackSteps, snapshotPrelude } from "./rollback";
import type { HostReading } from "./probe";
import type { NftState } from "../planner/nft";
import type { LiveState } from "../planner/types";

const LIVE: LiveState = { interface: null, peers: [], routes: [], forwarding: false };
const NO_FW: NftState = { tool: true, file: { exists: false, mode: null, owner: null, bodySha256: null, recordedListing: null }, table: { exists: false, listingSha256: null }, listing: null };
const fw = (body: string, listing: string): NftState => ({
  tool: true, file: { exists: true, mode: "600", owner: "0:0", bodySha256: body.repeat(64), recordedListing: listing.repeat(64) }, table: { exists: true, listingSha256: listing.repeat(64) }, listing: null,
});
/** Only what rollbackSteps reads of a reading. */
const reading = (confExists: boolean, firewall: NftState, live: LiveState = LIVE): HostReading => ({
  facts: { conf: { exists: confExists }, live, tools: { nft: true } },
  probe: { firewall },
} as unknown as HostReading);
const listening = (listenPort: number): LiveState => ({ ...LIVE, interface: { publicKey: "k", listenPort, addresses: [], mtu: null } } as unknown as LiveState);

describe("rollback steps (firewall, conf, live state)", () => {
  it("the snapshot keeps the conf, the firewall file and the live state, each 0600 through a rename", () => {
    const s = snapshotPrelude("wg0");
    assert.match(s, /^WGM_T0=\$\(date \+%s\)\n/);
    assert.match(s, /umask 077/);
    assert.match(s, /N=\/etc\/wireguard\/wg0\.nft; NP=\/etc\/wireguard\/wg0\.nft\.prev;/);
    assert.match(s, /if \[ -f "\$N" \]; then cp "\$N" "\$NP\.wgmesh-tmp" && mv -f "\$NP\.wgmesh-tmp" "\$NP"; else rm -f "\$NP"; fi/);
  });

  it("a change that retires a key keeps no snapshot and removes any older one (it holds the retired key)", () => {
    assert.equal(snapshotPrelude("wg0", false), "WGM_T0=$(date +%s)\nrm -f /etc/wireguard/wg0.conf.prev /etc/wireguard/wg0.live.prev /etc/wireguard/wg0.nft.prev");
  });

  it("firewall untouched by the change: no firewall step", () => {
    const steps = rollbackSteps("wg0", reading(true, fw("a", "b")), reading(true, fw("a", "b")));
    assert.deepEqual(steps.map((s) => s.kind), ["rollback", "rollback"]);
    assert.ok(steps.every((s) => !/firewall/.test(s.description)));
  });

  it("a changed firewall: the previous file reloaded FIRST (before the conf), atomically", () => {
    const steps = rollbackSteps("wg0", reading(true, fw("a", "b")), reading(true, fw("c", "d")));
    assert.deepEqual(steps.map((s) => s.description), [
      "restore the firewall from /etc/wireguard/wg0.nft.prev (table inet wgmesh_wg0)",
      "restore /etc/wireguard/wg0.conf from /etc/wireguard/wg0.conf.prev",
      "restore the live WireGuard state of wg0 from /etc/wireguard/wg0.live.prev (wg addconf; peers the change added removed)",
    ]);
    assert.match(steps[0]!.script, /nft -f "\$tmp" && mv -f "\$tmp" \/etc\/wireguard\/wg0\.nft;/);
  });

  it("a firewall the change loaded where there was none: removed LAST", () => {
    const steps = rollbackSteps("wg0", reading(true, NO_FW), reading(true, fw("c", "d")));
    assert.equal(steps.at(-1)!.description, "remove the firewall the change loaded (table inet wgmesh_wg0, /etc/wireguard/wg0.nft)");
    assert.match(steps.at(-1)!.script, /nft delete table inet wgmesh_wg0/);
  });

  it("a firewall the change removed: the previous file reloaded", () => {
    const steps = rollbackSteps("wg0", reading(true, fw("a", "b")), reading(true, NO_FW));
    assert.match(steps[0]!.description, /^restore the firewall from/);
  });

  it("the live state: wg addconf of the snapshot without ListenPort when the port is unchanged (no rebind), peers the change added removed, added PSKs/keepalives cleared", () => {
    const kept = rollbackSteps("wg0", reading(true, NO_FW, listening(51820)), reading(true, NO_FW, listening(51820))).at(-1)!;
    assert.equal(kept.description, "restore the live WireGuard state of wg0 from /etc/wireguard/wg0.live.prev (wg addconf, listen port kept: no rebind; peers the change added removed)");
    const lines = kept.script.split("\n");
    assert.match(lines[1]!, /^IF=wg0; tmp=\$\(umask 077; mktemp \/etc\/wireguard\/\.wg0\.live\.XXXXXX\) \|\| exit 1; ok=1$/);
    assert.equal(lines[2], `sed '/^ListenPort[[:space:]]*=/d' /etc/wireguard/wg0.live.prev > "$tmp" || ok=0`);
    assert.match(kept.script, /grep -qxF "PublicKey = \$k" "\$tmp" \|\| wg set "\$IF" peer "\$k" remove/);
    assert.match(kept.script, /wg addconf "\$IF" "\$tmp"/);
    assert.match(kept.script, /wg set "\$IF" peer "\$k" preshared-key \/dev\/null/);
    assert.match(kept.script, /wg set "\$IF" peer "\$k" persistent-keepalive 0/);
    assert.doesNotMatch(kept.script, /syncconf/);
    assert.ok(lines.indexOf('rm -f "$tmp"') > 0 && lines.indexOf('rm -f "$tmp"') < lines.length - 1, "the temp copy (it holds the private key) goes before the failure exit");
    const moved = rollbackSteps("wg0", reading(true, NO_FW, listening(51820)), reading(true, NO_FW, listening(51821))).at(-1)!;
    assert.equal(moved.script.split("\n")[2], `cat /etc/wireguard/wg0.live.prev > "$tmp" || ok=0`, "a moved port is put back (the rebind is the point)");
  });

  it("no conf before (a first apply gone wrong): only the live state", () => {
    assert.deepEqual(rollbackSteps("wg0", reading(false, NO_FW), reading(true, NO_FW)).map((s) => s.description), ["restore the live WireGuard state of wg0 from /etc/wireguard/wg0.live.prev (wg addconf; peers the change added removed)"]);
  });
});
