import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { normalizeMesh, type MeshInput, type NodeInput } from "./model";
import { validateMesh, type Finding } from "./validate";
import { generateKeyPair } from "./keys";
import { compileMesh } from "./compile";

const key = (h: string) => createHash("sha256").update(h).digest("base64");
const node = (hostname: string, i: number, extra: Partial<NodeInput> = {}): NodeInput =>
  ({ hostname, meshIp: `10.99.0.${i}`, sshHost: `192.0.2.${i}`, publicKey: key(hostname), ...extra });
const base = (): MeshInput => ({ nodes: [node("web1", 1), node("web2", 2), node("db1", 3)] });

function check(input: MeshInput) {
  return validateMesh(normalizeMesh(input));
}

/** Exactly one error, with this code and field, whose message contains every fragment. */
function expectError(input: MeshInput, code: string, field: string | undefined, fragments: string[]): Finding {
  const { errors } = check(input);
  const hits = errors.filter((e) => e.code === code);
  assert.equal(hits.length, 1, `expected one ${code}, got: ${JSON.stringify(errors.map((e) => e.message))}`);
  const e = hits[0] as Finding;
  assert.equal(e.field, field);
  for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
  return e;
}

const withNode = (i: number, extra: Partial<NodeInput>): MeshInput => {
  const m = base();
  m.nodes[i] = { ...(m.nodes[i] as NodeInput), ...extra };
  return m;
};

describe("valid meshes", () => {
  test("a plain mesh has no findings", () => {
    assert.deepEqual(check(base()), { errors: [], warnings: [] });
  });
});

