import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { FirewallPlan } from "../../core/desired";
import { firewallPlanOf, firewallText } from "./firewallText";
import { lifecycles } from "./index";
import { UNKNOWN } from "./types";

const plan: FirewallPlan = {
  table: "inet wgmesh_wg0",
  sets: { src_web: ["10.99.0.3", "10.99.0.7"], routed_v6: ["fd00:50::/64"] },
  rules: { "input web-to-app from web tcp": "ip saddr @src_web tcp dport 8080 accept" },
};

describe("NodeConfig firewall sets as lines (issue 12)", () => {
  it("each set is one string, one element per line; rules and table as they are; decodes back", () => {
    assert.deepEqual(firewallText(plan), { table: plan.table, sets: { src_web: "10.99.0.3\n10.99.0.7\n", routed_v6: "fd00:50::/64\n" }, rules: plan.rules });
    assert.deepEqual(firewallPlanOf(firewallText(plan)), plan);
    assert.equal(firewallPlanOf(plan), plan, "sets already lists (an older state): as they are");
    for (const v of [undefined, null, UNKNOWN]) assert.equal(firewallText(v as never), v);
    assert.equal(firewallText(plan).sets, firewallText({ ...plan }).sets, "a plan's sets shared by many nodes are encoded once");
  });

  it("unknown elements round-trip; any sets round-trip (property)", () => {
    const withUnknown: FirewallPlan = { ...plan, sets: { src_web: ["10.99.0.3", UNKNOWN as unknown as string] } };
    assert.deepEqual(firewallPlanOf(firewallText(withUnknown)), withUnknown);
    const element = fc.stringMatching(/^[0-9a-f.:/]{1,24}$/);
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,12}$/), fc.array(element, { minLength: 1, maxLength: 6 }), { maxKeys: 5 }), (sets) => {
      const p = { table: "inet wgmesh_wg0", sets: JSON.parse(JSON.stringify(sets)) as Record<string, string[]>, rules: {} };
      assert.deepEqual(firewallPlanOf(firewallText(p)), p);
    }));
  });

  it("the NodeConfig diff sees the same firewall in either form: an upgrade changes nothing", async () => {
    const ctx = { log: () => undefined } as never;
    const base = { hostname: "web1", mesh: "m", peers: "" };
    const old = { ...base, firewall: plan };
    const now = { ...base, firewall: firewallText(plan) };
    assert.equal((await lifecycles.nodeConfig.diff("m/web1", old as never, now as never, ctx)).changes, false);
    const fewer = { ...base, firewall: firewallText({ ...plan, sets: { ...plan.sets, src_web: ["10.99.0.3"] } }) };
    assert.deepEqual((await lifecycles.nodeConfig.diff("m/web1", old as never, fewer as never, ctx)).changed, ["firewall"]);
  });
});
