/** How the daemon's parts on a host compare with the plan (pure data; shared by the engine and the resources). */
export interface DaemonHostState {
  binary: string;
  unit: string;
  secret: string;
  service: string;
}

/** Everything as planned: the value a DecentralizedNode asks for (a refresh that finds otherwise shows as a diff). */
export const PLANNED_DAEMON_STATE: Readonly<DaemonHostState> = Object.freeze({ binary: "as planned", unit: "as planned", secret: "as planned", service: "running" });
