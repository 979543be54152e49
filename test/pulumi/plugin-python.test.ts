// examples/python-full-mesh through the real CLI, pulumi-language-python (the venv's `pulumi` from the
// package index) and the generated Python SDK, against 3 testbed hosts (see plugin/e2e.ts for the asserts).
import { test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { fullMeshScenario, missing, repoRoot } from "./plugin/e2e";

const skip = missing(true);

test("Python: examples/python-full-mesh up / ping / secrets / no-change preview / refresh drift + repair / destroy clean", { skip, timeout: 900_000 }, async (t) => {
  await fullMeshScenario(t, {
    testbed: "p7py",
    example: "python-full-mesh",
    prepare(ws) {
      // The generated SDK, pip-installed (offline) into the workspace; the language host's python sees it.
      const pylib = path.join(ws.root, "pylib");
      // From a copy: setuptools writes build/ and *.egg-info into the source directory.
      fs.cpSync(path.join(repoRoot, "sdk/python"), path.join(ws.root, "sdk-python"), { recursive: true });
      ws.ok("python3", ["-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation", "--target", pylib, path.join(ws.root, "sdk-python")], ws.root);
      ws.env.PYTHONPATH = pylib;
    },
  });
});
