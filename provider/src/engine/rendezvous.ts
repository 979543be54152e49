/**
 * The key switch of a deploy happens on every host at once. A rotated key (a node's own key, a peer's key, a
 * preshared key) only works once BOTH ends of the tunnel have it: until the node and each of its peers have
 * run their change, their packets are dropped. Each host's apply is connect → read → plan → change; under
 * load the connect and read alone spread over many seconds from host to host (measured: 15 s between web1
 * and web3 on a 2-core machine at load 15–22), and the tunnel between them was down for that long.
 *
 * So a host whose change switches a key waits, after planning, until every host the deploy has started has
 * planned too (or failed, or needed no key switch), and then all of them run their change scripts together:
 * the spread left is that of one exec round trip, not of SSH handshakes and reads.
 *
 * Hosts the deploy has not started yet (more hosts than its concurrency) are not waited for — the waiting
 * hosts hold the slots they would need; a rotation across more hosts than the concurrency switches in
 * batches. The wait is bounded (`maxWaitMs`): a host stuck dialling never holds the others for longer.
 */
export interface KeySwitchSync {
  /** A host job begins (call before its first await). */
  start(): void;
  /** The host has planned: wait for the others when it switches a key; resolves at once otherwise. */
  planned(switchesKey: boolean): Promise<{ waitedMs: number; timedOut: boolean; hosts: number }>;
  /** The host job ended without reaching `planned` (a failed connect or read). Idempotent per host. */
  abandoned(): void;
}

export function keySwitchSync(maxWaitMs: number, now: () => number = Date.now): KeySwitchSync {
  let started = 0;
  let arrived = 0;
  let waiting: Array<() => void> = [];
  const release = (): void => {
    if (arrived < started) return;
    const go = waiting;
    waiting = [];
    for (const f of go) f();
  };
  return {
    start() {
      started++;
    },
    planned(switchesKey) {
      arrived++;
      const t0 = now();
      if (!switchesKey) {
        release();
        return Promise.resolve({ waitedMs: 0, timedOut: false, hosts: 1 });
      }
      return new Promise((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const done = (timedOut: boolean) => {
          if (timer) clearTimeout(timer);
          waiting = waiting.filter((f) => f !== go);
          resolve({ waitedMs: now() - t0, timedOut, hosts: started });
        };
        const go = () => done(false);
        waiting.push(go);
        timer = setTimeout(() => done(true), maxWaitMs);
        release();
      });
    },
    abandoned() {
      arrived++;
      release();
    },
  };
}

/** Whether a host's planned operations switch a key on it: its own key, a peer's key, a preshared key. */
export function switchesKey(operations: readonly { kind: string; presharedKey?: unknown }[], livePeerKeys: ReadonlySet<string>, desiredPeerKeys: ReadonlySet<string>): boolean {
  if (operations.some((op) => op.kind === "private-key" || (op.kind === "peer-set" && op.presharedKey !== undefined))) return true;
  // A peer whose key changed: a live peer leaves and a new one comes (the planner removes and adds).
  const leaving = [...livePeerKeys].some((k) => !desiredPeerKeys.has(k));
  const coming = [...desiredPeerKeys].some((k) => !livePeerKeys.has(k));
  return leaving && coming;
}
