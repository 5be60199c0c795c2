// What the fit check and the probe mean for the user: a model that does not fit, with the numbers
// and the context that would; a one-line memory summary for the picker; and the plain notice that
// no GPU was found, with the speed to expect.
import { basename } from 'node:path';
import type { FitReport } from '../../engine/process/index.js';
import { RANGES } from '../config.js';
import { humanBytes } from '../format.js';

/** The decode speed measured on a software adapter (the README's benchmark machine). */
export const SOFTWARE_SPEED = { tokPerS: 10, model: 'a 0.5B model', adapter: 'lavapipe with 2 CPU cores' };

const MIN_CONTEXT = RANGES.contextSize[0];

/** Said once when the only adapter is a software one. */
export function softwareNotice(adapter: string): string {
  return `no GPU was found: the only WebGPU adapter is ${adapter}, a software one, so the model runs on the CPU and completions will be slow ` +
    `(${SOFTWARE_SPEED.model} decodes about ${SOFTWARE_SPEED.tokPerS} tokens/s on ${SOFTWARE_SPEED.adapter}; larger models are slower in proportion to their size). ` +
    'Install or update the GPU driver (Vulkan on Linux, Metal on macOS, Direct3D 12 on Windows) to use the GPU.';
}

function budgetPlace(r: FitReport): string {
  return r.software ? 'of free system memory (no GPU: it runs on the CPU)' : 'of GPU memory';
}

/** Why `r`'s model cannot load at the configured context, or undefined when it fits (or the budget is unknown). */
export function fitProblem(r: FitReport, setting: string): string | undefined {
  if (r.fits !== false || r.budgetBytes === undefined) return undefined;
  const most = r.largestContext ?? 0;
  const suggest = Math.floor(most / MIN_CONTEXT) * MIN_CONTEXT;
  const instead = most >= MIN_CONTEXT
    ? `the largest context that fits is ${most} tokens: set hearth.contextSize to ${suggest}, or pick a smaller model or quantization`
    : `not even a ${MIN_CONTEXT}-token context fits: pick a smaller model or quantization`;
  return `${basename(r.model)} (${setting}) does not fit: at hearth.contextSize ${r.nCtx} it needs ${humanBytes(r.totalBytes)} ` +
    `(weights ${humanBytes(r.weightBytes)}, KV cache ${humanBytes(r.kvBytes)} for ${r.nSeq} × ${r.nCtx} tokens, scratch ${humanBytes(r.scratchBytes)}) ` +
    `and ${humanBytes(r.budgetBytes)} ${budgetPlace(r)} is available; ${instead}`;
}

/** One line for a picker entry: the memory needed at the context, and whether it fits when that is known. */
export function fitSummary(r: FitReport): string {
  const needs = `needs ${r.exact ? '' : 'about '}${humanBytes(r.totalBytes)} at ${r.nCtx} tokens of context`;
  if (r.fits === undefined || r.budgetBytes === undefined) return needs;
  if (r.fits) return `${needs}: fits in ${humanBytes(r.budgetBytes)} ${budgetPlace(r)}`;
  const most = r.largestContext ?? 0;
  return `${needs}: does not fit in ${humanBytes(r.budgetBytes)} ${budgetPlace(r)}${most >= MIN_CONTEXT ? ` (up to ${most} tokens would)` : ''}`;
}
