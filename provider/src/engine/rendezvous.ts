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
  planned(switchesKey: boolean): Promise<{ waitedMs: number; timedOut: boolean; hosts: number; notStarted?: string[] }>;
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

/**
 * The key switch when the hosts' jobs are not started by one deploy but by someone else — Pulumi's engine,
 * one NodeConfig update at a time, as many at once as its `--parallel` allows (4 × cores by default). Nobody
 * here knows how many jobs there will be, but each job knows its PARTNERS: the hosts whose tunnels with it
 * switch a key in this change (its own key changed: all its peers; a peer's key or the pair's preshared key
 * changed: that peer). The jobs linked through partners form one switch; a job that switches a key waits,
 * after planning, until every host of its switch has planned (or failed, or needed no key switch), and then
 * they all change together.
 *
 * A partner whose job never starts must not hold the others for long: Pulumi may give fewer parallel slots
 * than there are hosts switching (the waiting jobs hold the slots the others need), or `--target` may leave
 * it out, or a failure elsewhere may stop the update. So when every STARTED job of the switch has planned and
 * no job has started or planned for `idleMs`, the waiting jobs switch without the missing ones, and from then
 * on (the slots are evidently fewer than the hosts) a job waits only for the jobs already started — the
 * behaviour of `keySwitchSync`. Every wait is bounded by `maxWaitMs` anyway.
 */
export interface PartnerWait {
  waitedMs: number;
  timedOut: boolean;
  /** Hosts in the switch (this one included). */
  hosts: number;
  /** Hosts of the switch whose jobs had not started when this one went ahead without them (sorted). */
  notStarted: string[];
}

export interface PartnerSync extends KeySwitchSync {
  planned(switchesKey: boolean): Promise<PartnerWait>;
}

export interface PartnerRendezvous {
  /** The sync of one host's job; `partners` are the hosts its change switches a key with. */
  party(name: string, partners: Iterable<string>): PartnerSync;
  /** Whether `party(name, …)` was called. */
  has(name: string): boolean;
}

/** Timers as the rendezvous uses them (the real ones by default; a fake clock in tests). */
export interface RendezvousClock {
  now(): number;
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
}

const realClock: RendezvousClock = {
  now: () => Date.now(),
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

interface Waiter {
  since: number;
  timer: unknown;
  resolve(w: PartnerWait): void;
}

/** One switch (a connected set of hosts) as a union-find class: counts kept at the root. */
interface Member {
  name: string;
  parent: Member;
  /** At the root: hosts in the class; those whose job started; those that planned (or failed). */
  size: number;
  started: number;
  arrived: number;
  /** At the root: the class's waiting jobs. */
  waiters: Waiter[];
  isStarted: boolean;
  isArrived: boolean;
}

export function partnerRendezvous(opts: { maxWaitMs: number; idleMs: number; clock?: RendezvousClock }): PartnerRendezvous {
  const clock = opts.clock ?? realClock;
  const members = new Map<string, Member>();
  const parties = new Set<string>();
  /** Time of the last start or arrival of any job. */
  let lastEvent = clock.now();
  /** Set after a release for idleness: jobs wait only for the started jobs of their switch. */
  let startedOnly = false;
  let idleTimer: unknown;

  const member = (name: string): Member => {
    let m = members.get(name);
    if (!m) {
      m = { name, parent: undefined as unknown as Member, size: 1, started: 0, arrived: 0, waiters: [], isStarted: false, isArrived: false };
      m.parent = m;
      members.set(name, m);
    }
    return m;
  };
  const root = (m: Member): Member => {
    let r = m;
    while (r.parent !== r) r = r.parent;
    while (m.parent !== r) {
      const next = m.parent;
      m.parent = r;
      m = next;
    }
    return r;
  };
  const union = (a: Member, b: Member): Member => {
    let ra = root(a);
    let rb = root(b);
    if (ra === rb) return ra;
    if (ra.size < rb.size) [ra, rb] = [rb, ra];
    rb.parent = ra;
    ra.size += rb.size;
    ra.started += rb.started;
    ra.arrived += rb.arrived;
    ra.waiters.push(...rb.waiters);
    rb.waiters = [];
    return ra;
  };
  const notStartedOf = (r: Member): string[] => {
    if (r.started === r.size) return [];
    const out: string[] = [];
    for (const m of members.values()) if (!m.isStarted && root(m) === r) out.push(m.name);
    return out.sort();
  };
  const release = (r: Member, timedOut: boolean): void => {
    const go = r.waiters;
    r.waiters = [];
    const notStarted = go.length > 0 ? notStartedOf(r) : [];
    for (const w of go) {
      clock.clearTimeout(w.timer);
      w.resolve({ waitedMs: clock.now() - w.since, timedOut, hosts: r.size, notStarted });
    }
  };
  /** Release the class of `r` when its switch is ready; arm the idle timer when only missing jobs hold it. */
  const check = (r: Member): void => {
    if (r.waiters.length === 0) return;
    if (r.arrived === r.size) return release(r, false);
    if (r.arrived < r.started) return; // a started job is still connecting or reading: wait for it
    if (startedOnly) return release(r, false);
    const idleFor = clock.now() - lastEvent;
    if (idleFor >= opts.idleMs) {
      startedOnly = true;
      return release(r, false);
    }
    armIdle(opts.idleMs - idleFor);
  };
  const armIdle = (ms: number): void => {
    if (idleTimer !== undefined) clock.clearTimeout(idleTimer);
    idleTimer = clock.setTimeout(() => {
      idleTimer = undefined;
      const roots = new Set<Member>();
      for (const m of members.values()) roots.add(root(m));
      for (const r of roots) check(r);
    }, ms);
  };

  return {
    has: (name) => parties.has(name),
    party(name, partners) {
      parties.add(name);
      const self = member(name);
      for (const p of partners) if (p !== name) union(self, member(p));
      let arrived = false;
      const arrive = (): Member => {
        const r = root(self);
        if (!self.isArrived) {
          self.isArrived = true;
          r.arrived++;
          lastEvent = clock.now();
        }
        arrived = true;
        return r;
      };
      return {
        start() {
          if (self.isStarted) return;
          self.isStarted = true;
          root(self).started++;
          lastEvent = clock.now();
        },
        planned(switchesKey) {
          const r = arrive();
          if (!switchesKey) {
            check(r); // others of its switch may have waited for this one
            return Promise.resolve({ waitedMs: 0, timedOut: false, hosts: r.size, notStarted: [] });
          }
          return new Promise<PartnerWait>((resolve) => {
            const since = clock.now();
            const w: Waiter = { since, timer: undefined, resolve };
            w.timer = clock.setTimeout(() => {
              const rr = root(self);
              rr.waiters = rr.waiters.filter((x) => x !== w);
              resolve({ waitedMs: clock.now() - since, timedOut: true, hosts: rr.size, notStarted: notStartedOf(rr) });
            }, opts.maxWaitMs);
            r.waiters.push(w);
            check(r);
          });
        },
        abandoned() {
          if (arrived) return;
          check(arrive());
        },
      };
    },
  };
}
