import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair, publicKeyFromPrivate } from "../../core/keys";
import { lifecycles, UNKNOWN, checkMesh, desiredState, liveToInputs, hostFilesFrom, PLANNED_HOST_FILES, type MeshInputs, type NodeConfigInputs } from "./index";
import { healthCheckOf, healthFromReading } from "./nodeConfig";
import { renderConf } from "../../engine/changes";
import { confDigest } from "../../planner/wgquick";
import type { HostReading } from "../../engine/probe";
import type { LiveState } from "../../planner/types";

const ctx = { log: () => undefined };

function mesh(extra: Partial<MeshInputs> = {}): MeshInputs {
  return {
    name: "prod",
    network: "10.99.0.0/24",
    nodes: [
      { hostname: "web1", sshHost: "192.0.2.1" },
      { hostname: "web2", sshHost: "192.0.2.2" },
      { hostname: "app1", sshHost: "192.0.2.3", routableNetworks: ["192.168.10.0/24"] },
    ],
    groups: [],
    policies: [],
    ...extra,
  };
}

describe("Mesh lifecycle", () => {
  test("check allocates mesh IPs in hostname order and keeps them when nodes are added before them", async () => {
    const first = await lifecycles.mesh.check(undefined, mesh(), ctx);
    assert.deepEqual(first.failures, []);
    assert.deepEqual(first.inputs.meshIps, { app1: "10.99.0.1", web1: "10.99.0.2", web2: "10.99.0.3" });
    // "aaa" sorts first: a fresh allocation would shift everyone; the previous allocation keeps them.
    const grown = mesh({ nodes: [...mesh().nodes, { hostname: "aaa", sshHost: "192.0.2.9" }] });
    const second = await lifecycles.mesh.check(first.inputs, grown, ctx);
    assert.deepEqual(second.inputs.meshIps, { app1: "10.99.0.1", web1: "10.99.0.2", web2: "10.99.0.3", aaa: "10.99.0.4" });
    // Removing a node frees its address but leaves the others alone.
    const shrunk = mesh({ nodes: grown.nodes.filter((n) => n.hostname !== "web1") });
    const third = await lifecycles.mesh.check(second.inputs, shrunk, ctx);
    assert.deepEqual(third.inputs.meshIps, { app1: "10.99.0.1", web2: "10.99.0.3", aaa: "10.99.0.4" });
    // Same inputs again: no diff.
    const again = await lifecycles.mesh.check(third.inputs, shrunk, ctx);
    const d = await lifecycles.mesh.diff("prod", third.inputs, again.inputs, ctx);
    assert.equal(d.changes, false);
  });

  test("explicit meshIp wins over a previous allocation", () => {
    const first = checkMesh(undefined, mesh());
    const taken = mesh({ nodes: mesh().nodes.map((n) => (n.hostname === "web2" ? { ...n, meshIp: "10.99.0.2" } : n)) });
    const r = checkMesh(first.inputs, taken);
    assert.equal(r.inputs.meshIps?.web2, "10.99.0.2");
    assert.notEqual(r.inputs.meshIps?.web1, "10.99.0.2");
  });

  test("bad references fail check with the core's messages naming group/policy, field and fix", async () => {
    const r = await lifecycles.mesh.check(undefined, mesh({
      groups: [{ name: "web", members: ["web1", "web3"] }],
      policies: [{ name: "web-to-db", fromGroups: ["web"], toGroups: ["db"] }],
    }), ctx);
    const reasons = r.failures.map((f) => `${f.property}: ${f.reason}`);
    assert.ok(reasons.some((x) => /^groups: .*group "web".*member "web3".*not a node of the mesh; add the node or remove it/.test(x)), reasons.join("\n"));
    assert.ok(reasons.some((x) => /^policies: .*policy "web-to-db".*toGroups names unknown group "db"; define the group or fix the name/.test(x)), reasons.join("\n"));
  });

  test("node errors name the node and field; key problems are left to the Node", async () => {
    const r = await lifecycles.mesh.check(undefined, mesh({
      nodes: [
        { hostname: "web1", sshHost: "192.0.2.1", meshIp: "10.98.0.1" },
        { hostname: "web1", sshHost: "192.0.2.2" },
        { hostname: "app1", sshHost: "192.0.2.3", routableNetworks: ["192.168.10.1/24"] },
      ],
    }), ctx);
    const text = r.failures.map((f) => f.reason).join("\n");
    assert.match(text, /node "web1".*meshIp "10\.98\.0\.1"/);
    assert.match(text, /hostname/);
    assert.match(text, /node "app1".*routableNetworks.*"192\.168\.10\.0\/24"/);
    assert.doesNotMatch(text, /publicKey/);
    assert.ok(r.failures.every((f) => f.property === "nodes"));
  });

  test("unknown node list at preview: no failure, meshIps unknown", async () => {
    const r = await lifecycles.mesh.check(undefined, { ...mesh(), nodes: UNKNOWN as never }, ctx);
    assert.deepEqual(r.failures, []);
    assert.equal(r.inputs.meshIps, UNKNOWN);
  });
});

