// SiLU(gate) * up, written over gate.
import { Dispatch, type Gpu } from '../engine/gpu.js';
import src from './silu-mul.wgsl';

const WG = 256;

export class SiluMul {
  private constructor(private readonly d: Dispatch, private readonly n: number) {}

  /** gate[t, :] = silu(gate[t, :]) * up[t, :] (rows of n). */
  static async create(gpu: Gpu, gate: GPUBuffer, up: GPUBuffer, n: number): Promise<SiluMul> {
    const pipeline = await gpu.pipeline({ label: 'silu_mul', code: src });
    const params = gpu.uniform('silu_mul params', new Uint32Array([n]));
    return new SiluMul(new Dispatch(pipeline, gpu.bindGroup('silu_mul', pipeline, [gate, up, params])), n);
  }

  record(pass: GPUComputePassEncoder, rows: number): void {
    this.d.record(pass, Math.ceil(this.n / WG), rows);
  }
}
