import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu/gpu.js';
import { SiluMul } from './silu-mul.js';
import { assertClose, freshSeed, poisoned, randomF32, readF32, rng, storage } from '../test/support/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

test('silu(gate) * up on odd shapes, including large |gate|', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  for (const [rows, n] of [[1, 5], [3, 1001], [9, 333]]) {
    const gu = randomF32(rows * 2 * n, rand, 12);
    gu[0] = -200;
    gu[1] = 200;
    const out = poisoned(gpu, 'out', (rows + 1) * n * 4);
    const k = await SiluMul.create(gpu, storage(gpu, 'gate|up', gu), out, n);
    submitPass(gpu, 'silu_mul', (pass) => k.record(pass, rows));
    const got = await readF32(gpu, out, (rows + 1) * n);
    const want = new Float32Array(rows * n);
    for (let t = 0; t < rows; t++) {
      for (let i = 0; i < n; i++) {
        const g = gu[t * 2 * n + i];
        want[t * n + i] = (g / (1 + Math.exp(-g))) * gu[(t * 2 + 1) * n + i];
      }
    }
    assertClose(got.subarray(0, rows * n), want, { abs: 1e-6, rel: 1e-5 }, `${rows} x ${n} seed ${seed}`);
    assert.ok(got.subarray(rows * n).every(Number.isNaN), `${rows} x ${n} seed ${seed}: wrote past the last row`);
  }
});
