// v rounded to the nearest f16 value, ties to even, in integer arithmetic: compilers fold an
// f32 -> f16 -> f32 round trip (and unpack2x16float(pack2x16float(v))) back to v.
fn round_f16(v: f32) -> f32 {
  // f16 subnormals are multiples of 2^-24.
  if (abs(v) < 6.103515625e-05) { return round(v * 16777216.0) / 16777216.0; }
  let b = bitcast<u32>(v);
  return bitcast<f32>((b + 0xFFFu + ((b >> 13u) & 1u)) & 0xFFFFE000u);
}
