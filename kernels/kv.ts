// The KV cache's element type. f16 on GPUs with shader-f16: half the memory and bandwidth. f32 on
// CPU adapters, whose cache is host memory anyway and where the int8 products (matmul-int8.wgsl)
// would amplify f16 rounding into activations that round to other int8 steps; and without
// shader-f16. Kernels that touch the cache start with kvPrelude and use `kv_t`.
import type { Gpu } from '../engine/gpu/gpu.js';

/** The default: an f16 cache on GPUs that have shader-f16 (also asked of a device not yet opened, engine/models/fit.ts). */
export function kvF16(gpu: Pick<Gpu, 'f16'> & { info: Pick<Gpu['info'], 'software'> }): boolean {
  return gpu.f16 && !gpu.info.software;
}

export function kvPrelude(f16: boolean): string {
  return f16 ? 'enable f16;\nalias kv_t = f16;\n' : 'alias kv_t = f32;\n';
}

/** Bytes per cached element. */
export function kvElementBytes(f16: boolean): number {
  return f16 ? 2 : 4;
}
