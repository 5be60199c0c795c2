// RoPE for a step's Q and K, and the store of K and V into the KV cache, in one dispatch.
import { Dispatch, GpuError, type Gpu } from '../engine/gpu/gpu.js';
import type { ModelConfig } from '../engine/gguf/hparams.js';
import { ropeAngles } from '../engine/gguf/rope.js';
import { kvF16 as defaultKvF16, kvPrelude } from './kv.js';
import src from './rope.wgsl';

const WG = 64;

export type RopeShape = Pick<ModelConfig, 'nHead' | 'nHeadKv' | 'headDim' | 'nRot' | 'ropeNeox'>;

/** (cos, sin) of every pair at positions 0..nCtx-1, from the reference's ropeAngles. */
export function ropeTable(c: ModelConfig, nCtx: number, freqFactors?: Float32Array): Float32Array {
  const half = c.nRot / 2;
  const out = new Float32Array(nCtx * half * 2);
  for (let pos = 0; pos < nCtx; pos++) {
    const { cos, sin } = ropeAngles(c, pos, freqFactors);
    for (let i = 0; i < half; i++) {
      out[(pos * half + i) * 2] = cos[i];
      out[(pos * half + i) * 2 + 1] = sin[i];
    }
  }
  return out;
}

/** The step-dependent uniform (the first token's position), shared by every layer and sequence. */
export class RopeParams {
  readonly buffer: GPUBuffer;
  private readonly data: Uint32Array;

  /** kvF16: the cache holds f16 (default: kv.ts's choice for the device). */
  constructor(private readonly gpu: Gpu, readonly shape: RopeShape, readonly ctx: number, readonly kvF16 = defaultKvF16(gpu)) {
    if (shape.nRot !== shape.headDim) throw new GpuError(`rope: rotating ${shape.nRot} of ${shape.headDim} head dimensions is not supported`);
    this.data = new Uint32Array([shape.nHead, shape.nHeadKv, shape.headDim, shape.ropeNeox ? 1 : 0, ctx, 0]);
    this.buffer = gpu.uniform('rope params', this.data);
  }

  setPosition(pos: number): void {
    this.data[5] = pos;
    this.gpu.write(this.buffer, this.data);
  }
}

export interface RopeBuffers {
  /** [tokens, nHead + 2 nHeadKv, headDim] f32: Q (rotated in place), K, V heads of each token. */
  qkv: GPUBuffer;
  /** ropeTable(...) for at least ctx positions. */
  angles: GPUBuffer;
  /** [nHeadKv, ctx, headDim] kv_t each. */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
}

export class Rope {
  private constructor(private readonly d: Dispatch, private readonly threads: number) {}

  static async create(gpu: Gpu, params: RopeParams, b: RopeBuffers): Promise<Rope> {
    const pipeline = await gpu.pipeline({ label: 'rope', code: kvPrelude(params.kvF16) + src });
    const bg = gpu.bindGroup('rope', pipeline, [b.qkv, b.angles, b.kCache, b.vCache, params.buffer]);
    const s = params.shape;
    return new Rope(new Dispatch(pipeline, bg), (s.nHead + s.nHeadKv) * (s.headDim / 2));
  }

  /** Rotates tokens at positions pos..pos+nTokens-1 (pos set by RopeParams.setPosition). */
  record(pass: GPUComputePassEncoder, nTokens: number): void {
    this.d.record(pass, Math.ceil(this.threads / WG), nTokens);
  }
}
