// Greedy sampling on the device: the argmax of the logits (lower id on ties, as the host sampler's
// argmax), so only the token id (4 bytes) comes back. Sampling with a temperature or penalties runs
// on the host (engine/model/sampler.ts) over the logits.
import { Dispatch, type Gpu } from '../engine/gpu/gpu.js';
import src from './sample.wgsl';

const WG = 256;
/** Logits per argmax workgroup. */
const AC = 4096;

const CODE = `const AC = ${AC}u;\nconst WG = ${WG}u;\n${src}`;

/** Bytes of the per-workgroup bests over nVocab logits. */
function partialBytes(nVocab: number): number {
  return Math.ceil(nVocab / AC) * 8;
}

/** Scratch bytes a sampler over nVocab logits allocates: the partials, the result and two uniforms (16 bytes each). */
export function samplerBytes(nVocab: number): number {
  return Math.max(16, Math.ceil(partialBytes(nVocab) / 16) * 16) + 3 * 16;
}

export class GreedySampler {
  private constructor(
    private readonly steps: [Dispatch, number][],
    /** result[0]: the token id. */
    readonly result: GPUBuffer,
  ) {}

  /** Picks from `logits` (nVocab f32). */
  static async create(gpu: Gpu, logits: GPUBuffer, nVocab: number): Promise<GreedySampler> {
    const pipe = (entryPoint: string) => gpu.pipeline({ label: `sample ${entryPoint}`, code: CODE, entryPoint });
    const [partial, final] = await Promise.all(['argmax_partial', 'argmax_final'].map(pipe));
    const level = (n: number) => gpu.uniform('sample level', new Uint32Array([n]));
    const partials = gpu.buffer('sample partials', partialBytes(nVocab), 'scratch');
    const result = gpu.buffer('sample result', 4, 'scratch');
    // Binding order: logits, best_in, best_out, result, level.
    const bind = (p: GPUComputePipeline, b: (GPUBuffer | undefined)[]) => new Dispatch(p, gpu.bindGroup(p.label, p, b));
    const nPartial = Math.ceil(nVocab / AC);
    return new GreedySampler([
      [bind(partial, [logits, undefined, partials, undefined, level(nVocab)]), nPartial],
      [bind(final, [undefined, partials, undefined, result, level(nPartial)]), 1],
    ], result);
  }

  /** Records the pick into result. */
  record(pass: GPUComputePassEncoder): void {
    for (const [d, n] of this.steps) d.record(pass, n);
  }
}
