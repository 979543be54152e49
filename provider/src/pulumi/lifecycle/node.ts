/**
 * Node: a host's identity in the mesh — its WireGuard keypair (the private key a secret output, or kept on
 * the host with `keyOnHost`) and facts read over SSH at create/refresh (hostname, OS, NAT).
 *
 * The topology settings of a node (meshIp, listenPort, publicEndpoint, behindNat, routableNetworks) are the
 * Mesh's inputs, not this resource's: changing them then never makes the node's key "unknown" in a preview,
 * so the per-node diffs stay readable.
 */
import { generatePrivateKey, isValidKey, publicKeyFromPrivate } from "../../core/keys";
import { normalizeMesh } from "../../core/model";
import { validateMesh } from "../../core/validate";
import { provisionHostKey } from "../../engine/hostkey";
import type { Connection } from "../../engine/ssh/connection";
import { absent, compact, containsUnknown, deepEqual, sshOptions, withoutUnknowns } from "./common";
import { readNodeHost } from "./hosts";
import { UNKNOWN, type CheckFailure, type Lifecycle, type LifecycleContext } from "./types";

export interface NodeInputs {
  /** Mesh node name (DNS label); defaults to the resource name. */
  hostname: string;
  /** SSH connection: exactly @pulumi/command's remote.ConnectionArgs (secret). */
  connection: Connection;
  /** Generate the key on the host; only its public key comes back. */
  keyOnHost?: boolean | null;
  /** An existing private key to use (secret), e.g. migrated from the Go tool. */
  privateKey?: string | null;
  /** Interface whose on-host key file is used with keyOnHost (default "wg0"). */
  interfaceName?: string | null;
  /**
   * Any change (set, changed or removed) gives the node a new key pair at the next update — like the keepers
   * of @pulumi/random: a date ("2025-06"), a counter, a time-based rotating value. keyOnHost: the new key is
   * made on the host. Not with an imported privateKey (rotate that by changing the key itself).
   */
  rotationTrigger?: string | null;
}

export interface NodeOutputs extends NodeInputs {
  publicKey: string;
  /** Secret; null when the key lives on the host. */
  privateKey: string | null;
  /** Whether the node's private key came from the `privateKey` input (else generated here or on the host). */
  privateKeyImported: boolean;
  /** The SSH target address is not one of the host's addresses (NAT between us and it). */
  natDetected: boolean | null;
  /** The host's own hostname (/proc/sys/kernel/hostname). */
  remoteHostname: string | null;
  os: string | null;
}

const CHECKED_CODES = new Set(["hostname-invalid", "private-key-invalid", "ssh-host-invalid", "ssh-host-missing", "port-out-of-range", "interface-name"]);
const FIELD_TO_PROPERTY: Record<string, string> = { sshHost: "connection", sshPort: "connection", hostname: "hostname", privateKey: "privateKey", interfaceName: "interfaceName" };

function ifnameOf(i: NodeInputs): string {
  return i.interfaceName ?? "wg0";
}

export function checkNode(news: NodeInputs): CheckFailure[] {
  const n = withoutUnknowns(news);
  const conn = (n.connection ?? {}) as Partial<Connection>;
  const failures: CheckFailure[] = [];
  // An address that comes from another resource (unknown at preview) is checked once known.
  const mesh = normalizeMesh({
    interfaceName: n.interfaceName ?? undefined,
    nodes: [{
      hostname: n.hostname,
      sshHost: containsUnknown(news.connection) ? "unknown.invalid" : (conn.host as string),
      sshPort: containsUnknown(news.connection) ? null : conn.port ?? null,
      privateKey: news.privateKey === undefined || containsUnknown(news.privateKey) ? null : n.privateKey,
    }],
  });
  const { errors } = validateMesh(mesh, { checkKeyPairs: false });
  for (const f of errors) {
    if (!CHECKED_CODES.has(f.code)) continue;
    if (f.subject.kind === "mesh" && f.code !== "interface-name") continue;
    failures.push({ property: FIELD_TO_PROPERTY[f.field ?? ""] ?? f.field ?? "connection", reason: f.message.replace(/^mesh: /, `node ${JSON.stringify(n.hostname)}: `) });
  }
  if (!absent(news.rotationTrigger) && !absent(news.privateKey)) {
    failures.push({ property: "rotationTrigger", reason: `node ${JSON.stringify(n.hostname)}: rotationTrigger is set, but the node uses an imported privateKey, which only its owner can replace; rotate it by changing privateKey (e.g. a new key from 'wgmesh genkey' in the stack config), and remove rotationTrigger` });
  }
  if (n.keyOnHost && !absent(news.privateKey)) {
    failures.push({ property: "privateKey", reason: `node ${JSON.stringify(n.hostname)}: privateKey and keyOnHost are both set; either give the key (privateKey) or let the host generate its own (keyOnHost), not both` });
  }
  return failures;
}

