// The one interface every compute path implements: the plain TypeScript reference (for tests and
// debugging) and the WebGPU model (the product path). Callers never branch on which one they hold.
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
