#!/usr/bin/env node
// Runs one suite of compiled tests with node's own test runner.
//   node scripts/run-tests.js unit|testbed|engine|pulumi|daemon|slow|fault [substring-filter]
// Suites map to folders of compiled test files (npm run build first).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = path.resolve(__dirname, "..");
const suites = {
  unit: ["dist/provider/src", "dist/test/unit"],
  testbed: ["dist/test/testbed"],
  engine: ["dist/test/engine"],
  pulumi: ["dist/test/pulumi"],
  daemon: ["dist/test/daemon"],
  // long waits (protocol timeouts), mostly idle: its own suite so it runs beside the others
  slow: ["dist/test/slow"],
  // real faults on the testbed (SSH cut, power cut, packet loss, CPU load, broken changes rolled back)
  fault: ["dist/test/fault"],
};

function walk(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (entry.name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const [suite = "unit", filter = ""] = process.argv.slice(2);
if (!suites[suite]) {
  console.error(`unknown suite '${suite}'; one of: ${Object.keys(suites).join(", ")}`);
  process.exit(2);
}
const files = suites[suite].flatMap((d) => walk(path.join(root, d), [])).filter((f) => f.includes(filter)).sort();
if (files.length === 0) {
  console.error(`suite '${suite}': no compiled test files (run npm run build)`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY || (suite === "unit" ? "2" : "1");
const r = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files], {
  stdio: "inherit",
  cwd: root,
});
process.exit(r.status === null ? 1 : r.status);
