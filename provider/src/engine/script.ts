/**
 * Running one batched change script on a host (one exec round trip): render it (changes.ts), run it,
 * attribute a failure to its step with the host's evidence (diagnostics.ts), and parse the verification
 * read at its end.
 */
import { lastStep, renderChangeScript, STEP_MARK, type ChangeScriptOptions } from "./changes";
import { evidencePrelude, stepFailureMessage, tagStep } from "./diagnostics";
import { EngineError } from "./install";
import { hostPaths } from "./paths";
import { lastReading, parseReading, type HostReading } from "./probe";
import type { SshSession } from "./ssh/session";
import type { Step } from "./types";
import { redactSecrets } from "../planner/commands";

export interface ScriptRun {
  /** The verification read right after the steps. */
  reading: HostReading;
  /** The last read of the script (after `afterVerify`, e.g. the health gate's wait); `reading` when there is none. */
  final: HostReading;
  stdout: string;
  durationMs: number;
}

export interface RunScriptOptions extends Pick<ChangeScriptOptions, "prelude" | "afterVerify"> {
  /** Secret values to scrub from anything shown (the node's private key, the preshared key). */
  secrets?: readonly string[];
}

/** Run steps as one script; throws EngineError naming the node, the failed step and the host's evidence. */
export async function runScript(
  session: SshSession,
  node: string,
  ifname: string,
  steps: Step[],
  timeoutMs: number,
  label: string,
  options: RunScriptOptions = {},
): Promise<ScriptRun> {
  const prelude = [evidencePrelude(ifname), options.prelude].filter((x) => x).join("\n");
  const script = renderChangeScript(ifname, steps.map(tagStep), { prelude, afterVerify: options.afterVerify });
  const r = await session.run(script, { label, redact: redactSecrets, timeoutMs });
  const at = lastStep(r.stdout);
  if (r.exitCode !== 0 || at !== "done") {
    const step = typeof at === "number" ? steps[at] : undefined;
    throw new EngineError(stepFailureMessage(node, step, String(r.exitCode ?? r.signal), r.stdout, r.stderr, options.secrets ?? [], hostPaths(ifname).unit));
  }
  try {
    const afterSteps = r.stdout.slice(r.stdout.lastIndexOf(`${STEP_MARK} done`));
    return { reading: parseReading(afterSteps, ifname), final: lastReading(r.stdout, ifname), stdout: r.stdout, durationMs: r.durationMs };
  } catch (e) {
    throw new EngineError(`node ${node}: the changes ran but the host could not be read back: ${(e as Error).message}`);
  }
}
