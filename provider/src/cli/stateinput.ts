/**
 * Reading the Go tool's state file for the commands that take one (plan, deploy, teardown): files read
 * relative to the caller's directory with errors that say which file and why, the optional password file,
 * decryption, and parsing into the mesh model.
 */
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import type { MeshInput } from "../core/model";
import { decryptState } from "../core/statecrypt";
import { parseStateFile, stateToMeshInput, StateFileError } from "../core/statefile";
import { UsageError, type CliIO } from "./commands";

/** The state file cannot be used (wrong password, looks encrypted, invalid content); one message per problem. */
export class StateInputError extends UsageError {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "StateInputError";
  }
}

/** A file's text; UsageError naming `what`, the file and the reason when it cannot be read. */
export async function readText(file: string, what: string, cwd: string): Promise<string> {
  try {
    return await readFile(path.resolve(cwd, file), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String((e as Error).message);
    throw new UsageError(`cannot read ${what} ${JSON.stringify(file)}: ${why}`);
  }
}

/** The password in a password file (one trailing newline dropped, as `echo pw > file` writes it). */
export function passwordFromFile(text: string): string {
  return text.replace(/\r?\n$/, "");
}

/**
 * Read (decrypting with the password file if given) and parse a state file into the mesh model. Throws
 * UsageError when a file cannot be read, StateInputError when the state file cannot be used.
 */
export async function loadMeshInput(file: string, passwordFile: string | undefined, io: CliIO): Promise<MeshInput> {
  let text = await readText(file, "state file", io.cwd);
  if (passwordFile !== undefined) {
    const password = passwordFromFile(await readText(passwordFile, "password file", io.cwd));
    try {
      text = decryptState(text, password);
    } catch (e) {
      throw new StateInputError([`${JSON.stringify(file)}: ${(e as Error).message}`]);
    }
  } else if (/^[A-Za-z0-9+/]{40,}={0,2}\s*$/.test(text)) {
    throw new StateInputError([`${JSON.stringify(file)} looks encrypted (base64, not JSON); give its password with --password-file FILE`]);
  }
  try {
    return stateToMeshInput(parseStateFile(text));
  } catch (e) {
    if (e instanceof StateFileError) throw new StateInputError(e.problems.map((p) => `${file}: ${p}`));
    throw e;
  }
}
