/**
 * Which authentication methods to offer, in order. As @pulumi/command: privateKey, then password (and
 * keyboard-interactive answering it), then the agent (agentSocketPath, else $SSH_AUTH_SOCK). With no
 * credentials given: the agent ($SSH_AUTH_SOCK), then ~/.ssh/id_rsa, id_ed25519, id_ecdsa — the Go wgmesh
 * tool's order.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { utils, type AnyAuthMethod, type ParsedKey } from "ssh2";
import { SshError } from "./errors";

/** What auth needs from a connection (a subset of `Connection`). */
export interface AuthInput {
  host: string;
  user: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agentSocketPath?: string;
}

export interface AuthMethod {
  /** For messages and logs; never contains a secret. */
  describe: string;
  /** The ssh2 authHandler entry. */
  entry: AnyAuthMethod;
}

/** The Go tool's order of default identity files. */
export const DEFAULT_IDENTITY_FILES = ["id_rsa", "id_ed25519", "id_ecdsa"] as const;

function parsePrivateKey(text: string | Buffer, passphrase: string | undefined): ParsedKey | Error {
  const parsed = utils.parseKey(text, passphrase);
  if (parsed instanceof Error) return parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined) return new Error("no key found");
  if (key.isPrivateKey() !== true) return new Error("this is a public key, not a private key");
  return key;
}

export interface AuthEnv {
  /** HOME for the default identity files (default: $HOME). */
  home?: string;
  /** $SSH_AUTH_SOCK (default: the process environment's). */
  sshAuthSock?: string;
  /** Debug messages about skipped identities (never secrets). */
  debug?: (msg: string) => void;
}

export function buildAuthMethods(c: AuthInput, env: AuthEnv = {}): AuthMethod[] {
  const who = `${c.user}@${c.host}`;
  const methods: AuthMethod[] = [];
  const hasPrivateKey = c.privateKey !== undefined && c.privateKey !== "";
  const hasPassword = c.password !== undefined && c.password !== "";
  const hasAgentPath = c.agentSocketPath !== undefined && c.agentSocketPath !== "";

  if (hasPrivateKey) {
    const key = parsePrivateKey(c.privateKey!, c.privateKeyPassword);
    if (key instanceof Error) {
      const encrypted = /encrypted|passphrase|decrypt|bad decrypt/i.test(key.message);
      throw new SshError("config", `privateKey for ${who} cannot be used: ${key.message}`,
        encrypted
          ? "set privateKeyPassword to the key's passphrase (or give an unencrypted key)"
          : "give the private key's contents (PEM or OpenSSH format), not a path or a public key");
    }
    methods.push({ describe: `publickey (privateKey, ${key.type})`, entry: { type: "publickey", username: c.user, key } });
  }
  if (hasPassword) {
    const password = c.password!;
    methods.push({ describe: "password", entry: { type: "password", username: c.user, password } });
    methods.push({
      describe: "keyboard-interactive (password)",
      entry: {
        type: "keyboard-interactive",
        username: c.user,
        prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)),
      },
    });
  }
  // The agent: agentSocketPath, else $SSH_AUTH_SOCK — after explicit credentials, as @pulumi/command does.
  const envSock = env.sshAuthSock ?? process.env.SSH_AUTH_SOCK;
  if (hasAgentPath) {
    methods.push({ describe: `agent (${c.agentSocketPath})`, entry: { type: "agent", username: c.user, agent: c.agentSocketPath! } });
  } else if (envSock !== undefined && envSock !== "") {
    methods.push({ describe: `agent ($SSH_AUTH_SOCK=${envSock})`, entry: { type: "agent", username: c.user, agent: envSock } });
  }
  if (hasPrivateKey || hasPassword || hasAgentPath) return methods;

  // No credentials given: the agent (above, when $SSH_AUTH_SOCK is set), then the default identity files.
  const home = env.home ?? (process.env.HOME || os.homedir());
  for (const name of DEFAULT_IDENTITY_FILES) {
    const file = path.join(home, ".ssh", name);
    let text: Buffer;
    try {
      text = fs.readFileSync(file);
    } catch {
      continue;
    }
    const key = parsePrivateKey(text, c.privateKeyPassword);
    if (key instanceof Error) {
      env.debug?.(`skipping ${file}: ${key.message}`);
      continue;
    }
    methods.push({ describe: `publickey (${file})`, entry: { type: "publickey", username: c.user, key } });
  }
  if (methods.length === 0) {
    throw new SshError("config", `no SSH credentials for ${who}: no password, privateKey or agent given, ` +
      `$SSH_AUTH_SOCK is unset and none of ~/.ssh/${DEFAULT_IDENTITY_FILES.join(", ~/.ssh/")} is usable (HOME=${home})`,
      "set the connection's privateKey, password or agentSocketPath");
  }
  return methods;
}
