import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu/gpu.js';
import type { ModelConfig, RopeScaling } from '../engine/gguf/hparams.js';
import { applyRope, ropeAngles } from '../engine/gguf/rope.js';
import { f16ToF32 } from '../engine/gguf/quant.js';
import { Rope, RopeParams, ropeTable } from './rope.js';
import { kvElementBytes } from './kv.js';
import { assertClose, freshSeed, poisoned, randomF32, readF32, rng, storage } from '../test/support/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

const none: RopeScaling = { type: 'none', factor: 1, origCtx: 4096, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1 };
const cases: { name: string; neox: boolean; base: number; scaling: RopeScaling; freqFactors?: boolean }[] = [
  { name: 'normal', neox: false, base: 10000, scaling: none },
  { name: 'neox', neox: true, base: 1000000, scaling: none },
  { name: 'normal, linear x4', neox: false, base: 500000, scaling: { ...none, type: 'linear', factor: 4 } },
  { name: 'neox, YaRN x8', neox: true, base: 10000, scaling: { type: 'yarn', factor: 8, origCtx: 64, extFactor: 1, attnFactor: 0.9, betaFast: 32, betaSlow: 1 } },
  { name: 'normal, frequency factors', neox: false, base: 10000, scaling: none, freqFactors: true },
];

// Both cache types where the device has shader-f16.
const kvTypes = gpu.f16 ? [true, false] : [false];
for (const cs of cases) for (const f16 of kvTypes) {
  test(`rope ${cs.name}, ${f16 ? 'f16' : 'f32'} cache: Q in place and K/V into the cache match the reference`, async () => {
    const seed = freshSeed();
    const rand = rng(seed);
    const [nHead, nKv, D, ctx] = [6, 2, 12, 300];
    const c = { nHead, nHeadKv: nKv, headDim: D, nRot: D, ropeNeox: cs.neox, ropeFreqBase: cs.base, ropeScaling: cs.scaling } as ModelConfig;
    const ff = cs.freqFactors ? Float32Array.from({ length: D / 2 }, () => 1 + rand() * 8) : undefined;
    const params = new RopeParams(gpu, c, ctx, f16);
    const kvBytes = kvElementBytes(f16);
    const angles = storage(gpu, 'angles', ropeTable(c, ctx, ff));
    const kCache = poisoned(gpu, 'k cache', nKv * ctx * D * kvBytes);
    const vCache = poisoned(gpu, 'v cache', nKv * ctx * D * kvBytes);
    // Two steps: a prompt then a short append, so positions come from the uniform.
    for (const [T, pos] of [[5, 0], [3, 200 + Math.floor(rand() * 90)]]) {
      const row = (nHead + 2 * nKv) * D;
      const qkv0 = randomF32(T * row, rand, 2);
      const qkv = storage(gpu, 'qkv', qkv0);
      const rope = await Rope.create(gpu, params, { qkv, angles, kCache, vCache });
      params.setPosition(pos);
      submitPass(gpu, 'rope', (pass) => rope.record(pass, T));
      // Expected: Q heads rotated in place (K and V untouched), rotated K and plain V in the cache.
      const qkvWant = qkv0.slice();
      const kWant = new Float32Array(T * nKv * D), v0 = new Float32Array(T * nKv * D);
      for (let t = 0; t < T; t++) {
        const a = ropeAngles(c, pos + t, ff);
        for (let h = 0; h < nHead; h++) applyRope(qkvWant, t * row + h * D, cs.neox, a.cos, a.sin);
        kWant.set(qkv0.subarray(t * row + nHead * D, t * row + (nHead + nKv) * D), t * nKv * D);
        v0.set(qkv0.subarray(t * row + (nHead + nKv) * D, (t + 1) * row), t * nKv * D);
        for (let h = 0; h < nKv; h++) applyRope(kWant, (t * nKv + h) * D, cs.neox, a.cos, a.sin);
      }
      assertClose(await readF32(gpu, qkv, qkv0.length), qkvWant, { abs: 2e-6, rel: 1e-5 }, `qkv, seed ${seed}`);
      for (const [cache, want, what] of [[kCache, kWant, 'k'], [vCache, v0, 'v']] as const) {
        const bytes = await gpu.read(cache, 0, nKv * ctx * D * kvBytes);
        const all = kvBytes === 2 ? Float32Array.from(new Uint16Array(bytes), f16ToF32) : new Float32Array(bytes);
        const got = new Float32Array(T * nKv * D);
        for (let t = 0; t < T; t++) for (let h = 0; h < nKv; h++) got.set(all.subarray((h * ctx + pos + t) * D, (h * ctx + pos + t + 1) * D), (t * nKv + h) * D);
        // f16 keeps 11 significant bits.
        assertClose(got, want, kvBytes === 2 ? { abs: 1e-6, rel: 1e-3 } : { abs: 2e-6, rel: 1e-5 }, `${what} cache, seed ${seed}`);
        if (pos === 0) {
          const untouched = all.filter((_, i) => Math.floor(i / D) % ctx >= T);
          assert.ok(untouched.every(Number.isNaN), `${what} cache, seed ${seed}: wrote outside positions 0..${T - 1}`);
        }
      }
    }
  });
}
