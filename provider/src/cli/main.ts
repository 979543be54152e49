/**
 * Entry point of the `wgmesh` command (bin/wgmesh): registers every command (builtins.ts) and
 * dispatches to them (dispatch.ts). The daemon-only artifact uses daemon-main.ts instead.
 */
import "./builtins";
import { processIO, type CliIO } from "./commands";
import { dispatch } from "./dispatch";

export { registerCommand, listCommands, findCommand, type Command, type CliIO } from "./commands";

/** Run `wgmesh` with its arguments (without node and script); resolves to the exit status. */
export function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  return dispatch(argv, io);
}
