import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodePeers, formatPeerLines, parsePeerLines, peerLine, UNKNOWN_FIELD, type PeerInputs } from "./peerLines";
import { lifecycles } from "./index";
import { UNKNOWN } from "./types";

const KEY = "A".repeat(43) + "=";

describe("NodeConfig peers as peer lines (issue 12)", () => {
  it("formats one line per peer in hostname order, optional fields only when set", () => {
    const text = formatPeerLines({
      web2: { publicKey: KEY, allowedIps: ["10.99.0.3/32"], endpoint: null },
      db1: { publicKey: KEY, allowedIps: ["10.99.0.1/32", "192.168.20.0/24"], endpoint: "172.31.1.11:51820", persistentKeepalive: 25 },
    });
    assert.equal(text, `db1 key=${KEY} allowedIps=10.99.0.1/32,192.168.20.0/24 endpoint=172.31.1.11:51820 keepalive=25\nweb2 key=${KEY} allowedIps=10.99.0.3/32\n`);
    assert.equal(formatPeerLines({}), "");
  });

  it("round-trips any peers map, unknown fields included (property)", () => {
    const token = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/\[\]-]{0,20}$/);
    const maybeUnknown = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: a }, { weight: 1, arbitrary: fc.constant(UNKNOWN as unknown as T) });
    const peer: fc.Arbitrary<PeerInputs> = fc.record({
      publicKey: maybeUnknown(token),
      allowedIps: maybeUnknown(fc.array(token, { maxLength: 4 })),
      endpoint: fc.option(maybeUnknown(token), { nil: undefined }),
      persistentKeepalive: fc.option(maybeUnknown(fc.integer({ min: 0, max: 65535 })), { nil: undefined }),
    }, { requiredKeys: ["publicKey", "allowedIps"] });
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), peer, { maxKeys: 8 }), (peers) => {
      const d = parsePeerLines(formatPeerLines(peers));
      assert.ok(d.ok);
      const strip = (p: PeerInputs) => JSON.parse(JSON.stringify(p));
      assert.deepEqual(Object.fromEntries(Object.entries(d.peers).map(([h, p]) => [h, strip(p)])), Object.fromEntries(Object.entries(peers).map(([h, p]) => [h, strip(p)])));
    }));
  });

  it("refuses what would not read back, and names the line of a text that does not read", () => {
    assert.throws(() => peerLine("a b", { publicKey: KEY, allowedIps: [] }), /cannot contain spaces/);
    assert.throws(() => peerLine("a", { publicKey: KEY, allowedIps: ["10.0.0.1/32 x"] }), /allowedIps entry "10.0.0.1\/32 x" cannot be written/);
    const bad = parsePeerLines(`a key=${KEY} allowedIps=10.99.0.1/32\nb allowedIps=10.99.0.2/32\na key=${KEY} allowedIps=10.99.0.1/32\nc key=${KEY} allowedIps=x mtu=1400\nd key=${KEY} allowedIps=x keepalive=soon\n`);
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.errors.map((e) => e.replace(/ \(".*"\)/, "")), [
      "line 2: key= (the peer's public key) is missing",
      'line 3: peer "a" appears twice',
      'line 4: "mtu=1400" is not one of key=, allowedIps=, endpoint=, keepalive=',
      "line 5: keepalive=soon is not a number of seconds (0–65535)",
    ]);
    assert.deepEqual(decodePeers(UNKNOWN), { ok: true, peers: UNKNOWN });
    assert.deepEqual(decodePeers(undefined), { ok: true, peers: {} });
    assert.equal(decodePeers(7).ok, false);
    assert.equal(UNKNOWN_FIELD, "(unknown)");
  });

  it("the NodeConfig lifecycle: a text that does not read fails check naming node and line; old object-shaped state diffs equal to the same peers as text", async () => {
    const lc = lifecycles.nodeConfig;
    const ctx = { log: () => undefined } as never;
    const base = { mesh: "m", hostname: "a", interfaceName: "wg0", address: "10.99.0.1/16", listenPort: 51820, publicKey: KEY, routes: [], forwarding: false, keyOnHost: true, connection: { host: "127.0.0.1", user: "root" } };
    const r = await lc.check(undefined, { ...base, peers: "b key= allowedIps=10.99.0.2/32\n" } as never, ctx);
    assert.equal(r.failures.length, 1);
    assert.equal(r.failures[0]!.property, "peers");
    assert.match(r.failures[0]!.reason, /^node "a": peers: line 1 .*key= \(the peer's public key\) is missing; one line per peer: "<hostname> key=<public key> allowedIps=/);
    const objects = { b: { publicKey: KEY, allowedIps: ["10.99.0.2/32"], endpoint: "172.31.1.2:51820" } };
    const text = formatPeerLines(objects);
    const ok = await lc.check(undefined, { ...base, peers: text } as never, ctx);
    assert.deepEqual(ok.failures, []);
    assert.equal(ok.inputs.peers, text, "check hands the text back as it came");
    assert.equal((await lc.diff("m/a", { ...base, peers: objects } as never, { ...base, peers: text } as never, ctx)).changes, false, "an upgrade changes nothing");
    const moved = formatPeerLines({ b: { ...objects.b, endpoint: "172.31.1.2:51999" } });
    assert.deepEqual((await lc.diff("m/a", { ...base, peers: text } as never, { ...base, peers: moved } as never, ctx)).changed, ["peers"]);
    assert.equal(lc.preview(undefined, { ...base, peers: objects } as never).peers, text, "outputs carry the text");
  });
});
