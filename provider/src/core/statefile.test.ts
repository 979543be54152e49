import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { decryptState, deriveStateKey, encryptState } from "./statecrypt";
import { formatStateFile, meshToState, parseStateFile, stateToMeshInput, StateFileError } from "./statefile";
import { generateKeyPair } from "./keys";
import { compileMesh } from "./compile";
import { normalizeMesh } from "./model";

const VECTOR = {
  password: "correct horse battery",
  salt: Uint8Array.from({ length: 32 }, (_, i) => i),
  nonce: Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i),
  key: "591bb6d58628b7a5eee11ab149704a7e545d09507b9178b64df0fff375cf812f",
  plaintext: '{"interface_name":"wg0","network":"10.99.0.0/16"}',
  file: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+goaKjpKWmp6ipqquzFhlCHXmsPwEzRR1uzEDc4qga0pmYCGHuMMeo514ItmCubHNFzEIavOqeN4WcZj19sFGMCcH1GyW7GId+u6FmDg==",
};

describe("encrypted state file (protocol §7.2 vector)", () => {
  test("key derivation", () => {
    assert.equal(deriveStateKey(VECTOR.password, VECTOR.salt).toString("hex"), VECTOR.key);
  });
  test("decrypts the Go-produced file", () => {
    assert.equal(decryptState(VECTOR.file, VECTOR.password), VECTOR.plaintext);
    assert.equal(decryptState(`${VECTOR.file}\n`, VECTOR.password), VECTOR.plaintext, "a trailing newline is tolerated");
  });
  test("encrypts to the same bytes with the vector's salt and nonce", () => {
    assert.equal(encryptState(VECTOR.plaintext, VECTOR.password, { salt: VECTOR.salt, nonce: VECTOR.nonce }), VECTOR.file);
  });
  test("random salt/nonce round trip; no newline; different each time", () => {
    const a = encryptState("hello", "pw");
    const b = encryptState("hello", "pw");
    assert.notEqual(a, b);
    assert.ok(!a.includes("\n"));
    assert.equal(decryptState(a, "pw"), "hello");
  });
  test("wrong password, tampering and garbage fail with messages that reveal nothing", () => {
    assert.throws(() => decryptState(VECTOR.file, "wrong"), /wrong password/);
    const raw = Buffer.from(VECTOR.file, "base64");
    raw[50] = (raw[50] as number) ^ 1;
    assert.throws(() => decryptState(raw.toString("base64"), VECTOR.password), /wrong password, or the file was modified/);
    assert.throws(() => decryptState('{"nodes":{}}', "pw"), /not an encrypted wgmesh state/);
    assert.throws(() => decryptState("AAAA", "pw"), /too short/);
  });
});

function goState() {
  const a = generateKeyPair();
  const b = generateKeyPair();
  return {
    keys: { a, b },
    text: JSON.stringify({
      interface_name: "wg0",
      network: "10.99.0.0/16",
      listen_port: 51820,
      nodes: {
        web1: { hostname: "web1", mesh_ip: "10.99.0.1", public_key: a.publicKey, private_key: a.privateKey, ssh_host: "192.0.2.1", ssh_port: 22, public_endpoint: "192.0.2.1:51820", listen_port: 51820, behind_nat: false, routable_networks: ["192.168.10.0/24"], is_local: true, actual_hostname: "web1.internal", fqdn: "web1.example.com" },
        db1: { hostname: "db1", mesh_ip: "10.99.0.2", public_key: b.publicKey, private_key: b.privateKey, ssh_host: "192.0.2.2", ssh_port: 2222, listen_port: 51821, behind_nat: true, is_local: false },
      },
      local_hostname: "control",
      groups: { prod: { description: "Production", members: ["web1", "db1"] } },
      access_policies: [{ name: "prod-internal", description: "all", from_groups: ["prod"], to_groups: ["prod"], allow_mesh_ips: true, allow_routable_networks: true }],
    }, null, 2),
  };
}

