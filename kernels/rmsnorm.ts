// RMS norm over rows of a [rows, n] f32 matrix, scaled by an f32 weight.
import { Dispatch, type Gpu } from '../engine/gpu.js';
import src from './rmsnorm.wgsl';

export class RmsNorm {
  private constructor(private readonly d: Dispatch) {}

  /** y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w (y may not alias x). */
  static async create(gpu: Gpu, b: { x: GPUBuffer; w: GPUBuffer; y: GPUBuffer }, n: number, eps: number): Promise<RmsNorm> {
    const pipeline = await gpu.pipeline({ label: 'rmsnorm', code: src });
    const params = new ArrayBuffer(8);
    new Uint32Array(params)[0] = n;
    new Float32Array(params)[1] = eps;
    return new RmsNorm(new Dispatch(pipeline, gpu.bindGroup('rmsnorm', pipeline, [b.x, b.w, b.y, gpu.uniform('rmsnorm params', params)])));
  }

  record(pass: GPUComputePassEncoder, rows: number): void {
    this.d.record(pass, rows);
  }
}
