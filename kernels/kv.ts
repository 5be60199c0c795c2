// The KV cache's element type: f16 where the device has shader-f16 (half the memory and bandwidth),
// f32 otherwise. Kernels that touch the cache start with this prelude and use `kv_t`.
import type { Gpu } from '../engine/gpu.js';

export function kvPrelude(gpu: Gpu): string {
  return gpu.f16 ? 'enable f16;\nalias kv_t = f16;\n' : 'alias kv_t = f32;\n';
}

/** Bytes per cached element. */
export function kvElementBytes(gpu: Gpu): number {
  return gpu.f16 ? 2 : 4;
}
