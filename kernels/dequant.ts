// Host side of dequant.wgsl: picks the per-type element decoder for a kernel module.
import { GGMLType, typeName, typeTraits } from '../engine/ggml.js';
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
 * dequant.wgsl plus `fn dq(row: u32, i: u32) -> f32`: element i of the row starting at byte `row` of
 * W, for one ggml type.
 */
export function dequantWgsl(type: GGMLType): string {
  const call = DECODER[type];
  const t = typeTraits(type);
  if (!call || !t) throw new Error(`no GPU decoder for ggml type ${typeName(type)}`);
  return `${src}
fn dq(row: u32, i: u32) -> f32 {
  let blk = row + (i / ${t.blockSize}u) * ${t.typeSize}u;
  let j = i % ${t.blockSize}u;
  return ${call};
}
`;
}
