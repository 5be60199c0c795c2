// Residual add (same shape) and bias add (one row broadcast), in place.
import { Dispatch, type Gpu } from '../engine/gpu.js';
import src from './add.wgsl';

const WG = 256;

export class Add {
  private constructor(private readonly d: Dispatch, private readonly n: number) {}

  /** y[t, :] += a[t, :] (rows of n). */
  static residual(gpu: Gpu, y: GPUBuffer, a: GPUBuffer, n: number): Promise<Add> {
    return Add.create(gpu, y, a, n, n);
  }

  /** y[t, :] += bias (n values). */
  static bias(gpu: Gpu, y: GPUBuffer, bias: GPUBuffer, n: number): Promise<Add> {
    return Add.create(gpu, y, bias, n, 0);
  }

  private static async create(gpu: Gpu, y: GPUBuffer, a: GPUBuffer, n: number, stride: number): Promise<Add> {
    const pipeline = await gpu.pipeline({ label: 'add', code: src });
    const params = gpu.uniform('add params', new Uint32Array([n, stride]));
    return new Add(new Dispatch(pipeline, gpu.bindGroup(stride ? 'residual add' : 'bias add', pipeline, [y, a, params])), n);
  }

  record(pass: GPUComputePassEncoder, rows: number): void {
    this.d.record(pass, Math.ceil(this.n / WG), rows);
  }
}
