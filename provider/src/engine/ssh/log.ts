/** The engine's injectable logger: one function, so any sink (Pulumi log, console, a test array) fits. */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type Logger = (level: LogLevel, message: string) => void;

/** The default: logs nothing. */
export const silentLogger: Logger = () => undefined;

/** Re-exported for callers that import everything logging-related from here. */
export { newCounters, type HostCounters } from "./counters";
