import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu/gpu.js';
import { f16ToF32, f32ToF16 } from '../engine/gguf/quant.js';
import { Attention, AttentionParams, attentionPartialBytes, maxDecodeTokens, type AttentionBuffers, type AttentionShape } from './attention.js';
import { kvElementBytes } from './kv.js';
import { assertClose, freshSeed, poisoned, randomF32, readF32, rng, storage } from '../test/support/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

/** The cache as the kernel sees it: f16-rounded when the cache is f16. */
function cacheData(values: Float32Array, f16: boolean): { bytes: ArrayBufferView; values: Float32Array } {
  if (kvElementBytes(f16) === 4) return { bytes: values, values };
  const h = Uint16Array.from(values, f32ToF16);
  return { bytes: h, values: Float32Array.from(h, f16ToF32) };
}

/** float64 causal softmax(scale * q.k) v, as the reference model computes it. */
function reference(s: AttentionShape, q: Float32Array, k: Float32Array, v: Float32Array, nTok: number, pos: number): Float32Array {
  const D = s.headDim, g = s.nHead / s.nHeadKv;
  const out = new Float32Array(nTok * s.nHead * D);
  for (let t = 0; t < nTok; t++) {
    for (let h = 0; h < s.nHead; h++) {
      const qo = (t * s.nHead + h) * D, hk = Math.floor(h / g);
      const n = pos + t + 1;
      const sc = new Float64Array(n);
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += q[qo + i] * k[(hk * s.ctx + j) * D + i];
        sc[j] = dot * s.scale;
        max = Math.max(max, sc[j]);
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += sc[j] = Math.exp(sc[j] - max);
      for (let i = 0; i < D; i++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += sc[j] * v[(hk * s.ctx + j) * D + i];
        out[qo + i] = acc / sum;
      }
    }
  }
  return out;
}

/** Cache positions of every case. */
const CTX = 800;

interface Case { nHead: number; nHeadKv: number; headDim: number; steps: number[][] }

/**
 * An Attention over a random CTX-position cache (as the kernel sees it) with NaN-poisoned outputs and
 * partials, and a qkv buffer for the case's largest step.
 */
async function setUp(cs: Case, f16: boolean, cpu: boolean, rand: () => number, rope?: AttentionBuffers['rope']) {
  const ctx = CTX, D = cs.headDim;
  const shape: AttentionShape = { nHead: cs.nHead, nHeadKv: cs.nHeadKv, headDim: D, ctx, scale: 1 / Math.sqrt(D) };
  const k = cacheData(randomF32(cs.nHeadKv * ctx * D, rand, 2), f16);
  const v = cacheData(randomF32(cs.nHeadKv * ctx * D, rand, 2), f16);
  const params = new AttentionParams(gpu, shape, f16, cpu);
  const part = attentionPartialBytes(shape, cpu);
  const maxTok = Math.max(...cs.steps.map((s) => s[0]));
  // Each token's row: Q heads, then K and V heads.
  const row = (cs.nHead + 2 * cs.nHeadKv) * D;
  const qkv = storage(gpu, 'qkv', new Float32Array(maxTok * row));
  const out = poisoned(gpu, 'out', (maxTok + 1) * cs.nHead * D * 4);
  const kCache = storage(gpu, 'k', k.bytes), vCache = storage(gpu, 'v', v.bytes);
  const attn = await Attention.create(gpu, params, {
    qkv, kCache, vCache, out, partO: poisoned(gpu, 'partial o', part.o), partML: poisoned(gpu, 'partial ml', part.ml), rope,
  });
  return { ctx, D, shape, k, v, params, maxTok, row, qkv, out, kCache, vCache, attn };
}

const cases = [
  { name: 'prefill from 0, GQA 3', nHead: 6, nHeadKv: 2, headDim: 20, steps: [[37, 0]] },
  { name: 'prefill chunk after a prefix, MHA', nHead: 3, nHeadKv: 3, headDim: 64, steps: [[21, 150]] },
  { name: 'prefill, head dim 128, GQA 4', nHead: 8, nHeadKv: 2, headDim: 128, steps: [[40, 70], [9, 110]] },
  { name: 'decode over split keys, GQA 7', nHead: 14, nHeadKv: 2, headDim: 64, steps: [[1, 700], [1, 5], [1, 129]] },
  { name: 'short multi-token steps over split keys, GQA 4', nHead: 8, nHeadKv: 2, headDim: 128, steps: [[3, 300], [8, 517]] },
  { name: 'decode from the first position, MHA, head dim 20', nHead: 3, nHeadKv: 3, headDim: 20, steps: [[1, 0], [2, 33], [5, 64]] },
  { name: 'appends of up to 32 tokens, GQA 7', nHead: 14, nHeadKv: 2, headDim: 64, steps: [[32, 0], [13, 500], [32, 700]] },
];

