// examples/go-full-mesh through the real CLI, pulumi-language-go and the generated Go SDK (built offline
// from the module cache), against 3 testbed hosts (see plugin/e2e.ts for the asserts).
import { test } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { fullMeshScenario, missing, repoRoot } from "./plugin/e2e";

const skip = missing(true);

test("Go: examples/go-full-mesh up / ping / secrets / no-change preview / refresh drift + repair / destroy clean", { skip, timeout: 900_000 }, async (t) => {
  await fullMeshScenario(t, {
    testbed: "p7go",
    example: "go-full-mesh",
    prepare(_ws, dir) {
      // The copied project points at this repository's sdk/ (the example's go.mod says ../../sdk).
      const mod = path.join(dir, "go.mod");
      fs.writeFileSync(mod, fs.readFileSync(mod, "utf8").replace("=> ../../sdk", `=> ${path.join(repoRoot, "sdk")}`));
    },
  });
});
