/**
 * The planner's public surface: desired state → wg-quick file; host outputs → live state; desired + live →
 * minimal operations → shell text. Pure (no I/O).
 */
export * from "./types";
export { shellCommand, shellQuote } from "./shell";
export { renderWgQuickConf, parseWgQuickConf, confDigest, type RenderConfOptions, type ParsedWgQuickConf, type ParsedWgQuickSecrets } from "./wgquick";
export {
  parseWgDump,
  parseIpAddr,
  parseIpRoutes,
  parseIpForward,
  parseLiveState,
  presharedKeyFingerprint,
  normalizeEndpoint,
  isLiteralEndpoint,
  findRouteConflicts,
  type RouteConflict,
  type LiveInputs,
  type LiveWgDump,
  type LiveWgInterface,
} from "./live";
export { renderLiveProbe, parseLiveProbe, probeConfDigest, probeRouteConflicts, type ProbeOptions } from "./probe";
export { diff, applyOperations, endpointMatches, type DiffOptions } from "./diff";
export { withRekey } from "./rekey";
export {
  renderOperation,
  renderOperations,
  renderScript,
  redactSecrets,
  atomicWriteFileCommand,
  routeAddCommand,
  routeDelCommand,
  withSecretOnStdin,
  peerPresharedKey,
  assertInterfaceName,
  SECRET_HEREDOC,
  type RenderOptions,
  type AtomicWriteOptions,
} from "./commands";
export { planFirewalls, withFirewalls, labelName, identName } from "./firewall";
export {
  nftTableName,
  renderNftRuleset,
  assertFirewallPlan,
  describeFirewall,
  firewallStats,
  nftApplyCommand,
  nftRemoveCommand,
  nftLoadCommand,
  nftListCommand,
  nftProbeScript,
  parseNftProbe,
  nftMatches,
  parseNftListing,
  NFT_COUNTERS,
  NFT_LISTING_MARK,
  type NftState,
} from "./nft";