// Both cache types where the device has shader-f16, and both decode kernels on any device.
const kvTypes = gpu.f16 ? [true, false] : [false];
for (const cs of cases) for (const f16 of kvTypes) for (const cpu of cs.steps.every(([n]) => n <= maxDecodeTokens(true)) ? [false, true] : [false]) {
  test(`attention ${cs.name}, ${f16 ? 'f16' : 'f32'} cache${cpu ? ', CPU decode kernel' : ''}, matches float64`, async () => {
    const seed = freshSeed();
    const rand = rng(seed);
    // K and V in the step's rows are garbage here: the kernels read them from the cache.
    const { D, shape, k, v, params, maxTok, row, qkv, out, attn } = await setUp(cs, f16, cpu, rand);
    for (const [nTok, pos] of cs.steps) {
      // Large scores make the online softmax's rescaling matter.
      const qkv0 = randomF32(nTok * row, rand, 3);
      gpu.write(qkv, qkv0);
      const q0 = new Float32Array(nTok * cs.nHead * D);
      for (let t = 0; t < nTok; t++) q0.set(qkv0.subarray(t * row, t * row + cs.nHead * D), t * cs.nHead * D);
      const plan = params.plan(nTok, pos);
      submitPass(gpu, 'attention', (pass) => attn.record(pass, plan));
      const got = await readF32(gpu, out, (maxTok + 1) * cs.nHead * D);
      const want = reference(shape, q0, k.values, v.values, nTok, pos);
      assertClose(got.subarray(0, want.length), want, { abs: 3e-6, rel: 3e-6 }, `${nTok} tokens at ${pos} (${plan.nSplits} splits), seed ${seed}`);
      assert.ok(got.subarray(maxTok * cs.nHead * D).every(Number.isNaN), `seed ${seed}: wrote past the last row`);
    }
  });
}

/** float64 RoPE of D values at x[off..] with the f32 (cos, sin) table's row for `pos`, as engine/model.ts's applyRope. */
function rope(x: Float32Array, off: number, D: number, neox: boolean, angles: Float32Array, pos: number): Float64Array {
  const out = Float64Array.from(x.subarray(off, off + D));
  for (let i = 0; i < D / 2; i++) {
    const [a, b] = neox ? [i, i + D / 2] : [2 * i, 2 * i + 1];
    const c = angles[(pos * D / 2 + i) * 2], s = angles[(pos * D / 2 + i) * 2 + 1];
    out[a] = x[off + a] * c - x[off + b] * s;
    out[b] = x[off + a] * s + x[off + b] * c;
  }
  return out;
}

const ropeCases = [
  { name: 'decode over split keys, GQA 7, NeoX pairs', nHead: 14, nHeadKv: 2, headDim: 64, neox: true, steps: [[1, 700], [1, 0], [1, 129]] },
  { name: 'multi-token steps over split keys and row tiles, GQA 4, head dim 128', nHead: 8, nHeadKv: 2, headDim: 128, neox: true, steps: [[3, 300], [8, 517], [8, 0]] },
  { name: 'adjacent pairs, MHA, head dim 20', nHead: 3, nHeadKv: 3, headDim: 20, neox: false, steps: [[1, 0], [2, 33], [5, 64]] },
];

