// Parity of the TypeScript reference forward pass with llama.cpp (node-llama-cpp, CPU, f32 KV cache)
// on seeded fixture models of both architectures in every supported weight type.
//
// llama.cpp runs a greedy continuation of 32 tokens, returning the full logits at every prompt
// position and every step. The reference runs on the same token stream in two modes:
//  - ggml-cpu: matmul inputs rounded as llama.cpp's CPU backend rounds them (f16 / bf16 / Q8_0 /
//    Q8_1 / Q8_K by weight type). Same arithmetic up to summation order, so distributions must agree
//    to 1e-4 and every greedy token must be identical.
//  - plain f32 (the yardstick for the WebGPU model): differs from llama.cpp by llama.cpp's own
//    activation rounding, so the tolerance depends on the type, and greedy agreement is reported
//    (asserted for F32 only: elsewhere a near-tie may legitimately break the other way).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { getLlama, type Llama, type Token } from 'node-llama-cpp';
import { GGMLType, typeName } from '../engine/ggml.js';
import { readGGUF } from '../engine/gguf.js';
import { loadConfig } from '../engine/model.js';
import { ReferenceModel } from '../engine/reference.js';
import { FixtureOptions, fixtureModel } from './fixtures.js';

const PROMPT_LEN = 8;
const GEN = 32;
const GGML_CPU_PROB_TOL = 1e-4;
/** Plain f32 reference vs llama.cpp: max |p_ref - p_llama| over all positions, by weight type. */
const PLAIN_PROB_TOL: Partial<Record<GGMLType, number>> = {
  [GGMLType.F32]: 1e-4, [GGMLType.F16]: 5e-3, [GGMLType.BF16]: 5e-2,
};
const PLAIN_PROB_TOL_QUANT = 0.1;

const BLOCK32 = [GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1];
const KQUANT = [GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K];

interface Case { label: string; opts: FixtureOptions }
const cases: Case[] = [];
for (const arch of ['qwen2', 'llama'] as const) {
  const vocab = arch === 'qwen2' ? 'qwen2' : 'llama-spm';
  for (const type of BLOCK32) cases.push({ label: `${arch} ${typeName(type)}`, opts: { arch, vocab, type } });
  // K-quant rows must be multiples of 256. qwen2's 151k-row embedding stays Q8_0 (as llama.cpp
  // stores a tied embedding whose rows do not fit), which also keeps fixture generation quick.
  for (const type of KQUANT) {
    cases.push({
      label: `${arch} ${typeName(type)}`,
      opts: { arch, vocab, type, embdType: arch === 'qwen2' ? GGMLType.Q8_0 : type, nEmbd: 256, nHead: 8, nHeadKv: 2, nFf: 512 },
    });
  }
}
cases.push(
  { label: 'llama F32 linear rope x4, bpe vocab', opts: { arch: 'llama', vocab: 'deepseek-coder', type: GGMLType.F32, ropeScaling: { type: 'linear', factor: 4 } } },
  { label: 'llama F16 biases + rope_freqs', opts: { arch: 'llama', vocab: 'llama-spm', type: GGMLType.F16, llamaBiases: true, ropeFreqs: true } },
  { label: 'qwen2 F32 yarn x4', opts: { arch: 'qwen2', vocab: 'qwen2', type: GGMLType.F32, ropeScaling: { type: 'yarn', factor: 4, origCtx: 256 } } },
  { label: 'qwen2 Q8_0 untied, 3 layers, MHA', opts: { arch: 'qwen2', vocab: 'qwen2', type: GGMLType.Q8_0, tied: false, nLayer: 3, nHeadKv: 4 } },
);

function prompt(nVocab: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: PROMPT_LEN }, () => (s = (s * 1664525 + 1013904223) >>> 0) % Math.min(nVocab, 30000));
}

function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += p[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= z;
  return p;
}

function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}

interface Compare { maxLogit: number; maxProb: number; greedy: number }

/** Compares reference logits with llama.cpp's at every position; greedy counts leading steps whose argmax is llama.cpp's token. */
function compare(ref: Float32Array[], ours: Float32Array[], gen: number[]): Compare {
  let maxLogit = 0, maxProb = 0, greedy = -1;
  ref.forEach((l, i) => {
    const r = ours[i];
    for (let j = 0; j < l.length; j++) maxLogit = Math.max(maxLogit, Math.abs(l[j] - r[j]));
    const pl = softmax(l), pr = softmax(r);
    for (let j = 0; j < l.length; j++) maxProb = Math.max(maxProb, Math.abs(pl[j] - pr[j]));
    const step = i - (PROMPT_LEN - 1);
    if (step >= 0 && greedy < 0 && argmax(r) !== gen[step]) greedy = step;
  });
  return { maxLogit, maxProb, greedy: greedy < 0 ? gen.length : greedy };
}

