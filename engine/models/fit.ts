// The fit check before loading: the device memory a model needs at a context (weights as the device
// holds them, the KV caches, the activation buffers: engine/model/memory-plan.ts, the plan the GPU
// model allocates) against the bytes it may use, and the largest context that fits. It opens no
// device: the caller says what the adapter is (software adapters run the CPU kernels, hold int8
// weights and an f32 cache, and use system memory, so their budget defaults to free memory).
import { freemem } from 'node:os';
import { readGGUF, type GGUF } from '../gguf/gguf.js';
import { loadConfig, validateTensors } from '../model/model.js';
import { largestContext, planMemory, type DeviceTraits, type PlanShape } from '../model/memory-plan.js';
import { kvF16 } from '../../kernels/kv.js';

/** The adapter the model would load on. */
export interface FitDevice {
  /** A software adapter (lavapipe, SwiftShader): no GPU, the model runs on the CPU in system memory. */
  software: boolean;
  /** The adapter has shader-f16 (default true); GPUs with it keep an f16 KV cache. */
  f16?: boolean;
  /** The adapter's maxStorageBufferBindingSize (default DEFAULT_MAX_BINDING); weights split into parts of at most this. */
  maxStorageBufferBindingSize?: number;
}

/** Used when the adapter's binding limit is not known: it changes only how weights are split. */
export const DEFAULT_MAX_BINDING = 1 << 30;

export interface FitOptions {
  /** Positions each sequence's KV cache holds (the configured context). */
  nCtx: number;
  /** KV caches: 2 by default, as the inference process loads (completion and chat slots). */
  nSeq?: number;
  /**
   * Bytes the model may use. Default: free system memory on a software adapter; unknown on a GPU
   * (WebGPU does not report a GPU's memory size), and then `fits` is undefined.
   */
  budgetBytes?: number;
  device?: FitDevice;
}

export interface FitReport {
  /** The GGUF file, or the catalog file name for an estimate. */
  model: string;
  /** false for an estimate from a file size and known dimensions (estimateFit), before download. */
  exact: boolean;
  nCtx: number;
  nSeq: number;
  /** The model's training context (general context_length). */
  trainContext: number;
  weightBytes: number;
  kvBytes: number;
  scratchBytes: number;
  totalBytes: number;
  budgetBytes: number | undefined;
  /** undefined when the budget is unknown. */
  fits: boolean | undefined;
  /** The largest context up to max(nCtx, trainContext) that fits the budget (0: none); undefined when the budget is unknown. */
  largestContext: number | undefined;
  software: boolean;
  /** One line with the numbers, for the user. */
  message: string;
}

const GiB = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

function traits(d: FitDevice): DeviceTraits {
  const f16 = d.f16 ?? true;
  return { maxBinding: d.maxStorageBufferBindingSize ?? DEFAULT_MAX_BINDING, cpu: d.software, int8: d.software, f16Kv: kvF16({ f16, info: { software: d.software } }) };
}

function fit(model: string, exact: boolean, shape: PlanShape, trainContext: number, tensors: Parameters<typeof planMemory>[2], fixedBytes: number, o: FitOptions): FitReport {
  const nSeq = o.nSeq ?? 2;
  if (!Number.isInteger(o.nCtx) || o.nCtx < 1 || o.nCtx > 1 << 24) throw new RangeError(`fit check: nCtx ${o.nCtx} must be an integer in 1..${1 << 24}`);
  if (!Number.isInteger(nSeq) || nSeq < 1 || nSeq > 256) throw new RangeError(`fit check: nSeq ${nSeq} must be an integer in 1..256`);
  const device = o.device ?? { software: false };
  const d = traits(device);
  const budget = o.budgetBytes ?? (device.software ? freemem() : undefined);
  const plan = planMemory(model, shape, tensors, o.nCtx, nSeq, d);
  const weightBytes = plan.weights + fixedBytes;
  const total = weightBytes + plan.kv + plan.scratch;
  const fits = budget === undefined ? undefined : total <= budget;
  const most = budget === undefined ? undefined : largestContext(model, shape, tensors, nSeq, d, budget - fixedBytes, Math.max(o.nCtx, trainContext));
  const needs = `${exact ? 'needs' : 'needs about'} ${GiB(total)} (weights ${GiB(weightBytes)}, KV cache ${GiB(plan.kv)} for ${nSeq} x ${o.nCtx} positions, scratch ${GiB(plan.scratch)})`;
  const where = device.software ? ' of free system memory (no GPU: a software adapter runs the model on the CPU)' : '';
  let message: string;
  if (budget === undefined) message = `${model} ${needs}; the GPU's memory size is unknown (WebGPU does not report it)`;
  else if (fits) message = `${model} ${needs}; ${GiB(budget)} is available${where}: it fits`;
  else {
    message = `${model} ${needs} but ${GiB(budget)} is available${where}; ` +
      (most ? `the largest context that fits is ${most} positions` : 'even a 1-position context does not fit: choose a smaller model or quantization');
  }
  return {
    model, exact, nCtx: o.nCtx, nSeq, trainContext, weightBytes, kvBytes: plan.kv, scratchBytes: plan.scratch, totalBytes: total,
    budgetBytes: budget, fits, largestContext: most, software: device.software, message,
  };
}

/** The fit of a GGUF file on disk, from its header: exact, the same plan the GPU model allocates. */
export function checkFit(source: string | GGUF, o: FitOptions): FitReport {
  const g = typeof source === 'string' ? readGGUF(source) : source;
  const c = loadConfig(g);
  return fit(g.path, true, c, c.nCtxTrain, validateTensors(g, c), 0, o);
}

/**
 * An estimate before download, from the file's size and the model's dimensions (catalog.ts): the
 * weights taken as the file's bytes (their raw size plus a header of a few MiB), the KV cache and
 * scratch exact.
 */
export function estimateFit(file: string, fileBytes: number, shape: PlanShape & { nCtxTrain: number }, o: FitOptions): FitReport {
  return fit(file, false, shape, shape.nCtxTrain, new Map(), fileBytes, o);
}
