// The one interface every compute path implements: the plain TypeScript reference (for tests and
// debugging) and the WebGPU model (the product path). Callers never branch on which one they hold.
// Both refuse the same options and steps with the same checks, here.
import type { ModelConfig } from '../gguf/hparams.js';

export type BackendName = 'webgpu' | 'reference';

export interface BackendStats {
  /** What computes: the GPU adapter's description, or 'cpu'. */
  device: string;
  loadMs: number;
  weightBytes: number;
  kvBytes: number;
  scratchBytes: number;
}

export interface Backend {
  readonly name: BackendName;
  readonly config: ModelConfig;
  /** Positions each sequence can hold. */
  readonly nCtx: number;
  /** Independent sequences (slots), each with its own KV cache. */
  readonly nSeq: number;
  /**
   * Runs `tokens` at positions pos..pos+n-1 of sequence `seq`; cache entries of `seq` at >= pos are
   * replaced, so passing a smaller pos truncates the cache to that prefix. Returns the last token's logits.
   */
  forward(seq: number, tokens: number[], pos: number): Promise<Float32Array>;
  /**
   * Like forward, but returns the argmax of the last token's logits (lower id on ties), picked on
   * the device so only the token id comes back. Any other sampling runs the Sampler on forward's logits.
   */
  forwardGreedy(seq: number, tokens: number[], pos: number): Promise<number>;
  /**
   * Most tokens forwardAll and forwardGreedyAll take. Their steps give every row, bit for bit, the
   * logits and cache entries that one-token steps give, which lets speculative decoding check a
   * draft in one step without changing a single output token. 0 where this backend's steps of
   * several tokens compute differently from one-token steps (then they are refused).
   */
  readonly maxVerifyTokens: number;
  /** Like forward, but every row's logits: n x nVocab, row i the logits after tokens[0..i]. */
  forwardAll(seq: number, tokens: number[], pos: number): Promise<Float32Array>;
  /** Like forwardGreedy, but every row's argmax (row i: the pick after tokens[0..i]), picked on the device. */
  forwardGreedyAll(seq: number, tokens: number[], pos: number): Promise<Int32Array>;
  /**
   * Runs every kernel a request can use once, so drivers that compile at first use (lavapipe) do it
   * now, at load, and not in the user's first completion; the caches are left empty. Resolves with
   * how many kernels it ran for the first time.
   */
  warmUp(): Promise<number>;
  stats(): BackendStats;
  dispose(): void;
}

export interface OpenOptions {
  nCtx: number;
  nSeq: number;
  /** Refuse to load when the model needs more device memory than this (tests use it to simulate a small GPU). */
  maxDeviceBytes?: number;
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
}

/** Most tokens a verification step (forwardAll, forwardGreedyAll) takes on either backend: a draft of 15 and the token before it. */
export const MAX_VERIFY_TOKENS = 16;

/** Most positions a sequence can hold, and most sequences, on either backend. */
const MAX_CTX = 1 << 24;
const MAX_SEQ = 256;

/** An option or a step a backend refuses (a RangeError); the message names the model file and the limit. */
export class BackendInputError extends RangeError {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'BackendInputError';
  }
}

/** Checks a backend's nCtx and nSeq for the model at `path`. */
export function checkOpenOptions(path: string, nCtx: number, nSeq: number): void {
  if (!Number.isInteger(nCtx) || nCtx < 1 || nCtx > MAX_CTX) throw new BackendInputError(path, `nCtx ${nCtx} must be a positive integer, at most ${MAX_CTX}`);
  if (!Number.isInteger(nSeq) || nSeq < 1 || nSeq > MAX_SEQ) throw new BackendInputError(path, `nSeq ${nSeq} must be an integer in 1..${MAX_SEQ}`);
}

/** Checks that `seq` names one of a backend's nSeq sequences. */
export function checkSeq(path: string, nSeq: number, seq: number): void {
  if (!Number.isInteger(seq) || seq < 0 || seq >= nSeq) throw new BackendInputError(path, `sequence ${seq} is outside 0..${nSeq - 1}`);
}

/** What a step is checked against: the backend's limits and how many tokens the sequence holds. */
export interface StepLimits { nSeq: number; nCtx: number; nVocab: number; held: number }

/**
 * Checks a step of `tokens` at positions pos.. of `seq` (see Backend.forward). `tokens` may be a
 * count instead, for tokens that are already on the device and need no range check.
 */
export function checkStep(path: string, l: StepLimits, seq: number, tokens: readonly number[] | number, pos: number): void {
  checkSeq(path, l.nSeq, seq);
  const n = typeof tokens === 'number' ? tokens : tokens.length;
  if (n === 0) throw new BackendInputError(path, 'no tokens to evaluate');
  if (!Number.isInteger(pos) || pos < 0 || pos > l.held) throw new BackendInputError(path, `position ${pos} is outside 0..${l.held} (sequence ${seq} holds ${l.held} tokens)`);
  if (pos + n > l.nCtx) throw new BackendInputError(path, `positions ${pos}..${pos + n - 1} exceed the context of ${l.nCtx}`);
  if (typeof tokens === 'number') return;
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= l.nVocab) throw new BackendInputError(path, `token ${t} is outside the vocabulary 0..${l.nVocab - 1}`);
  }
}

/** Checks that a step of n tokens for every row's outputs fits the backend's maxVerifyTokens. */
export function checkVerify(path: string, maxVerifyTokens: number, n: number): void {
  if (maxVerifyTokens === 0) throw new BackendInputError(path, 'this backend has no exact steps of every row (maxVerifyTokens 0): its steps of several tokens compute differently from one-token steps');
  if (n > maxVerifyTokens) throw new BackendInputError(path, `a step of every row's outputs takes at most ${maxVerifyTokens} tokens, got ${n}`);
}
