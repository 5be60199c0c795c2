// SwiGLU's product: SiLU(gate) * up.
import { Dispatch, type Gpu } from '../engine/gpu/gpu.js';
import src from './silu-mul.wgsl';

const WG = 256;

export class SiluMul {
  private constructor(private readonly d: Dispatch, private readonly n: number) {}

  /** out[t, :] = silu(gate[t, :]) * up[t, :], where gu[t, :] is gate (n values) then up (n values). */
  static async create(gpu: Gpu, gu: GPUBuffer, out: GPUBuffer, n: number): Promise<SiluMul> {
    const pipeline = await gpu.pipeline({ label: 'silu_mul', code: src });
    const params = gpu.uniform('silu_mul params', new Uint32Array([n]));
    return new SiluMul(new Dispatch(pipeline, gpu.bindGroup('silu_mul', pipeline, [gu, out, params])), n);
  }

  record(pass: GPUComputePassEncoder, rows: number): void {
    this.d.record(pass, Math.ceil(this.n / WG), rows);
  }
}
