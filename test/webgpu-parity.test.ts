// Parity of the WebGPU model with the TypeScript reference (logits at every position of a prompt
// and of greedy steps, on fixtures of both architectures in every weight type) and with llama.cpp
// (32 greedy tokens, free-running on the device, on the Q8_0 and F16 fixtures; agreement on the
// 4-bit ones is reported). The fixtures are test/parity-cases.ts's, shared with test/parity.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { getLlama, type Llama, type Token } from 'node-llama-cpp';
import { GGMLType, typeName } from '../engine/ggml.js';
import { readGGUF } from '../engine/gguf.js';
import { Gpu } from '../engine/gpu.js';
import { ReferenceModel } from '../engine/reference.js';
import { WebGpuModel } from '../engine/webgpu-model.js';
import { fixtureModel } from './fixtures.js';
import { GEN, argmax, parityCases, parityPrompt, softmax } from './parity-cases.js';

/** Decode steps compared with the reference (teacher-forced with its greedy tokens). */
const STEPS = 6;
/** Max |dlogit| and |dp| over every position with an f32 KV cache: f32 vs float64 sums. */
const F32_LOGIT_TOL = 2e-4;
const F32_PROB_TOL = 2e-5;
/** The same with the f16 KV cache (11-bit mantissas for K and V). */
const LOGIT_TOL = 0.06;
const PROB_TOL = 5e-3;

/** Greedy continuations checked against llama.cpp's on these; reported on the others. */
const GREEDY_EXACT = new Set([GGMLType.Q8_0, GGMLType.F16]);
const GREEDY_REPORT = new Set([GGMLType.Q4_0, GGMLType.Q4_K]);

/** The standard fixtures also run the product path (f16 KV cache) free against llama.cpp. */
const cases = parityCases().map((c) => ({
  ...c,
  llama: (GREEDY_EXACT.has(c.type) || GREEDY_REPORT.has(c.type)) && c.label === `${c.opts.arch} ${typeName(c.type)}`,
}));

let llama: Llama;
let gpuKv = 'f16';
const summary: string[] = [];

before(async () => {
  llama = await getLlama({ build: 'never', gpu: false, logLevel: 'error' as never });
  const probe = await Gpu.create();
  gpuKv = probe.f16 ? 'f16' : 'f32';
  probe.destroy();
});

after(async () => {
  await llama.dispose();
  console.log(['WebGPU parity vs the reference (max |dlogit|, max |dp| over all positions, greedy steps agreeing) and vs llama.cpp (identical leading greedy tokens of 32):', ...summary].join('\n'));
});

/** llama.cpp's greedy continuation of `ids`. */
async function llamaGreedy(path: string, ids: number[]): Promise<number[]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    // llama.cpp's default f16 KV cache, as on the device.
    const ctx = await model.createContext({ contextSize: 64, batchSize: 64, sequences: 1, flashAttention: false, threads: 2 });
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

/** Logits of the prompt and of STEPS teacher-forced greedy steps, compared. */
async function compareLogits(ref: ReferenceModel, gpu: WebGpuModel, ids: number[]): Promise<{ maxLogit: number; maxProb: number; agree: number }> {
  const nVocab = ref.config.nVocab;
  let maxLogit = 0, maxProb = 0, agree = 0;
  let input = ids, pos = 0;
  for (let step = 0; step <= STEPS; step++) {
    const r = await ref.forward(0, input, pos);
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

/** GEN greedy tokens after `ids`: the reference's, or the device's (sampled there). */
async function greedy(m: ReferenceModel | WebGpuModel, ids: number[]): Promise<number[]> {
  const out: number[] = [];
  let input = ids, pos = 0;
  while (out.length < GEN) {
    out.push(await m.forwardSample(0, input, pos, { temperature: 0, topK: 0, topP: 1, uniform: 0 }));
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
    const exact = await WebGpuModel.load(g, { nCtx: 64, device: { f16: false } });
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

    const type = c.type;
    if (c.llama) {
      // The product path (f16 KV cache where the device has shader-f16), free-running on the device.
      const gpu = await WebGpuModel.load(g, { nCtx: 64 });
      let b, got;
      try {
        b = await compareLogits(ref, gpu, ids);
        got = await greedy(gpu, ids);
      } finally {
        gpu.dispose();
      }
      const want = await llamaGreedy(path, ids);
      const refSame = leading(await greedy(ref, ids), want);
      const same = leading(got, want);
      line += ` | ${gpuKv} KV: dlogit ${b.maxLogit.toExponential(1)} dp ${b.maxProb.toExponential(1)}; greedy vs llama.cpp ${same}/${GEN} (reference ${refSame}/${GEN})`;
      t.diagnostic(line);
      assert.ok(b.maxLogit <= LOGIT_TOL, `${gpuKv} KV: max |dlogit| ${b.maxLogit} > ${LOGIT_TOL}`);
      assert.ok(b.maxProb <= PROB_TOL, `${gpuKv} KV: max |dp| ${b.maxProb} > ${PROB_TOL}`);
      // llama.cpp rounds matmul inputs (to Q8_0 for Q8_0 weights, f16 for F16): where that flips a
      // near-tie, the float64 reference departs from it too. The device must agree at least as long.
      if (GREEDY_EXACT.has(type)) assert.ok(same >= refSame, `greedy tokens diverge from llama.cpp at step ${same}, the reference's at ${refSame}`);
    }
    summary.push(line);
  });
}
