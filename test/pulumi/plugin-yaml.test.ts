// examples/yaml-full-mesh through the real CLI, pulumi-language-yaml and the wgmesh plugin installed from
// its tarball, against 3 testbed hosts (see plugin/e2e.ts for the asserts).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fullMeshScenario, installPluginTarball, missing, peerCounts } from "./plugin/e2e";
import { parseHealthLines } from "../../provider/src/pulumi/lifecycle/healthLines";

/**
 * The example with groups web = {node1, node2}, app = {node3} and a policy web → app (YAML block lists), and
 * the Mesh's healthCheck (issue 14: through the plugin's Mesh composition to every NodeConfig).
 */
function withPolicy(program: string): string {
  const declarations = [
    "  web:", "    type: wgmesh:Group", "    properties:", "      members:", "        - ${node1}", "        - ${node2}",
    "  app:", "    type: wgmesh:Group", "    properties:", "      members:", "        - ${node3}",
    "  webToApp:", "    type: wgmesh:Policy", "    properties:", "      from:", "        - ${web}", "      to:", "        - ${app}",
    "",
  ].join("\n");
  const meshAt = program.indexOf("  mesh:\n    type: wgmesh:Mesh\n");
  const lastNode = "        - ${node3}\n";
  const nodesEnd = program.indexOf(lastNode, meshAt) + lastNode.length;
  assert.ok(meshAt > 0 && nodesEnd > meshAt + lastNode.length, "the example's Mesh lists node1..node3");
  const refs = "      groups:\n        - ${web}\n        - ${app}\n      policies:\n        - ${webToApp}\n" +
    "      healthCheck:\n        mode: handshake\n        timeoutSeconds: 20\n";
  return program.slice(0, meshAt) + declarations + program.slice(meshAt, nodesEnd) + refs + program.slice(nodesEnd);
}

const skip = missing(true);

test("YAML: examples/yaml-full-mesh up / ping / secrets / no-change preview / refresh drift + repair / groups + policy update / destroy clean", { skip, timeout: 900_000 }, async (t) => {
  await fullMeshScenario(t, {
    testbed: "p7yaml",
    example: "yaml-full-mesh",
    installPlugin(ws) {
      // The plugin as users get it: the tarball, installed into this workspace's PULUMI_HOME.
      installPluginTarball(ws);
    },
    async afterUp({ t, ws, dir, tb, meshIps }) {
      // Groups and a policy (resource references through the plugin): web1/web2 stop peering with each other.
      const [h1, h2, h3] = tb.hosts.map((h) => h.name) as [string, string, string];
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), withPolicy(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")));
      const diff = ws.pulumiOk(dir, ["preview", "--diff"]);
      assert.match(diff.stdout, /\+ +wgmesh:index:Policy: \(create\)/, diff.stdout);
      const blockOf = (h: string) => {
        const start = diff.stdout.indexOf(`[id=demo/${h}]`);
        assert.ok(start > 0, `preview --diff shows ${h}'s NodeConfig:\n${diff.stdout}`);
        const next = diff.stdout.indexOf("[id=", start + 1);
        return diff.stdout.slice(diff.stdout.lastIndexOf("\n", diff.stdout.lastIndexOf("\n", start) - 1), next < 0 ? undefined : next);
      };
      for (const [h, other] of [[h1, h2], [h2, h1]] as const) {
        // Each web node's NodeConfig (an update) loses the other web node as a peer.
        const block = blockOf(h);
        assert.match(block, /~ wgmesh:index:NodeConfig: \(update\)/, block);
        assert.match(block, new RegExp(`^\\s*- ${other} key=`, "m"), `${h}'s diff removes peer ${other}:\n${block}`);
      }
      // The app node keeps both peers and gains its firewall (policies are enforced by default, issue 13).
      const app = blockOf(h3);
      assert.match(app, /\+ firewall *: \{[\s\S]*?input webToApp from web: "ip saddr @src_web accept"/, app);
      assert.doesNotMatch(app, new RegExp(`^\\s*- (${h1}|${h2}) key=`, "m"), "the app node keeps both peers");
      const upd = ws.pulumiOk(dir, ["up", "--yes", "--skip-preview"]);
      t.diagnostic(`yaml-full-mesh: pulumi up (groups + policy, 3 NodeConfig updates): ${upd.ms} ms wall`);
      assert.deepEqual(await peerCounts(tb), { [h1]: 1, [h2]: 1, [h3]: 2 });
      // The Mesh's healthCheck reached every NodeConfig, and each reports its peers' health (issue 14).
      const exported = JSON.parse(ws.pulumiOk(dir, ["stack", "export"]).stdout) as { deployment: { resources: { type: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }[] } };
      const configs = exported.deployment.resources.filter((r) => r.type === "wgmesh:index:NodeConfig");
      assert.equal(configs.length, 3);
      for (const r of configs) {
        assert.deepEqual(r.inputs.healthCheck, { mode: "handshake", timeoutSeconds: 20 }, JSON.stringify(r.inputs.healthCheck));
        const health = r.outputs.health as { mode: string; peers: string };
        assert.equal(health.mode, "handshake");
        const peers = parseHealthLines(health.peers);
        assert.ok(Object.keys(peers).length > 0, `${String(r.inputs.hostname)}: health lines ${JSON.stringify(health.peers)}`);
        for (const [p, h] of Object.entries(peers)) assert.match(h.state, /^(reachable|connected)$/, `${String(r.inputs.hostname)} → ${p}`);
      }
      assert.equal((await tb.exec(h1, ["ping", "-c", "1", "-i", "0.5", "-w", "20", meshIps[h3] as string])).code, 0, "web → app still pings");
      assert.notEqual((await tb.exec(h1, ["ping", "-c", "1", "-W", "2", meshIps[h2] as string])).code, 0, "web1 → web2 no longer peers");
      assert.notEqual((await tb.exec(h3, ["ping", "-c", "1", "-W", "2", meshIps[h1] as string])).code, 0, "app → web: peers, but no policy lets app open connections to web (enforced)");
      const same = ws.pulumi(dir, ["preview", "--expect-no-changes"]);
      assert.equal(same.status, 0, `no changes after the policy up:\n${same.stdout}${same.stderr}`);
      return 12;
    },
  });
});