describe("mesh-state.json", () => {
  test("reads every field into the model", () => {
    const { text, keys } = goState();
    const input = stateToMeshInput(parseStateFile(text));
    assert.equal(input.interfaceName, "wg0");
    assert.equal(input.network, "10.99.0.0/16");
    assert.equal(input.listenPort, 51820);
    assert.deepEqual(input.nodes.find((n) => n.hostname === "db1"), {
      hostname: "db1", meshIp: "10.99.0.2", sshHost: "192.0.2.2", sshPort: 2222, listenPort: 51821, publicEndpoint: null,
      behindNat: true, routableNetworks: [], publicKey: keys.b.publicKey, privateKey: keys.b.privateKey,
    });
    assert.deepEqual(input.nodes.find((n) => n.hostname === "web1")?.routableNetworks, ["192.168.10.0/24"]);
    assert.equal(input.nodes.find((n) => n.hostname === "web1")?.publicEndpoint, "192.0.2.1:51820");
    assert.deepEqual(input.groups, [{ name: "prod", description: "Production", members: ["web1", "db1"] }]);
    assert.deepEqual(input.policies, [{ name: "prod-internal", description: "all", fromGroups: ["prod"], toGroups: ["prod"], allowMeshIps: true, allowRoutableNetworks: true }]);
    assert.ok(compileMesh(input).ok);
  });

  test("Go zero values: missing fields take defaults; missing allow_* flags are false", () => {
    const input = stateToMeshInput(parseStateFile(JSON.stringify({
      nodes: { a: { hostname: "a", public_key: "x", ssh_host: "h" } },
      groups: { g: { members: ["a"] } },
      access_policies: [{ name: "p", from_groups: ["g"], to_groups: ["g"] }],
    })));
    assert.equal(input.interfaceName, "wg0");
    assert.equal(input.network, "10.99.0.0/16");
    assert.equal(input.listenPort, 51820);
    assert.deepEqual({ ...input.nodes[0] }, { hostname: "a", meshIp: null, sshHost: "h", sshPort: 22, listenPort: null, publicEndpoint: null, behindNat: false, routableNetworks: [], publicKey: "x", privateKey: null });
    assert.equal(input.policies?.[0]?.allowMeshIps, false);
    assert.equal(input.policies?.[0]?.allowRoutableNetworks, false);
  });

  test("type errors are all listed, naming node/field", () => {
    assert.throws(() => parseStateFile(JSON.stringify({ listen_port: "51820", nodes: { a: { hostname: "b", ssh_port: "22", behind_nat: "no", routable_networks: "10.0.0.0/8" } }, access_policies: {} })),
      (e: StateFileError) => {
        assert.deepEqual(e.problems, [
          'state file: field "listen_port" must be an integer',
          'node "a": field "ssh_port" must be an integer',
          'node "a": field "behind_nat" must be true or false',
          'node "a": field "routable_networks" must be a list of strings',
          'node "a": its "hostname" is "b"; the key in "nodes" and the hostname must be the same',
          'state file: field "access_policies" must be a list',
        ]);
        return true;
      });
  });

  test("a JSON syntax error never echoes the file (it holds private keys)", () => {
    const { text, keys } = goState();
    const broken = text.replace(keys.a.privateKey, `${keys.a.privateKey}"oops`);
    assert.throws(() => parseStateFile(broken), (e: StateFileError) => !e.message.includes(keys.a.privateKey) && /not valid JSON \(syntax error at character \d+\)/.test(e.message));
    assert.throws(() => parseStateFile("[]"), /must be a JSON object/);
  });

  test("writes the format back: round trip, Go field order, extras kept, private keys kept", () => {
    const { text } = goState();
    const state = parseStateFile(text);
    const r = compileMesh(stateToMeshInput(state));
    assert.ok(r.ok);
    const again = meshToState(r.mesh, state);
    assert.deepEqual(again, { ...state, nodes: { db1: state.nodes["db1"], web1: state.nodes["web1"] } });
    const out = formatStateFile(again);
    assert.deepEqual(parseStateFile(out), again);
    assert.deepEqual(Object.keys(JSON.parse(out)), ["interface_name", "network", "listen_port", "nodes", "local_hostname", "groups", "access_policies"]);
    assert.deepEqual(Object.keys(JSON.parse(out).nodes.web1), ["hostname", "mesh_ip", "public_key", "private_key", "ssh_host", "ssh_port", "public_endpoint", "listen_port", "behind_nat", "routable_networks", "is_local", "actual_hostname", "fqdn"]);
    assert.match(out, /^\{\n {2}"interface_name": "wg0",\n/);
    // empty groups/policies are omitted, as Go does
    const plain = formatStateFile(meshToState(normalizeMesh({ nodes: [] })));
    assert.deepEqual(Object.keys(JSON.parse(plain)), ["interface_name", "network", "listen_port", "nodes", "local_hostname"]);
  });

  test("encrypted form round trip through the model", () => {
    const { text } = goState();
    const enc = encryptState(text, "s3cret");
    assert.deepEqual(parseStateFile(decryptState(enc, "s3cret")), parseStateFile(text));
  });
});
