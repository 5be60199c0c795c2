// The WebGPU model's own behaviour, against the reference model on a small fixture: independent
// sequences, truncation, chunked prefill, decode over split keys, device sampling, the load report,
// the memory check and bad input. An f32 KV cache and float products keep the comparison tight
// (the f16 cache and the int8 products are covered by test/webgpu-parity.test.ts).
import { test, after, before } from 'node:test';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { GGMLType } from '../gguf/ggml.js';
import { readGGUF, readTensorBytes, type GGUF } from '../gguf/gguf.js';
import { metadataEntries, writeGGUF } from '../gguf/gguf-writer.js';
import { dequantize, quantize } from '../gguf/quant.js';
import { OutOfMemoryError } from '../gpu/gpu.js';
import { ReferenceModel } from './reference.js';
import { Sampler, argmax } from './sampler.js';
import { PREFILL_CHUNK, WebGpuModel } from './webgpu-model.js';
import { fixtureModel } from '../../test/support/fixtures.js';
import { assertClose, freshSeed, rng } from '../../test/support/gpu-util.js';

const N_CTX = PREFILL_CHUNK + 100;
const TOL = { abs: 2e-4, rel: 1e-5 };

let g: GGUF;
let gpu: WebGpuModel;
let ref: ReferenceModel;
const progress: [number, number][] = [];

before(async () => {
  g = readGGUF(fixtureModel({ arch: 'llama', vocab: 'llama-spm', type: GGMLType.Q8_0, seed: 11 }));
  gpu = await WebGpuModel.load(g, { nCtx: N_CTX, nSeq: 2, device: { f16: false }, int8: false, onProgress: (a, b) => progress.push([a, b]) });
  ref = ReferenceModel.load(g, { nCtx: N_CTX, nSeq: 2 });
});

after(() => gpu?.dispose());

function tokens(n: number, rand: () => number): number[] {
  return Array.from({ length: n }, () => Math.floor(rand() * 32000));
}

async function same(seq: number, toks: number[], pos: number, what: string): Promise<Float32Array> {
  const w = await gpu.forward(seq, toks, pos);
  assertClose(w, await ref.forward(seq, toks, pos), TOL, what);
  return w;
}

test('load report and progress describe the model and its memory', () => {
  const r = gpu.report();
  const c = gpu.config;
  assert.deepEqual([r.nVocab, r.nCtx, r.nSeq, r.nEmbd, r.nLayer, r.nHead, r.nHeadKv], [c.nVocab, N_CTX, 2, c.nEmbd, c.nLayer, c.nHead, c.nHeadKv]);
  assert.equal(r.fileType, 'Q8_0');
  assert.equal(r.modelBytes, g.fileSize);
  assert.equal(r.f16, false);
  // f32 K and V per layer, sequence and position.
  assert.equal(r.vram.kv, 2 * c.nLayer * 2 * N_CTX * c.nHeadKv * c.headDim * 4);
  const tensorBytes = g.tensors.reduce((a, t) => a + t.nbytes, 0);
  assert.ok(r.vram.weights >= tensorBytes && r.vram.weights < tensorBytes * 1.1, `weights ${r.vram.weights} for ${tensorBytes} bytes of tensors`);
  assert.ok(r.vram.scratch > 0 && r.loadMs > 0);
  assert.deepEqual(gpu.stats(), { device: r.device, loadMs: r.loadMs, weightBytes: r.vram.weights, kvBytes: r.vram.kv, scratchBytes: r.vram.scratch });
  assert.ok(progress.length > 2);
  assert.ok(progress.every(([a, b], i) => b === tensorBytes && a <= b && (i === 0 || a > progress[i - 1][0])));
  assert.equal(progress[progress.length - 1][0], tensorBytes);
});

