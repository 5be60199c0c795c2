import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu.js';
import { Add } from './add.js';
import { assertClose, freshSeed, randomF32, readF32, rng, storage } from '../test/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

// The extra row after `rows` holds NaN and must stay untouched.
for (const mode of ['residual', 'bias'] as const) {
  test(`${mode} add on odd shapes`, async () => {
    const seed = freshSeed();
    const rand = rng(seed);
    for (const [rows, n] of [[1, 3], [7, 257], [2, 5000]]) {
      const y0 = randomF32((rows + 1) * n, rand, 4);
      y0.fill(NaN, rows * n);
      const a = randomF32(mode === 'bias' ? n : rows * n, rand, 4);
      const y = storage(gpu, 'y', y0);
      const k = mode === 'bias' ? await Add.bias(gpu, y, storage(gpu, 'bias', a), n) : await Add.residual(gpu, y, storage(gpu, 'a', a), n);
      submitPass(gpu, 'add', (pass) => k.record(pass, rows));
      const got = await readF32(gpu, y, (rows + 1) * n);
      const want = y0.slice(0, rows * n).map((v, i) => v + a[mode === 'bias' ? i % n : i]);
      assertClose(got.subarray(0, rows * n), want, { abs: 0 }, `${rows} x ${n} seed ${seed}`);
      assert.ok(got.subarray(rows * n).every(Number.isNaN), `${rows} x ${n} seed ${seed}: wrote past the last row`);
    }
  });
}
