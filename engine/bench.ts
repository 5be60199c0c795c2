// `hearth bench`: the measurements llama.cpp's bench reports, on the same prompts the llama.cpp side
// of `npm run bench` uses (test/bench-llama.ts).
import type { Backend } from './backend.js';

/** Deterministic prompt ids from the low, ordinary part of every vocab we test (specials sit at the top). */
export function benchTokens(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => (s = (s * 1664525 + 1013904223) >>> 0) % 30000);
}

export interface BenchResult {
  prefill_tok_s: number;
  decode_tok_s: number;
  warm_ttft_ms: number;
}

const WARM = 1000;

/** Prefill `nPrompt` tokens, decode `nGen` greedily, then time one token appended to a warm 1000-token cache. */
export async function runBench(backend: Backend, nPrompt: number, nGen: number): Promise<BenchResult> {
  const greedy = { temperature: 0, topK: 0, topP: 1, uniform: 0 };
  const prompt = benchTokens(nPrompt, 1);
  // One untimed prompt-sized pass and one decode step warm pipelines and caches, as llama-bench's
  // warmup run does (test/bench-llama.ts does the same for llama.cpp).
  const warmup = await backend.forwardSample(0, benchTokens(nPrompt, 4), 0, greedy);
  await backend.forwardSample(0, [warmup], nPrompt, greedy);

  let t = performance.now();
  let next = await backend.forwardSample(0, prompt, 0, greedy);
  const prefillMs = performance.now() - t;

  t = performance.now();
  for (let i = 0; i < nGen; i++) next = await backend.forwardSample(0, [next], nPrompt + i, greedy);
  const decodeMs = performance.now() - t;

  let warm = 0;
  if (backend.nCtx > WARM) {
    await backend.forwardSample(0, benchTokens(WARM, 2), 0, greedy);
    t = performance.now();
    await backend.forwardSample(0, benchTokens(1, 3), WARM, greedy);
    warm = performance.now() - t;
  }
  return { prefill_tok_s: nPrompt / (prefillMs / 1000), decode_tok_s: nGen / (decodeMs / 1000), warm_ttft_ms: warm };
}
