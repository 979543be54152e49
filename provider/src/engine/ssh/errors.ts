/** Errors of the SSH layer: a stable `code` for callers, a message naming the host, and the fix. */

export type SshErrorCode =
  | "config" // a connection argument is invalid (bad key, unreadable file, …); never retried
  | "dial" // TCP/handshake failed after dialErrorLimit attempts
  | "auth" // every authentication method was refused
  | "host-key-unknown"
  | "host-key-changed"
  | "host-key-revoked"
  | "proxy" // the bastion could not open the channel to the target
  | "sudo" // privileged run impossible: sudo missing or needs a password
  | "exec" // the exec channel failed (not the script's own exit status)
  | "closed"; // the session was closed

export class SshError extends Error {
  readonly code: SshErrorCode;
  /** What the user can do about it. */
  readonly fix: string;

  constructor(code: SshErrorCode, message: string, fix: string, options?: { cause?: unknown }) {
    super(fix === "" ? message : `${message}. Fix: ${fix}`, options);
    this.name = "SshError";
    this.code = code;
    this.fix = fix;
  }

  /** Errors that retrying the dial cannot cure (and must not: host key problems are security decisions). */
  get retryable(): boolean {
    return this.code === "dial" || this.code === "auth" || this.code === "proxy";
  }
}
