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

registerCommand(planCommand);
registerCommand(genkeyCommand);
registerCommand(pubkeyCommand);
registerCommand(deployCommand);
registerCommand(teardownCommand);
registerCommand(verifyCommand);
registerCommand(rotateCommand);
for (const command of daemonCommands) registerCommand(command);
registerCommand(migrateCommand);
