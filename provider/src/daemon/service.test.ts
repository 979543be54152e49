import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseGoFlags } from "./goflags";
import { JOIN_FLAGS, parseJoinConfig } from "./join";
import { joinArgs, renderUnit, runInstallService, runningAsSea, selfCommand, systemdQuote } from "./service";

const SECRET = "wgmesh://v1/a-secret-with-$dollar-and-%percent-and-\"quote";

test("systemd quoting: no shell, specials escaped", () => {
  assert.equal(systemdQuote("a b"), '"a b"');
  assert.equal(systemdQuote('x"y\\z'), '"x\\"y\\\\z"');
  assert.equal(systemdQuote("$HOME%i"), '"$$HOME%%i"');
  assert.throws(() => systemdQuote("a\nb"));
});

test("the unit passes the secret file's path, never the secret", () => {
  const f = parseGoFlags("install-service", ["--gossip", "--interface", "mesh0", "--advertise-routes", "192.168.50.0/24", "--no-dht"], JOIN_FLAGS);
  assert.ok(f.ok);
  const cfg = parseJoinConfig(f.values, { WGMESH_SECRET: SECRET });
  const unit = renderUnit(["/usr/bin/node", "/opt/wgmesh/bin/wgmesh", ...joinArgs(cfg, f.values)]);
  assert.ok(!unit.includes("a-secret-with"), "secret not in the unit");
  assert.match(unit, /^Environment="WGMESH_SECRET_FILE=\/etc\/wgmesh\/secret"$/m);
  assert.match(unit, /^ExecStart="\/usr\/bin\/node" "\/opt\/wgmesh\/bin\/wgmesh" "join" "--interface" "mesh0" "--advertise-routes" "192.168.50.0\/24" "--gossip" "--no-dht"$/m);
  assert.ok(!unit.includes("sh -c"));
});

test("join config: sources, validation, and errors that never contain the secret", () => {
  const f = parseGoFlags("join", [], JOIN_FLAGS);
  assert.ok(f.ok);
  assert.throws(() => parseJoinConfig(f.values, {}), /no mesh secret/);
  const cfg = parseJoinConfig(f.values, { WGMESH_SECRET: SECRET });
  assert.equal(cfg.secret, 'a-secret-with-$dollar-and-%percent-and-"quote');
  assert.deepEqual([cfg.iface, cfg.listenPort, cfg.lan, cfg.dht, cfg.gossip], ["wg0", 51820, true, true, false]);
  assert.equal(cfg.dhtBootstrap.length, 4);
  for (const [args, re] of [
    [["--advertise-routes", "192.168.50.1/24"], /host bits/],
    [["--advertise-routes", "0.0.0.0/0"], /not a network CIDR/],
    [["--interface", "1bad"], /--interface/],
    [["--log-level", "loud"], /--log-level/],
    [["--listen-port", "70000"], /--listen-port/],
    [["--dht-bootstrap", "nope"], /--dht-bootstrap/],
  ] as [string[], RegExp][]) {
    const g = parseGoFlags("join", args, JOIN_FLAGS);
    assert.ok(g.ok);
    assert.throws(() => parseJoinConfig(g.values, { WGMESH_SECRET: SECRET }), (e: Error) => re.test(e.message) && !e.message.includes("a-secret-with"));
  }
  const short = parseGoFlags("join", ["--secret", "short"], JOIN_FLAGS);
  assert.ok(short.ok);
  assert.throws(() => parseJoinConfig(short.values, {}), (e: Error) => /at least 16/.test(e.message) && !e.message.includes("short\""));
});

test("selfCommand: node + the package's bin/wgmesh when not a SEA; the executable alone when it is one", () => {
  assert.equal(runningAsSea(), false);
  const [node, bin, ...rest] = selfCommand();
  assert.equal(node, process.execPath);
  assert.equal(rest.length, 0);
  assert.ok(bin && path.isAbsolute(bin) && bin.endsWith(`${path.sep}bin${path.sep}wgmesh`), String(bin));
  assert.match(fs.readFileSync(bin, "utf8"), /cli\/main\.js/, "bin/wgmesh is the package's launcher");
  assert.deepEqual(selfCommand(true), [process.execPath]);
});

test("install-service --dry-run (not a SEA): ExecStart runs this node with bin/wgmesh, then join's flags", async () => {
  let out = "";
  let err = "";
  const io = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    readStdin: async () => Buffer.alloc(0),
    env: { WGMESH_SECRET: SECRET },
    cwd: process.cwd(),
  };
  const code = await runInstallService(["--dry-run", "--gossip", "--listen-port", "51900"], io);
  assert.equal(code, 0, err);
  const [node, bin] = selfCommand(false);
  assert.ok(out.includes(`\nExecStart=${systemdQuote(node as string)} ${systemdQuote(bin as string)} "join" "--listen-port" "51900" "--gossip"\n`), out);
  assert.ok(!out.includes("a-secret-with"), "secret not in the unit");
});