test('sequences are independent, and a smaller position truncates', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const a = tokens(10, rand), b = tokens(7, rand);
  await same(0, a, 0, `seq 0 prompt, seed ${seed}`);
  await same(1, b, 0, `seq 1 prompt, seed ${seed}`);
  await same(0, tokens(1, rand), 10, `seq 0 decode after seq 1 ran, seed ${seed}`);
  await same(1, tokens(2, rand), 7, `seq 1 decode, seed ${seed}`);
  // Rewind seq 0 to 4 tokens and continue differently.
  await same(0, tokens(3, rand), 4, `seq 0 truncated to 4, seed ${seed}`);
  await same(0, tokens(1, rand), 7, `seq 0 after truncation, seed ${seed}`);
  assert.equal(gpu.seqLength(0), 8);
  assert.equal(gpu.seqLength(1), 9);
});

test('prompts longer than a chunk, then decode over split keys', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  await same(1, tokens(PREFILL_CHUNK + 37, rand), 0, `long prompt, seed ${seed}`);
  await same(1, tokens(1, rand), PREFILL_CHUNK + 37, `decode at ${PREFILL_CHUNK + 37}, seed ${seed}`);
  await same(1, tokens(5, rand), PREFILL_CHUNK + 38, `5-token step, seed ${seed}`);
});

test('greedy on the device picks what the host sampler picks from the same logits', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const host = new Sampler({ temperature: 0 });
  for (let i = 0; i < 3; i++) {
    const prompt = tokens(6, rand);
    const logits = await gpu.forward(0, prompt, 0);
    assert.equal(await gpu.forwardGreedy(0, prompt, 0), host.sample(logits, prompt), `prompt ${i}, seed ${seed}`);
  }
});

test('the GPU kernel family (subgroup matvec with norms, residual adds and SwiGLU folded in, flash attention with RoPE folded in) matches the reference', async () => {
  const m = await WebGpuModel.load(g, { nCtx: N_CTX, nSeq: 1, device: { f16: false }, kernels: 'gpu', int8: false });
  try {
    assert.equal(m.report().kernels, 'gpu');
    const seed = freshSeed();
    const rand = rng(seed);
    const prompt = tokens(13, rand);
    assertClose(await m.forward(0, prompt, 0), await ref.forward(0, prompt, 0), TOL, `prompt, seed ${seed}`);
    for (let pos = prompt.length; pos < prompt.length + 3; pos++) {
      const t = tokens(1, rand);
      if (pos === prompt.length + 2) m.profile(true);
      assertClose(await m.forward(0, t, pos), await ref.forward(0, t, pos), TOL, `decode at ${pos}, seed ${seed}`);
    }
    // The decode steps above were the folded ones: no norm, SiLU or RoPE dispatches.
    const L = m.config.nLayer;
    assert.deepEqual(Object.fromEntries((await m.takeProfile()).map((e) => [e.kernel, e.calls])), {
      embed: 1, 'matmul qkv': L, attention: L, 'matmul wo': L, 'matmul gate+up': L, 'matmul down': L, 'matmul output': 1,
    });
    // A short append runs the decode attention (RoPE folded in) with the unfolded products.
    const append = tokens(5, rand), at = prompt.length + 3;
    assertClose(await m.forward(0, append, at), await ref.forward(0, append, at), TOL, `5 tokens at ${at}, seed ${seed}`);
  } finally {
    m.dispose();
  }
});

