// RMS norm over rows of a [rows, n] f32 matrix, scaled by an f32 weight; optionally after adding a
// residual into the input.
import { Dispatch, type Gpu } from '../engine/gpu/gpu.js';
import src from './rmsnorm.wgsl';

export interface RmsNormBuffers {
  x: GPUBuffer;
  w: GPUBuffer;
  /** Output; may not alias x. */
  y: GPUBuffer;
  /** When given, x += residual (written back to x) before the norm. */
  residual?: GPUBuffer;
}

export class RmsNorm {
  private constructor(private readonly d: Dispatch) {}

  /** y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w, after x += residual when given. */
  static async create(gpu: Gpu, b: RmsNormBuffers, n: number, eps: number): Promise<RmsNorm> {
    const entryPoint = b.residual ? 'add_norm' : 'main';
    const pipeline = await gpu.pipeline({ label: `rmsnorm ${entryPoint}`, code: src, entryPoint });
    const params = new ArrayBuffer(8);
    new Uint32Array(params)[0] = n;
    new Float32Array(params)[1] = eps;
    const bg = gpu.bindGroup(`rmsnorm ${entryPoint}`, pipeline, [b.x, b.w, b.y, gpu.uniform('rmsnorm params', params), b.residual]);
    return new RmsNorm(new Dispatch(pipeline, bg));
  }

  record(pass: GPUComputePassEncoder, rows: number): void {
    this.d.record(pass, rows);
  }
}
