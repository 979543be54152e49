import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { compileMesh } from "./compile";
import { normalizeMesh, type MeshInput } from "./model";
import { validateMesh } from "./validate";
import { parsePortSpec, parseProbePort, portsAllow } from "./ports";
import { accessDecision } from "./access";
import { accessControlTypos, formatStateFile, meshToState, parseStateFile, readStateFile, stateToMeshInput } from "./statefile";
import { closestWord } from "./names";

const key = (h: string) => createHash("sha256").update(h).digest("base64");
const base: MeshInput = {
  nodes: ["web1", "app1", "db1"].map((h, i) => ({ hostname: h, sshHost: `192.0.2.${i + 1}`, publicKey: key(h) })),
  groups: [{ name: "web", members: ["web1"] }, { name: "app", members: ["app1"] }, { name: "db", members: ["db1"] }],
  policies: [
    { name: "web-to-app", fromGroups: ["web"], toGroups: ["app"] },
    { name: "app-to-db", fromGroups: ["app"], toGroups: ["db"], ports: ["tcp/5432"] },
  ],
};
const errorsOf = (input: MeshInput) => validateMesh(normalizeMesh(input)).errors.map((e) => e.message);

describe("policy ports", () => {
  test("syntax", () => {
    for (const ok of ["tcp/5432", "udp/53", "tcp/8000-8100", "icmp", "tcp/1", "udp/65535"]) assert.ok(parsePortSpec(ok).ok, ok);
    const why = (t: unknown) => { const r = parsePortSpec(t); return r.ok ? "" : r.why; };
    assert.match(why("5432"), /is not a port; write "tcp\/5432"/);
    assert.match(why("TCP/5432"), /lower case.*"tcp\/5432"/);
    assert.match(why("tcp/70000"), /port 70000, out of range/);
    assert.match(why("tcp/0"), /out of range/);
    assert.match(why("tcp/8100-8000"), /reversed range; write the lower port first: "tcp\/8000-8100"/);
    assert.match(why(5432), /must be a string/);
    assert.ok(!parseProbePort("tcp/1-2").ok);
    assert.ok(portsAllow([{ proto: "tcp", first: 8000, last: 8100 }], { proto: "tcp", first: 8100, last: 8100 }));
    assert.ok(!portsAllow([{ proto: "tcp", first: 8000, last: 8100 }], { proto: "udp", first: 8050, last: 8050 }));
    assert.ok(!portsAllow([{ proto: "tcp", first: 1, last: 65535 }], { proto: "icmp" }), "icmp only with \"icmp\"");
    assert.ok(portsAllow(null, { proto: "icmp" }));
  });

  test("bad input is rejected naming the policy, the field and the fix", () => {
    const withPorts = (ports: string[], from = ["app"]) => ({ ...base, policies: [{ name: "app-to-db", fromGroups: from, toGroups: ["db"], ports }] });
    assert.deepEqual(errorsOf(withPorts(["tcp:5432"])), ['policy "app-to-db": ports entry "tcp:5432" is not a port; write "tcp/5432", "udp/53", "tcp/8000-8100" or "icmp"']);
    assert.deepEqual(errorsOf(withPorts(["tcp/8100-8000"])), ['policy "app-to-db": ports entry "tcp/8100-8000" is a reversed range; write the lower port first: "tcp/8000-8100"']);
    const noFrom = errorsOf(withPorts(["tcp/5432"], []));
    assert.ok(noFrom.some((m) => /^policy "app-to-db": ports \["tcp\/5432"\] are given but fromGroups is empty/.test(m)), noFrom.join("\n"));
    assert.match(errorsOf(withPorts([])).join(), /ports is an empty list/);
    assert.match(errorsOf({ ...base, enforcement: "iptables" as never }).join(), /mesh: enforcement "iptables" is not known; use "nftables"/);
  });
});