test('greedy steps queued ahead give the same tokens; a step the caller does not take is dropped', async () => {
  const m = await WebGpuModel.load(g, { nCtx: N_CTX, nSeq: 2, device: { f16: false }, int8: false, ahead: true });
  try {
    const seed = freshSeed();
    const rand = rng(seed);
    const prompt = tokens(5, rand);
    // `gpu` runs the same kernels one step at a time: the ids must be identical.
    let want = await gpu.forwardGreedy(0, prompt, 0);
    let got = await m.forwardGreedy(0, prompt, 0);
    let pos = prompt.length;
    for (let i = 0; i < 6; i++, pos++) {
      assert.equal(got, want, `step ${i}, seed ${seed}`);
      assert.equal(m.seqLength(0), pos, 'the step queued ahead is not counted');
      want = await gpu.forwardGreedy(0, [want], pos);
      got = await m.forwardGreedy(0, [got], pos);
    }
    assert.equal(got, want, `last step, seed ${seed}`);
    // Another sequence takes over: the step queued for sequence 0 is dropped.
    const other = tokens(3, rand);
    assertClose(await m.forward(1, other, 0), await ref.forward(1, other, 0), TOL, `other sequence, seed ${seed}`);
    await assert.rejects(m.forward(0, [1], pos + 1), /position \d+ is outside/, 'the dropped step is not in the cache');
    // Sequence 0 goes on with a token other than the one the device fed, at the queued position.
    let t = argmax(await ref.forward(0, prompt, 0));
    for (let p = prompt.length; p < pos; p++) t = argmax(await ref.forward(0, [t], p));
    const unlike = (got + 1) % gpu.config.nVocab;
    want = await gpu.forwardGreedy(0, [unlike], pos);
    assert.equal(await m.forwardGreedy(0, [unlike], pos), want, `a token unlike the fed one, seed ${seed}`);
    assertClose(await m.forward(0, [7], pos + 1), await ref.forward(0, [unlike, 7], pos), TOL, `after the fed token was refused, seed ${seed}`);
    // Disposed with a step queued ahead: calls reject, none hangs.
    const id = await m.forwardGreedy(0, [4], 2);
    const pending = m.forwardGreedy(0, [id], 3);
    m.dispose();
    await assert.rejects(pending);
    await assert.rejects(m.forwardGreedy(0, [id], 3), /disposed/);
  } finally {
    m.dispose();
  }
});

test('profiling times every kernel of a step and changes no result', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const prompt = tokens(9, rand);
  const plain = await gpu.forward(0, prompt, 0);
  const next = await gpu.forward(0, [3], prompt.length);
  gpu.profile(true);
  try {
    assert.deepEqual(await gpu.forward(0, prompt, 0), plain, `seed ${seed}`);
    assert.deepEqual(await gpu.forward(0, [3], prompt.length), next, `seed ${seed}`);
    const p = await gpu.takeProfile();
    const L = gpu.config.nLayer;
    const calls = Object.fromEntries(p.map((e) => [e.kernel, e.calls]));
    // Two steps: each layer's kernels, two norms a layer plus the first, the output product; the GPU
    // kernels fold a decode step's norms, SiLU * up and RoPE into its products and attention.
    const steps = gpu.report().kernels === 'gpu' ? 1 : 2;
    assert.deepEqual(calls, {
      embed: 2, rmsnorm: steps * (2 * L + 1), 'matmul qkv': 2 * L, rope: steps * L, attention: 2 * L, 'matmul wo': 2 * L,
      'matmul gate+up': 2 * L, 'silu-mul': steps * L, 'matmul down': 2 * L, 'matmul output': 2,
    });
    // Every pass took time; which kernel is slower depends on the adapter and its load, so no order.
    assert.ok(p.every((e) => e.ms > 0), JSON.stringify(p));
  } finally {
    gpu.profile(false);
  }
  await assert.rejects(async () => gpu.takeProfile(), /profiling is off/);
});

test('bad input is refused with a clear error, and the model keeps working', async () => {
  const n = gpu.config.nVocab;
  await assert.rejects(gpu.forward(0, [n], 0), /token 32000 is outside the vocabulary 0\.\.31999/);
  await assert.rejects(gpu.forward(0, [-1], 0), /token -1 is outside the vocabulary/);
  await assert.rejects(gpu.forward(2, [1], 0), /sequence 2 is outside 0\.\.1/);
  await assert.rejects(gpu.forward(0, [], 0), /no tokens/);
  await assert.rejects(gpu.forward(0, [1], gpu.seqLength(0) + 1), /position \d+ is outside 0\.\.\d+/);
  await assert.rejects(gpu.forward(0, new Array(N_CTX + 1).fill(1), 0), /exceed the context of/);
  // Concurrent calls run one after the other.
  const [x, y] = await Promise.all([gpu.forward(0, [5, 6], 0), ref.forward(0, [5, 6], 0)]);
  assertClose(x, y, TOL, 'after errors');
});

