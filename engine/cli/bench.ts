// `hearth bench`: the measurements llama.cpp's bench reports, on the same prompts the llama.cpp side
// of `npm run bench` uses (test/bench-llama.ts).
import type { Backend } from '../model/backend.js';
import type { WebGpuModel } from '../model/webgpu-model.js';

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
  const prompt = benchTokens(nPrompt, 1);
  // One untimed prompt-sized pass and one decode step warm pipelines and caches, as llama-bench's
  // warmup run does (test/bench-llama.ts does the same for llama.cpp).
  const warmup = await backend.forwardGreedy(0, benchTokens(nPrompt, 4), 0);
  await backend.forwardGreedy(0, [warmup], nPrompt);

  let t = performance.now();
  let next = await backend.forwardGreedy(0, prompt, 0);
  const prefillMs = performance.now() - t;

  t = performance.now();
  for (let i = 0; i < nGen; i++) next = await backend.forwardGreedy(0, [next], nPrompt + i);
  const decodeMs = performance.now() - t;

  let warm = 0;
  if (backend.nCtx > WARM) {
    await backend.forwardGreedy(0, benchTokens(WARM, 2), 0);
    t = performance.now();
    await backend.forwardGreedy(0, benchTokens(1, 3), WARM);
    warm = performance.now() - t;
  }
  return { prefill_tok_s: nPrompt / (prefillMs / 1000), decode_tok_s: nGen / (decodeMs / 1000), warm_ttft_ms: warm };
}

export interface DecodeProfile {
  /** Wall time of a profiled step: against gpu_ms, how long the GPU waits for the host. */
  wall_ms_per_token: number;
  /** GPU time of a step, all kernels. */
  gpu_ms_per_token: number;
  kernels: { kernel: string; calls_per_token: number; ms_per_token: number }[];
}

/** GPU time per kernel of `steps` greedy decode steps after an `nPrompt`-token prompt. */
export async function profileDecode(model: WebGpuModel, nPrompt: number, steps: number): Promise<DecodeProfile> {
  let next = await model.forwardGreedy(0, benchTokens(nPrompt, 1), 0);
  model.profile(true);
  try {
    const t = performance.now();
    for (let i = 0; i < steps; i++) next = await model.forwardGreedy(0, [next], nPrompt + i);
    const wall = (performance.now() - t) / steps;
    const kernels = (await model.takeProfile())
      .map((k) => ({ kernel: k.kernel, calls_per_token: k.calls / steps, ms_per_token: k.ms / steps }))
      .sort((a, b) => b.ms_per_token - a.ms_per_token);
    return { wall_ms_per_token: wall, gpu_ms_per_token: kernels.reduce((a, k) => a + k.ms_per_token, 0), kernels };
  } finally {
    model.profile(false);
  }
}
