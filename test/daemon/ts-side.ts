/**
 * Our side of the Go-daemon interop test, run inside the test's network namespace:
 *   node ts-side.js <secret> <go-gossip-port>
 * Prints one JSON object with the results.
 */
import { PeerExchange } from "../../provider/src/daemon/exchange";
import { PeerStore } from "../../provider/src/daemon/store";
import { deriveParams, meshIPv4 } from "../../provider/src/daemon/derive";
import { parseSecret } from "../../provider/src/daemon/secret";
import { runTestPeer, systemctlIsActive } from "../../provider/src/cli/daemon";
import { generateKeyPair } from "../../provider/src/core/keys";
import { runOurs } from "./gopeer";

async function main(): Promise<void> {
  const [secretIn, portText] = process.argv.slice(2) as [string, string];
  const goPort = Number(portText);
  const params = deriveParams(parseSecret(secretIn).secret);
  const kp = generateKeyPair();
  const meshIp = meshIPv4(params, kp.publicKey);
  const store = new PeerStore();
  const ex = new PeerExchange({ gossipKey: params.gossipKey, store, local: () => ({ pubkey: kp.publicKey, meshIp, hostname: "ts-node", wgEndpoint: "0.0.0.0:51999", routableNetworks: ["192.168.61.0/24"] }) });
  const localPort = await ex.start(0, "127.0.0.1");
  const r1 = await ex.exchange("127.0.0.1", goPort);
  const tp = await runOurs((a, io) => runTestPeer(a, io, { serviceStatus: systemctlIsActive, nowMs: Date.now, testPeerTimeoutMs: 5000 }), ["--secret", secretIn, "--peer", `127.0.0.1:${goPort}`]);
  const r2 = await ex.exchange("127.0.0.1", goPort);
  await ex.stop();
  process.stdout.write(`${JSON.stringify({ pubkey: kp.publicKey, meshIp, localPort, r1: r1 ?? null, r2: r2 ?? null, testPeer: tp, counters: ex.counters.snapshot(), store: store.all() })}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: String(e) })}\n`);
  process.exit(1);
});
