/**
 * A host's preshared keys (engine/types.ts `PresharedKeySource`) in the planner's terms: the secrets the
 * renderers take, and the fingerprints the diff compares with the live ones (so a changed PSK is set again).
 */
import { presharedKeyFingerprint } from "../planner/live";
import type { DiffOptions } from "../planner/diff";
import type { Secrets } from "../planner/types";
import type { PresharedKeySource } from "./types";

/** The PSK part of the planner's Secrets. */
export function pskSecrets(psk: PresharedKeySource | undefined): Pick<Secrets, "presharedKey" | "presharedKeys"> {
  if (psk === undefined) return {};
  return typeof psk === "string" ? { presharedKey: psk } : { presharedKeys: psk };
}

/** Diff options that make a changed PSK (not only a missing one) an operation. */
export function pskDiffOptions(psk: PresharedKeySource | undefined): DiffOptions {
  if (psk === undefined) return {};
  if (typeof psk === "string") return { presharedKeyFingerprint: presharedKeyFingerprint(psk) };
  const fingerprints: Record<string, string> = {};
  for (const [publicKey, key] of Object.entries(psk)) fingerprints[publicKey] = presharedKeyFingerprint(key);
  return { presharedKeyFingerprints: fingerprints };
}
