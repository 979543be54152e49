/**
 * Entry point of the self-contained daemon artifact (`scripts/daemon-artifact.js` bundles this file into a
 * Node single executable application): only the decentralized daemon's commands plus genkey/pubkey, so
 * nothing of the SSH engine or Pulumi (ssh2, @pulumi/*) is reachable from it. Same dispatcher as main.ts.
 *
 * When run as the bundle's entry (require.main), it runs argv and sets the exit code itself.
 */
import { processIO, registerCommand, setUsageTitle, type CliIO } from "./commands";
import { dispatch } from "./dispatch";
import { genkeyCommand, pubkeyCommand } from "./keys";
import { daemonCommands } from "./daemon";

setUsageTitle("wgmesh — the WireGuard mesh daemon (decentralized mode), self-contained build");
registerCommand(genkeyCommand);
registerCommand(pubkeyCommand);
for (const command of daemonCommands) registerCommand(command);

/** Run the daemon-only `wgmesh` with its arguments; resolves to the exit status. */
export function daemonMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  return dispatch(argv, io);
}

if (require.main === module) {
  daemonMain(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`wgmesh: ${err instanceof Error && err.stack ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