describe("Node lifecycle check and diff", () => {
  const conn = { host: "192.0.2.1", user: "root" };
  test("valid node passes; invalid hostname, key and connection are named", async () => {
    assert.deepEqual((await lifecycles.node.check(undefined, { hostname: "web1", connection: conn }, ctx)).failures, []);
    const bad = await lifecycles.node.check(undefined, { hostname: "web_1!", connection: { host: "" }, privateKey: "not-a-key" }, ctx);
    const byProp = Object.fromEntries(bad.failures.map((f) => [f.property, f.reason]));
    assert.match(byProp.hostname ?? "", /web_1!/);
    assert.match(byProp.privateKey ?? "", /privateKey/);
    assert.ok(!(byProp.privateKey ?? "").includes("not-a-key"), "a (bad) secret is never echoed");
    assert.match(byProp.connection ?? "", /sshHost|host/);
  });

  test("privateKey together with keyOnHost is refused", async () => {
    const r = await lifecycles.node.check(undefined, { hostname: "web1", connection: conn, keyOnHost: true, privateKey: generateKeyPair().privateKey }, ctx);
    assert.ok(r.failures.some((f) => f.property === "privateKey" && /keyOnHost/.test(f.reason)));
    assert.ok(r.failures.every((f) => !f.reason.includes(r.inputs.privateKey as string)));
  });

  test("unknown connection at preview is not an error", async () => {
    const r = await lifecycles.node.check(undefined, { hostname: "web1", connection: UNKNOWN as never }, ctx);
    assert.deepEqual(r.failures, []);
  });

  test("diff: generated key kept when no privateKey input; keyOnHost change replaces; connection change updates", async () => {
    const kp = generateKeyPair();
    const olds = { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0", publicKey: kp.publicKey, privateKey: kp.privateKey, privateKeyImported: false, natDetected: false, remoteHostname: "h", os: null };
    assert.equal((await lifecycles.node.diff("web1", olds, { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0" }, ctx)).changes, false);
    const moved = await lifecycles.node.diff("web1", olds, { hostname: "web1", connection: { ...conn, host: "192.0.2.9" }, keyOnHost: false, interfaceName: "wg0" }, ctx);
    assert.deepEqual([moved.changes, moved.replaces], [true, []]);
    const onHost = await lifecycles.node.diff("web1", olds, { hostname: "web1", connection: conn, keyOnHost: true, interfaceName: "wg0" }, ctx);
    assert.deepEqual(onHost.replaces, ["keyOnHost"]);
    const rekey = await lifecycles.node.diff("web1", olds, { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0", privateKey: generateKeyPair().privateKey }, ctx);
    assert.deepEqual(rekey.changed, ["privateKey"]);
  });

  test("update with an imported key derives its public key without any host access when the connection is unchanged", async () => {
    const kp = generateKeyPair();
    const olds = { hostname: "web1", connection: conn, keyOnHost: false, interfaceName: "wg0", publicKey: "x", privateKey: "y", privateKeyImported: false, natDetected: false, remoteHostname: "h", os: null };
    const r = await lifecycles.node.update("web1", olds, { hostname: "web1", connection: conn, privateKey: kp.privateKey }, ctx);
    assert.equal(r.outs.publicKey, kp.publicKey);
    assert.equal(r.outs.privateKeyImported, true);
    assert.equal(publicKeyFromPrivate(r.outs.privateKey as string), r.outs.publicKey);
  });
});

describe("Group and Policy lifecycles", () => {
  test("group: duplicate member and bad name fail with the core's messages", async () => {
    const r = await lifecycles.group.check(undefined, { name: "", members: ["web1", "web1"] }, ctx);
    const text = r.failures.map((f) => `${f.property}: ${f.reason}`).join("\n");
    assert.match(text, /name: .*printable name/);
    assert.match(text, /members: .*"web1" is listed more than once/);
    assert.deepEqual((await lifecycles.group.check(undefined, { name: "web", members: ["web1"] }, ctx)).failures, []);
  });

  test("policy: empty group lists fail; a rename replaces", async () => {
    const r = await lifecycles.policy.check(undefined, { name: "p", fromGroups: [], toGroups: ["db"] }, ctx);
    assert.ok(r.failures.some((f) => f.property === "fromGroups" && /fromGroups is empty/.test(f.reason)));
    const d = await lifecycles.policy.diff("p", { name: "p", fromGroups: ["a"], toGroups: ["b"] }, { name: "q", fromGroups: ["a"], toGroups: ["b"] }, ctx);
    assert.deepEqual(d.replaces, ["name"]);
    const same = await lifecycles.policy.diff("p", { name: "p", fromGroups: ["a"], toGroups: ["b"], description: null }, { name: "p", fromGroups: ["a"], toGroups: ["b"] }, ctx);
    assert.equal(same.changes, false);
  });
});

describe("NodeConfig lifecycle (pure parts)", () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const c = generateKeyPair();
  const planned: NodeConfigInputs = {
    mesh: "prod", hostname: "web1", interfaceName: "wg0", address: "10.99.0.1/24", listenPort: 51820, publicKey: a.publicKey,
    peers: {
      web2: { publicKey: b.publicKey, endpoint: "192.0.2.2:51820", allowedIps: ["10.99.0.2/32"] },
      app1: { publicKey: c.publicKey, allowedIps: ["10.99.0.3/32", "192.168.10.0/24"], persistentKeepalive: 25 },
    },
    routes: ["192.168.10.0/24"], forwarding: false, keyOnHost: false, privateKey: a.privateKey, connection: { host: "192.0.2.1" },
  };

  test("desired state: peers sorted by hostname with the planned fields", () => {
    const d = desiredState(planned);
    assert.deepEqual(d.peers.map((p) => p.hostname), ["app1", "web2"]);
    assert.equal(d.peers[0]?.endpoint, null);
    assert.equal(d.peers[0]?.persistentKeepalive, 25);
    assert.equal(d.interface.mtu, null);
    assert.deepEqual(d.routes, ["192.168.10.0/24"]);
  });

  function live(): LiveState {
    return {
      interface: { name: "wg0", publicKey: a.publicKey, listenPort: 51820, addresses: ["10.99.0.1/24"], mtu: 1420 },
      peers: [
        { publicKey: b.publicKey, presharedKey: false, endpoint: "192.0.2.2:51820", allowedIps: ["10.99.0.2/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null },
        { publicKey: c.publicKey, presharedKey: false, endpoint: "198.51.100.7:40000", allowedIps: ["192.168.10.0/24", "10.99.0.3/32"], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 25 },
      ],
      routes: ["192.168.10.0/24"],
      forwarding: true,
    };
  }

  test("live state matching the plan reads back as no drift (roamed NAT endpoint, unmanaged MTU, forwarding on)", async () => {
    const back = liveToInputs(planned, live());
    const d = await lifecycles.nodeConfig.diff("prod/web1", back, planned, ctx);
    assert.equal(d.changes, false, JSON.stringify(d));
  });

  test("a removed peer and a missing route show as drift on exactly those properties", async () => {
    const l = live();
    l.peers = l.peers.filter((p) => p.publicKey !== b.publicKey);
    l.routes = [];
    const back = liveToInputs(planned, l);
    assert.deepEqual(Object.keys(back.peers), ["app1"]);
    const d = await lifecycles.nodeConfig.diff("prod/web1", back, planned, ctx);
    assert.deepEqual(d.changed.sort(), ["peers", "routes"]);
    assert.deepEqual(d.replaces, []);
  });

  test("a foreign peer is keyed as unknown; a missing interface empties the config", () => {
    const l = live();
    const x = generateKeyPair();
    l.peers.push({ ...l.peers[0]!, publicKey: x.publicKey });
    assert.ok(Object.keys(liveToInputs(planned, l).peers).some((k) => k.startsWith("unknown-peer-")));
    const gone = liveToInputs(planned, { interface: null, peers: [], routes: [], forwarding: false });
    assert.deepEqual([gone.address, gone.peers, gone.routes], ["", {}, []]);
  });

  test("diff: interface rename replaces delete-first; another host replaces create-first", async () => {
    const renamed = await lifecycles.nodeConfig.diff("prod/web1", planned, { ...planned, interfaceName: "wg1" }, ctx);
    assert.deepEqual([renamed.replaces, renamed.deleteBeforeReplace], [["interfaceName"], true]);
    const moved = await lifecycles.nodeConfig.diff("prod/web1", planned, { ...planned, connection: { host: "192.0.2.50" } }, ctx);
    assert.deepEqual([moved.replaces, moved.deleteBeforeReplace], [["connection"], false]);
    const cred = await lifecycles.nodeConfig.diff("prod/web1", planned, { ...planned, connection: { host: "192.0.2.1", password: "x" } }, ctx);
    assert.deepEqual([cred.changes, cred.replaces], [true, []]);
  });

  test("check: a config without any key source is refused", async () => {
    const r = await lifecycles.nodeConfig.check(undefined, { ...planned, privateKey: null }, ctx);
    assert.ok(r.failures.some((f) => f.property === "privateKey" && /web1/.test(f.reason)));
  });

  test("hostFiles: the wg-quick file compared by digest with the planned one, the unit's state as read", async () => {
    const reading = (exists: boolean, sha256: string | null, enabled: string | null) =>
      ({ facts: { conf: { exists, sha256 }, unit: { enabled, active: null } } }) as unknown as HostReading;
    const sha = confDigest(renderConf(desiredState(planned), { privateKey: a.privateKey }));
    assert.deepEqual(hostFilesFrom(planned, reading(true, sha, "enabled")), PLANNED_HOST_FILES);
    assert.deepEqual(hostFilesFrom(planned, reading(true, "0".repeat(64), "disabled")), { wgQuickConf: "differs from the plan", unit: "disabled", firewall: "as planned" });
    assert.equal(hostFilesFrom(planned, reading(false, null, null)).wgQuickConf, "missing");
    const withFiles = { ...planned, hostFiles: { ...PLANNED_HOST_FILES } };
    const drift = await lifecycles.nodeConfig.diff("prod/web1", { ...withFiles, hostFiles: { wgQuickConf: "as planned", unit: "disabled" } }, withFiles, ctx);
    assert.deepEqual(drift.changed, ["hostFiles"]);
    assert.equal((await lifecycles.nodeConfig.diff("prod/web1", planned, withFiles, ctx)).changes, false, "older state without hostFiles: as planned");
  });

  test("healthCheck: refused at check naming mesh, node and field; defaults filled; not a diff by itself", async () => {
    const bad = await lifecycles.nodeConfig.check(undefined, { ...planned, healthCheck: { mode: "pong" as never, timeoutSeconds: 0 } }, ctx);
    assert.deepEqual(bad.failures.map((f) => f.property), ["healthCheck", "healthCheck"]);
    assert.match(bad.failures[0]!.reason, /^mesh "prod": node "web1": healthCheck\.mode "pong" is not one of/);
    assert.match(bad.failures[1]!.reason, /healthCheck\.timeoutSeconds 0 must be a whole number/);
    assert.deepEqual((await lifecycles.nodeConfig.check(undefined, { ...planned, healthCheck: { mode: "ping" } }, ctx)).failures, []);
    assert.deepEqual(healthCheckOf(planned), { mode: "handshake", timeoutSeconds: 15 });
    assert.deepEqual(healthCheckOf({ healthCheck: { mode: "off", timeoutSeconds: null } }), { mode: "off", timeoutSeconds: 15 });
    assert.equal((await lifecycles.nodeConfig.diff("prod/web1", planned, { ...planned, healthCheck: { mode: "ping" } }, ctx)).changes, false);
  });

  test("refresh health: peers named by the plan, states from the handshake age on the host's clock", () => {
    const l = live();
    l.peers[0]!.latestHandshake = 1_800_000_000 - 20;
    const reading = { facts: { live: l }, probe: { now: 1_800_000_000 } } as unknown as HostReading;
    const h = healthFromReading(planned, reading);
    assert.deepEqual(Object.fromEntries(Object.entries(h.peers).map(([n, p]) => [n, [p.state, p.latestHandshakeAgeSeconds, p.endpoint]])), {
      web2: ["connected", 20, "192.0.2.2:51820"],
      app1: ["never", null, "198.51.100.7:40000"],
    });
  });
});

