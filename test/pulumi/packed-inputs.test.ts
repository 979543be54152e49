// Issue 12: the TypeScript Node and NodeConfig register the inputs nobody reads back in ONE packed object
// (provider/src/pulumi/spec.ts) — Pulumi's program-side cost is per top-level property — and the provider's
// check unpacks it, so the engine records, diffs and shows the same flat inputs as before. Read from the
// real engine: the RegisterResource requests (PULUMI_DEBUG_GRPC) carry few top-level properties, and
// `preview --json` shows flat checked inputs, with a secret that travelled inside the packed object still a
// secret (the engine marks a dynamic provider's checked inputs secret by property name only).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Workspace, pulumiEnv, toolchainMissing } from "./harness";

const baseEnv = pulumiEnv();
const skip = toolchainMissing(baseEnv);

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import * as wgmesh from "@wgmesh/pulumi";
const c = (host: string) => ({ host, port: 9, user: "root", privateKey: "unused" });
const web1 = new wgmesh.Node("web1", { connection: c("127.0.2.1") });
const web2 = new wgmesh.Node("web2", { connection: c("127.0.2.2") });
new wgmesh.Mesh("sec", { nodes: [web1, web2], healthCheck: pulumi.secret({ mode: "ping" as const, timeoutSeconds: 20 }) });
const web3 = new wgmesh.Node("web3", { connection: c("127.0.2.3"), interfaceName: "wg1" });
const web4 = new wgmesh.Node("web4", { connection: c("127.0.2.4"), interfaceName: "wg1" });
new wgmesh.Mesh("plain", { interfaceName: "wg1", nodes: [web3, web4] });
`;

interface Step { urn: string; newState?: { inputs?: Record<string, unknown> } }

describe("packed inputs: few properties registered, flat checked inputs, secrets kept (real engine)", { skip }, () => {
  let ws: Workspace;
  let steps: Step[] = [];
  let requests: Array<{ name: string; keys: string[] }> = [];

  before(() => {
    ws = new Workspace(baseEnv);
    const dir = ws.project("packed", {
      "Pulumi.yaml": "name: packed\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
      "package.json": JSON.stringify({ name: "packed", version: "0.0.0", private: true, main: "index.ts" }),
      "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] }),
      "index.ts": PROGRAM,
    });
    ws.pulumiOk(dir, ["stack", "init", "dev"]);
    const log = path.join(ws.root, "grpc.json");
    ws.env.PULUMI_DEBUG_GRPC = log;
    let out: string;
    try {
      out = ws.pulumiOk(dir, ["preview", "--json"]).stdout;
    } finally {
      delete ws.env.PULUMI_DEBUG_GRPC;
    }
    steps = (JSON.parse(out) as { steps: Step[] }).steps;
    for (const line of fs.readFileSync(log, "utf8").split("\n")) {
      if (!line.includes("RegisterResource")) continue;
      let d: { method?: string; request?: { name?: string; type?: string; object?: Record<string, unknown> } };
      try {
        d = JSON.parse(line);
      } catch {
        continue;
      }
      if (!d.method?.endsWith("/RegisterResource") || d.request?.type !== "pulumi-nodejs:dynamic:Resource" || !d.request.name) continue;
      requests.push({ name: d.request.name, keys: Object.keys(d.request.object ?? {}) });
    }
  });
  after(() => ws?.cleanup());

  const inputsOf = (name: string) => {
    const s = steps.find((x) => x.urn.endsWith(`::${name}`));
    assert.ok(s?.newState?.inputs, `${name} in the preview (${steps.map((x) => x.urn.split("::").pop()).join(", ")})`);
    return s.newState.inputs;
  };

  test("a Node sends 4 top-level values, a NodeConfig 8 (were 6 and 15: every defined input); the rest travel packed", () => {
    const node = requests.find((r) => r.name === "web1");
    const config = requests.find((r) => r.name === "plain-web3");
    assert.ok(node && config, `registrations seen: ${requests.map((r) => r.name).join(", ")}`);
    assert.ok(node.keys.includes("__spec") && node.keys.length <= 4, `Node web1: ${node.keys.join(", ")}`);
    assert.ok(config.keys.includes("__spec") && config.keys.length <= 8, `NodeConfig plain-web3: ${config.keys.join(", ")}`);
    for (const k of ["hostname", "interfaceName", "listenPort", "firewall", "policyTests", "hostFiles"]) assert.ok(!config.keys.includes(k), `${k} is packed`);
  });

  test("the checked inputs are flat (what the state records and preview --diff compares)", () => {
    for (const [name, ifname] of [["plain-web3", "wg1"], ["plain-web4", "wg1"], ["sec-web1", "wg0"]] as const) {
      const i = inputsOf(name);
      assert.ok(!("__spec" in i), `${name}: no packed object in the checked inputs`);
      assert.equal(i.interfaceName, ifname);
      assert.equal(i.hostname, name.split("-")[1]);
      assert.equal(i.listenPort, 51820);
      assert.equal(typeof i.peers, "string");
    }
    const node = inputsOf("web3");
    assert.equal(node.hostname, "web3");
    assert.equal(node.interfaceName, "wg1");
    assert.equal(node.keyOnHost, false);
    assert.ok(!("__spec" in node));
  });

  test("a secret inside the packed object is a secret in the checked inputs; the other packed values stay plain", () => {
    for (const name of ["sec-web1", "sec-web2"]) {
      const i = inputsOf(name);
      assert.equal(i.healthCheck, "[secret]", `${name}: healthCheck shown as a secret`);
      assert.equal(i.interfaceName, "wg0", `${name}: interfaceName plain`);
    }
    assert.equal(inputsOf("plain-web3").healthCheck, undefined);
  });
});
