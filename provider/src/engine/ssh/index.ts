/** The SSH layer of the engine: connect (auth, retries, proxy, host keys) and run batched scripts. */
export { connect, withSession, CONNECTION_DEFAULTS, type Connection, type ProxyConnection, type ConnectOptions } from "./connection";
export { SshSession, execCommand, wrapScript, type RunOptions, type RunResult, type SessionInfo } from "./session";
export { SshError, type SshErrorCode } from "./errors";
export {
  HostKeyVerifier,
  appendKnownHost,
  checkHostKey,
  defaultKnownHostsPath,
  fingerprintSha256,
  hashHostName,
  knownHostsName,
  parseKnownHosts,
  parsePinnedHostKey,
  type HostKeyPolicy,
} from "./hostkeys";
export { buildAuthMethods, DEFAULT_IDENTITY_FILES } from "./auth";
export { newCounters, type HostCounters } from "./counters";
export { silentLogger, type Logger, type LogLevel } from "./log";
