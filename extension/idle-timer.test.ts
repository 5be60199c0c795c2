import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleTimer, type Clock } from './idle-timer.js';

/** A clock that moves only when told, running due timers in order. */
class FakeClock implements Clock {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): number {
    this.timers.set(++this.ids, { at: this.t + ms, fn });
    return this.ids;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

const MIN = 60_000;

test('idle unload: fires once the period passes without activity; activity and running requests push it back', () => {
  const clock = new FakeClock();
  let idle = 0, busy = false;
  const timer = new IdleTimer({ onIdle: () => idle++, busy: () => busy, clock });
  timer.setMinutes(30);
  clock.advance(60 * MIN);
  assert.equal(idle, 0, 'nothing loaded yet (no touch): no unload');

  timer.touch();
  clock.advance(29 * MIN);
  timer.touch();
  clock.advance(29 * MIN);
  assert.equal(idle, 0, 'activity 29 minutes ago');
  assert.equal(clock.pending, 1, 'one timer at a time, however many touches');
  clock.advance(1 * MIN);
  assert.equal(idle, 1);
  clock.advance(120 * MIN);
  assert.equal(idle, 1, 'once: the next period starts with the next activity');

  timer.touch();
  busy = true;
  clock.advance(45 * MIN);
  assert.equal(idle, 0 + 1, 'a request still running is activity');
  busy = false;
  clock.advance(30 * MIN);
  assert.equal(idle, 2);
});

test('idle unload: 0 minutes never unloads; a new setting applies to the wait in progress; stop cancels', () => {
  const clock = new FakeClock();
  let idle = 0;
  const timer = new IdleTimer({ onIdle: () => idle++, clock });
  timer.setMinutes(0);
  timer.touch();
  clock.advance(10_000 * MIN);
  assert.equal(idle, 0);
  assert.equal(clock.pending, 0);

  timer.touch();
  timer.setMinutes(5);
  clock.advance(4 * MIN);
  assert.equal(idle, 0);
  timer.setMinutes(60);
  clock.advance(30 * MIN);
  assert.equal(idle, 0, 'the longer setting applies');
  timer.setMinutes(1);
  clock.advance(0);
  assert.equal(idle, 1, 'already idle for longer than the new setting');

  timer.touch();
  timer.stop();
  clock.advance(10 * MIN);
  assert.equal(idle, 1);
  assert.equal(clock.pending, 0);
});