describe("errors", () => {
  test("bad mesh network / not IPv4 / host bits / too small", () => {
    expectError({ ...base(), network: "10.99.0.0/33" }, "network-invalid", "network", ["mesh", "network", "10.99.0.0/33", "IPv4 CIDR"]);
    expectError({ ...base(), network: "fd00::/64" }, "network-not-ipv4", "network", ["fd00::/64"]);
    expectError({ ...base(), network: "10.99.0.1/16" }, "network-host-bits", "network", ["\"10.99.0.0/16\""]);
    expectError({ ...base(), network: "10.99.0.0/31" }, "network-too-small", "network", ["/30"]);
  });

  test("bad mesh IP", () => {
    expectError(withNode(1, { meshIp: "10.99.0" }), "mesh-ip-invalid", "meshIp", ["node \"web2\"", "meshIp", "\"10.99.0\"", "omit meshIp"]);
    expectError(withNode(1, { meshIp: "10.99.0.02" }), "mesh-ip-invalid", "meshIp", ["web2"]);
  });

  test("mesh IP outside the network, equal to network or broadcast address, or duplicated", () => {
    expectError(withNode(1, { meshIp: "10.98.0.1" }), "mesh-ip-outside-network", "meshIp", ["node \"web2\"", "\"10.98.0.1\"", "10.99.0.0/16"]);
    expectError(withNode(1, { meshIp: "10.99.0.0" }), "mesh-ip-network-address", "meshIp", ["node \"web2\"", "network address"]);
    expectError(withNode(1, { meshIp: "10.99.255.255" }), "mesh-ip-broadcast-address", "meshIp", ["node \"web2\"", "broadcast"]);
    expectError(withNode(2, { meshIp: "10.99.0.1" }), "mesh-ip-duplicate", "meshIp", ["node \"db1\"", "\"10.99.0.1\"", "node \"web1\""]);
  });

  test("duplicate hostname (case-insensitive)", () => {
    expectError(withNode(2, { hostname: "web1" }), "hostname-duplicate", "hostname", ["node \"web1\"", "duplicate"]);
    expectError(withNode(2, { hostname: "WEB1" }), "hostname-duplicate", "hostname", ["node \"WEB1\"", "\"web1\""]);
  });

  test("hostnames must be DNS labels: nothing a shell would interpret passes", () => {
    for (const bad of ["", "-web", "web-", "we b", "web;rm -rf /", "$(id)", "`id`", "a'b", "a\"b", "a\nb", "web.example", "a".repeat(64), "wéb", "a|b", "a&b", "*"]) {
      const e = expectError(withNode(0, { hostname: bad }), "hostname-invalid", "hostname", ["hostname", "DNS label", JSON.stringify(bad)]);
      assert.ok(!e.message.includes("\n"), "control characters are escaped in messages");
    }
    assert.deepEqual(check(withNode(0, { hostname: "a".repeat(63) })).errors, []);
    assert.deepEqual(check(withNode(0, { hostname: "Web-1" })).errors, []);
  });

  test("ports out of range (mesh listenPort, node listenPort, sshPort)", () => {
    expectError({ ...base(), listenPort: 0 }, "port-out-of-range", "listenPort", ["mesh", "listenPort", "1–65535"]);
    expectError({ ...base(), listenPort: 65536 }, "port-out-of-range", "listenPort", ["65536"]);
    expectError(withNode(1, { listenPort: 70000 }), "port-out-of-range", "listenPort", ["node \"web2\"", "70000"]);
    expectError(withNode(1, { sshPort: 1.5 }), "port-out-of-range", "sshPort", ["node \"web2\"", "sshPort"]);
    expectError(withNode(1, { sshPort: -22 }), "port-out-of-range", "sshPort", ["-22"]);
  });

  test("group member that is not a node; duplicate member", () => {
    expectError({ ...base(), groups: [{ name: "prod", members: ["web1", "ghost"] }], policies: [{ name: "p", fromGroups: ["prod"], toGroups: ["prod"] }] },
      "group-member-unknown", "members", ["group \"prod\"", "\"ghost\"", "not a node"]);
    expectError({ ...base(), groups: [{ name: "prod", members: ["web1", "web2", "web1"] }], policies: [{ name: "p", fromGroups: ["prod"], toGroups: ["prod"] }] },
      "group-member-duplicate", "members", ["group \"prod\"", "\"web1\"", "more than once"]);
  });

  test("policy with empty from/to groups; unknown group; duplicate policy name", () => {
    const groups = [{ name: "prod", members: ["web1", "web2", "db1"] }];
    expectError({ ...base(), groups, policies: [{ name: "p", fromGroups: [], toGroups: ["prod"] }] }, "policy-groups-empty", "fromGroups", ["policy \"p\"", "fromGroups", "empty"]);
    expectError({ ...base(), groups, policies: [{ name: "p", fromGroups: ["prod"], toGroups: [] }] }, "policy-groups-empty", "toGroups", ["policy \"p\"", "toGroups"]);
    expectError({ ...base(), groups, policies: [{ name: "p", fromGroups: ["prod"], toGroups: ["stage"] }] }, "policy-group-unknown", "toGroups", ["policy \"p\"", "\"stage\"", "unknown group"]);
    expectError({ ...base(), groups, policies: [{ name: "p", fromGroups: ["nope"], toGroups: ["prod"] }] }, "policy-group-unknown", "fromGroups", ["\"nope\""]);
    expectError({ ...base(), groups, policies: [{ name: "p", fromGroups: ["prod"], toGroups: ["prod"] }, { name: "p", fromGroups: ["prod"], toGroups: ["prod"] }] },
      "policy-duplicate", "name", ["policy \"p\"", "duplicate policy name"]);
  });

  test("routable networks: bad CIDR, host bits, whole address space, overlap with the mesh, with another node, with itself", () => {
    expectError(withNode(1, { routableNetworks: ["192.168.1.0/33"] }), "cidr-invalid", "routableNetworks", ["node \"web2\"", "routableNetworks", "\"192.168.1.0/33\""]);
    expectError(withNode(1, { routableNetworks: ["192.168.1.0"] }), "cidr-invalid", "routableNetworks", ["\"192.168.1.0\""]);
    expectError(withNode(1, { routableNetworks: ["192.168.1.5/24"] }), "cidr-host-bits", "routableNetworks", ["\"192.168.1.0/24\""]);
    expectError(withNode(1, { routableNetworks: ["0.0.0.0/0"] }), "cidr-default-route", "routableNetworks", ["node \"web2\"", "\"0.0.0.0/0\""]);
    expectError(withNode(1, { routableNetworks: ["::/0"] }), "cidr-default-route", "routableNetworks", ["\"::/0\""]);
    expectError(withNode(1, { routableNetworks: ["10.99.128.0/17"] }), "cidr-overlaps-mesh", "routableNetworks", ["node \"web2\"", "\"10.99.128.0/17\"", "10.99.0.0/16"]);
    expectError(withNode(1, { routableNetworks: ["10.0.0.0/8"] }), "cidr-overlaps-mesh", "routableNetworks", ["\"10.0.0.0/8\""]);
    const m = base();
    m.nodes[0] = { ...(m.nodes[0] as NodeInput), routableNetworks: ["192.168.0.0/16"] };
    m.nodes[2] = { ...(m.nodes[2] as NodeInput), routableNetworks: ["192.168.5.0/24"] };
    expectError(m, "cidr-overlap", "routableNetworks", ["node \"db1\"", "\"192.168.5.0/24\"", "\"192.168.0.0/16\"", "node \"web1\""]);
    expectError(withNode(1, { routableNetworks: ["192.168.1.0/24", "192.168.1.128/25"] }), "cidr-overlap", "routableNetworks", ["node \"web2\"", "its own"]);
    expectError(withNode(1, { routableNetworks: ["192.168.1.0/24", "192.168.1.0/24"] }), "cidr-overlap", "routableNetworks", ["its own"]);
    // adjacent networks and IPv6 beside IPv4 are fine
    const ok = base();
    ok.nodes[0] = { ...(ok.nodes[0] as NodeInput), routableNetworks: ["192.168.0.0/24", "fd00:1::/64"] };
    ok.nodes[1] = { ...(ok.nodes[1] as NodeInput), routableNetworks: ["192.168.1.0/24", "fd00:2::/64"] };
    assert.deepEqual(check(ok).errors, []);
  });

  test("overlaps are found among many nodes regardless of order", () => {
    const nodes = Array.from({ length: 50 }, (_, i) => node(`n${i}`, i + 1, { routableNetworks: [`172.16.${i}.0/24`] }));
    nodes[37] = { ...(nodes[37] as NodeInput), routableNetworks: ["172.16.3.128/25"] };
    const { errors } = check({ nodes });
    assert.deepEqual(errors.map((e) => e.code), ["cidr-overlap"]);
    assert.match(errors[0]?.message ?? "", /"n37".*172\.16\.3\.128\/25.*172\.16\.3\.0\/24.*"n3"/);
  });

  test("keys: missing, malformed, duplicated, mismatched pair; private keys never shown", () => {
    expectError(withNode(1, { publicKey: null }), "public-key-missing", "publicKey", ["node \"web2\"", "publicKey", "wgmesh genkey"]);
    expectError(withNode(1, { publicKey: "abc" }), "public-key-invalid", "publicKey", ["node \"web2\"", "\"abc\""]);
    expectError(withNode(1, { publicKey: key("web1") }), "public-key-duplicate", "publicKey", ["node \"web2\"", "node \"web1\""]);
    const secret = "not-a-key-but-secret-looking-value-1234567=";
    const e = expectError(withNode(1, { privateKey: secret }), "private-key-invalid", "privateKey", ["node \"web2\"", "privateKey", "not shown"]);
    assert.ok(!e.message.includes(secret));
    const pair = generateKeyPair();
    const other = generateKeyPair();
    const mm = expectError(withNode(1, { privateKey: pair.privateKey, publicKey: other.publicKey }), "key-pair-mismatch", "publicKey", ["node \"web2\""]);
    assert.ok(!mm.message.includes(pair.privateKey));
    // a private key alone yields its public key
    assert.deepEqual(check(withNode(1, { privateKey: pair.privateKey, publicKey: null })).errors, []);
    assert.equal(normalizeMesh(withNode(1, { privateKey: pair.privateKey, publicKey: null })).nodes[1]?.publicKey, pair.publicKey);
  });

  test("other fields: sshHost, publicEndpoint, interface name, keepalive, MTU", () => {
    expectError(withNode(1, { sshHost: "" }), "ssh-host-missing", "sshHost", ["node \"web2\""]);
    expectError(withNode(1, { sshHost: "host;reboot" }), "ssh-host-invalid", "sshHost", ["\"host;reboot\""]);
    expectError(withNode(1, { sshHost: "-oProxyCommand=x" }), "ssh-host-invalid", "sshHost", ["-oProxyCommand"]);
    expectError(withNode(1, { publicEndpoint: "198.51.100.1" }), "endpoint-invalid", "publicEndpoint", ["node \"web2\"", "host:port"]);
    expectError(withNode(1, { publicEndpoint: "198.51.100.1:0" }), "endpoint-invalid", "publicEndpoint", ["198.51.100.1:0"]);
    expectError(withNode(1, { publicEndpoint: "2001:db8::1:51820" }), "endpoint-invalid", "publicEndpoint", ["[2001:db8::1]:51820"]);
    assert.deepEqual(check(withNode(1, { publicEndpoint: "[2001:db8::1]:51820" })).errors, []);
    assert.deepEqual(check(withNode(1, { publicEndpoint: "vpn.example.com:443" })).errors, []);
    expectError({ ...base(), interfaceName: "wg0; reboot" }, "interface-name", "interfaceName", ["mesh", "interfaceName"]);
    expectError({ ...base(), interfaceName: "averyveryverylongname" }, "interface-name", "interfaceName", ["1–15"]);
    expectError({ ...base(), persistentKeepalive: -1 }, "keepalive-out-of-range", "persistentKeepalive", ["mesh"]);
    expectError({ ...base(), mtu: 100 }, "mtu-out-of-range", "mtu", ["mesh", "mtu"]);
  });

  test("all errors are collected, not only the first", () => {
    const m = base();
    m.nodes[0] = { ...(m.nodes[0] as NodeInput), meshIp: "10.98.0.1", sshPort: 0 };
    m.nodes[1] = { ...(m.nodes[1] as NodeInput), hostname: "bad name", routableNetworks: ["0.0.0.0/0"] };
    m.groups = [{ name: "g", members: ["ghost"] }];
    m.policies = [{ name: "p", fromGroups: [], toGroups: ["nope"] }];
    const codes = check(m).errors.map((e) => e.code).sort();
    assert.deepEqual(codes, ["cidr-default-route", "group-member-unknown", "hostname-invalid", "mesh-ip-outside-network", "policy-group-unknown", "policy-groups-empty", "port-out-of-range"]);
  });

  test("a full network is an error naming the node that got no address", () => {
    const r = compileMesh({ network: "10.99.0.0/30", nodes: [node("a", 1), { hostname: "b", sshHost: "192.0.2.9", publicKey: key("b") }, { hostname: "c", sshHost: "192.0.2.8", publicKey: key("c") }] });
    assert.ok(!r.ok);
    assert.deepEqual(r.errors.map((e) => [e.code, e.subject.name]), [["network-full", "c"]]);
    assert.match(r.errors[0]?.message ?? "", /node "c".*10\.99\.0\.0\/30/);
  });
});

