/**
 * The commands of `wgmesh`, in the order `wgmesh help` lists them. Add one line per new command.
 */
import { registerCommand } from "./commands";
import { genkeyCommand, pubkeyCommand } from "./keys";
import { planCommand } from "./plan";
import { deployCommand } from "./deploy";
import { teardownCommand } from "./teardown";
import { verifyCommand } from "./verify";
import { rotateCommand } from "./rotate";
import { migrateCommand } from "./migrate";
import { daemonCommands } from "./daemon";
import { statusCommand } from "./status";

registerCommand(planCommand);
registerCommand(genkeyCommand);
registerCommand(pubkeyCommand);
registerCommand(deployCommand);
registerCommand(teardownCommand);
registerCommand(verifyCommand);
registerCommand(rotateCommand);
// `status` serves both modes: a deployed state file, or the daemon's `status --secret` (cli/status.ts).
for (const command of daemonCommands) registerCommand(command.name === "status" ? statusCommand(command) : command);
registerCommand(migrateCommand);
