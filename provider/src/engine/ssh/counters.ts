/** Per-host counters of SSH work (exposed in apply results and `wgmesh deploy --json`). */
export interface HostCounters {
  /** SSH connections opened successfully (a proxy hop counts as one more). */
  sshConnections: number;
  /** exec channels run (each is one round trip). */
  execRoundTrips: number;
  /** TCP/SSH dial attempts, successful or not (retries show here). */
  dialAttempts: number;
}

export function newCounters(): HostCounters {
  return { sshConnections: 0, execRoundTrips: 0, dialAttempts: 0 };
}
