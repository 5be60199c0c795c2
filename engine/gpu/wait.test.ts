// The readback's sleep estimate (engine/gpu/wait.ts), on made-up timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLEEP_ABOVE_MS, SLEEP_SHARE, WaitEstimate } from './wait.js';

/** A wait of `trueMs` as mapRead makes it: the sleep the estimate asks for, then a poll until the work is done. */
function wait(w: WaitEstimate, trueMs: number): number {
  const slept = w.sleepMs('forward 1', 1, 0);
  const total = Math.max(trueMs, slept);
  w.observe('forward 1', 1, total, slept, total - slept);
  return total;
}

test('unknown work and short waits are polled; a known long one sleeps most of its time', () => {
  const w = new WaitEstimate();
  assert.equal(w.sleepMs('forward 1', 1, 0), 0);
  w.observe('forward 1', 1, 5, 0, 5);
  assert.equal(w.sleepMs('forward 1', 1, 0), 0, `under ${SLEEP_ABOVE_MS} ms: polled`);
  w.observe('forward 2', 1, 20, 0, 20);
  assert.equal(w.sleepMs('forward 2', 1, 0), 20 * SLEEP_SHARE);
  w.observe('forward 2', 1, 100, 0, 100);
  assert.equal(w.sleepMs('forward 2', 1, 0), 40 * SLEEP_SHARE, 'at most double the last estimate');
  w.observe('forward 8', 8, 400, 0, 400);
  assert.equal(w.sleepMs('forward 8', 8, 0), 400 * SLEEP_SHARE);
  assert.equal(w.sleepMs('forward 8', 4, 100), 200 * SLEEP_SHARE - 100, 'per unit, less the time since submission');
  assert.equal(w.sleepMs('forward 8', 8, 390), 0);
});

test('after one slow step, steps of the usual time are overslept for two steps, not eight', () => {
  const w = new WaitEstimate();
  for (let i = 0; i < 5; i++) wait(w, 100);
  // Another process takes the cores: one step takes four times as long (doubling the estimate at most).
  wait(w, 400);
  const after = Array.from({ length: 8 }, () => wait(w, 100));
  const overslept = after.filter((t) => t > 100.5).length;
  assert.ok(overslept <= 2, `${overslept} of the steps after it overslept: ${after.map((t) => t.toFixed(0)).join(' ')}`);
  assert.ok(Math.abs(w.sleepMs('forward 1', 1, 0) - 100 * SLEEP_SHARE) < 1e-9, 'back to sleeping most of the usual time');
});
