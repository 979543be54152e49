import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAdvertiseRoutes, parseReloadFile } from "./reload";

test("reload file: Go's keys, comments, empty routes withdraw all, unknown keys reported", () => {
  assert.deepEqual(parseReloadFile("# comment\nadvertise-routes=192.168.60.0/24, 10.20.0.0/16\nlog-level=debug\n"), { advertiseRoutes: ["10.20.0.0/16", "192.168.60.0/24"], logLevel: "debug", unknownKeys: [] });
  assert.deepEqual(parseReloadFile("advertise-routes=\n"), { advertiseRoutes: [], unknownKeys: [] });
  assert.deepEqual(parseReloadFile("advertise-routes=\"192.168.60.0/24\"\nfoo=bar\n"), { advertiseRoutes: ["192.168.60.0/24"], unknownKeys: ["foo"] });
  assert.deepEqual(parseReloadFile(""), { unknownKeys: [] }, "an empty file changes nothing");
});

test("reload file: invalid content is refused as a whole, naming the line", () => {
  assert.throws(() => parseReloadFile("log-level=info\nadvertise-routes=0.0.0.0/0\n"), /line 2: advertise-routes: '0.0.0.0\/0'.*no default route/);
  assert.throws(() => parseReloadFile("advertise-routes=192.168.60.1/24"), /host bits must be zero/);
  assert.throws(() => parseReloadFile("log-level=loud"), /line 1: log-level 'loud'/);
  assert.throws(() => parseReloadFile("just words"), /line 1: expected KEY=VALUE/);
});

test("property: any text parses or throws an Error, never anything else", () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
    try {
      const r = parseReloadFile(s);
      for (const c of r.advertiseRoutes ?? []) assert.deepEqual(parseAdvertiseRoutes(c), [c], "every accepted route is canonical");
    } catch (e) {
      assert.ok(e instanceof Error);
    }
  }));
});
