/**
 * `wgmesh rotate <mesh-state.json> --node NAME [--password-file F]` (issue 16): a new WireGuard key pair for
 * one node of a Go wgmesh state file (plain or encrypted), in place — the file keeps its format (the Go tool
 * reads it; an encrypted one stays encrypted with the same password) and every other value. The old private
 * key is gone from the file (written to a 0600 temp file beside it and renamed over it). `wgmesh deploy`
 * then applies the new key on the node and on its peers in one parallel step.
 * Exit 0 rotated, 1 on invalid input (an unknown node is named; nothing written). Never prints a private key.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { generatePrivateKey } from "../core/keys";
import { encryptState } from "../core/statecrypt";
import { rotateStateNode } from "../core/staterotate";
import { StateFileError } from "../core/statefile";
import { writeSecretFile } from "../daemon/state";
import { UsageError, type CliIO, type Command } from "./commands";
import { readStateText, StateInputError } from "./stateinput";

const USAGE = `wgmesh rotate <mesh-state.json> --node NAME [--password-file FILE]

Replaces node NAME's WireGuard key pair in a Go wgmesh state file, in place: the new private key is made here,
the file keeps its format and every other value (an encrypted file stays encrypted with the same password).
Then \`wgmesh deploy <mesh-state.json>\` applies it: the node and all its peers switch in one parallel step.

Options:
  --node NAME            The node whose key is replaced (required)
  --password-file FILE   The state file is encrypted (wgmesh -encrypt); FILE holds its password

Exit status: 0 rotated, 1 invalid input (e.g. an unknown node; nothing is written).
`;

export const rotateCommand: Command = {
  name: "rotate",
  summary: "Give one node of a state file a new WireGuard key pair (then: wgmesh deploy)",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({ args, allowPositionals: true, options: { node: { type: "string" }, "password-file": { type: "string" } } });
    } catch (e) {
      throw new UsageError(String((e as Error).message).replace(/\. To specify.*$/, ""), true);
    }
    const [file, ...extra] = parsed.positionals;
    if (file === undefined) throw new UsageError("missing the state file", true);
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, true);
    const node = parsed.values.node;
    if (node === undefined || node === "") throw new UsageError("missing --node NAME (the node whose key is replaced)", true);

    const { text, password, raw } = await readStateText(file, parsed.values["password-file"], io);
    let rotated;
    try {
      rotated = rotateStateNode(text, node, generatePrivateKey());
    } catch (e) {
      if (e instanceof StateFileError) throw new StateInputError(e.problems.map((p) => `${file}: ${p}`));
      throw e;
    }
    const target = path.resolve(io.cwd, file);
    if (password !== undefined) {
      // Encrypted again with the same password (fresh salt and nonce), layout as the Go tool writes it.
      writeSecretFile(target, encryptState(rotated.text, password) + (/\s*$/.exec(raw)?.[0] ?? ""));
    } else {
      writeSecretFile(target, rotated.text);
    }
    io.stdout.write(`rotated node ${node}: public key ${rotated.oldPublicKey ?? "(none)"} -> ${rotated.newPublicKey}\n`);
    io.stderr.write(`next: wgmesh deploy ${file}${parsed.values["password-file"] !== undefined ? ` --password-file ${parsed.values["password-file"]}` : ""} (applies the new key on ${node} and its peers)\n`);
    return 0;
  },
};
