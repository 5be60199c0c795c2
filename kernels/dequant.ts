// Host side of dequant.wgsl: picks the per-type element decoder for a kernel module.
import { GGMLType, typeName, typeTraits } from '../engine/gguf/ggml.js';
import { INT8_LAYOUTS, type TensorLayout } from '../engine/gpu/gpu-tensor.js';
import src from './dequant.wgsl';

const DECODER: Partial<Record<GGMLType, string>> = {
  [GGMLType.F32]: 'dq_f32(blk)',
  [GGMLType.F16]: 'dq_f16(blk)',
  [GGMLType.BF16]: 'dq_bf16(blk)',
  [GGMLType.Q4_0]: 'dq_q4_0(blk, j)',
  [GGMLType.Q4_1]: 'dq_q4_1(blk, j)',
  [GGMLType.Q5_0]: 'dq_q5_0(blk, j)',
  [GGMLType.Q5_1]: 'dq_q5_1(blk, j)',
  [GGMLType.Q8_0]: 'dq_q8_0(blk, j)',
  [GGMLType.Q4_K]: 'dq_q4_k(blk, j)',
  [GGMLType.Q5_K]: 'dq_q5_k(blk, j)',
  [GGMLType.Q6_K]: 'dq_q6_k(blk, j)',
};

/** Types the WGSL decoders handle. */
export const GPU_DEQUANT_TYPES: ReadonlySet<GGMLType> = new Set(Object.keys(DECODER).map(Number) as GGMLType[]);

/**
 * `fn dq(m: u32, i: u32, l: Layout) -> f32`: element i of row m of W, for one ggml type in one
 * layout (engine/gpu-tensor.ts), with `struct Layout { row_bytes, units, min_off, quant_off }`.
 */
export function dequantWgsl(type: GGMLType, layout: TensorLayout = 'raw'): string {
  const call = DECODER[type];
  const t = typeTraits(type);
  if (!call || !t) throw new Error(`no GPU decoder for ggml type ${typeName(type)}`);
  const struct = 'struct Layout { row_bytes: u32, units: u32, min_off: u32, quant_off: u32 }';
  if (layout === 'int8') {
    const l = INT8_LAYOUTS.get(type);
    if (!l) throw new Error(`no int8 layout for ggml type ${typeName(type)}`);
    // Scale, min and the word holding element i of row m's unit i / 32.
    return `${struct}
fn dq(m: u32, i: u32, l: Layout) -> f32 {
  let s = ((m >> 3u) * l.units + i / 32u) * 8u + (m & 7u);
  let j = i % 32u;
  let base = l.quant_off + s * ${l.words}u - (m & 7u) * ${l.words - 1}u;
  let word = W[base + ((j % ${l.words === 8 ? 32 : 16}u) / 4u) * 8u];
  let q = ${l.words === 8 ? 'f32((bitcast<i32>(word << (24u - (j % 4u) * 8u))) >> 24u)' : 'f32((word >> ((j % 4u) * 8u + (j / 16u) * 4u)) & 0xFu)'}${l.words === 5 ? ' + f32(((W[base + 32u] >> j) & 1u) << 4u)' : ''};
  return ${{ none: 'bitcast<f32>(W[s]) * q', offset: `bitcast<f32>(W[s]) * (q - ${l.offset}.0)`, stored: 'bitcast<f32>(W[s]) * q - bitcast<f32>(W[l.min_off + s])', halves: 'bitcast<f32>(W[select(s, l.min_off + s, j >= 16u)]) * q' }[l.mins]};
}
`;
  }
  return `${src}
${struct}
fn dq(m: u32, i: u32, l: Layout) -> f32 {
  let blk = m * l.row_bytes + (i / ${t.blockSize}u) * ${t.typeSize}u;
  let j = i % ${t.blockSize}u;
  return ${call};
}
`;
}