describe("policy tests", () => {
  test("bad tests are rejected: unknown node, expect, port", () => {
    const errs = errorsOf({ ...base, policyTests: [{ from: "web9", to: "db1", port: "tcp/5432", expect: "deny" }, { from: "web1", to: "db1", port: "tcp/5432", expect: "maybe" as never }, { from: "web1", to: "db1", port: "tcp/1-9", expect: "deny" }] });
    assert.deepEqual(errs, [
      'policy test #1 (web9 → db1 tcp/5432): from "web9" is not a node of the mesh; name a node\'s hostname',
      'policy test #2 (web1 → db1 tcp/5432): expect "maybe" must be "allow" or "deny"',
      'policy test #3 (web1 → db1 tcp/1-9): port "tcp/1-9" is a range; a policy test probes one port, e.g. "tcp/1"',
    ]);
  });

  test("evaluated against the plan: a failing test names the policy that allows, or the absence that denies", () => {
    const run = (tests: MeshInput["policyTests"], extra: Partial<MeshInput> = {}) => {
      const r = compileMesh({ ...base, ...extra, policyTests: tests });
      return r.ok ? [] : r.errors.map((e) => e.message);
    };
    assert.deepEqual(run([{ from: "web1", to: "app1", port: "tcp/80", expect: "allow" }, { from: "app1", to: "web1", port: "tcp/80", expect: "deny" }, { from: "app1", to: "db1", port: "tcp/22", expect: "deny" }]), []);
    assert.deepEqual(run([{ from: "web1", to: "app1", port: "tcp/8080", expect: "deny" }]), [
      'policy test #1 (web1 → app1 tcp/8080, expect deny) fails: web1 → app1 tcp/8080 is allowed by policy "web-to-app" (from web to app); narrow policy "web-to-app" (groups, ports, allowMeshIps) or fix the test',
    ]);
    const [deny] = run([{ from: "app1", to: "web1", port: "tcp/80", expect: "allow" }]);
    assert.match(deny ?? "", /^policy test #1 \(app1 → web1 tcp\/80, expect allow\) fails: app1 → web1 tcp\/80 is denied: no policy lets app1's groups \[app\] reach web1's groups \[web\]; "web-to-app" relates them only from web1 to app1; add or widen a policy/);
    assert.match(run([{ from: "app1", to: "db1", port: "tcp/22", expect: "allow" }])[0] ?? "", /denied: policy "app-to-db" allows only tcp\/5432/);
    assert.match(run([{ from: "app1", to: "web1", port: "tcp/80", expect: "deny" }], { enforcement: "none" })[0] ?? "", /allowed: enforcement is "none" and policy "web-to-app" makes them WireGuard peers/);
    assert.deepEqual(run([{ from: "app1", to: "web1", port: "tcp/80", expect: "deny" }], { enforcement: "none" }).length, 1);
  });

  test("accessDecision without access control: everyone", () => {
    const m = normalizeMesh({ nodes: base.nodes });
    assert.ok(accessDecision(m, "app1", "web1", { proto: "icmp" }).allowed);
  });
});

describe("state file: ports, policy tests, no silent full mesh", () => {
  const file = {
    interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, local_hostname: "",
    nodes: { web1: { hostname: "web1", mesh_ip: "10.99.0.1", public_key: key("web1"), ssh_host: "192.0.2.1", ssh_port: 22, listen_port: 51820, behind_nat: false, is_local: false } },
    groups: { web: { members: ["web1"] } },
    access_policies: [{ name: "w", from_groups: ["web"], to_groups: ["web"], allow_mesh_ips: true, allow_routable_networks: false, ports: ["tcp/443"] }],
    policy_tests: [{ from: "web1", to: "web1", port: "tcp/443", expect: "allow" }],
  };

  test("ports and policy_tests read and written back (the Go tool ignores them)", () => {
    const state = parseStateFile(JSON.stringify(file));
    const input = stateToMeshInput(state);
    assert.deepEqual(input.policies?.[0]?.ports, ["tcp/443"]);
    assert.deepEqual(input.policyTests, [{ from: "web1", to: "web1", port: "tcp/443", expect: "allow" }]);
    assert.equal(input.enforcement, "none", "a state file is not enforced unless asked");
    const again = JSON.parse(formatStateFile(meshToState(normalizeMesh(input), state)));
    assert.deepEqual(again.access_policies[0].ports, ["tcp/443"]);
    assert.deepEqual(again.policy_tests, file.policy_tests);
  });

  test("misspelt keys: warnings with the closest key; access-control look-alikes flagged", () => {
    const { groups, access_policies, ...rest } = file;
    const typo = { ...rest, group: groups, access_policy: access_policies, nodes: { web1: { ...file.nodes.web1, routable_network: [] } } };
    const r = readStateFile(JSON.stringify(typo));
    assert.deepEqual(r.unknownKeys.map((u) => u.message), [
      'state file: unknown key "group" (did you mean "groups"?); it is ignored',
      'state file: unknown key "access_policy" (did you mean "access_policies"?); it is ignored',
      'node "web1": unknown key "routable_network" (did you mean "routable_networks"?); it is ignored',
    ]);
    assert.deepEqual(accessControlTypos(r).map((u) => u.key), ["group", "access_policy"]);
    assert.deepEqual(accessControlTypos(readStateFile(JSON.stringify({ ...file, acl: {} }))), [], "a recognised section exists: only the warning");
    assert.equal(closestWord("zzzzzzzz", ["groups"]), null);
  });
});
