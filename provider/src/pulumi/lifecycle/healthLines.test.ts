import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { NodeHealth, PeerHealth, PeerState } from "../../planner/health";
import { healthLine, healthLines, parseHealthLines } from "./healthLines";
import { lifecycles } from "./index";
import { UNKNOWN } from "./types";

const KEY = "B".repeat(43) + "=";

describe("NodeConfig health as lines (issues 12 and 14)", () => {
  it("one line per peer in hostname order; never / none / waited written out", () => {
    const h: NodeHealth = {
      mode: "handshake",
      checkedAt: "2026-12-05T20:00:00Z",
      peers: {
        web2: { publicKey: KEY, state: "unreachable", latestHandshakeAgeSeconds: null, rxBytes: 0, txBytes: 148, endpoint: null, waitedSeconds: 15 },
        app1: { publicKey: KEY, state: "connected", latestHandshakeAgeSeconds: 12, rxBytes: 10424, txBytes: 9880, endpoint: "172.31.1.12:51820" },
      },
    };
    assert.deepEqual(healthLines(h), {
      mode: "handshake",
      checkedAt: "2026-12-05T20:00:00Z",
      peers: `app1 key=${KEY} state=connected handshake=12s rx=10424 tx=9880 endpoint=172.31.1.12:51820\n` +
        `web2 key=${KEY} state=unreachable handshake=never rx=0 tx=148 endpoint=none waited=15s\n`,
    });
    assert.deepEqual(parseHealthLines((healthLines(h) as { peers: string }).peers), h.peers);
    assert.equal(healthLines(undefined), undefined);
    assert.equal(healthLines(UNKNOWN as unknown as NodeHealth), UNKNOWN, "a preview's unknown health stays unknown");
  });

  it("round-trips any peers' health (property)", () => {
    const peer: fc.Arbitrary<PeerHealth> = fc.record({
      publicKey: fc.stringMatching(/^[A-Za-z0-9+/]{43}=$/),
      state: fc.constantFrom<PeerState>("reachable", "unreachable", "connected", "stale", "never"),
      latestHandshakeAgeSeconds: fc.option(fc.nat(), { nil: null }),
      rxBytes: fc.nat(),
      txBytes: fc.nat(),
      endpoint: fc.option(fc.stringMatching(/^[0-9a-f.:\[\]]{1,30}:[0-9]{1,5}$/), { nil: null }),
      waitedSeconds: fc.integer({ min: 0, max: 6000 }).map((n) => n / 10),
    }, { requiredKeys: ["publicKey", "state", "latestHandshakeAgeSeconds", "rxBytes", "txBytes", "endpoint"] });
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), peer, { maxKeys: 8 }), (peers) => {
      const text = (healthLines({ mode: "ping", checkedAt: "t", peers }) as { peers: string }).peers;
      assert.deepEqual(parseHealthLines(text), JSON.parse(JSON.stringify(peers)));
      assert.equal(text.split("\n").filter(Boolean).length, Object.keys(peers).length);
    }));
  });

  it("a line that does not read is named", () => {
    assert.throws(() => parseHealthLines(`a key=${KEY} state=connected handshake=1s rx=1 tx=1 endpoint=none\nb key=${KEY} state=fine handshake=1s rx=1 tx=1 endpoint=none`), /health line 2 .*state must be one of/);
    assert.throws(() => parseHealthLines(`a key=${KEY} state=never handshake=soon rx=1 tx=1 endpoint=none`), /handshake must be/);
    assert.throws(() => healthLine("a b", { publicKey: KEY, state: "never", latestHandshakeAgeSeconds: null, rxBytes: 0, txBytes: 0, endpoint: null }), /hostname/);
  });

  it("the lifecycle stores health as lines and drops a stored health before the object lifecycle sees it", async () => {
    const ctx = { log: () => undefined } as never;
    const stored = { hostname: "web1", mesh: "m", peers: "", health: { mode: "handshake", checkedAt: "t", peers: "" } };
    // preview of an update: health unknown (the host's to tell), not the old text.
    const p = lifecycles.nodeConfig.preview(stored as never, { hostname: "web1", mesh: "m", peers: "" } as never) as { health: unknown };
    assert.equal(p.health, UNKNOWN);
    // diff of a state holding the health (old object form or new text) against its inputs: no change.
    const inputs = { hostname: "web1", mesh: "m", peers: "" };
    for (const health of [stored.health, { mode: "handshake", checkedAt: "t", peers: { a: { publicKey: KEY, state: "never" } } }]) {
      assert.equal((await lifecycles.nodeConfig.diff("m/web1", { ...inputs, health } as never, inputs as never, ctx)).changes, false);
    }
  });
});
