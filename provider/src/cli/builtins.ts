/**
 * The commands of `wgmesh`, in the order `wgmesh help` lists them. Add one line per new command.
 */
import { registerCommand } from "./commands";
import { genkeyCommand, pubkeyCommand } from "./keys";
import { planCommand } from "./plan";

registerCommand(planCommand);
registerCommand(genkeyCommand);
registerCommand(pubkeyCommand);
