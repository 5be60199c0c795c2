import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu.js';
import { RmsNorm } from './rmsnorm.js';
import { assertClose, freshSeed, poisoned, randomF32, readF32, rng, storage } from '../test/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

for (const [rows, n] of [[1, 7], [5, 1000], [3, 4097]]) {
  test(`rmsnorm ${rows} x ${n} matches the float64 definition`, async () => {
    const seed = freshSeed();
    const rand = rng(seed);
    const eps = 1e-6 * (1 + rand() * 10);
    const x = randomF32(rows * n, rand, 3);
    const w = randomF32(n, rand, 2);
    const y = poisoned(gpu, 'y', (rows + 1) * n * 4);
    const k = await RmsNorm.create(gpu, { x: storage(gpu, 'x', x), w: storage(gpu, 'w', w), y }, n, eps);
    submitPass(gpu, 'rmsnorm', (pass) => k.record(pass, rows));
    const got = await readF32(gpu, y, (rows + 1) * n);
    const want = new Float32Array(rows * n);
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < n; i++) ss += x[r * n + i] ** 2;
      const scale = 1 / Math.sqrt(ss / n + eps);
      for (let i = 0; i < n; i++) want[r * n + i] = x[r * n + i] * scale * w[i];
    }
    assertClose(got.subarray(0, rows * n), want, { abs: 1e-6, rel: 1e-5 }, `seed ${seed}`);
    assert.ok(got.subarray(rows * n).every(Number.isNaN), `seed ${seed}: wrote past the last row`);
  });
}