describe("warnings", () => {
  test("groups defined but no policies", () => {
    const { errors, warnings } = check({ ...base(), groups: [{ name: "prod", members: ["web1", "web2", "db1"] }] });
    assert.deepEqual(errors, []);
    assert.deepEqual(warnings.map((w) => w.code), ["groups-without-policies"]);
    assert.match(warnings[0]?.message ?? "", /no access policies/);
  });

  test("a node in no group while groups exist is named", () => {
    const { warnings } = check({ ...base(), groups: [{ name: "prod", members: ["web1"] }], policies: [{ name: "p", fromGroups: ["prod"], toGroups: ["prod"] }] });
    assert.deepEqual(warnings.map((w) => [w.code, w.subject.name]), [["node-in-no-group", "web2"], ["node-in-no-group", "db1"]]);
    assert.match(warnings[0]?.message ?? "", /node "web2" is in no group/);
  });

  test("no group warnings without groups", () => {
    assert.deepEqual(check(base()).warnings, []);
  });

  test("two peered nodes both behind NAT with no endpoint", () => {
    const nat = withNode(0, { behindNat: true });
    nat.nodes[1] = { ...(nat.nodes[1] as NodeInput), behindNat: true };
    const { warnings } = check(nat);
    assert.deepEqual(warnings.map((w) => w.code), ["nat-pair-unreachable"]);
    assert.match(warnings[0]?.message ?? "", /"web1" and "web2".*both behind NAT/);

    // a publicEndpoint on one of them removes the warning
    const fixed = structuredClone(nat);
    fixed.nodes[1] = { ...(fixed.nodes[1] as NodeInput), publicEndpoint: "198.51.100.7:51820" };
    assert.deepEqual(check(fixed).warnings, []);

    // not peered (policies keep them apart): no warning
    const apart: MeshInput = {
      ...nat,
      groups: [{ name: "a", members: ["web1", "db1"] }, { name: "b", members: ["web2", "db1"] }],
      policies: [{ name: "p", fromGroups: ["a"], toGroups: ["b"] }],
    };
    const w = check(apart).warnings.filter((x) => x.code === "nat-pair-unreachable");
    assert.equal(w.length, 1, "web1 (a) and web2 (b) are peered by a→b");
    const isolated: MeshInput = { ...apart, policies: [{ name: "p", fromGroups: ["a"], toGroups: ["a"] }, { name: "q", fromGroups: ["b"], toGroups: ["b"] }] };
    assert.deepEqual(check(isolated).warnings.filter((x) => x.code === "nat-pair-unreachable"), []);
  });
});
