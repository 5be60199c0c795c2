// Causal GQA attention over the VRAM KV cache. Decode steps (a few tokens) split the keys across
// workgroups, flash-decoding style, and merge the splits in a second dispatch (attention.wgsl); on
// CPU adapters they run as scores, then softmax times values (attention-cpu.wgsl); prefill steps
// tile the queries with register-blocked workgroups (attention-prefill.wgsl).
import { Dispatch, GpuError, type Gpu } from '../engine/gpu/gpu.js';
import { kvF16 as defaultKvF16, kvPrelude } from './kv.js';
import src from './attention.wgsl';
import prefillSrc from './attention-prefill.wgsl';
import cpuSrc from './attention-cpu.wgsl';
import io from './attention-io.wgsl';
import cacheSrc from './attention-cache.wgsl';
import ropeSrc from './attention-rope.wgsl';
import roundF16 from './round-f16.wgsl';

const WG = 64;
/** Steps of at most this many tokens split the keys. */
const DECODE_MAX_TOKENS = 8;
/**
 * Steps of at most this many tokens run attention-cpu.wgsl on CPU adapters (lavapipe, 0.5B shape:
 * 8 tokens at position 1000 take ~155 ms against ~485 split; 32 tokens ~630 ms against ~750 tiled).
 */
const CPU_MAX_TOKENS = 32;

/** The most tokens a step may have to take the decode kernels (cpu: attention-cpu.wgsl's). */
export function maxDecodeTokens(cpu: boolean): number {
  return cpu ? CPU_MAX_TOKENS : DECODE_MAX_TOKENS;
}
const MAX_SPLITS = 64;
/** Keys per split at least this (one block of the decode kernel's widest tile): shorter splits mostly add merging. */
const MIN_SPLIT_KEYS = 64;
// attention-cpu.wgsl's mix invocations per row: a CPU's SIMD width, so each key's exp runs once.
const CPU_MIX_LANES = 8;

export interface AttentionShape {
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Cache positions per kv head. */
  ctx: number;
  /** Applied to Q·K before softmax. */
  scale: number;
}

interface Tiling { tq: number; tk: number }

/** Largest tiles up to (tq, tk) whose workgroup memory fits the device. */
function tiling(gpu: Gpu, d: number, tq: number, tk: number): Tiling {
  const bytes = (t: Tiling) => (t.tq * d + t.tk * d + t.tq * t.tk + 3 * t.tq) * 4;
  const t = { tq, tk };
  const limit = gpu.limits.maxComputeWorkgroupStorageSize;
  while (bytes(t) > limit && t.tk > 8) t.tk /= 2;
  while (bytes(t) > limit && t.tq > 1) t.tq /= 2;
  if (bytes(t) > limit) throw new GpuError(`attention: head dimension ${d} needs more workgroup memory than the device's ${limit} bytes`);
  return t;
}

/** attention.wgsl with its loads: from the cache, or with RoPE folded in (`neox` its pairing). */
function code(f16: boolean, d: number, t: Tiling, neox?: boolean): string {
  const d4 = d / 4;
  const loads = neox === undefined ? cacheSrc : `const NEOX = ${neox};\nconst KV_F16 = ${f16};\n${roundF16}\n${ropeSrc}`;
  const consts = `const D4 = ${d4}u;\nconst TQ = ${t.tq}u;\nconst TK = ${t.tk}u;\nconst WG = ${WG}u;\nconst NACC = ${Math.ceil((t.tq * d4) / WG)}u;\nconst MAX_SPLITS = ${MAX_SPLITS}u;\nconst MIN_SPLIT_KEYS = ${MIN_SPLIT_KEYS}u;\n`;
  return `${kvPrelude(f16)}${consts}${io}\n${loads}\n${src}`;
}

/** The largest prefill tiles (TQ a multiple of 16, TK of 8) whose workgroup memory fits the device. */
function prefillTiling(gpu: Gpu, d: number): Tiling {
  const qs = d / 4 + 1;
  const bytes = (t: Tiling) => (t.tq + t.tk) * qs * 16 + (t.tq * t.tk + 10 * t.tq) * 4;
  const limit = gpu.limits.maxComputeWorkgroupStorageSize;
  const t = [{ tq: 32, tk: 32 }, { tq: 32, tk: 16 }, { tq: 16, tk: 16 }, { tq: 16, tk: 8 }].find((x) => bytes(x) <= limit);
  if (!t) throw new GpuError(`attention: head dimension ${d} needs more workgroup memory than the device's ${limit} bytes`);
  return t;
}

