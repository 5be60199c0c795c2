import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanBytes, humanDuration, humanRate } from './format.js';

test('bytes, rates and durations', () => {
  assert.deepEqual([humanBytes(512), humanBytes(3 << 20), humanBytes(1.5 * 2 ** 30)], ['0.5 KiB', '3.0 MiB', '1.50 GiB']);
  assert.equal(humanRate(12.5 * 2 ** 20), '12.5 MiB/s');
  assert.deepEqual([0, 44.6, 60, 200, 3600, 7500].map(humanDuration), ['0 s', '45 s', '1 min', '3 min 20 s', '1 h', '2 h 5 min']);
});
