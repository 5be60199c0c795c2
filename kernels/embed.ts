// Embedding lookup straight from the quantized token table, in either layout.
import { Dispatch, type Gpu } from '../engine/gpu/gpu.js';
import { int8Regions, type GpuTensor } from '../engine/gpu/gpu-tensor.js';
import { dequantWgsl } from './dequant.js';
import src from './embed.wgsl';

const WG = 256;

export class Embedding {
  private constructor(private readonly cols: number, private readonly parts: Dispatch[]) {}

  /** out[t, :] (f32, table.cols wide) = row tokens[t] (u32) of `table`. */
  static async create(gpu: Gpu, table: GpuTensor, tokens: GPUBuffer, out: GPUBuffer): Promise<Embedding> {
    const pipeline = await gpu.pipeline({ label: `embed ${table.name}`, code: dequantWgsl(table.type, table.layout) + src });
    const parts = table.parts.map((part) => {
      const r = table.layout === 'int8' ? int8Regions(table.type, part.rows, table.cols) : { minOffset: 0, quantOffset: 0 };
      const layout = [table.rowBytes, table.cols / 32, r.minOffset, r.quantOffset];
      const params = gpu.uniform(`embed ${table.name} params`, new Uint32Array([table.cols, part.firstRow, part.rows, 0, ...layout]));
      return new Dispatch(pipeline, gpu.bindGroup(`embed ${table.name}`, pipeline, [part.buffer, tokens, out, params]));
    });
    return new Embedding(table.cols, parts);
  }

  record(pass: GPUComputePassEncoder, nTokens: number): void {
    for (const d of this.parts) d.record(pass, Math.ceil(this.cols / WG), nTokens);
  }
}
