/**
 * The shared contract of a resource lifecycle: plain JSON in, plain JSON out (no Pulumi types), so the
 * dynamic providers (../dynamic.ts) and the provider plugin (issue 7) wrap the very same objects.
 *
 * Values not known yet during a preview arrive as the engine's unknown sentinel (`UNKNOWN`); `check`, `diff`
 * and `preview` must tolerate them, `create`/`update`/`delete`/`read` never see them.
 */
import type { Logger } from "../../engine/ssh/log";

/** The engine's marker for a value not known during preview (the same string in every Pulumi SDK). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The engine's signature key and its secret value (the same in every Pulumi SDK and on the wire). */
export const SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A value as the engine's wire protocol marks a secret: stored encrypted, shown as [secret]. */
export interface WireSecret<T> {
  [SIG]: typeof SECRET_SIG;
  value: T;
}

export interface CheckFailure {
  /** Input property the failure is about (top-level name, as the engine expects). */
  property: string;
  /** Complete, self-contained message: culprit, field, fix. Never contains a secret. */
  reason: string;
}

export interface CheckResult<I> {
  inputs: I;
  failures: CheckFailure[];
}

export interface DiffResult {
  changes: boolean;
  /** Top-level input properties whose change needs a replacement. */
  replaces: string[];
  deleteBeforeReplace: boolean;
  /** Top-level input properties that differ (for display / detailed diffs). */
  changed: string[];
}

/** Side channel of an operation: progress messages (never secrets) and SSH settings. */
export interface LifecycleContext {
  log: Logger;
  /** known_hosts file for hosts whose connection pins no `hostKey` (default: $WGMESH_KNOWN_HOSTS, else ~/.ssh/known_hosts). */
  knownHostsPath?: string;
  /** Accept and record unknown host keys (opt-in: $WGMESH_TRUST_ON_FIRST_USE=1). */
  trustOnFirstUse?: boolean;
}

export interface Lifecycle<I, O> {
  check(olds: Partial<I> | undefined, news: I, ctx: LifecycleContext): Promise<CheckResult<I>>;
  diff(id: string, olds: O, news: I, ctx: LifecycleContext): Promise<DiffResult>;
  create(inputs: I, ctx: LifecycleContext): Promise<{ id: string; outs: O }>;
  read(id: string, props: O, ctx: LifecycleContext): Promise<{ id: string; props: O }>;
  update(id: string, olds: O, news: I, ctx: LifecycleContext): Promise<{ outs: O }>;
  delete(id: string, props: O, ctx: LifecycleContext): Promise<void>;
  /**
   * The outputs `create` (no `olds`) or `update` (`olds` = the current outputs) would return, for
   * `pulumi preview`: pure, no host touched. What only the host or the operation can tell (a key generated
   * at create, facts read over SSH) is `UNKNOWN`; everything else is exact, so resources that read these
   * outputs (the Mesh reads a Node's publicKey) preview exactly too.
   */
  preview(olds: O | undefined, news: I): O;
}

/** A NodeConfig's `hostFiles` input as planned (see nodeConfig.ts HostFiles). */
export const PLANNED_HOST_FILES: Readonly<{ wgQuickConf: string; unit: string; firewall: string }> = Object.freeze({ wgQuickConf: "as planned", unit: "enabled", firewall: "as planned" });