function prefillCode(f16: boolean, d: number, t: Tiling): string {
  const d4 = d / 4;
  const consts = { D4: d4, TQ: t.tq, TK: t.tk, RQ: t.tq / 16, RK: t.tk / 8, RJ: Math.ceil(d4 / 8) };
  return kvPrelude(f16) + Object.entries(consts).map(([k, v]) => `const ${k} = ${v}u;\n`).join('') + `${io}\n${cacheSrc}\n${prefillSrc}`;
}

export interface AttentionPlan {
  nTokens: number;
  nSplits: number;
  decode: boolean;
  /** Keys the step attends to (its last token's). */
  keys: number;
}

/** The step-dependent uniform, shared by every layer and sequence. */
export class AttentionParams {
  readonly buffer: GPUBuffer;
  private readonly data = new ArrayBuffer(36);

  /**
   * kvF16: the cache holds f16 (default: kv.ts's choice for the device). cpu: steps of up to
   * CPU_MAX_TOKENS run attention-cpu.wgsl (default: on software adapters; Qwen2.5-0.5B's 24 layers at 1000 positions
   * on lavapipe, 2 cores: ~25 ms a token against ~72 for the flash kernel).
   */
  constructor(private readonly gpu: Gpu, readonly shape: AttentionShape, readonly kvF16 = defaultKvF16(gpu), readonly cpu = gpu.info.software) {
    if (shape.headDim % 4 !== 0) throw new GpuError(`attention: head dimension ${shape.headDim} must be a multiple of 4`);
    if (shape.nHead % shape.nHeadKv !== 0) throw new GpuError(`attention: ${shape.nHead} heads are not a multiple of ${shape.nHeadKv} kv heads`);
    new Uint32Array(this.data).set([0, 0, 1, 0, shape.nHead, shape.nHeadKv, shape.ctx, 0, shape.headDim / 4]);
    new Float32Array(this.data)[7] = shape.scale;
    this.buffer = gpu.uniform('attention params', this.data);
  }

  /** Sets up a step of nTokens at positions pos..pos+nTokens-1 and returns how to record it. */
  plan(nTokens: number, pos: number): AttentionPlan {
    const keys = pos + nTokens;
    const decode = nTokens <= maxDecodeTokens(this.cpu);
    let nSplits = 1, splitLen = keys;
    if (decode && !this.cpu) {
      nSplits = Math.max(1, Math.min(MAX_SPLITS, Math.floor(keys / MIN_SPLIT_KEYS)));
      splitLen = Math.ceil(keys / nSplits);
    }
    new Uint32Array(this.data).set([nTokens, pos, nSplits, splitLen]);
    this.gpu.write(this.buffer, new Uint8Array(this.data, 0, 16));
    return { nTokens, nSplits, decode, keys };
  }

}

/**
 * Bytes of the partial-result buffers that decode steps need: f32 outputs and (max, sum) pairs of
 * the splits, or with `cpu` (AttentionParams) the scores of every key.
 */
export function attentionPartialBytes(shape: Pick<AttentionShape, 'nHead' | 'headDim' | 'ctx'>, cpu: boolean): { o: number; ml: number } {
  if (cpu) return { o: CPU_MAX_TOKENS * shape.nHead * shape.ctx * 4, ml: 16 };
  const rows = MAX_SPLITS * DECODE_MAX_TOKENS * shape.nHead;
  return { o: rows * shape.headDim * 4, ml: rows * 8 };
}

export interface AttentionBuffers {
  /**
   * [tokens, nHead + 2 nHeadKv, headDim] f32: each token's Q heads, then K and V; rotated, and K and V
   * stored in the cache (kernels/rope.ts), except where the decode kernel folds RoPE in (`rope`).
   */
  qkv: GPUBuffer;
  /** [nHeadKv, ctx, headDim] kv_t each. */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** [tokens, nHead, headDim] f32. */
  out: GPUBuffer;
  /** Scratch of attentionPartialBytes(shape, params.cpu), shared by all layers. */
  partO: GPUBuffer;
  partML: GPUBuffer;
  /**
   * Fold RoPE into the GPU decode kernel (GPU kernels, and head dims that are multiples of 8 with
   * NeoX pairs): it rotates Q and the step's K on load and stores K and V in the cache itself, so
   * decode steps need no Rope dispatch (Attention.ropes). `angles`: kernels/rope.ts's ropeTable.
   */
  rope?: { angles: GPUBuffer; neox: boolean };
}

