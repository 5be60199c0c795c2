// When to unload the models: after hearth.idleUnloadMinutes without a completion or chat request.
// Activity only moves a time stamp; one timer is pending at a time and, when it fires early (there
// was activity since), waits out the rest. A request still running counts as activity. No VS Code
// imports; the clock is injectable so tests run without waiting.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The timer alone never keeps a process alive.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface IdleTimerOptions {
  onIdle: () => void;
  /** Something is still running: not idle yet. */
  busy?: () => boolean;
  clock?: Clock;
}

export class IdleTimer {
  private ms = 0;
  private last: number;
  private handle?: unknown;
  private armed = false;
  private readonly clock: Clock;

  constructor(private readonly o: IdleTimerOptions) {
    this.clock = o.clock ?? realClock;
    this.last = this.clock.now();
  }

  /** 0 turns it off. Applies to the wait in progress. */
  setMinutes(minutes: number): void {
    this.ms = minutes * 60_000;
    this.schedule();
  }

  /** Activity: the idle period starts again, and the timer runs (until it fires or stop()). */
  touch(): void {
    this.last = this.clock.now();
    this.armed = true;
    if (this.handle === undefined) this.schedule();
  }

  /** Nothing to unload: no timer until the next touch(). */
  stop(): void {
    this.armed = false;
    this.clear();
  }

  private clear(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private schedule(): void {
    this.clear();
    if (!this.armed || this.ms <= 0) return;
    this.handle = this.clock.setTimeout(() => this.fire(), Math.max(0, this.last + this.ms - this.clock.now()));
  }

  private fire(): void {
    this.handle = undefined;
    if (!this.armed || this.ms <= 0) return;
    if (this.o.busy?.()) this.last = this.clock.now();
    if (this.clock.now() - this.last < this.ms) return this.schedule();
    this.armed = false;
    this.o.onIdle();
  }
}
