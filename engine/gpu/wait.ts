// How long a readback sleeps before it polls (Gpu.mapRead). Dawn's Node bindings poll a pending map
// on every turn of the event loop, which keeps a core busy for the whole wait; on a software adapter
// that core is one the GPU needs. So a wait expected to be long sleeps through most of it first, by
// what the same kind of work last took per unit. A sleep that ends after the work did measures long:
// when the poll after it finds the result at once, the estimate halves instead of being taken as
// measured (a slow step, from another process on the cores, used to be overslept for ~8 steps as the
// estimate fell by the sleep's share each time); and one slow wait at most doubles it.

/** Waits shorter than this are polled throughout: a timer's granularity would cost more than the spin. */
export const SLEEP_ABOVE_MS = 10;
/** Share of the expected time a wait sleeps; the rest is polled, so a faster run is barely overslept. */
export const SLEEP_SHARE = 0.8;
/** A poll after a sleep that finds the result within this found it ready before the wake. */
const OVERSLEPT_MS = 0.5;

export class WaitEstimate {
  /** Milliseconds per unit of each kind of work, submission to readable result. */
  private readonly perUnit = new Map<string, number>();

  /** How long to sleep before polling for `units` of `kind` submitted `elapsedMs` ago (0: poll now). */
  sleepMs(kind: string, units: number, elapsedMs: number): number {
    const p = this.perUnit.get(kind);
    const sleep = p === undefined ? 0 : p * units * SLEEP_SHARE - elapsedMs;
    return sleep >= SLEEP_ABOVE_MS ? sleep : 0;
  }

  /** Records a wait: `totalMs` from submission to a readable result, the last `polledMs` of it polled after a sleep of `sleptMs`. */
  observe(kind: string, units: number, totalMs: number, sleptMs: number, polledMs: number): void {
    const was = this.perUnit.get(kind);
    const measured = totalMs / units;
    if (was === undefined) this.perUnit.set(kind, measured);
    else if (sleptMs > 0 && polledMs < OVERSLEPT_MS) this.perUnit.set(kind, Math.min(was, measured) / 2);
    else this.perUnit.set(kind, Math.min(measured, 2 * was));
  }
}
