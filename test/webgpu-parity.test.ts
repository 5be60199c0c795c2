// Parity of the WebGPU model with the TypeScript reference (logits at every position of a prompt
// and of greedy steps, on fixtures of both architectures in every weight type) and with llama.cpp
// (32 greedy tokens, free-running on the device, on the Q8_0 and F16 fixtures; agreement on the
// 4-bit ones is reported). The fixtures are test/parity-cases.ts's, shared with test/parity.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { getLlama, type Llama, type Token } from 'node-llama-cpp';
import { GGMLType, typeName } from '../engine/gguf/ggml.js';
import { readGGUF } from '../engine/gguf/gguf.js';
import { Gpu } from '../engine/gpu/gpu.js';
import { INT8_LAYOUTS } from '../engine/gpu/gpu-tensor.js';
import { kvF16 } from '../kernels/kv.js';
import { ReferenceModel } from '../engine/model/reference.js';
import { WebGpuModel } from '../engine/model/webgpu-model.js';
import { fixtureModel } from './support/fixtures.js';
import { GEN, argmax, parityCases, parityPrompt, softmax } from './support/parity-cases.js';

/** Decode steps compared with the reference (teacher-forced with its greedy tokens). */
const STEPS = 6;
/** Max |dlogit| and |dp| over every position with an f32 KV cache: f32 vs float64 sums. */
const F32_LOGIT_TOL = 2e-4;
const F32_PROB_TOL = 2e-5;
/** The same with the f16 KV cache (11-bit mantissas for K and V). */
const LOGIT_TOL = 0.06;
const PROB_TOL = 5e-3;
/**
 * The int8 products (CPU adapters' default) against the reference rounding activations as ggml-cpu
 * does: the same arithmetic, typically within 1e-5 (printed). But an activation within an ulp of an
 * int8 rounding boundary (or a tie for a Q8_K block's largest value) rounds to the neighbouring step
 * on one side, which moves these random models' logits (tens in size) by up to about 0.7, and a
 * probability by up to about 0.08, from then on.
 */
const INT8_LOGIT_TOL = 1;
const INT8_PROB_TOL = 0.1;

/** Greedy continuations checked against llama.cpp's on these; reported on the others. */
const GREEDY_EXACT = new Set([GGMLType.Q8_0, GGMLType.F16]);
const GREEDY_REPORT = new Set([GGMLType.Q4_0, GGMLType.Q4_K]);

/** The standard fixtures also run the product path (f16 KV cache) free against llama.cpp. */
const cases = parityCases().map((c) => ({
  ...c,
  llama: (GREEDY_EXACT.has(c.type) || GREEDY_REPORT.has(c.type)) && c.label === `${c.opts.arch} ${typeName(c.type)}`,
}));

let llama: Llama;
const summary: string[] = [];
/** The f16 KV cache: the device's default, the other choice (shader-f16 but an f32 default), or absent. */
let f16Kv: 'default' | 'other' | 'absent';
/** A CPU adapter, whose default kernel family is not GPUs'. */
let softwareAdapter: boolean;

before(async () => {
  llama = await getLlama({ build: 'never', gpu: false, logLevel: 'error' as never });
  const probe = await Gpu.create();
  f16Kv = !probe.f16 ? 'absent' : kvF16(probe) ? 'default' : 'other';
  softwareAdapter = probe.info.software;
  probe.destroy();
});

after(async () => {
  await llama.dispose();
  console.log(['WebGPU parity vs the reference (max |dlogit|, max |dp| over all positions, greedy steps agreeing) and vs llama.cpp (identical leading greedy tokens of 32):', ...summary].join('\n'));
});

/** llama.cpp's greedy continuation of `ids`, with an f16 (its default) or f32 KV cache as on the device. */
async function llamaGreedy(path: string, ids: number[], f16Kv: boolean): Promise<number[]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const kv = f16Kv ? {} : { experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } as const;
    const ctx = await model.createContext({ contextSize: 64, batchSize: 64, sequences: 1, flashAttention: false, threads: 2, ...kv });
    const seq = ctx.getSequence();
    const next = { generateNext: { token: true, options: { temperature: 0 } } } as const;
    const out = await seq.controlledEvaluate(ids.map((id) => [id as Token, next]));
    const gen: number[] = [out[ids.length - 1]!.next.token as number];
    while (gen.length < GEN) {
      const [o] = await seq.controlledEvaluate([[gen[gen.length - 1] as Token, next]]);
      gen.push(o!.next.token as number);
    }
    await ctx.dispose();
    return gen;
  } finally {
    await model.dispose();
  }
}

