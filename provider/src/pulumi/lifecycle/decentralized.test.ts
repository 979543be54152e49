import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { lifecycles, UNKNOWN, type DecentralizedNodeInputs, type DecentralizedNodeOutputs } from "./index";
import { parseSecret } from "../../daemon/secret";
import { PLANNED_DAEMON_STATE } from "../../engine/daemonstate";

const ctx = { log: () => undefined };
const SECRET = "wgmesh://v1/lifecycle-decentralized-secret-0123456789abcdefghij";

describe("MeshSecret lifecycle", () => {
  test("create generates a strong URI secret and the derived public parameters", async () => {
    const a = await lifecycles.meshSecret.create({}, ctx);
    const b = await lifecycles.meshSecret.create({}, ctx);
    assert.match(a.outs.secret, /^wgmesh:\/\/v1\/[A-Za-z0-9_-]{171}$/);
    assert.notEqual(a.outs.secret, b.outs.secret);
    assert.equal(parseSecret(a.outs.secret).lowEntropy, false);
    assert.match(a.outs.meshSubnet, /^10\.\d+\.0\.0\/16$/);
    assert.ok(a.outs.gossipPort >= 51821 && a.outs.gossipPort <= 52820);
    assert.ok(!a.id.includes(a.outs.secret.slice(12, 30)), "the id carries nothing of the secret");
  });

  test("an adopted secret gives the Go tool's parameters; a short one fails check without echoing it", async () => {
    const r = await lifecycles.meshSecret.create({ secret: SECRET }, ctx);
    assert.equal(r.outs.secret, SECRET);
    assert.equal(r.outs.imported, true);
    const bad = await lifecycles.meshSecret.check(undefined, { secret: "short-one" }, ctx);
    assert.equal(bad.failures[0]?.property, "secret");
    assert.ok(!bad.failures[0]!.reason.includes("short-one"));
    assert.deepEqual((await lifecycles.meshSecret.check(undefined, { secret: UNKNOWN }, ctx)).failures, []);
  });

  test("diff: a generated secret is kept; giving or changing one replaces", async () => {
    const gen = (await lifecycles.meshSecret.create({}, ctx)).outs;
    assert.equal((await lifecycles.meshSecret.diff("x", gen, {}, ctx)).changes, false);
    assert.deepEqual((await lifecycles.meshSecret.diff("x", gen, { secret: SECRET }, ctx)).replaces, ["secret"]);
    const imp = (await lifecycles.meshSecret.create({ secret: SECRET }, ctx)).outs;
    assert.equal((await lifecycles.meshSecret.diff("x", imp, { secret: SECRET }, ctx)).changes, false);
    assert.deepEqual((await lifecycles.meshSecret.diff("x", imp, {}, ctx)).replaces, ["secret"], "dropping an adopted secret makes a new one");
  });
});

function node(extra: Partial<DecentralizedNodeInputs> = {}): DecentralizedNodeInputs {
  return { hostname: "edge1", connection: { host: "192.0.2.10", port: 22, user: "root" }, secret: SECRET, ...extra };
}

function outs(i: DecentralizedNodeInputs, extra: Partial<DecentralizedNodeOutputs> = {}): DecentralizedNodeOutputs {
  return { ...i, publicKey: "k", meshIp: "10.1.2.3", meshIpv6: null, daemonSha256: "none", hostState: { ...PLANNED_DAEMON_STATE }, ...extra };
}

describe("DecentralizedNode lifecycle", () => {
  test("check names the node, the property and the fix; unknowns are tolerated at preview", async () => {
    const lc = lifecycles.decentralizedNode;
    assert.deepEqual((await lc.check(undefined, node(), ctx)).failures, []);
    assert.deepEqual((await lc.check(undefined, node({ secret: UNKNOWN, connection: UNKNOWN as never }), ctx)).failures, []);
    const f = (await lc.check(undefined, node({ listenPort: 0, advertiseRoutes: ["10.0.0.0/8"] }), ctx)).failures;
    assert.equal(f[0]?.property, "listenPort");
    assert.match(f[0]!.reason, /^decentralized node "edge1": listenPort: .*1-65535/);
    const s = (await lc.check(undefined, node({ secret: "tiny" }), ctx)).failures;
    assert.equal(s[0]?.property, "secret");
    assert.ok(!s[0]!.reason.includes("tiny"));
    const h = (await lc.check(undefined, node({ connection: { host: "" } }), ctx)).failures;
    assert.equal(h[0]?.property, "connection");
    const n = (await lc.check(undefined, node({ hostname: "Not A Label!" }), ctx)).failures;
    assert.equal(n[0]?.property, "hostname");
    const missing = (await lc.check(undefined, { hostname: "e", connection: { host: "192.0.2.1" } } as DecentralizedNodeInputs, ctx)).failures;
    assert.ok(missing.some((x) => x.property === "secret" && /MeshSecret/.test(x.reason)));
  });

  test("diff: options and secret update in place; another host replaces, deleting the old first; drift shows", async () => {
    const lc = lifecycles.decentralizedNode;
    const o = outs(node());
    const same = await lc.diff("edge1", o, node(), ctx);
    assert.deepEqual(same.changed.filter((c) => c !== "daemonSha256"), []);
    const opt = await lc.diff("edge1", o, node({ gossip: true, listenPort: 51999 }), ctx);
    assert.deepEqual(opt.changed.filter((c) => c !== "daemonSha256"), ["listenPort", "gossip"]);
    assert.deepEqual(opt.replaces, []);
    const sec = await lc.diff("edge1", o, node({ secret: "wgmesh://v1/another-secret-0123456789abcdef" }), ctx);
    assert.ok(sec.changed.includes("secret") && sec.replaces.length === 0);
    const key = await lc.diff("edge1", o, node({ connection: { host: "192.0.2.10", port: 22, user: "root", privateKey: "x" } }), ctx);
    assert.ok(key.changed.includes("connection") && key.replaces.length === 0, "new credentials for the same host: update");
    const moved = await lc.diff("edge1", o, node({ connection: { host: "192.0.2.11", user: "root" } }), ctx);
    assert.deepEqual(moved.replaces, ["connection"]);
    assert.equal(moved.deleteBeforeReplace, true);
    const drift = await lc.diff("edge1", outs(node(), { hostState: { ...PLANNED_DAEMON_STATE, service: "not running (inactive)" } }), node(), ctx);
    assert.ok(drift.changed.includes("hostState"));
  });
});
