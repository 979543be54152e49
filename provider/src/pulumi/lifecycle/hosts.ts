/** The few host reads the lifecycles share: one SSH connection, one read-only round trip. */
import { readHost } from "../../engine/apply";
import { detectNat } from "../../engine/facts";
import type { HostReading } from "../../engine/probe";
import { connect, type Connection } from "../../engine/ssh/connection";
import { hostLogger } from "../../engine/apply";
import { sshOptions } from "./common";
import type { LifecycleContext } from "./types";

export interface HostRead {
  reading: HostReading;
  natDetected: boolean | null;
}

/** Connect, read facts + engine probe for `ifname`, decide NAT, close. Throws naming the node. */
export async function readNodeHost(
  node: string,
  connection: Connection,
  ifname: string,
  ctx: LifecycleContext,
  /** More work on the same connection after the read (e.g. the node's policy tests). */
  also?: (session: import("../../engine/ssh/session").SshSession) => Promise<void>,
): Promise<HostRead> {
  const log = hostLogger(ctx.log, node);
  log("info", `connecting to ${connection.user ?? "root"}@${connection.host}:${connection.port ?? 22} (read)`);
  const session = await connect(connection, { ...sshOptions(ctx), logger: log });
  try {
    const reading = await readHost(session, ifname, node);
    let natDetected: boolean | null = null;
    try {
      natDetected = await detectNat(session.info.reachedAddress, reading.facts.hostAddresses);
    } catch {
      natDetected = null;
    }
    if (also) await also(session);
    return { reading, natDetected };
  } finally {
    await session.close();
  }
}
