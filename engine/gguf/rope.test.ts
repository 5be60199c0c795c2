import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from './hparams.js';
import { applyRope, ropeAngles, yarnCorrDims } from './rope.js';

function config(over: Partial<ModelConfig> = {}, scaling: Partial<ModelConfig['ropeScaling']> = {}): ModelConfig {
  return {
    arch: 'llama', name: '', nVocab: 10, nCtxTrain: 4096, nEmbd: 64, nLayer: 1, nHead: 1, nHeadKv: 1, headDim: 64, nFf: 64,
    rmsEps: 1e-6, attnScale: 0.125, ropeNeox: false, nRot: 64, ropeFreqBase: 10000, ropeFreqs: false,
    bias: { qkv: false, attnOut: false, ffn: false }, tiedEmbeddings: true,
    ...over,
    ropeScaling: { type: 'none', factor: 1, origCtx: 4096, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1, ...scaling },
  };
}

test('rope angles: plain, linear, frequency factors', () => {
  const c = config();
  const { cos, sin } = ropeAngles(c, 7);
  for (let i = 0; i < 32; i++) {
    const theta = 7 * Math.pow(10000, -2 * i / 64);
    assert.ok(Math.abs(cos[i] - Math.cos(theta)) < 1e-12 && Math.abs(sin[i] - Math.sin(theta)) < 1e-12);
  }
  const lin = ropeAngles(config({}, { type: 'linear', factor: 4 }), 28);
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(lin.cos[i] - cos[i]) < 1e-12, 'linear x4 at 28 equals plain at 7');
  const ff = new Float32Array(32).fill(2);
  const half = ropeAngles(c, 14, ff);
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(half.sin[i] - sin[i]) < 1e-12, 'factor 2 at 14 equals plain at 7');
});

test('YaRN: extrapolates fast pairs, interpolates slow ones, ramps between, scales magnitude', () => {
  const factor = 8;
  const c = config({}, { type: 'yarn', factor, origCtx: 2048, extFactor: 1 });
  const [lo, hi] = yarnCorrDims(64, 2048, 10000, 32, 1);
  // Hand-computed from ggml_rope_yarn_corr_dim: 64 ln(2048 / (2 pi beta)) / (2 ln 10000).
  assert.deepEqual([lo, hi], [Math.floor(64 * Math.log(2048 / (64 * Math.PI)) / (2 * Math.log(10000))), Math.ceil(64 * Math.log(2048 / (2 * Math.PI)) / (2 * Math.log(10000)))]);
  assert.ok(lo > 0 && hi < 31 && lo < hi);
  const pos = 1000;
  const { cos, sin } = ropeAngles(c, pos);
  const mscale = 1 + 0.1 * Math.log(factor);
  let prevMix = 1;
  for (let i = 0; i < 32; i++) {
    assert.ok(Math.abs(Math.hypot(cos[i], sin[i]) - mscale) < 1e-12, 'magnitude is 1 + 0.1 ln(factor)');
    const extrap = pos * Math.pow(10000, -2 * i / 64);
    const interp = extrap / factor;
    const angle = Math.atan2(sin[i], cos[i]);
    const near = (a: number) => Math.abs(Math.atan2(Math.sin(angle - a), Math.cos(angle - a))) < 1e-9;
    if (i <= lo) assert.ok(near(extrap), `pair ${i} extrapolates`);
    if (i >= hi) assert.ok(near(interp), `pair ${i} interpolates`);
    if (i > lo && i < hi) {
      const mix = 1 - (i - lo) / (hi - lo);
      assert.ok(near(interp * (1 - mix) + extrap * mix), `pair ${i} ramps`);
      assert.ok(mix < prevMix);
      prevMix = mix;
    }
  }
});

test('rope is a rotation that depends only on relative position, in both pairings', () => {
  for (const ropeNeox of [false, true]) {
    for (const scaling of [{}, { type: 'linear' as const, factor: 2 }, { type: 'yarn' as const, factor: 4, extFactor: 1, origCtx: 512 }]) {
      const c = config({ ropeNeox }, scaling);
      const q = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.3 + 0.2));
      const k = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i * 0.7 - 0.5));
      const rot = (x: Float32Array, p: number) => {
        const y = x.slice();
        const a = ropeAngles(c, p);
        applyRope(y, 0, c.ropeNeox, a.cos, a.sin);
        return y;
      };
      const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
      const d1 = dot(rot(q, 10), rot(k, 3)), d2 = dot(rot(q, 47), rot(k, 40));
      assert.ok(Math.abs(d1 - d2) < 1e-3 * Math.abs(d1) + 1e-4, `${ropeNeox} ${JSON.stringify(scaling)}: ${d1} vs ${d2}`);
      const m = Math.hypot(...ropeAngles(c, 5).cos.slice(0, 1), ...ropeAngles(c, 5).sin.slice(0, 1));
      assert.ok(Math.abs(Math.hypot(...rot(q, 5)) - m * Math.hypot(...q)) < 1e-4, 'norm scales by the magnitude factor');
    }
  }
  // The pairing itself: normal mode rotates (x0, x1); NEOX rotates (x0, x32).
  const x = new Float32Array(64);
  x[0] = 1;
  const a = ropeAngles(config(), 1);
  const norm = x.slice();
  applyRope(norm, 0, false, a.cos, a.sin);
  assert.ok(Math.abs(norm[1] - Math.sin(1)) < 1e-6 && norm[32] === 0);
  const neox = x.slice();
  applyRope(neox, 0, true, a.cos, a.sin);
  assert.ok(Math.abs(neox[32] - Math.sin(1)) < 1e-6 && neox[1] === 0);
});
