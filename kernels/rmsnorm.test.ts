import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu/gpu.js';
import { RmsNorm } from './rmsnorm.js';
import { assertClose, freshSeed, poisoned, randomF32, readF32, rng, storage } from '../test/support/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

for (const residual of [false, true]) {
  for (const [rows, n] of [[1, 7], [5, 1000], [3, 4097]]) {
    test(`rmsnorm${residual ? ' after a residual add' : ''}, ${rows} x ${n}, matches the float64 definition`, async () => {
      const seed = freshSeed();
      const rand = rng(seed);
      const eps = 1e-6 * (1 + rand() * 10);
      const x0 = randomF32((rows + 1) * n, rand, 3);
      x0.fill(NaN, rows * n);
      const a = randomF32(rows * n, rand, 3);
      const w = randomF32(n, rand, 2);
      const x = storage(gpu, 'x', x0);
      const y = poisoned(gpu, 'y', (rows + 1) * n * 4);
      const k = await RmsNorm.create(gpu, { x, w: storage(gpu, 'w', w), y, residual: residual ? storage(gpu, 'a', a) : undefined }, n, eps);
      submitPass(gpu, 'rmsnorm', (pass) => k.record(pass, rows));
      // The sum is exact in f32 (one rounding), as the kernel computes it.
      const sum = x0.slice(0, rows * n).map((v, i) => (residual ? v + a[i] : v));
      const want = new Float32Array(rows * n);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let i = 0; i < n; i++) ss += sum[r * n + i] ** 2;
        const scale = 1 / Math.sqrt(ss / n + eps);
        for (let i = 0; i < n; i++) want[r * n + i] = sum[r * n + i] * scale * w[i];
      }
      const got = await readF32(gpu, y, (rows + 1) * n);
      assertClose(got.subarray(0, rows * n), want, { abs: 1e-6, rel: 1e-5 }, `seed ${seed}`);
      assert.ok(got.subarray(rows * n).every(Number.isNaN), `seed ${seed}: wrote past the last row`);
      const xGot = await readF32(gpu, x, (rows + 1) * n);
      assertClose(xGot.subarray(0, rows * n), sum, { abs: 0 }, `x after the kernel, seed ${seed}`);
      assert.ok(xGot.subarray(rows * n).every(Number.isNaN), `seed ${seed}: x written past the last row`);
    });
  }
}
