import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureNeighbourCapacity } from "./limits";

describe("testbed kernel limits", () => {
  it("neighbour tables: raised to 4·N² (at least 4096) for both families, never lowered", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wgmesh-neigh-"));
    try {
      const file = (fam: string, k: string) => path.join(dir, fam, "neigh", "default", k);
      for (const fam of ["ipv4", "ipv6"]) {
        fs.mkdirSync(path.join(dir, fam, "neigh", "default"), { recursive: true });
        fs.writeFileSync(file(fam, "gc_thresh2"), "512\n");
        fs.writeFileSync(file(fam, "gc_thresh3"), "1024\n");
      }
      ensureNeighbourCapacity(100, dir);
      for (const fam of ["ipv4", "ipv6"]) {
        assert.equal(fs.readFileSync(file(fam, "gc_thresh2"), "utf8").trim(), "20000");
        assert.equal(fs.readFileSync(file(fam, "gc_thresh3"), "utf8").trim(), "40000");
      }
      ensureNeighbourCapacity(5, dir);
      assert.equal(fs.readFileSync(file("ipv4", "gc_thresh3"), "utf8").trim(), "40000", "a smaller testbed never lowers it");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
