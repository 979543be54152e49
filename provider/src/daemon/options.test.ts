import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { daemonJoinArgs, parseDaemonOptions } from "./options";
import { parseGoFlags } from "./goflags";
import { JOIN_FLAGS, parseJoinConfig } from "./join";

const SECRET = "wgmesh://v1/options-test-secret-0123456789abcdefghijklmnop";

test("defaults give a bare join; every option becomes its flag", () => {
  assert.deepEqual(daemonJoinArgs({}), ["join"]);
  assert.deepEqual(daemonJoinArgs({ interfaceName: "wg0", listenPort: 51820, logLevel: "info", lanDiscovery: true, dht: true, gossip: false }), ["join"]);
  assert.deepEqual(
    daemonJoinArgs({ interfaceName: "mesh1", listenPort: 51999, advertiseRoutes: ["192.168.5.0/24", "10.8.0.0/16"], gossip: true, lanDiscovery: false, dht: false, dhtBootstrap: ["172.31.9.2:6881"], meshSubnet: "10.77.0.0/16", logLevel: "debug" }),
    ["join", "--interface", "mesh1", "--listen-port", "51999", "--advertise-routes", "192.168.5.0/24,10.8.0.0/16", "--log-level", "debug", "--gossip", "--no-lan-discovery", "--no-dht", "--dht-bootstrap", "172.31.9.2:6881", "--mesh-subnet", "10.77.0.0/16"],
  );
});

test("the arguments parse back, through the daemon's own parser, to the same settings", () => {
  const r = parseDaemonOptions({ interfaceName: "mesh1", listenPort: 51999, advertiseRoutes: ["192.168.5.0/24"], gossip: true, lanDiscovery: false, dhtBootstrap: ["172.31.9.2:6881"] }, SECRET);
  assert.ok("config" in r);
  assert.equal(r.config.iface, "mesh1");
  assert.equal(r.config.listenPort, 51999);
  assert.deepEqual(r.config.advertiseRoutes, ["192.168.5.0/24"]);
  assert.equal(r.config.gossip, true);
  assert.equal(r.config.lan, false);
  assert.equal(r.config.dht, true);
  assert.deepEqual(r.config.dhtBootstrap, ["172.31.9.2:6881"]);
});

test("bad options name the property and the fix; the secret never appears in a message", () => {
  const cases: Array<[Parameters<typeof parseDaemonOptions>[0], string, RegExp]> = [
    [{ listenPort: 70000 }, "listenPort", /1-65535/],
    [{ interfaceName: "this-name-is-far-too-long" }, "interfaceName", /at most 15/],
    [{ logLevel: "loud" }, "logLevel", /debug, info, warn, error/],
    [{ advertiseRoutes: ["0.0.0.0/0"] }, "advertiseRoutes", /no default route/],
    [{ advertiseRoutes: ["192.168.5.1/24"] }, "advertiseRoutes", /host bits/],
    [{ advertiseRoutes: ["10.1.0.0/16,10.2.0.0/16"] }, "advertiseRoutes", /one CIDR per list entry/],
    [{ meshSubnet: "banana" }, "meshSubnet", /mesh-subnet/],
    [{ dhtBootstrap: ["no-port"] }, "dhtBootstrap", /./],
    [{ interfaceName: "wg\n0" }, "interfaceName", /control character/],
  ];
  for (const [o, prop, re] of cases) {
    const r = parseDaemonOptions(o, SECRET);
    assert.ok("problem" in r, `${JSON.stringify(o)} is refused`);
    assert.equal(r.problem.property, prop, JSON.stringify(o));
    assert.match(r.problem.message, re);
    assert.ok(!r.problem.message.includes("options-test-secret"));
  }
  const short = parseDaemonOptions({}, "tooshort");
  assert.ok("problem" in short && short.problem.property === "secret" && !short.problem.message.includes("tooshort"));
  assert.ok("config" in parseDaemonOptions({ listenPort: 51999 }, undefined), "options alone are checked while the secret is unknown");
});

test("property: valid options round-trip through the unit's argv and the daemon's parser", () => {
  const opts = fc.record({
    interfaceName: fc.option(fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/), { nil: undefined }),
    listenPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    gossip: fc.option(fc.boolean(), { nil: undefined }),
    lanDiscovery: fc.option(fc.boolean(), { nil: undefined }),
    dht: fc.option(fc.boolean(), { nil: undefined }),
    logLevel: fc.option(fc.constantFrom("debug", "info", "warn", "error"), { nil: undefined }),
    advertiseRoutes: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 255 }).map((b) => `192.168.${b}.0/24`), { maxLength: 4 }), { nil: undefined }),
  });
  fc.assert(fc.property(opts, (o) => {
    const r = parseDaemonOptions(o, SECRET);
    assert.ok("config" in r);
    const f = parseGoFlags("join", daemonJoinArgs(o).slice(1), JOIN_FLAGS);
    assert.ok(f.ok);
    const c = parseJoinConfig({ ...f.values, secret: SECRET }, {});
    assert.equal(c.iface, o.interfaceName ?? "wg0");
    assert.equal(c.listenPort, o.listenPort ?? 51820);
    assert.equal(c.gossip, o.gossip === true);
    assert.equal(c.lan, o.lanDiscovery !== false);
    assert.equal(c.dht, o.dht !== false);
    assert.equal(c.logLevel, o.logLevel ?? "info");
    assert.deepEqual([...c.advertiseRoutes].sort(), [...(o.advertiseRoutes ?? [])].sort());
  }));
});
