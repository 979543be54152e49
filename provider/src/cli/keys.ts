/** `wgmesh genkey` and `wgmesh pubkey`: byte-for-byte like `wg genkey` / `wg pubkey`. */
import { fstatSync } from "node:fs";
import { generatePrivateKey, keyFromStdin, publicKeyFromPrivate } from "../core/keys";
import { UsageError, type Command } from "./commands";

export const genkeyCommand: Command = {
  name: "genkey",
  summary: "Print a new WireGuard private key (like 'wg genkey')",
  usage: [
    "Usage: wgmesh genkey",
    "",
    "Prints a new private key: 32 random bytes, clamped for Curve25519, base64 (like 'wg genkey').",
    "Keep it secret: redirect it to a file only you can read, e.g. (umask 077; wgmesh genkey > key).",
    "",
  ].join("\n"),
  async run(args, io) {
    if (args.length > 0) throw new UsageError(`genkey takes no arguments (got ${JSON.stringify(args[0])})`, true);
    if (io.stdoutFd !== undefined && worldAccessibleFile(io.stdoutFd)) {
      // wg genkey's own warning, word for word.
      io.stderr.write("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n");
    }
    io.stdout.write(`${generatePrivateKey()}\n`);
    return 0;
  },
};

export const pubkeyCommand: Command = {
  name: "pubkey",
  summary: "Read a private key on stdin, print its public key (like 'wg pubkey')",
  usage: [
    "Usage: wgmesh pubkey < private.key",
    "",
    "Reads a base64 private key on standard input and prints its public key (like 'wg pubkey').",
    "Only whitespace may follow the 44-character key.",
    "",
  ].join("\n"),
  async run(args, io) {
    if (args.length > 0) throw new UsageError(`pubkey takes no arguments; give the private key on standard input`, true);
    const key = keyFromStdin(await io.readStdin());
    io.stdout.write(`${publicKeyFromPrivate(key)}\n`);
    return 0;
  },
};

function worldAccessibleFile(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFile() && (st.mode & 0o007) !== 0;
  } catch {
    return false;
  }
}
