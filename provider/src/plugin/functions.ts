/**
 * The plugin's functions: `invoke` of the schema's tokens (./schema.ts FUNCTIONS) over the one
 * implementation in ../pulumi/functions.ts. Arguments arrive as engine values (secrets wrapped), results
 * go back with the schema's secret outputs wrapped; refused arguments are check failures naming the
 * argument, the culprit and the fix.
 */
import { generateKeyPair, getNodeStatus } from "../pulumi/functions";
import type { Logger } from "../engine/ssh/log";
import { meshPlan, type MeshPlanArgs } from "../planner/meshplan";
import { FUNCTIONS, buildSchema } from "./schema";
import { plain, toEngine } from "./values";
import type { Connection } from "../engine/ssh/connection";

type Props = Record<string, unknown>;

export interface InvokeResult {
  outputs: Props;
  failures?: Array<{ property: string; reason: string }>;
}

/** The schema's secret outputs of a function. */
function secretOutputs(token: string): string[] {
  const f = (buildSchema("0.0.0").functions as Record<string, { outputs: { properties: Record<string, { secret?: boolean }> } }>)[token];
  return Object.entries(f?.outputs.properties ?? {}).filter(([, p]) => p.secret === true).map(([k]) => k);
}

export async function invoke(token: string, args: Props, log: Logger): Promise<InvokeResult> {
  const a = plain(args ?? {}) as Props;
  const out = (outputs: object): InvokeResult => ({ outputs: toEngine(outputs as Props, secretOutputs(token)) });
  switch (token) {
    case FUNCTIONS.getMeshPlan: {
      const r = meshPlan(a as MeshPlanArgs);
      return r.ok ? out(r.plan) : { outputs: {}, failures: r.failures };
    }
    case FUNCTIONS.getNodeStatus: {
      const c = a.connection as Partial<Connection> | undefined;
      if (!c || typeof c.host !== "string" || c.host === "") {
        return { outputs: {}, failures: [{ property: "connection", reason: "getNodeStatus: connection.host is missing; pass the host's connection (as a Node's)" }] };
      }
      return out(await getNodeStatus({ connection: c as Connection, interfaceName: a.interfaceName as string | undefined, knownPeers: a.knownPeers as Record<string, string> | undefined }, log));
    }
    case FUNCTIONS.generateKeyPair:
      return out(await generateKeyPair());
    default:
      throw new Error(`wgmesh: unknown function ${JSON.stringify(token)} (known: ${Object.values(FUNCTIONS).join(", ")})`);
  }
}