/** Whether an update rotates the key: the trigger changed (set, changed or removed). */
export function rotationRequested(olds: Pick<NodeInputs, "rotationTrigger">, news: Pick<NodeInputs, "rotationTrigger">): boolean {
  return containsUnknown(news.rotationTrigger) || !deepEqual(olds.rotationTrigger ?? null, news.rotationTrigger ?? null);
}

type Identity = Pick<NodeOutputs, "publicKey" | "privateKey" | "privateKeyImported">;

/**
 * The previous outputs whose key an update keeps: none when a key is given, the old one was imported, or the
 * rotation trigger changed (a new key pair).
 */
function keptFrom(olds: NodeOutputs, news: NodeInputs): NodeOutputs | undefined {
  return absent(news.privateKey) && !olds.privateKeyImported && !rotationRequested(olds, news) ? olds : undefined;
}

/**
 * The identity decided without the host and without a new random key: a given key, else the previous one
 * (kept across updates); null when it takes the host (keyOnHost) or a fresh key.
 */
function decidedIdentity(inputs: NodeInputs, previous?: NodeOutputs): Identity | null {
  if (inputs.keyOnHost) return null;
  if (!absent(inputs.privateKey)) {
    const privateKey = inputs.privateKey as string;
    return { publicKey: publicKeyFromPrivate(privateKey), privateKey, privateKeyImported: true };
  }
  if (previous && !previous.keyOnHost && previous.privateKey && isValidKey(previous.privateKey)) {
    return { publicKey: publicKeyFromPrivate(previous.privateKey), privateKey: previous.privateKey, privateKeyImported: false };
  }
  return null;
}

async function identity(inputs: NodeInputs, ctx: LifecycleContext, previous?: NodeOutputs, rotate = false): Promise<Identity> {
  if (inputs.keyOnHost) {
    const r = await provisionHostKey(inputs.hostname, inputs.connection, { ...sshOptions(ctx), interfaceName: ifnameOf(inputs), rotate });
    ctx.log("info", `[${inputs.hostname}] ${rotate ? "rotated: a new key on the host" : r.created ? "generated a key on the host" : "using the key on the host"} (public key ${r.publicKey})`);
    return { publicKey: r.publicKey, privateKey: null, privateKeyImported: false };
  }
  const decided = decidedIdentity(inputs, previous);
  if (decided) return decided;
  const privateKey = generatePrivateKey();
  const publicKey = publicKeyFromPrivate(privateKey);
  if (rotate) ctx.log("info", `[${inputs.hostname}] rotated: a new key pair (public key ${publicKey})`);
  return { publicKey, privateKey, privateKeyImported: false };
}

/** The identity `create`/`update` will have, as far as it is known before they run. */
function previewIdentity(news: NodeInputs, olds?: NodeOutputs): Identity {
  const unknown: Identity = { publicKey: UNKNOWN, privateKey: UNKNOWN, privateKeyImported: !absent(news.privateKey) };
  if (containsUnknown(news.privateKey) || containsUnknown(news.keyOnHost)) return unknown;
  // keyOnHost: an update keeps the host's key (a different host or interface is a replacement), unless the
  // rotation trigger changed (a new key made on the host by the update).
  if (news.keyOnHost) return olds && !rotationRequested(olds, news) ? { publicKey: olds.publicKey, privateKey: null, privateKeyImported: false } : { ...unknown, privateKey: null };
  return decidedIdentity(news, olds && keptFrom(olds, news)) ?? unknown;
}

async function facts(inputs: NodeInputs, ctx: LifecycleContext): Promise<Pick<NodeOutputs, "natDetected" | "remoteHostname" | "os"> & { hostKeyPublic: string | null; hostKeyExists: boolean }> {
  const { reading, natDetected } = await readNodeHost(inputs.hostname, inputs.connection, ifnameOf(inputs), ctx);
  const f = reading.facts;
  ctx.log("info", `[${inputs.hostname}] host ${f.hostname}${f.os.prettyName ? ` (${f.os.prettyName})` : ""}${natDetected ? ", behind NAT" : ""}`);
  return { natDetected, remoteHostname: f.hostname || null, os: f.os.prettyName, hostKeyPublic: reading.probe.key.publicKey, hostKeyExists: reading.probe.key.exists };
}

