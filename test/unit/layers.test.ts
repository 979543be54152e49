// The architecture as the import graph: every module of provider/src imports only its own folder or the
// layers below it — core → planner → daemon / engine → pulumi / plugin → cli (the command line on top).
// Within a floor one direction only: the engine installs the daemon, the plugin wraps the Pulumi lifecycles.
// Tests and test data follow the rule of the folder they sit in.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const FLOORS: readonly (readonly string[])[] = [["core"], ["planner"], ["daemon", "engine"], ["pulumi", "plugin"], ["cli"]];
/** The package entry (provider/src/index.ts) sits above every layer. */
const ENTRY = "(entry)";

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "provider", "src", "core", "model.ts"))) return dir; // the sources, not dist/
    if (path.dirname(dir) === dir) throw new Error(`provider/src not found above ${start}`);
  }
}

const root = findRoot(__dirname);
const src = path.join(root, "provider", "src");

/** [floor, position within the floor] of a layer folder. */
function rank(layer: string): [number, number] {
  if (layer === ENTRY) return [FLOORS.length, 0];
  const f = FLOORS.findIndex((fl) => fl.includes(layer));
  if (f < 0) throw new Error(`provider/src/${layer}: a folder that is no layer; add it to FLOORS in test/unit/layers.test.ts`);
  return [f, (FLOORS[f] as readonly string[]).indexOf(layer)];
}

/** May code in layer `from` import layer `to`? */
export function mayImport(from: string, to: string): boolean {
  if (from === to) return true;
  const [ff, fp] = rank(from);
  const [tf, tp] = rank(to);
  return tf < ff || (tf === ff && tp < fp);
}

/** Every module specifier a TypeScript file imports, re-exports, requires or imports dynamically. */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  for (const re of [/\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g, /\b(?:require|import)\s*\(\s*["']([^"']+)["']\s*\)/g]) {
    for (const m of code.matchAll(re)) out.push(m[1] as string);
  }
  return out;
}

function layerOf(file: string): string {
  const rel = path.relative(src, file).split(path.sep);
  return rel.length === 1 ? ENTRY : (rel[0] as string);
}

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) tsFiles(p, out);
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** "file: imports <spec> (…)" for every import of `file` (with content `text`) that goes up or the wrong way. */
export function violationsOf(file: string, text: string): string[] {
  const bad: string[] = [];
  const from = layerOf(file);
  for (const spec of specifiers(text)) {
    if (!spec.startsWith(".")) continue; // packages and node: builtins
    const target = path.resolve(path.dirname(file), spec);
    if (!target.startsWith(src + path.sep)) {
      bad.push(`${path.relative(root, file)}: imports ${spec}, outside provider/src`);
      continue;
    }
    const to = layerOf(target.endsWith(".ts") ? target : `${target}.ts`);
    if (!mayImport(from, to)) bad.push(`${path.relative(root, file)}: imports ${spec} (layer ${from} must not depend on ${to}: it sits above)`);
  }
  return bad;
}

test("every module of provider/src imports only its own layer or the layers below", () => {
  const files = tsFiles(src);
  assert.ok(files.length > 100, `found ${files.length} TypeScript files under ${src}`);
  const layers = new Set(files.map(layerOf));
  for (const l of layers) rank(l); // every folder is a known layer
  assert.deepEqual(files.flatMap((f) => violationsOf(f, fs.readFileSync(f, "utf8"))), []);
});

test("the rule catches upward and reversed-sibling imports (positive control)", () => {
  assert.equal(mayImport("core", "planner"), false);
  assert.equal(mayImport("planner", "core"), true);
  assert.equal(mayImport("daemon", "cli"), false);
  assert.equal(mayImport("pulumi", "cli"), false);
  assert.equal(mayImport("engine", "daemon"), true);
  assert.equal(mayImport("daemon", "engine"), false);
  assert.equal(mayImport("plugin", "pulumi"), true);
  assert.equal(mayImport("pulumi", "plugin"), false);
  assert.equal(mayImport("cli", "plugin"), true);
  assert.equal(mayImport(ENTRY, "pulumi"), true);
  const text = 'import type { CliIO } from "../cli/commands";\nimport {\n  a,\n} from "../planner/types";\nconst m = require("../engine/apply");\n// import { no } from "../cli/main";\nimport { ok } from "./model";\n';
  const found = violationsOf(path.join(src, "core", "x.ts"), text);
  assert.equal(found.length, 3, found.join("\n"));
  assert.deepEqual(
    specifiers('export * from "./a";\nexport { b } from "../b";\nimport "./side";\ntype L = import("../../engine/ssh/log").Logger;').sort(),
    ["../../engine/ssh/log", "../b", "./a", "./side"],
  );
});