/** How decode steps run: split keys merged by a second pass (GPUs), or attention-cpu.wgsl's two passes. */
type DecodeKernels =
  | { cpu: false; rope: boolean; split: Dispatch; rows: number; combine: Dispatch }
  | { cpu: true; score: Dispatch; mix: Dispatch };

export class Attention {
  private constructor(
    private readonly shape: AttentionShape,
    private readonly prefill: Dispatch,
    private readonly prefillRows: number,
    private readonly decode: DecodeKernels,
  ) {}

  static async create(gpu: Gpu, params: AttentionParams, b: AttentionBuffers): Promise<Attention> {
    const s = params.shape;
    const d = s.headDim;
    const group = s.nHead / s.nHeadKv;
    const pre = prefillTiling(gpu, d);
    const p = await gpu.pipeline({ label: 'attention prefill', code: prefillCode(params.kvF16, d, pre) });
    const prefill = new Dispatch(p, gpu.bindGroup('attention prefill', p, [b.qkv, b.kCache, b.vCache, b.out, undefined, undefined, params.buffer]));
    if (params.cpu) {
      const ml = Math.min(CPU_MIX_LANES, d / 4);
      const consts = { D4: d / 4, G: group, ML: ml, MC: Math.ceil(d / 4 / ml) };
      const src = kvPrelude(params.kvF16) + Object.entries(consts).map(([k, v]) => `const ${k} = ${v}u;\n`).join('') + `${io}\n${cacheSrc}\n${cpuSrc}`;
      const [score, mix] = await Promise.all(['score', 'mix'].map((entryPoint) => gpu.pipeline({ label: `attention ${entryPoint} (CPU)`, code: src, entryPoint })));
      return new Attention(s, prefill, pre.tq, {
        cpu: true,
        score: new Dispatch(score, gpu.bindGroup('attention score', score, [b.qkv, b.kCache, undefined, undefined, b.partO, undefined, params.buffer])),
        mix: new Dispatch(mix, gpu.bindGroup('attention mix', mix, [undefined, undefined, b.vCache, b.out, b.partO, undefined, params.buffer])),
      });
    }
    const dec = tiling(gpu, d, Math.min(16, 2 ** Math.ceil(Math.log2(group))), 64);
    const rope = b.rope && (!b.rope.neox || d % 8 === 0) ? b.rope : undefined;
    const [split, combine] = await Promise.all([
      gpu.pipeline({ label: `attention decode${rope ? ' with rope' : ''}`, code: code(params.kvF16, d, dec, rope?.neox) }),
      gpu.pipeline({ label: 'attention combine', code: code(params.kvF16, d, dec), entryPoint: 'combine' }),
    ]);
    return new Attention(s, prefill, pre.tq, {
      cpu: false,
      rope: rope !== undefined,
      split: new Dispatch(split, gpu.bindGroup('attention decode', split, [b.qkv, b.kCache, b.vCache, b.out, b.partO, b.partML, params.buffer, rope?.angles])),
      rows: dec.tq,
      combine: new Dispatch(combine, gpu.bindGroup('attention combine', combine, [undefined, undefined, undefined, b.out, b.partO, b.partML, params.buffer])),
    });
  }

  /** Whether a step of nTokens rotates its Q and K and stores its K and V itself (AttentionBuffers.rope). */
  ropes(nTokens: number): boolean {
    return !this.decode.cpu && this.decode.rope && nTokens <= DECODE_MAX_TOKENS;
  }

  record(pass: GPUComputePassEncoder, plan: AttentionPlan): void {
    const rows = plan.nTokens * (this.shape.nHead / this.shape.nHeadKv);
    const dec = this.decode;
    if (!plan.decode) {
      this.prefill.record(pass, 1, Math.ceil(rows / this.prefillRows), this.shape.nHeadKv);
    } else if (dec.cpu) {
      dec.score.record(pass, Math.ceil(plan.keys / 32), plan.nTokens, this.shape.nHeadKv);
      dec.mix.record(pass, plan.nTokens * this.shape.nHead);
    } else {
      // Tiles of one token's heads each; every token splits its keys as a one-token step would (attention.wgsl).
      dec.split.record(pass, plan.nSplits, plan.nTokens * Math.ceil(this.shape.nHead / this.shape.nHeadKv / dec.rows), this.shape.nHeadKv);
      if (plan.nSplits > 1) dec.combine.record(pass, plan.nTokens * this.shape.nHead);
    }
  }
}
