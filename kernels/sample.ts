// Sampling on the device: greedy argmax, or top-k / temperature / top-p with a uniform number from
// the host, following the reference's sampleLogits. Only the token id (4 bytes) comes back.
import type { SampleParams } from '../engine/model/backend.js';
import { Dispatch, type Gpu } from '../engine/gpu/gpu.js';
import src from './sample.wgsl';

const WG = 256;
/** Logits per bitonic-sorted chunk. */
const CH = 2048;
/** Candidates kept per chunk: the largest top-k sampled on the device. */
export const TOP_K_MAX = 128;
/** Logits per argmax workgroup. */
const AC = 4096;
/** sample_final's answer when the best TOP_K_MAX candidates cannot decide. */
export const FALLBACK = 0xffffffff;

const CODE = `const CH = ${CH}u;\nconst C = ${TOP_K_MAX}u;\nconst AC = ${AC}u;\nconst WG = ${WG}u;\n${src}`;

/** top-k as the device runs it: 0 for the whole vocabulary. */
function deviceTopK(p: SampleParams, nVocab: number): number {
  return p.topK <= 0 || p.topK >= nVocab ? 0 : p.topK;
}

function bufferSizes(nVocab: number): { candA: number; candB: number; partials: number } {
  const nChunks = Math.ceil(nVocab / CH);
  return { candA: nChunks * TOP_K_MAX * 8, candB: Math.ceil((nChunks * TOP_K_MAX) / CH) * TOP_K_MAX * 8, partials: nChunks * 8 };
}

/** Scratch bytes a sampler over nVocab logits allocates (buffers are at least 16 bytes). */
export function samplerBytes(nVocab: number): number {
  return Object.values(bufferSizes(nVocab)).reduce((a, n) => a + Math.max(16, Math.ceil(n / 16) * 16), 0) + 16;
}

export class DeviceSampler {
  private readonly data = new ArrayBuffer(24);

  private constructor(
    private readonly gpu: Gpu,
    private readonly nVocab: number,
    private readonly nPartials: number,
    private readonly argmax: [Dispatch, number][],
    private readonly topk: [Dispatch, number][],
    private readonly final: Dispatch,
    /** result[0]: the token id, or FALLBACK. */
    readonly result: GPUBuffer,
    private readonly params: GPUBuffer,
  ) {}

  /** Samples from `logits` (nVocab f32). */
  static async create(gpu: Gpu, logits: GPUBuffer, nVocab: number): Promise<DeviceSampler> {
    const pipe = (entryPoint: string) => gpu.pipeline({ label: `sample ${entryPoint}`, code: CODE, entryPoint });
    const [argPartial, argFinal, first, merge, final] = await Promise.all(
      ['argmax_partial', 'argmax_final', 'topk_first', 'topk_merge', 'sample_final'].map(pipe),
    );
    const level = (n: number) => gpu.uniform('sample level', new Uint32Array([n]));
    const nChunks = Math.ceil(nVocab / CH);
    const sizes = bufferSizes(nVocab);
    const candA = gpu.buffer('sample candidates A', sizes.candA, 'scratch');
    const candB = gpu.buffer('sample candidates B', sizes.candB, 'scratch');
    const partials = gpu.buffer('sample partials', sizes.partials, 'scratch');
    const result = gpu.buffer('sample result', 4, 'scratch');
    const params = gpu.uniform('sample params', new ArrayBuffer(24));
    // Binding order: logits, cand_in, cand_out, partials, result, level, params.
    const bind = (p: GPUComputePipeline, b: (GPUBuffer | undefined)[]) => new Dispatch(p, gpu.bindGroup(p.label, p, b));

    const nArg = Math.ceil(nVocab / AC);
    const argmax: [Dispatch, number][] = [
      [bind(argPartial, [logits, undefined, candA, undefined, undefined, level(nVocab)]), nArg],
      [bind(argFinal, [undefined, candA, undefined, undefined, result, level(nArg)]), 1],
    ];

    const topk: [Dispatch, number][] = [[bind(first, [logits, undefined, candA, partials, undefined, level(nVocab), params]), nChunks]];
    let n = nChunks * TOP_K_MAX;
    let [src, dst] = [candA, candB];
    for (let w = nChunks; w > 1; ) {
      w = Math.ceil(n / CH);
      topk.push([bind(merge, [undefined, src, dst, undefined, undefined, level(n)]), w]);
      n = w * TOP_K_MAX;
      [src, dst] = [dst, src];
    }
    const fin = bind(final, [undefined, src, undefined, partials, result, undefined, params]);
    return new DeviceSampler(gpu, nVocab, nChunks, argmax, topk, fin, result, params);
  }

  /** Whether the device can sample with these parameters (top-k above TOP_K_MAX cannot). */
  supports(p: SampleParams): boolean {
    return p.temperature <= 0 || deviceTopK(p, this.nVocab) <= TOP_K_MAX;
  }

  /** Records sampling; writes the parameters now, so call it before submitting. */
  record(pass: GPUComputePassEncoder, p: SampleParams): void {
    if (p.temperature <= 0) {
      for (const [d, n] of this.argmax) d.record(pass, n);
      return;
    }
    new Uint32Array(this.data).set([this.nVocab, deviceTopK(p, this.nVocab), this.nPartials]);
    new Float32Array(this.data).set([p.temperature, p.topP, p.uniform], 3);
    this.gpu.write(this.params, new Uint8Array(this.data));
    for (const [d, n] of this.topk) d.record(pass, n);
    this.final.record(pass, 1);
  }
}
