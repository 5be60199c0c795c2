import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu.js';
import { SiluMul } from './silu-mul.js';
import { assertClose, freshSeed, randomF32, readF32, rng, storage } from '../test/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

test('silu(gate) * up on odd shapes, including large |gate|', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  for (const [rows, n] of [[1, 5], [3, 1001], [9, 333]]) {
    const g0 = randomF32((rows + 1) * n, rand, 12);
    g0[0] = -200;
    g0[1] = 200;
    g0.fill(NaN, rows * n);
    const u = randomF32(rows * n, rand, 3);
    const g = storage(gpu, 'gate', g0);
    const k = await SiluMul.create(gpu, g, storage(gpu, 'up', u), n);
    submitPass(gpu, 'silu_mul', (pass) => k.record(pass, rows));
    const got = await readF32(gpu, g, (rows + 1) * n);
    const want = u.map((v, i) => (g0[i] / (1 + Math.exp(-g0[i]))) * v);
    assertClose(got.subarray(0, rows * n), want, { abs: 1e-6, rel: 1e-5 }, `${rows} x ${n} seed ${seed}`);
    assert.ok(got.subarray(rows * n).every(Number.isNaN), `${rows} x ${n} seed ${seed}: wrote past the last row`);
  }
});
