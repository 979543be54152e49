import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { generateKeyPair, generatePrivateKey, publicKeyFromPrivate } from "./keys";
import { rotateStateNode } from "./staterotate";
import { StateFileError } from "./statefile";

// The layout the Go tool writes (json.MarshalIndent, two spaces), as `wgmesh-go -init` + two `-add` produce.
const web1 = generateKeyPair();
const web2 = generateKeyPair();
const GO_TEXT = `{
  "interface_name": "wg0",
  "network": "10.99.0.0/16",
  "listen_port": 51820,
  "nodes": {
    "web1": {
      "hostname": "web1",
      "mesh_ip": "10.99.0.1",
      "public_key": "${web1.publicKey}",
      "private_key": "${web1.privateKey}",
      "ssh_host": "192.0.2.1",
      "ssh_port": 22,
      "listen_port": 51820,
      "behind_nat": false,
      "is_local": false
    },
    "web2": {
      "hostname": "web2",
      "mesh_ip": "10.99.0.2",
      "public_key": "${web2.publicKey}",
      "private_key": "${web2.privateKey}",
      "ssh_host": "192.0.2.2",
      "ssh_port": 2222,
      "listen_port": 51820,
      "behind_nat": false,
      "is_local": false
    }
  },
  "local_hostname": "vm"
}`;

const changedLines = (a: string, b: string) => a.split("\n").map((l, i) => [l, b.split("\n")[i]] as const).filter(([x, y]) => x !== y);

test("the node's two key lines change, every other byte stays", () => {
  const key = generatePrivateKey();
  const r = rotateStateNode(GO_TEXT, "web1", key);
  assert.equal(r.oldPublicKey, web1.publicKey);
  assert.equal(r.newPublicKey, publicKeyFromPrivate(key));
  assert.equal(r.text.split("\n").length, GO_TEXT.split("\n").length);
  assert.deepEqual(changedLines(GO_TEXT, r.text), [
    [`      "public_key": "${web1.publicKey}",`, `      "public_key": "${r.newPublicKey}",`],
    [`      "private_key": "${web1.privateKey}",`, `      "private_key": "${key}",`],
  ]);
  assert.ok(!r.text.includes(web1.privateKey), "the old private key is gone");
  assert.ok(r.text.includes(web2.privateKey), "the other node's key stays");
});

test("an unknown node: an error naming it and the nodes there are (no key in the message)", () => {
  assert.throws(() => rotateStateNode(GO_TEXT, "web9", generatePrivateKey()), (e: Error) =>
    e instanceof StateFileError && /node "web9" is not in the state file \(its nodes: web1, web2\)/.test(e.message) && !e.message.includes(web1.privateKey));
  assert.throws(() => rotateStateNode("{not json", "web1", generatePrivateKey()), StateFileError);
  assert.throws(() => rotateStateNode(GO_TEXT, "web1", "not-a-key"), /not a WireGuard key/);
});

test("a file the values cannot be found in verbatim (escaped slashes, no private key) is written again in the Go layout, same meaning", () => {
  const escaped = GO_TEXT.split(web1.privateKey).join(web1.privateKey.replace(/\//g, "\\/")).split(web1.publicKey).join(web1.publicKey.replace(/\//g, "\\/"));
  const noPrivate = GO_TEXT.replace(`      "private_key": "${web1.privateKey}",\n`, "");
  for (const text of [escaped, noPrivate]) {
    const key = generatePrivateKey();
    const r = rotateStateNode(text, "web1", key);
    const before = JSON.parse(text);
    const after = JSON.parse(r.text);
    before.nodes.web1.public_key = publicKeyFromPrivate(key);
    before.nodes.web1.private_key = key;
    assert.deepEqual(after, before);
    assert.deepEqual(Object.keys(after.nodes.web1).slice(0, 4), ["hostname", "mesh_ip", "public_key", "private_key"], "the Go struct's field order");
  }
});

test("property: any node of any state file — exactly its two keys change in meaning", () => {
  const arbName = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);
  fc.assert(fc.property(fc.uniqueArray(arbName, { minLength: 1, maxLength: 6 }), fc.nat(), fc.boolean(), (names, pick, trailing) => {
    const nodes = Object.fromEntries(names.map((h, i) => {
      const kp = generateKeyPair();
      return [h, { hostname: h, mesh_ip: `10.99.0.${i + 1}`, public_key: kp.publicKey, private_key: kp.privateKey, ssh_host: `192.0.2.${i + 1}`, ssh_port: 22, listen_port: 51820, behind_nat: false, is_local: false }];
    }));
    const text = JSON.stringify({ interface_name: "wg0", network: "10.99.0.0/16", listen_port: 51820, nodes, local_hostname: "x" }, null, 2) + (trailing ? "\n" : "");
    const target = names[pick % names.length] as string;
    const key = generatePrivateKey();
    const r = rotateStateNode(text, target, key);
    const want = JSON.parse(text);
    want.nodes[target].private_key = key;
    want.nodes[target].public_key = publicKeyFromPrivate(key);
    assert.deepEqual(JSON.parse(r.text), want);
    assert.equal(changedLines(text, r.text).length, 2);
    assert.equal(r.text.endsWith("\n"), trailing);
  }), { numRuns: 100 });
});
