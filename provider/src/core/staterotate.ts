/**
 * Key rotation in the Go tool's state file (`wgmesh rotate`, issue 16): one node's key pair replaced, every
 * other byte of the file kept. Pure (text in, text out); the new private key is given by the caller.
 *
 * The file is edited where the two values stand (each old key's JSON string must occur exactly once — keys
 * are 44 random base64 characters, so that holds for any file the Go tool writes); only when that is not so
 * (a key escaped differently, a node with no private key) is the file written again in the Go tool's layout
 * (two-space indentation, fields in the file's order). Either way the result is read back and must equal the
 * original with only those two values changed, or nothing is returned. Messages never contain a key.
 */
import { isDeepStrictEqual } from "node:util";
import { isValidKey, publicKeyFromPrivate } from "./keys";
import { readStateFile, StateFileError } from "./statefile";

export interface RotatedState {
  text: string;
  /** The node's public key before (null when the file had none) and after. */
  oldPublicKey: string | null;
  newPublicKey: string;
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** The file with node `hostname`'s key pair replaced by `newPrivateKey` and its public key. */
export function rotateStateNode(text: string, hostname: string, newPrivateKey: string): RotatedState {
  if (!isValidKey(newPrivateKey)) throw new Error("the new private key is not a WireGuard key");
  const reading = readStateFile(text); // refuses a file the tools cannot read (StateFileError)
  const root = JSON.parse(text) as Record<string, Json>;
  const nodes = root["nodes"];
  if (!isObject(nodes) || !Object.prototype.hasOwnProperty.call(nodes, hostname) || !isObject(nodes[hostname])) {
    const known = Object.keys(reading.state.nodes).sort();
    throw new StateFileError([`node ${JSON.stringify(hostname)} is not in the state file (its nodes: ${known.length ? known.join(", ") : "none"})`]);
  }
  const node = nodes[hostname] as Record<string, Json>;
  const oldPublic = typeof node["public_key"] === "string" ? (node["public_key"] as string) : null;
  const oldPrivate = typeof node["private_key"] === "string" ? (node["private_key"] as string) : null;
  const newPublicKey = publicKeyFromPrivate(newPrivateKey);

  const expected = JSON.parse(text) as Record<string, Json>;
  const target = (expected["nodes"] as Record<string, Record<string, Json>>)[hostname] as Record<string, Json>;
  target["public_key"] = newPublicKey;
  target["private_key"] = newPrivateKey;

  let out: string | null = null;
  const q = (s: string) => JSON.stringify(s);
  if (oldPublic !== null && oldPrivate !== null && oldPublic !== "" && oldPrivate !== "" &&
      occurrences(text, q(oldPublic)) === 1 && occurrences(text, q(oldPrivate)) === 1) {
    out = text.replace(q(oldPublic), () => q(newPublicKey)).replace(q(oldPrivate), () => q(newPrivateKey));
  }
  if (out === null || !isDeepStrictEqual(JSON.parse(out), expected)) {
    // Written again in the Go tool's layout: `private_key` right after `public_key`, as its struct orders them.
    const rebuilt: Record<string, Json> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "private_key") continue;
      rebuilt[k] = k === "public_key" ? newPublicKey : v;
      if (k === "public_key") rebuilt["private_key"] = newPrivateKey;
    }
    if (!("public_key" in rebuilt)) Object.assign(rebuilt, { public_key: newPublicKey, private_key: newPrivateKey });
    nodes[hostname] = rebuilt;
    out = JSON.stringify(root, null, 2) + (text.endsWith("\n") ? "\n" : "");
  }
  if (!isDeepStrictEqual(JSON.parse(out), expected)) throw new Error(`node ${JSON.stringify(hostname)}: the rotated state file did not read back as expected; nothing written`);
  return { text: out, oldPublicKey: oldPublic, newPublicKey };
}