/** Logits of the prompt and of STEPS teacher-forced greedy steps, compared (with the reference rounding activations as ggml-cpu, for int8 products). */
async function compareLogits(ref: ReferenceModel, gpu: WebGpuModel, ids: number[]): Promise<{ maxLogit: number; maxProb: number; agree: number }> {
  const nVocab = ref.config.nVocab;
  const ggmlCpuActivations = gpu.report().int8;
  let maxLogit = 0, maxProb = 0, agree = 0;
  let input = ids, pos = 0;
  for (let step = 0; step <= STEPS; step++) {
    const r = ref.evaluate(0, input, pos, { ggmlCpuActivations });
    const w = await gpu.forward(0, input, pos);
    const pr = softmax(r), pw = softmax(w);
    for (let j = 0; j < nVocab; j++) {
      maxLogit = Math.max(maxLogit, Math.abs(r[j] - w[j]));
      maxProb = Math.max(maxProb, Math.abs(pr[j] - pw[j]));
    }
    if (argmax(r) === argmax(w)) agree++;
    pos += input.length;
    input = [argmax(r)];
  }
  return { maxLogit, maxProb, agree };
}

/** GEN greedy tokens after `ids`: the device's (sampled there), or the reference's (rounding activations as ggml-cpu with `ggmlCpuActivations`). */
async function greedy(m: ReferenceModel | WebGpuModel, ids: number[], ggmlCpuActivations = false): Promise<number[]> {
  const out: number[] = [];
  let input = ids, pos = 0;
  while (out.length < GEN) {
    out.push(m instanceof ReferenceModel ? argmax(m.evaluate(0, input, pos, { ggmlCpuActivations })) : await m.forwardGreedy(0, input, pos));
    pos += input.length;
    input = [out[out.length - 1]];
  }
  return out;
}

const leading = (a: number[], b: number[]) => {
  const i = a.findIndex((x, j) => x !== b[j]);
  return i < 0 ? a.length : i;
};

