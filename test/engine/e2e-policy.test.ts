/**
 * E2E (testbed, root): the seed README's three-tier policy example on 7 hosts, enforced (the default with
 * policies, issue 13). The ping reachability matrix over the mesh IPs is exactly the DIRECTIONAL rule: X reaches
 * Y iff a policy goes from X's group to Y's (app1 is web1's peer, but may not open connections to it).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { deploy } from "../../provider/src/engine/deploy";
import { down, up, type Testbed } from "../testbed";
import { compile, engineOptions, nodeOn, reachability, type Compiled } from "./e2e/mesh";

const NAME = "e5pol";
const ROLES = ["web1", "web2", "app1", "db1", "web3", "app2", "db2"];

describe("engine e2e: three-tier policy on 7 hosts", { timeout: 600_000 }, () => {
  let tb: Testbed;
  let c: Compiled;

  before(async () => {
    tb = await up(7, { name: NAME });
    c = compile(tb, {
      nodes: ROLES.map((role, i) => nodeOn(tb.hosts[i]!, role)),
      groups: [
        { name: "web", members: ["web1", "web2"] },
        { name: "app", members: ["app1"] },
        { name: "db", members: ["db1"] },
        { name: "staging", members: ["web3", "app2", "db2"] },
      ],
      policies: [
        { name: "web-to-app", fromGroups: ["web"], toGroups: ["app"], allowMeshIps: true, allowRoutableNetworks: false },
        { name: "app-to-db", fromGroups: ["app"], toGroups: ["db"], allowMeshIps: true, allowRoutableNetworks: true },
        { name: "db-to-app", fromGroups: ["db"], toGroups: ["app"], allowMeshIps: true, allowRoutableNetworks: false },
        { name: "staging-isolated", fromGroups: ["staging"], toGroups: ["staging"], allowMeshIps: true, allowRoutableNetworks: true },
      ],
    });
  });
  after(async () => {
    await down(NAME);
  });

  it("deploys, and the reachability matrix is exactly the directional policy relation", async () => {
    const r = await deploy(c.targets, engineOptions(tb, [], { concurrency: 7 }));
    for (const [n, h] of Object.entries(r.hosts)) assert.equal(h.status, "changed", `${n}: ${h.error ?? ""}`);
    const expected: Record<string, string[]> = {
      web1: ["app1"],
      web2: ["app1"],
      app1: ["db1"],
      db1: ["app1"],
      web3: ["app2", "db2"],
      app2: ["db2", "web3"],
      db2: ["app2", "web3"],
    };
    assert.deepEqual(await reachability(tb, c, ROLES), expected);
    const again = await deploy(c.targets, engineOptions(tb));
    for (const [n, h] of Object.entries(again.hosts)) assert.deepEqual([h.status, h.execRoundTrips], ["unchanged", 1], n);
  });
});