test('projections whose weights differ in type run as separate matmuls', async () => {
  // The fixture with V and up stored as F16 (as mixed quantizations store some matrices).
  const dir = resolve(process.cwd(), '.cache/fixtures');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `mixed-${process.pid}.gguf`);
  writeGGUF(path, {
    metadata: metadataEntries(g),
    tensors: g.tensors.map((t) => {
      const data = readTensorBytes(g, t);
      if (!/attn_v|ffn_up/.test(t.name)) return { name: t.name, dims: t.dims, type: t.type, data };
      return { name: t.name, dims: t.dims, type: GGMLType.F16, data: quantize(GGMLType.F16, dequantize(t.type, data, t.nelements)) };
    }),
  });
  const mixed = readGGUF(path);
  const m = await WebGpuModel.load(mixed, { nCtx: 32, device: { f16: false }, int8: false });
  try {
    const r = ReferenceModel.load(mixed, { nCtx: 32 });
    const seed = freshSeed();
    const toks = tokens(9, rng(seed));
    assertClose(await m.forward(0, toks, 0), await r.forward(0, toks, 0), TOL, `prompt, seed ${seed}`);
    assertClose(await m.forward(0, [7], 9), await r.forward(0, [7], 9), TOL, `decode, seed ${seed}`);
  } finally {
    m.dispose();
    rmSync(path);
  }
});

test('a model over the memory limit is refused before allocating', async () => {
  await assert.rejects(WebGpuModel.load(g, { nCtx: 64, maxDeviceBytes: 1 << 20 }), (e: unknown) => {
    assert.ok(e instanceof OutOfMemoryError);
    assert.match(e.message, /needs \d+\.\d\d GiB of device memory \(weights .*, KV cache .* for 1 x 64 positions, scratch .*\) but 0\.00 GiB is available/);
    assert.equal(e.available, 1 << 20);
    assert.ok(e.needed > g.tensors.reduce((a, t) => a + t.nbytes, 0));
    return true;
  });
});

test('a context that does not fit is refused with the largest one that does, and that one loads', async () => {
  const opts = { device: { f16: false }, int8: false };
  let budget = 0, most = 0;
  await assert.rejects(WebGpuModel.load(g, { ...opts, nCtx: 256, maxDeviceBytes: 0 }), (e: unknown) => {
    assert.ok(e instanceof OutOfMemoryError);
    budget = e.needed - 1;
    return true;
  });
  await assert.rejects(WebGpuModel.load(g, { ...opts, nCtx: 256, maxDeviceBytes: budget }), (e: unknown) => {
    assert.ok(e instanceof OutOfMemoryError);
    most = Number(/the largest context that fits is (\d+) positions/.exec(e.message)?.[1]);
    return true;
  });
  assert.ok(most > 0 && most < 256, `largest context ${most}`);
  const m = await WebGpuModel.load(g, { ...opts, nCtx: most, maxDeviceBytes: budget });
  m.dispose();
  await assert.rejects(WebGpuModel.load(g, { ...opts, nCtx: most + 1, maxDeviceBytes: budget }), OutOfMemoryError);
});

test('a disposed model rejects calls', async () => {
  const m = await WebGpuModel.load(g, { nCtx: 16 });
  const pending = m.forward(0, [1, 2], 0);
  m.dispose();
  await assert.rejects(pending);
  await assert.rejects(m.forward(0, [1], 0), /disposed/);
});
