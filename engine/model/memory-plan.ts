// Device memory the WebGPU forward pass (webgpu-model.ts) allocates for a model: weights as the
// device holds them (raw blocks or the int8 layout, split into bindings), one K and one V cache per
// layer and sequence, and the activation buffers of one prefill chunk. webgpu-model.ts allocates
// exactly this plan; the fit check (engine/models/fit.ts) computes it before any device is opened.
// Nothing here touches a device, so importing it does not load Dawn.
import type { GGUFTensorInfo } from '../gguf/gguf.js';
import { GpuError } from '../gpu/gpu.js';
import { hasInt8Layout, tensorDeviceBytes, type TensorLayout } from '../gpu/gpu-tensor.js';
import type { ModelConfig } from '../gguf/hparams.js';
import { attentionPartialBytes, maxDecodeTokens } from '../../kernels/attention.js';
import { MATVEC_MAX_TOKENS } from '../../kernels/matmul.js';
import { kvElementBytes } from '../../kernels/kv.js';
import { samplerBytes } from '../../kernels/sample.js';
import { MAX_VERIFY_TOKENS } from './backend.js';

/** Most tokens per prefill command buffer (bounds the activation buffers). */
export const PREFILL_CHUNK = 512;

/** What of the device shapes the plan. */
export interface DeviceTraits {
  /** maxStorageBufferBindingSize: weights are split into parts of at most this. */
  maxBinding: number;
  /** The CPU kernel family (software adapters): row-blocked products, two-pass decode attention. */
  cpu: boolean;
  /** Weights that have one take the int8 layout. */
  int8: boolean;
  /** The KV cache holds f16. */
  f16Kv: boolean;
}

/** The model dimensions the plan depends on (a ModelConfig, or a catalog entry's known shape). */
export type PlanShape = Pick<ModelConfig, 'nVocab' | 'nEmbd' | 'nLayer' | 'nHead' | 'nHeadKv' | 'headDim' | 'nFf'>;

/**
 * chunk: most tokens per command buffer; verifyRows: most rows of logits a step computes (a
 * verification step's, Backend.maxVerifyTokens; 1 where only the last token's are).
 */
export interface MemoryPlan { weights: number; kv: number; scratch: number; chunk: number; kvBinding: number; verifyRows: number }

/** The layout a weight takes on the device. */
export function tensorLayout(d: Pick<DeviceTraits, 'int8'>, t: { type: GGUFTensorInfo['type']; dims: number[] }): TensorLayout {
  return d.int8 && hasInt8Layout(t.type, t.dims[0]) ? 'int8' : 'raw';
}

/** The activation buffers of the GPU model's RunState, each allocated for `chunk` tokens. */
export type Activation = 'tokens' | 'x' | 'h' | 'qkv' | 'attn' | 'proj' | 'gu' | 'act' | 'logits' | 'angles';

/** Bytes of each activation for steps of `t` tokens, with logits for `rows` of them. */
export function scratchSizes(c: PlanShape, t: number, nCtx: number, rows: number): Record<Activation, number> {
  const q = c.nHead * c.headDim, kv = c.nHeadKv * c.headDim;
  return {
    tokens: t * 4, x: t * c.nEmbd * 4, h: t * c.nEmbd * 4, qkv: t * (q + 2 * kv) * 4, attn: t * q * 4,
    proj: t * c.nEmbd * 4, gu: t * 2 * c.nFf * 4, act: t * c.nFf * 4,
    logits: rows * c.nVocab * 4, angles: nCtx * c.headDim * 4,
  };
}

/** Device bytes the model needs, checked against the device's binding limit. */
export function planMemory(path: string, c: PlanShape, tensors: Map<string, GGUFTensorInfo>, nCtx: number, nSeq: number, d: DeviceTraits): MemoryPlan {
  let weights = 0;
  for (const t of tensors.values()) {
    weights += t.dims.length === 1 ? Math.ceil((t.nelements * 4) / 16) * 16 : tensorDeviceBytes(t.name, t.type, t.dims, d.maxBinding, tensorLayout(d, t));
  }
  const kvBinding = c.nHeadKv * nCtx * c.headDim * kvElementBytes(d.f16Kv);
  if (kvBinding > d.maxBinding) {
    throw new GpuError(`${path}: a ${nCtx}-position KV cache layer (${kvBinding} bytes) exceeds the device's storage binding limit of ${d.maxBinding} bytes; use a smaller context`);
  }
  // Fewer tokens per chunk when the widest activation would not fit one binding.
  const widest = Math.max(2 * c.nFf, (c.nHead + 2 * c.nHeadKv) * c.headDim, c.nEmbd) * 4;
  const chunk = Math.max(1, Math.min(PREFILL_CHUNK, nCtx, Math.floor(d.maxBinding / widest)));
  // Steps that take the decode kernels compute each row as a one-token step does: on the CPU kernels
  // up to 32 tokens; on GPUs' up to 8, through matvec (with the norms and adds folded in) and decode
  // attention. Verification steps fit those and one command buffer.
  const verifyRows = Math.min(MAX_VERIFY_TOKENS, maxDecodeTokens(d.cpu), d.cpu ? Infinity : MATVEC_MAX_TOKENS, chunk);
  const sizes = scratchSizes(c, chunk, nCtx, verifyRows);
  for (const [name, bytes] of Object.entries(sizes)) {
    if (bytes > d.maxBinding) throw new GpuError(`${path}: the ${name} buffer (${bytes} bytes) exceeds the device's storage binding limit of ${d.maxBinding} bytes`);
  }
  const part = attentionPartialBytes({ ...c, ctx: nCtx }, d.cpu);
  const scratch = Object.values(sizes).reduce((a, b) => a + b, 0) + part.o + part.ml + samplerBytes(c.nVocab, verifyRows);
  return { weights, kv: 2 * c.nLayer * nSeq * kvBinding, scratch, chunk, kvBinding, verifyRows };
}

export const planTotal = (p: MemoryPlan) => p.weights + p.kv + p.scratch;

/**
 * The largest context in 1..maxCtx whose plan fits in `available` bytes (0 when not even one
 * position fits). The plan grows with the context, so a binary search finds it; a context whose
 * buffers exceed a binding limit does not fit.
 */
export function largestContext(path: string, c: PlanShape, tensors: Map<string, GGUFTensorInfo>, nSeq: number, d: DeviceTraits, available: number, maxCtx: number): number {
  const fits = (n: number) => {
    try {
      return planTotal(planMemory(path, c, tensors, n, nSeq, d)) <= available;
    } catch (e) {
      if (e instanceof GpuError) return false;
      throw e;
    }
  };
  let lo = 0, hi = Math.max(0, Math.floor(maxCtx));
  if (hi > 0 && fits(hi)) return hi;
  // Invariant: lo fits (or is 0), hi does not; at most log2(maxCtx) steps.
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
