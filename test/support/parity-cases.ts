// The fixtures and helpers both parity suites share (reference vs llama.cpp in parity.test.ts, WebGPU
// vs reference and llama.cpp in webgpu-parity.test.ts), so the cached fixture files are shared too.
import { GGMLType, typeName } from '../../engine/gguf/ggml.js';
import { benchTokens } from '../../engine/cli/bench.js';
import type { FixtureOptions } from './fixtures.js';

export const PROMPT_LEN = 8;
export const GEN = 32;

export interface ParityCase { label: string; type: GGMLType; opts: FixtureOptions }

const BLOCK32 = [GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1];
const KQUANT = [GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K];

/** Both architectures in every weight type, plus rope scaling, biases, rope_freqs and an untied MHA model. */
export function parityCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const arch of ['qwen2', 'llama'] as const) {
    const vocab = arch === 'qwen2' ? 'qwen2' : 'llama-spm';
    for (const type of BLOCK32) cases.push({ label: `${arch} ${typeName(type)}`, type, opts: { arch, vocab, type } });
    // K-quant rows must be multiples of 256. qwen2's 151k-row embedding stays Q8_0 (as llama.cpp
    // stores a tied embedding whose rows do not fit), which also keeps fixture generation quick.
    for (const type of KQUANT) {
      cases.push({
        label: `${arch} ${typeName(type)}`, type,
        opts: { arch, vocab, type, embdType: arch === 'qwen2' ? GGMLType.Q8_0 : type, nEmbd: 256, nHead: 8, nHeadKv: 2, nFf: 512 },
      });
    }
  }
  cases.push(
    { label: 'llama F32 linear rope x4, bpe vocab', type: GGMLType.F32, opts: { arch: 'llama', vocab: 'deepseek-coder', type: GGMLType.F32, ropeScaling: { type: 'linear', factor: 4 } } },
    { label: 'llama F16 biases + rope_freqs', type: GGMLType.F16, opts: { arch: 'llama', vocab: 'llama-spm', type: GGMLType.F16, llamaBiases: true, ropeFreqs: true } },
    { label: 'qwen2 F32 yarn x4', type: GGMLType.F32, opts: { arch: 'qwen2', vocab: 'qwen2', type: GGMLType.F32, ropeScaling: { type: 'yarn', factor: 4, origCtx: 256 } } },
    { label: 'qwen2 Q8_0 untied, 3 layers, MHA, hd 64', type: GGMLType.Q8_0, opts: { arch: 'qwen2', vocab: 'qwen2', type: GGMLType.Q8_0, tied: false, nLayer: 3, nEmbd: 128, nHead: 2, nHeadKv: 2 } },
  );
  return cases;
}

/** The prompt of a case: ordinary (non-special) token ids, seeded by the case (every case's vocab has at least 32,000). */
export function parityPrompt(c: ParityCase): number[] {
  return benchTokens(PROMPT_LEN, c.label.length, 32_000);
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += p[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= z;
  return p;
}

export function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}
