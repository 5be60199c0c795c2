// Greedy sampling on the device: the argmax of the logits (lower id on ties, as the host sampler's
// argmax), so only the token id (4 bytes) comes back; a verification step's rows each get their own. Sampling with a temperature or penalties runs
// on the host (engine/model/sampler.ts) over the logits.
import { Dispatch, GpuError, type Gpu } from '../engine/gpu/gpu.js';
import src from './sample.wgsl';

const WG = 256;
/** Logits per argmax workgroup. */
const AC = 4096;

const CODE = `const AC = ${AC}u;\nconst WG = ${WG}u;\n${src}`;

/** Bytes of the per-workgroup bests over `rows` rows of nVocab logits. */
function partialBytes(nVocab: number, rows: number): number {
  return rows * Math.ceil(nVocab / AC) * 8;
}

/** Scratch bytes a sampler over `rows` rows of nVocab logits allocates: the partials, the results and two uniforms (16 bytes each). */
export function samplerBytes(nVocab: number, rows = 1): number {
  const pad = (n: number) => Math.max(16, Math.ceil(n / 16) * 16);
  return pad(partialBytes(nVocab, rows)) + pad(rows * 4) + 2 * 16;
}

export class GreedySampler {
  private constructor(
    private readonly steps: [Dispatch, number][],
    /** result[r]: the token id picked from row r. */
    readonly result: GPUBuffer,
    /** Rows it can pick from. */
    readonly rows: number,
  ) {}

  /** Picks from `logits` (up to `rows` rows of nVocab f32). */
  static async create(gpu: Gpu, logits: GPUBuffer, nVocab: number, rows = 1): Promise<GreedySampler> {
    const pipe = (entryPoint: string) => gpu.pipeline({ label: `sample ${entryPoint}`, code: CODE, entryPoint });
    const [partial, final] = await Promise.all(['argmax_partial', 'argmax_final'].map(pipe));
    const level = (n: number) => gpu.uniform('sample level', new Uint32Array([n]));
    const partials = gpu.buffer('sample partials', partialBytes(nVocab, rows), 'scratch');
    const result = gpu.buffer('sample result', rows * 4, 'scratch');
    // Binding order: logits, best_in, best_out, result, level.
    const bind = (p: GPUComputePipeline, b: (GPUBuffer | undefined)[]) => new Dispatch(p, gpu.bindGroup(p.label, p, b));
    const nPartial = Math.ceil(nVocab / AC);
    return new GreedySampler([
      [bind(partial, [logits, undefined, partials, undefined, level(nVocab)]), nPartial],
      [bind(final, [undefined, partials, undefined, result, level(nPartial)]), 1],
    ], result, rows);
  }

  /** Records the picks of the first `rows` rows into result. */
  record(pass: GPUComputePassEncoder, rows = 1): void {
    if (!Number.isInteger(rows) || rows < 1 || rows > this.rows) throw new GpuError(`greedy sampler: ${rows} rows to pick from, but it was made for 1..${this.rows}`);
    for (const [d, n] of this.steps) d.record(pass, n, rows);
  }
}
