/**
 * The simulation's virtual clock: @sinonjs/fake-timers replaces the process's timers and Date, so the
 * daemon code and bittorrent-dht/k-rpc run unchanged on virtual time. Promise jobs stay real: after each
 * timer the driver waits for one real macrotask turn, so every promise continuation that timer started
 * runs before the next timer fires — as in Node's own event loop. Nothing else (no I/O) runs in the
 * simulation, so the order of events depends only on the virtual schedule: runs are reproducible.
 */
import FakeTimers = require("@sinonjs/fake-timers");

/** 2027-01-15T10:00:30Z: a fixed start, so the hourly DHT infohashes are the same in every run. */
export const SIM_EPOCH_MS = Date.UTC(2027, 0, 15, 10, 0, 30);

export class VirtualClock {
  private readonly clock: ReturnType<typeof FakeTimers.install>;
  private readonly realImmediate = setImmediate;
  /** Timers fired so far. */
  events = 0;

  constructor(startMs = SIM_EPOCH_MS) {
    this.clock = FakeTimers.install({
      now: startMs,
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate", "Date"],
      shouldClearNativeTimers: false,
    });
  }

  get nowMs(): number {
    return this.clock.now;
  }

  /** One real macrotask turn: every queued promise job (and the jobs they queue) runs. */
  private drain(): Promise<void> {
    return new Promise((r) => this.realImmediate(r));
  }

  /** Let the promise jobs started outside a timer (e.g. by the caller) run, without moving time. */
  async settle(): Promise<void> {
    await this.drain();
  }

  /** Run every timer due until `targetMs` (virtual), one at a time, then stop with the clock there. */
  async runUntil(targetMs: number): Promise<void> {
    let reached = false;
    const stop = this.clock.setTimeout(() => {
      reached = true;
    }, Math.max(0, targetMs - this.clock.now));
    await this.drain();
    while (!reached) {
      this.clock.next();
      this.events++;
      await this.drain();
    }
    this.clock.clearTimeout(stop);
  }

  uninstall(): void {
    this.clock.uninstall();
  }
}