function keptFacts(olds: NodeOutputs): Awaited<ReturnType<typeof facts>> {
  return { natDetected: olds.natDetected, remoteHostname: olds.remoteHostname, os: olds.os, hostKeyPublic: null, hostKeyExists: false };
}

function outputs(inputs: NodeInputs, id: Awaited<ReturnType<typeof identity>>, fx: Awaited<ReturnType<typeof facts>>): NodeOutputs {
  return compact({
    hostname: inputs.hostname,
    connection: inputs.connection,
    keyOnHost: inputs.keyOnHost ?? false,
    interfaceName: ifnameOf(inputs),
    rotationTrigger: inputs.rotationTrigger ?? undefined,
    ...id,
    natDetected: fx.natDetected,
    remoteHostname: fx.remoteHostname,
    os: fx.os,
  });
}

export const nodeLifecycle: Lifecycle<NodeInputs, NodeOutputs> = {
  async check(_olds, news) {
    const failures = checkNode(news);
    // A given key's public half is known now: peers' previews then show it instead of "unknown".
    if (failures.length === 0 && !news.keyOnHost && typeof news.privateKey === "string" && isValidKey(news.privateKey)) {
      return { inputs: { ...news, publicKey: publicKeyFromPrivate(news.privateKey) } as NodeInputs, failures };
    }
    return { inputs: news, failures };
  },

  async diff(_id, olds, news) {
    const changed: string[] = [];
    const replaces: string[] = [];
    const cmp = (p: keyof NodeInputs, oldValue: unknown, newValue: unknown, replace = false) => {
      if (containsUnknown(newValue) || !deepEqual(oldValue, newValue)) {
        changed.push(p);
        if (replace) replaces.push(p);
      }
    };
    cmp("hostname", olds.hostname, news.hostname, true);
    cmp("connection", olds.connection, news.connection);
    cmp("keyOnHost", olds.keyOnHost ?? false, news.keyOnHost ?? false, true);
    cmp("interfaceName", olds.interfaceName ?? "wg0", news.interfaceName ?? "wg0", !!news.keyOnHost);
    if (rotationRequested(olds, news)) changed.push("rotationTrigger");
    // An absent privateKey input keeps the key made at create; a given one must match.
    if (!absent(news.privateKey)) cmp("privateKey", olds.privateKey, news.privateKey);
    else if (olds.privateKeyImported) changed.push("privateKey"); // stop using an imported key: a fresh one
    return { changes: changed.length > 0, changed, replaces, deleteBeforeReplace: false };
  },

  async create(inputs, ctx) {
    const id = await identity(inputs, ctx);
    const fx = await facts(inputs, ctx);
    return { id: inputs.hostname, outs: outputs(inputs, id, fx) };
  },

  async read(id, props, ctx) {
    const fx = await facts(props, ctx);
    if (props.keyOnHost && !fx.hostKeyExists) {
      // The node's identity is gone from its host (removed by hand, or by the teardown when the node left
      // the mesh): the resource no longer exists, so the next `up` creates it again with a fresh key.
      ctx.log("warn", `[${props.hostname}] its key on the host is gone; the Node will be created again (new key) by the next up`);
      return { id: "", props };
    }
    const ident = props.keyOnHost
      ? { publicKey: fx.hostKeyPublic ?? props.publicKey, privateKey: null, privateKeyImported: false }
      : { publicKey: props.privateKey ? publicKeyFromPrivate(props.privateKey) : props.publicKey, privateKey: props.privateKey, privateKeyImported: props.privateKeyImported };
    return { id, props: outputs(props, ident, fx) };
  },

  async update(_id, olds, news, ctx) {
    // A changed rotationTrigger: a new key pair (generated here, or on the host with keyOnHost).
    const rotate = absent(news.privateKey) && rotationRequested(olds, news);
    const id = await identity(news, ctx, keptFrom(olds, news), rotate);
    const fx = deepEqual(olds.connection, news.connection) ? keptFacts(olds) : await facts(news, ctx);
    return { outs: outputs(news, id, fx) };
  },

  preview(olds, news) {
    // The facts are read over SSH at create and when the connection changes; otherwise kept.
    const known = olds !== undefined && !containsUnknown(news.connection) && deepEqual(olds.connection, news.connection);
    const fx = known ? keptFacts(olds) : { natDetected: UNKNOWN as never, remoteHostname: UNKNOWN, os: UNKNOWN, hostKeyPublic: null, hostKeyExists: false };
    return outputs(news, previewIdentity(news, olds), fx);
  },

  async delete() {
    // Nothing on the host: the node's NodeConfig (a child of the Mesh) tears WireGuard down.
  },
};
