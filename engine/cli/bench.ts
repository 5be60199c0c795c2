// `hearth bench`: the measurements llama.cpp's bench reports, on the same prompts the llama.cpp side
// of `npm run bench` uses (test/bench-llama.ts).
import type { Backend } from '../model/backend.js';
import { Sampler } from '../model/sampler.js';
import { Speculator } from '../model/speculation.js';
import type { WebGpuModel } from '../model/webgpu-model.js';

/**
 * Deterministic prompt ids below 30000 (the ordinary part of the large vocabs, whose specials sit
 * at the top), or below nVocab - 256 in a small one such as the demonstration model's 4,096.
 */
export function benchTokens(n: number, seed: number, nVocab: number): number[] {
  const below = Math.min(30000, nVocab - 256);
  let s = seed >>> 0;
  return Array.from({ length: n }, () => (s = (s * 1664525 + 1013904223) >>> 0) % below);
}

export interface BenchResult {
  prefill_tok_s: number;
  decode_tok_s: number;
  warm_ttft_ms: number;
  /** Decode steps for the gen tokens, draft tokens checked and kept (speculate > 0). */
  steps: number;
  draft_tokens: number;
  draft_accepted: number;
  /**
   * Milliseconds of a verification step (Backend.forwardGreedyAll) by its token count, after the
   * prompt (median of 3): what checking a draft costs against a one-token step. Absent where the
   * backend has none (maxVerifyTokens 0).
   */
  verify_step_ms?: Record<string, number>;
}

const VERIFY_SIZES = [1, 2, 4, 8, 16];

const WARM = 1000;

/**
 * Prefill `nPrompt` tokens, decode `nGen` greedily (checking drafts of up to `speculate` tokens
 * looked up in the tokens so far), then time one token appended to a warm 1000-token cache.
 */
export async function runBench(backend: Backend, nPrompt: number, nGen: number, speculate = 0): Promise<BenchResult> {
  const nVocab = backend.config.nVocab;
  const prompt = benchTokens(nPrompt, 1, nVocab);
  // One untimed prompt-sized pass and one decode step warm pipelines and caches, as llama-bench's
  // warmup run does (test/bench-llama.ts does the same for llama.cpp).
  const warmup = await backend.forwardGreedy(0, benchTokens(nPrompt, 4, nVocab), 0);
  await backend.forwardGreedy(0, [warmup], nPrompt);

  let t = performance.now();
  let next = await backend.forwardGreedy(0, prompt, 0);
  const prefillMs = performance.now() - t;

  const history = [...prompt, next];
  const steps = new Speculator(backend, new Sampler({ temperature: 0 }), { seq: 0, most: speculate });
  t = performance.now();
  while (history.length < nPrompt + 1 + nGen) {
    const got = await steps.next(history[history.length - 1], history.length - 1, history, nPrompt + nGen - history.length);
    history.push(...got);
  }
  const decodeMs = performance.now() - t;

  let verify: Record<string, number> | undefined;
  if (backend.maxVerifyTokens > 0) {
    verify = {};
    for (const n of VERIFY_SIZES.filter((n) => n <= backend.maxVerifyTokens && nPrompt + n <= backend.nCtx)) {
      const ms: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        await backend.forwardGreedyAll(0, benchTokens(n, 5 + r, nVocab), nPrompt);
        ms.push(performance.now() - t0);
      }
      verify[n] = +ms.sort((a, b) => a - b)[1].toFixed(2);
    }
  }

  let warm = 0;
  if (backend.nCtx > WARM) {
    await backend.forwardGreedy(0, benchTokens(WARM, 2, nVocab), 0);
    t = performance.now();
    await backend.forwardGreedy(0, benchTokens(1, 3, nVocab), WARM);
    warm = performance.now() - t;
  }
  return {
    prefill_tok_s: nPrompt / (prefillMs / 1000), decode_tok_s: nGen / (decodeMs / 1000), warm_ttft_ms: warm,
    steps: steps.steps, draft_tokens: steps.drafted, draft_accepted: steps.accepted,
    ...(verify && { verify_step_ms: verify }),
  };
}

export interface DecodeProfile {
  /** Host time to encode and submit an unprofiled decode step, and its dispatches. */
  host_ms_per_step: number;
  dispatches_per_step: number;
  /** Wall time of a profiled step: against gpu_ms, how long the GPU waits for the host. */
  wall_ms_per_token: number;
  /** GPU time of a step, all kernels. */
  gpu_ms_per_token: number;
  kernels: { kernel: string; calls_per_token: number; ms_per_token: number }[];
}

/**
 * The host cost of `steps` greedy decode steps after an `nPrompt`-token prompt, then the GPU time
 * per kernel of as many steps, profiled.
 */
export async function profileDecode(model: WebGpuModel, nPrompt: number, steps: number): Promise<DecodeProfile> {
  const nVocab = model.config.nVocab;
  let next = await model.forwardGreedy(0, benchTokens(nPrompt, 1, nVocab), 0);
  model.takeStepCosts();
  for (let i = 0; i < steps; i++) next = await model.forwardGreedy(0, [next], nPrompt + i);
  const host = model.takeStepCosts().find((c) => c.tokens === 1)!;
  next = await model.forwardGreedy(0, benchTokens(nPrompt, 1, nVocab), 0);
  model.profile(true);
  try {
    const t = performance.now();
    for (let i = 0; i < steps; i++) next = await model.forwardGreedy(0, [next], nPrompt + i);
    const wall = (performance.now() - t) / steps;
    const kernels = (await model.takeProfile())
      .map((k) => ({ kernel: k.kernel, calls_per_token: k.calls / steps, ms_per_token: k.ms / steps }))
      .sort((a, b) => b.ms_per_token - a.ms_per_token);
    return {
      host_ms_per_step: host.hostMs / host.steps, dispatches_per_step: host.dispatches / host.steps,
      wall_ms_per_token: wall, gpu_ms_per_token: kernels.reduce((a, k) => a + k.ms_per_token, 0), kernels,
    };
  } finally {
    model.profile(false);
  }
}