for (const c of cases) {
  test(`webgpu parity ${c.label}`, async (t) => {
    const path = fixtureModel(c.opts);
    const g = readGGUF(path);
    const ref = ReferenceModel.load(g, { nCtx: 64 });
    const ids = parityPrompt(c);

    // f32 KV cache (and no shader-f16: the fallback path): the same arithmetic as the reference up
    // to f32 rounding and summation order.
    const exact = await WebGpuModel.load(g, { nCtx: 64, device: { f16: false }, int8: false });
    let a;
    try {
      a = await compareLogits(ref, exact, ids);
    } finally {
      exact.dispose();
    }
    let line = `  ${c.label.padEnd(38)} f32 KV: dlogit ${a.maxLogit.toExponential(1)} dp ${a.maxProb.toExponential(1)} greedy ${a.agree}/${STEPS + 1}`;
    t.diagnostic(line);
    assert.ok(a.maxLogit <= F32_LOGIT_TOL, `f32 KV: max |dlogit| ${a.maxLogit} > ${F32_LOGIT_TOL}`);
    assert.ok(a.maxProb <= F32_PROB_TOL, `f32 KV: max |dp| ${a.maxProb} > ${F32_PROB_TOL}`);
    assert.equal(a.agree, STEPS + 1, 'f32 KV: greedy tokens differ from the reference');
    if (softwareAdapter) {
      // GPUs' kernel family (decode steps with norms, residual adds and SwiGLU folded into the
      // products) on this CPU adapter too, with the same arithmetic.
      const gpuKernels = await WebGpuModel.load(g, { nCtx: 64, device: { f16: false }, int8: false, kernels: 'gpu' });
      let k;
      try {
        k = await compareLogits(ref, gpuKernels, ids);
      } finally {
        gpuKernels.dispose();
      }
      line += ` | GPU kernels: dlogit ${k.maxLogit.toExponential(1)} dp ${k.maxProb.toExponential(1)} greedy ${k.agree}/${STEPS + 1}`;
      t.diagnostic(line);
      assert.ok(k.maxLogit <= F32_LOGIT_TOL, `GPU kernels: max |dlogit| ${k.maxLogit} > ${F32_LOGIT_TOL}`);
      assert.ok(k.maxProb <= F32_PROB_TOL, `GPU kernels: max |dp| ${k.maxProb} > ${F32_PROB_TOL}`);
      assert.equal(k.agree, STEPS + 1, 'GPU kernels: greedy tokens differ from the reference');
    }

    const type = c.type;
    if (INT8_LAYOUTS.has(type)) {
      // Every product in the int8 layout, f32 KV cache: against the reference rounding as ggml-cpu.
      const int8 = await WebGpuModel.load(g, { nCtx: 64, device: { f16: false }, int8: true });
      let d;
      try {
        assert.ok(int8.report().int8);
        d = await compareLogits(ref, int8, ids);
      } finally {
        int8.dispose();
      }
      line += ` | int8: dlogit ${d.maxLogit.toExponential(1)} dp ${d.maxProb.toExponential(1)} greedy ${d.agree}/${STEPS + 1}`;
      t.diagnostic(line);
      assert.ok(d.maxLogit <= INT8_LOGIT_TOL, `int8: max |dlogit| ${d.maxLogit} > ${INT8_LOGIT_TOL}`);
      assert.ok(d.maxProb <= INT8_PROB_TOL, `int8: max |dp| ${d.maxProb} > ${INT8_PROB_TOL}`);
      assert.equal(d.agree, STEPS + 1, 'int8: greedy tokens differ from the reference');
    }
    if (c.llama && f16Kv === 'other') {
      // A CPU adapter defaults to an f32 cache: the f16 one (with float products) still runs here.
      const f16 = await WebGpuModel.load(g, { nCtx: 64, int8: false, kvF16: true });
      let e;
      try {
        e = await compareLogits(ref, f16, ids);
      } finally {
        f16.dispose();
      }
      line += ` | f16 KV: dlogit ${e.maxLogit.toExponential(1)} dp ${e.maxProb.toExponential(1)}`;
      assert.ok(e.maxLogit <= LOGIT_TOL, `f16 KV: max |dlogit| ${e.maxLogit} > ${LOGIT_TOL}`);
      assert.ok(e.maxProb <= PROB_TOL, `f16 KV: max |dp| ${e.maxProb} > ${PROB_TOL}`);
    }
    if (c.llama) {
      // The product path (the device's defaults: an f16 KV cache on GPUs with shader-f16, int8
      // products on CPU adapters), free-running on the device.
      const gpu = await WebGpuModel.load(g, { nCtx: 64 });
      let b, got;
      const r = gpu.report();
      try {
        b = await compareLogits(ref, gpu, ids);
        got = await greedy(gpu, ids);
      } finally {
        gpu.dispose();
      }
      const want = await llamaGreedy(path, ids, r.f16Kv);
      const refSame = leading(await greedy(ref, ids, r.int8), want);
      const same = leading(got, want);
      const what = `${r.f16Kv ? 'f16' : 'f32'} KV${r.int8 ? ', int8' : ''}`;
      line += ` | ${what}: dlogit ${b.maxLogit.toExponential(1)} dp ${b.maxProb.toExponential(1)}; greedy vs llama.cpp ${same}/${GEN} (reference ${refSame}/${GEN})`;
      t.diagnostic(line);
      const [logitTol, probTol] = r.f16Kv ? [LOGIT_TOL, PROB_TOL] : r.int8 ? [INT8_LOGIT_TOL, INT8_PROB_TOL] : [F32_LOGIT_TOL, F32_PROB_TOL];
      assert.ok(b.maxLogit <= logitTol, `${what}: max |dlogit| ${b.maxLogit} > ${logitTol}`);
      assert.ok(b.maxProb <= probTol, `${what}: max |dp| ${b.maxProb} > ${probTol}`);
      // llama.cpp rounds matmul inputs (to Q8_0 for Q8_0 weights, f16 for F16): where that flips a
      // near-tie, the reference (rounding as the device does) departs from it too. The device must
      // agree at least as long.
      if (GREEDY_EXACT.has(type)) assert.ok(same >= refSame, `greedy tokens diverge from llama.cpp at step ${same}, the reference's at ${refSame}`);
    }
    summary.push(line);
  });
}