for (const cs of ropeCases) for (const f16 of kvTypes) {
  test(`attention with RoPE folded in: ${cs.name}, ${f16 ? 'f16' : 'f32'} cache: Q and K rotated, K and V stored, output matches float64`, async () => {
    const seed = freshSeed();
    const rand = rng(seed);
    const half = cs.headDim / 2;
    const angles = new Float32Array(CTX * half * 2);
    for (let i = 0; i < CTX * half; i++) {
      const a = rand() * 2 * Math.PI;
      angles[2 * i] = Math.cos(a);
      angles[2 * i + 1] = Math.sin(a);
    }
    const { ctx, D, shape, k, v, params, maxTok, row, qkv, out, kCache, vCache, attn } =
      await setUp(cs, f16, false, rand, { angles: storage(gpu, 'angles', angles), neox: cs.neox });
    assert.ok(attn.ropes(maxTok));
    const readCache = async (b: GPUBuffer) => {
      const n = cs.nHeadKv * ctx * D;
      if (!f16) return readF32(gpu, b, n);
      const bits = new Uint16Array((await readF32(gpu, b, n / 2)).buffer);
      return Float32Array.from(bits, f16ToF32);
    };
    let kBefore = k.values, vBefore = v.values;
    for (const [nTok, pos] of cs.steps) {
      const qkv0 = randomF32(nTok * row, rand, 3);
      gpu.write(qkv, qkv0);
      const plan = params.plan(nTok, pos);
      submitPass(gpu, 'attention', (pass) => attn.record(pass, plan));
      const [kAfter, vAfter] = [await readCache(kCache), await readCache(vCache)];
      const what = `${nTok} tokens at ${pos} (${plan.nSplits} splits), seed ${seed}`;
      // The step's rows: K rotated, V as is, each rounded to the cache type; every other row untouched.
      const tol = f16 ? { abs: 1e-3, rel: 1e-3 } : { abs: 1e-6, rel: 1e-6 };
      for (let hk = 0; hk < cs.nHeadKv; hk++) {
        for (let t = 0; t < nTok; t++) {
          const at = (hk * ctx + pos + t) * D;
          const kRow = (t * (cs.nHead + 2 * cs.nHeadKv) + cs.nHead + hk) * D;
          assertClose(kAfter.subarray(at, at + D), Float32Array.from(rope(qkv0, kRow, D, cs.neox, angles, pos + t)), tol, `K of token ${t}, kv head ${hk}: ${what}`);
          assertClose(vAfter.subarray(at, at + D), qkv0.subarray(kRow + cs.nHeadKv * D, kRow + (cs.nHeadKv + 1) * D), tol, `V of token ${t}, kv head ${hk}: ${what}`);
          kBefore.set(kAfter.subarray(at, at + D), at);
          vBefore.set(vAfter.subarray(at, at + D), at);
        }
      }
      assert.deepEqual([kAfter, vAfter], [kBefore, vBefore], `rows outside the step changed: ${what}`);
      kBefore = kAfter;
      vBefore = vAfter;
      // Attention of the rotated queries over the cache as the kernel stored it.
      const q0 = new Float32Array(nTok * cs.nHead * D);
      for (let t = 0; t < nTok; t++) for (let h = 0; h < cs.nHead; h++) q0.set(rope(qkv0, t * row + h * D, D, cs.neox, angles, pos + t), (t * cs.nHead + h) * D);
      const got = await readF32(gpu, out, (maxTok + 1) * cs.nHead * D);
      const want = reference(shape, q0, kAfter, vAfter, nTok, pos);
      assertClose(got.subarray(0, want.length), want, { abs: 3e-6, rel: 3e-6 }, what);
      assert.ok(got.subarray(maxTok * cs.nHead * D).every(Number.isNaN), `seed ${seed}: wrote past the last row`);
    }
  });
}

test('RoPE is not folded into the CPU decode kernel, nor into NeoX pairs that straddle a vec4', async () => {
  const shape = (headDim: number): AttentionShape => ({ nHead: 2, nHeadKv: 2, headDim, ctx: 16, scale: 1 });
  const make = async (headDim: number, cpu: boolean, neox: boolean) => {
    const s = shape(headDim), part = attentionPartialBytes(s, cpu);
    const buf = (n: number) => gpu.buffer('buf', Math.max(16, n), 'scratch');
    return Attention.create(gpu, new AttentionParams(gpu, s, false, cpu), {
      qkv: buf(6 * headDim * 4), kCache: buf(2 * 16 * headDim * 4), vCache: buf(2 * 16 * headDim * 4), out: buf(2 * headDim * 4),
      partO: buf(part.o), partML: buf(part.ml), rope: { angles: buf(16 * headDim * 4), neox },
    });
  };
  assert.equal((await make(64, false, true)).ropes(1), true);
  assert.equal((await make(64, false, true)).ropes(maxDecodeTokens(false) + 1), false, 'prefill steps run Rope');
  assert.equal((await make(64, true, true)).ropes(1), false);
  assert.equal((await make(20, false, true)).ropes(1), false);
  assert.equal((await make(20, false, false)).ropes(1), true);
});