let llama: Llama;
const summary: string[] = [];

before(async () => {
  llama = await getLlama({ build: 'never', gpu: false, logLevel: 'error' as never });
});

after(async () => {
  await llama.dispose();
  console.log(['parity with llama.cpp (max |dlogit|, max |dp| over all positions; greedy = identical leading tokens of 32):', ...summary].join('\n'));
});

for (const c of cases) {
  test(`parity ${c.label}`, async (t) => {
    const path = fixtureModel(c.opts);
    const g = readGGUF(path);

    // llama.cpp: logits at every prompt position, then 32 greedy steps with logits.
    const model = await llama.loadModel({ modelPath: path });
    const ctx = await model.createContext({
      contextSize: 64, batchSize: 64, sequences: 1, flashAttention: false, threads: 2,
      experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
    });
    const nVocab = loadConfig(g).nVocab;
    const toArray = (m: Map<Token, number> | undefined) => {
      assert.ok(m && m.size === nVocab, `llama.cpp returned ${m?.size} logits, expected ${nVocab}`);
      const a = new Float32Array(nVocab);
      for (const [k, v] of m) a[k] = v;
      return a;
    };
    const ids = prompt(nVocab, c.label.length);
    const seq = ctx.getSequence();
    const next = { generateNext: { token: true, logits: true, options: { temperature: 0 } } } as const;
    const out = await seq.controlledEvaluate(ids.map((id) => [id as Token, next]));
    const llamaLogits = out.map((o) => toArray(o?.next.logits));
    const gen: number[] = [out[PROMPT_LEN - 1]!.next.token as number];
    while (gen.length < GEN) {
      const [o] = await seq.controlledEvaluate([[gen[gen.length - 1] as Token, next]]);
      llamaLogits.push(toArray(o?.next.logits));
      gen.push(o!.next.token as number);
    }
    await ctx.dispose();
    await model.dispose();
    gen.forEach((id, i) => assert.equal(argmax(llamaLogits[PROMPT_LEN - 1 + i]), id, `llama.cpp's greedy token ${i} is its argmax`));

    // The reference on the same stream, in both modes.
    const run = (ggmlCpuActivations: boolean) => {
      const ref = ReferenceModel.load(g, { nCtx: 64, ggmlCpuActivations });
      assert.equal(ref.config.nVocab, nVocab);
      const all = ref.evaluate(0, ids, 0, { allLogits: true });
      const logits = ids.map((_, i) => all.subarray(i * nVocab, (i + 1) * nVocab));
      for (let i = 0; i < GEN - 1; i++) logits.push(ref.evaluate(0, [gen[i]], PROMPT_LEN + i));
      return compare(llamaLogits, logits, gen);
    };
    const emu = run(true);
    const plain = run(false);
    const line = `  ${c.label.padEnd(38)} ggml-cpu: dlogit ${emu.maxLogit.toExponential(1)} dp ${emu.maxProb.toExponential(1)} greedy ${emu.greedy}/${GEN}` +
      ` | f32: dlogit ${plain.maxLogit.toExponential(1)} dp ${plain.maxProb.toExponential(1)} greedy ${plain.greedy}/${GEN}`;
    summary.push(line);
    t.diagnostic(line);

    assert.ok(emu.maxProb <= GGML_CPU_PROB_TOL, `ggml-cpu mode: max |dp| ${emu.maxProb} > ${GGML_CPU_PROB_TOL}`);
    assert.equal(emu.greedy, GEN, `ggml-cpu mode: greedy diverges at step ${emu.greedy}`);
    const type = c.opts.type;
    const tol = PLAIN_PROB_TOL[type] ?? PLAIN_PROB_TOL_QUANT;
    assert.ok(plain.maxProb <= tol, `f32 mode: max |dp| ${plain.maxProb} > ${tol}`);
    if (type === GGMLType.F32) assert.equal(plain.greedy, GEN, `f32 mode: greedy diverges at step ${plain.greedy}`);
  });
}
