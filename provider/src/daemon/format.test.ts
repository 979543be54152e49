import { test } from "node:test";
import assert from "node:assert/strict";
import { formatInit, formatPeersCount, formatPeersGet, formatPeersList, formatStatusJson, formatStatusText, FormatError, StatusView } from "./format";
import { formatAge, rfc3339Local, parseRfc3339 } from "./timefmt";
import { flagUsage, parseGoFlags } from "./goflags";

const A: StatusView = {
  interface: "wg0", networkId: "ae3a1c1e971083dd", meshSubnet: "10.53.0.0/16", customSubnet: false,
  ipv6Prefix: "fd96:1a43:232a:2a66::/64", gossipPort: 52311, rendezvousId: "64b6e29845090a14", serviceStatus: "inactive",
};

test("status text and JSON for vector A (§6.4)", () => {
  assert.equal(formatStatusText(A), "Mesh Status\n===========\nInterface: wg0\nNetwork ID: ae3a1c1e971083dd\nMesh Subnet: 10.53.0.0/16\nMesh IPv6 Prefix: fd96:1a43:232a:2a66::/64\nGossip Port: 52311\nRendezvous ID: 64b6e29845090a14\n\nService Status: inactive\n\n(Run 'wg show' to see connected peers)\n");
  assert.equal(formatStatusJson(A), '{\n  "interface": "wg0",\n  "network_id": "ae3a1c1e971083dd",\n  "mesh_subnet": "10.53.0.0/16",\n  "mesh_ipv6_prefix": "fd96:1a43:232a:2a66::/64",\n  "gossip_port": 52311,\n  "rendezvous_id": "64b6e29845090a14",\n  "service_status": "inactive"\n}\n');
  assert.ok(!formatStatusJson({ ...A, serviceStatus: "" }).includes("service_status"));
  assert.ok(!formatStatusText({ ...A, serviceStatus: "" }).includes("Service Status"));
  assert.ok(formatStatusText({ ...A, customSubnet: true, meshSubnet: "192.168.100.0/24" }).includes("Mesh Subnet: 192.168.100.0/24 (custom)\n"));
});

test("init output", () => {
  assert.equal(formatInit("wgmesh://v1/X"), 'Generated mesh secret:\n\nwgmesh://v1/X\n\nShare this secret with all nodes that should join the mesh.\nRun: wgmesh join --secret "wgmesh://v1/X"\n');
});

