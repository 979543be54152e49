/**
 * MeshSecret: the shared secret of a decentralized mesh (`wgmesh init --secret`), kept as a Pulumi secret.
 * Generated once at create (128 random bytes, the Go tool's URI form) unless an existing one is given; the
 * outputs also carry the parameters every node derives from it that are not secret (subnet, IPv6 prefix,
 * gossip port), so a stack can show them or open firewalls for them.
 */
import { randomBytes } from "node:crypto";
import { defaultSubnetCidr, deriveParams, ipv6PrefixText } from "../../daemon/derive";
import { formatSecretUri, generateSecret, parseSecret, SecretError, LOW_ENTROPY_WARNING } from "../../daemon/secret";
import { absent, containsUnknown } from "./common";
import { UNKNOWN, type CheckFailure, type Lifecycle } from "./types";

export interface MeshSecretInputs {
  /** An existing secret to adopt (a `wgmesh://v1/…` URI from the Go tool or `wgmesh init`); default: a new one. */
  secret?: string | null;
}

export interface MeshSecretOutputs {
  /** The secret URI (a Pulumi secret). */
  secret: string;
  /** Whether it came from the `secret` input (else generated here). */
  imported: boolean;
  /** IPv4 mesh subnet the daemons derive (unless given a custom one). */
  meshSubnet: string;
  /** IPv6 ULA prefix of the mesh. */
  meshIpv6Prefix: string;
  /** UDP port of the encrypted peer exchange (open it between nodes, with the WireGuard port). */
  gossipPort: number;
}

export function checkMeshSecret(news: MeshSecretInputs): CheckFailure[] {
  if (absent(news.secret) || containsUnknown(news.secret)) return [];
  try {
    parseSecret(news.secret as string);
    return [];
  } catch (e) {
    // The message names the rule only, never the value.
    return [{ property: "secret", reason: `secret: ${(e as SecretError).message}; use a URI from 'wgmesh init --secret', or leave secret unset to generate one` }];
  }
}

function outputsFor(secret: string, imported: boolean): MeshSecretOutputs {
  const p = deriveParams(parseSecret(secret).secret);
  return { secret, imported, meshSubnet: defaultSubnetCidr(p), meshIpv6Prefix: ipv6PrefixText(p), gossipPort: p.gossipPort };
}

export const meshSecretLifecycle: Lifecycle<MeshSecretInputs, MeshSecretOutputs> = {
  async check(_olds, news, ctx) {
    const failures = checkMeshSecret(news);
    if (failures.length === 0 && typeof news.secret === "string" && !containsUnknown(news.secret) && parseSecret(news.secret).lowEntropy) {
      ctx.log("warn", `MeshSecret: ${LOW_ENTROPY_WARNING}`);
    }
    return { inputs: news, failures };
  },

  async diff(_id, olds, news) {
    // A generated secret stays until the input names one; adopting or changing a given one makes a new mesh.
    const given = !absent(news.secret);
    const changed = containsUnknown(news.secret) || (given ? news.secret !== olds.secret : olds.imported);
    return { changes: changed, changed: changed ? ["secret"] : [], replaces: changed ? ["secret"] : [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    const given = !absent(inputs.secret);
    const secret = given ? (inputs.secret as string).trim() : formatSecretUri(generateSecret());
    return { id: `meshsecret-${randomBytes(6).toString("hex")}`, outs: outputsFor(secret, given) };
  },

  async read(id, props) {
    return { id, props: outputsFor(props.secret, props.imported) };
  },

  async update(_id, olds) {
    return { outs: olds };
  },

  preview(olds, news) {
    if (olds) return olds;
    const given = !absent(news.secret);
    if (given && !containsUnknown(news.secret)) return outputsFor((news.secret as string).trim(), true);
    // A new random secret (or one not known yet) and what derives from it.
    return { secret: UNKNOWN, imported: given, meshSubnet: UNKNOWN, meshIpv6Prefix: UNKNOWN, gossipPort: UNKNOWN as never };
  },

  async delete() {
    // Nothing outside the state: the nodes using it are separate resources.
  },
};
