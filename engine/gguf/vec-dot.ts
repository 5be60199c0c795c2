// The activations llama.cpp's CPU backend actually multiplies each weight type with (ggml-cpu's
// vec_dot types): used to tell our arithmetic from llama.cpp's rounding in parity tests.
import { GGMLType } from './ggml.js';
import { bf16ToF32, f16ToF32, f32ToBF16, f32ToF16 } from './quant.js';

const f = Math.fround;

/** Round half to even, as the SIMD quantizers (_mm256_round_ps) round. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/**
 * The values llama.cpp's CPU matmul actually multiplies a weight of `type` with: the input converted
 * to that type's vec_dot type (ggml-cpu type_traits), read back as f32. For Q8_1 (the Q4_1 / Q5_1
 * partner) also returns, per block of 32, how far its stored sum f16(d * sum q) is from the sum of
 * the returned values: the dot product multiplies the weight block's min by the stored sum.
 */
export function ggmlCpuInput(type: GGMLType, x: Float32Array): { x: Float32Array; sumError?: Float32Array } {
  const y = new Float32Array(x.length);
  switch (type) {
    case GGMLType.F32:
      return { x };
    case GGMLType.F16:
      for (let i = 0; i < x.length; i++) y[i] = f16ToF32(f32ToF16(x[i]));
      return { x: y };
    case GGMLType.BF16:
      for (let i = 0; i < x.length; i++) y[i] = bf16ToF32(f32ToBF16(x[i]));
      return { x: y };
    case GGMLType.Q4_0: case GGMLType.Q4_1: case GGMLType.Q5_0: case GGMLType.Q5_1: case GGMLType.Q8_0: {
      // Q8_0 / Q8_1 blocks of 32: q = round(x * 127 / amax), scale stored as f16.
      const q81 = type === GGMLType.Q4_1 || type === GGMLType.Q5_1;
      const sumError = q81 ? new Float32Array(x.length / 32) : undefined;
      for (let b = 0; b < x.length; b += 32) {
        let amax = 0;
        for (let i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(x[i]));
        const d = f(amax / 127);
        const dh = f16ToF32(f32ToF16(d));
        const id = amax ? f(127 / amax) : 0;
        let qsum = 0;
        for (let i = b; i < b + 32; i++) {
          const q = roundEven(f(x[i] * id));
          qsum += q;
          y[i] = dh * q;
        }
        if (sumError) sumError[b / 32] = f16ToF32(f32ToF16(f(d * qsum))) - dh * qsum;
      }
      return { x: y, sumError };
    }
    default:
      // K-quants: Q8_K blocks of 256 with an f32 scale, signed by the element of largest magnitude.
      for (let b = 0; b < x.length; b += 256) {
        let max = 0;
        for (let i = b; i < b + 256; i++) if (Math.abs(x[i]) > Math.abs(max)) max = x[i];
        if (max === 0) continue;
        const iscale = f(-127 / max);
        const d = f(1 / iscale);
        for (let i = b; i < b + 256; i++) y[i] = d * Math.min(127, roundEven(f(iscale * x[i])));
      }
      return { x: y };
  }
}