test("peers list: Go column layout, short key, long hostname, ages, latency", () => {
  const now = Date.parse("2027-01-15T08:02:30Z");
  const out = formatPeersList({ peers: [
    { pubkey: "WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=", hostname: "node-b", mesh_ip: "10.53.112.189", endpoint: "198.51.100.7:51820", last_seen: "2027-01-15T08:00:00Z", discovered_via: ["dht", "lan"], latency_ms: 1 },
    { pubkey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=", hostname: "a-very-long-hostname-indeed", mesh_ip: "10.53.46.186", endpoint: "", last_seen: "2027-01-15T10:02:29+02:00", discovered_via: ["dht-transitive"] },
    { pubkey: "k", mesh_ip: "10.0.0.1", endpoint: "", last_seen: "garbage", discovered_via: [] },
    "skip-me",
  ] }, now);
  const lines = out.split("\n");
  assert.equal(lines[0], "HOSTNAME             PUBLIC KEY          MESH IP         ENDPOINT                  LAST SEEN  LATENCY    DISCOVERED VIA");
  assert.equal(lines[1], "-".repeat(130));
  assert.equal(lines[2], "node-b               WGmv9FBUlzLLqu1e... 10.53.112.189   198.51.100.7:51820        2m         1.0ms      dht,lan");
  assert.equal(lines[3], "a-very-long-hostn... B6N8vBQgk8i3Vdwb... 10.53.46.186                              1s         -          dht-transitive");
  assert.equal(lines[4], "k                    k                   10.0.0.1                                  unknown    -          ");
  assert.equal(lines.length, 6);
  assert.equal(formatPeersList({ peers: [] }, now), "No active peers\n");
  assert.throws(() => formatPeersList([], now), FormatError);
  assert.throws(() => formatPeersList({ peers: 3 }, now), { message: "Invalid peers data" });
});

test("peers count and get", () => {
  assert.equal(formatPeersCount({ active: 2, total: 3, dead: 1 }), "Peer Statistics\n===============\nActive peers: 2\nTotal peers:  3\nDead peers:   1\n");
  assert.throws(() => formatPeersCount({ active: 1 }), { message: "Invalid peer count data" });
  assert.equal(formatPeersGet({ pubkey: "K", mesh_ip: "10.0.0.1", endpoint: "1.2.3.4:5", last_seen: "2027-01-15T08:00:00Z", discovered_via: ["dht", "lan"], routable_networks: ["192.168.50.0/24", "10.9.0.0/16"], latency_ms: 3 }),
    "Peer Information\n================\nPublic Key:     K\nMesh IP:        10.0.0.1\nEndpoint:       1.2.3.4:5\nLast Seen:      2027-01-15T08:00:00Z\nDiscovered Via: dht, lan\nRoutes:         192.168.50.0/24, 10.9.0.0/16\nLatency:        3.0 ms\n");
  assert.ok(formatPeersGet({ pubkey: "K", discovered_via: [] }).endsWith("Last Seen:      \nLatency:        -\n"));
});

test("time helpers", () => {
  assert.equal(formatAge(59_999), "59s");
  assert.equal(formatAge(60_000), "1m");
  assert.equal(formatAge(3_600_000), "1h");
  assert.equal(formatAge(86_400_000 * 3 + 5), "3d");
  assert.equal(formatAge(-3_500), "-3s");
  const saved = process.env["TZ"];
  process.env["TZ"] = "UTC";
  assert.equal(rfc3339Local(Date.parse("2027-01-15T08:00:00.900Z")), "2027-01-15T08:00:00Z");
  process.env["TZ"] = saved;
  assert.equal(parseRfc3339("2027-01-15T10:00:00+02:00"), Date.parse("2027-01-15T08:00:00Z"));
  assert.equal(parseRfc3339("2027-01-15 10:00:00"), undefined);
});

test("Go flag semantics", () => {
  const specs = { secret: { type: "string" as const, usage: "Mesh secret (required)" }, json: { type: "bool" as const, usage: "Output in JSON format" }, port: { type: "int" as const, usage: "Local port", default: 0 } };
  const ok = (args: string[]) => {
    const r = parseGoFlags("x", args, specs);
    assert.ok(r.ok, r.ok ? "" : r.message);
    return r;
  };
  assert.deepEqual(ok(["--secret", "-s-", "-json", "rest", "--port", "3"]).values, { secret: "-s-", json: true, port: 0 });
  assert.deepEqual(ok(["-secret=a=b", "--json=false", "--port=7"]).values, { secret: "a=b", json: false, port: 7 });
  assert.deepEqual(ok(["--", "--json"]).rest, ["--json"]);
  const err = (args: string[]) => {
    const r = parseGoFlags("x", args, specs);
    assert.ok(!r.ok);
    return r.help ? "HELP" : r.message;
  };
  assert.equal(err(["--bogus"]), "flag provided but not defined: -bogus");
  assert.equal(err(["--secret"]), "flag needs an argument: -secret");
  assert.equal(err(["-json=maybe"]), 'invalid boolean value "maybe" for -json: parse error');
  assert.equal(err(["---x"]), "bad flag syntax: ---x");
  assert.equal(err(["--port", "x"]), 'invalid value "x" for flag -port: parse error');
  assert.equal(err(["-h"]), "HELP");
  assert.equal(flagUsage("x", specs), "Usage of x:\n  -json\n    \tOutput in JSON format\n  -port int\n    \tLocal port\n  -secret string\n    \tMesh secret (required)\n");
});
