/**
 * Reading the Go tool's state file for the commands that take one (plan, deploy, teardown): files read
 * relative to the caller's directory with errors that say which file and why, the optional password file,
 * decryption, and parsing into the mesh model.
 */
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import type { MeshInput } from "../core/model";
import { decryptState } from "../core/statecrypt";
import { accessControlTypos, readStateFile, stateToMeshInput, StateFileError } from "../core/statefile";
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

/** How strictly a state file is read (the flags every command that takes one accepts). */
export interface StateReadOptions {
  /** Unknown keys are errors, not warnings (`--strict`). */
  strict?: boolean;
  /** Access-control-looking keys without a groups/access_policies section are accepted: a full mesh (`--allow-full-mesh`). */
  allowFullMesh?: boolean;
}

/** The flags of `StateReadOptions`, for parseArgs, and their help lines. */
export const STATE_READ_OPTIONS = { strict: { type: "boolean" }, "allow-full-mesh": { type: "boolean" } } as const;
export const STATE_READ_HELP = [
  "  --strict               Unknown keys in the state file are errors (default: warnings naming the closest key)",
  "  --allow-full-mesh      Accept keys that look like access control (group*, polic*, acl*) in a file without",
  "                         \"groups\"/\"access_policies\": the mesh is then a full mesh (default: refused)",
].join("\n");

export function stateReadOptions(values: Record<string, unknown>): StateReadOptions {
  return { strict: values["strict"] === true, allowFullMesh: values["allow-full-mesh"] === true };
}

/**
 * Read (decrypting with the password file if given) and parse a state file into the mesh model, printing
 * the warnings (unknown keys) to stderr. Throws UsageError when a file cannot be read, StateInputError when
 * the state file cannot be used.
 */
export async function loadMeshInput(file: string, passwordFile: string | undefined, io: CliIO, options: StateReadOptions = {}): Promise<MeshInput> {
  const { input, warnings } = await readMeshInput(file, passwordFile, io, options);
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
  return input;
}

/** A state file's JSON text (decrypted with the password file if given), the password and the file's own text. */
export async function readStateText(file: string, passwordFile: string | undefined, io: CliIO): Promise<{ text: string; password?: string; raw: string }> {
  const text = await readText(file, "state file", io.cwd);
  if (passwordFile !== undefined) {
    const password = passwordFromFile(await readText(passwordFile, "password file", io.cwd));
    try {
      return { text: decryptState(text, password), password, raw: text };
    } catch (e) {
      throw new StateInputError([`${JSON.stringify(file)}: ${(e as Error).message}`]);
    }
  }
  if (/^[A-Za-z0-9+/]{40,}={0,2}\s*$/.test(text)) {
    throw new StateInputError([`${JSON.stringify(file)} looks encrypted (base64, not JSON); give its password with --password-file FILE`]);
  }
  return { text, raw: text };
}

/** `loadMeshInput` returning the warnings instead of printing them. */
export async function readMeshInput(file: string, passwordFile: string | undefined, io: CliIO, options: StateReadOptions = {}): Promise<{ input: MeshInput; warnings: string[] }> {
  const { text } = await readStateText(file, passwordFile, io);
  let reading;
  try {
    reading = readStateFile(text);
  } catch (e) {
    if (e instanceof StateFileError) throw new StateInputError(e.problems.map((p) => `${file}: ${p}`));
    throw e;
  }
  const problems: string[] = [];
  if (!options.allowFullMesh) {
    for (const u of accessControlTypos(reading)) {
      problems.push(`${file}: ${u.where}: key ${JSON.stringify(u.key)} looks like access control, but the file has no "groups" or "access_policies": it would be planned as a FULL MESH (every node reaches every other)${u.suggestion ? `; did you mean ${JSON.stringify(u.suggestion)}?` : ""} Fix the key, or pass --allow-full-mesh`);
    }
  }
  const unknown = reading.unknownKeys.filter((u) => options.allowFullMesh || !accessControlTypos(reading).includes(u)).map((u) => `${file}: ${u.message}${options.strict ? " (--strict: fix or remove it)" : ""}`);
  if (options.strict) problems.push(...unknown);
  if (problems.length) throw new StateInputError(problems);
  return { input: stateToMeshInput(reading.state), warnings: options.strict ? [] : unknown };
}
