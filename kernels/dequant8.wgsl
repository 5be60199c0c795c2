// Weights stay as raw GGUF blocks in `W: array<u32>` (declared by the including kernel). Each dq8_*
// decodes the 8 consecutive weights at element k (k % 8 == 0) of the row starting at byte rb.
// The prelude defines ALIGNED (block sizes that are a multiple of 4 bytes, so every word field is
// word-aligned) and dq8, which forwards to the weight type's decoder. Decoders of k and k + PAIR
// (matvec.wgsl) read the same words, which the compiler loads once.

struct W8 { a: vec4<f32>, b: vec4<f32> }

// Two consecutive u32s at byte b. Q4_0, Q5_0, Q8_0 and Q6_K blocks (18, 22, 34, 210 bytes) start
// at 2 mod 4 every other block: splice three words. Weight buffers carry 4 bytes of padding past the
// last row, so W[i + 2] stays in bounds.
fn ld2(b: u32) -> vec2<u32> {
  let i = b >> 2u;
  if (ALIGNED) { return vec2<u32>(W[i], W[i + 1u]); }
  let s = (b & 3u) * 8u;
  let w = vec3<u32>(W[i], W[i + 1u], W[i + 2u]);
  return select((w.xy >> vec2<u32>(s)) | (w.yz << vec2<u32>(32u - s)), w.xy, s == 0u);
}

fn u8at(b: u32) -> u32 { return (W[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu; }

// f16 fields are 2-byte aligned, so never straddle a word.
fn f16at(b: u32) -> f32 { return unpack2x16float(W[b >> 2u] >> ((b & 2u) * 8u)).x; }

fn u8x4(w: u32) -> vec4<f32> { return vec4<f32>(unpack4xU8(w)); }
fn nib2(w: vec2<u32>, s: u32) -> vec2<u32> { return (w >> vec2<u32>(s)) & vec2<u32>(0x0F0F0F0Fu); }
fn i8x4(w: u32) -> vec4<f32> { return vec4<f32>(unpack4xI8(w)); }

// Moves bits 0..3 of h to bit 4 of bytes 0..3 (the fifth bit of four Q5 quants).
fn hi_bits(h: u32) -> u32 {
  return ((h & 1u) | ((h & 2u) << 7u) | ((h & 4u) << 14u) | ((h & 8u) << 21u)) << 4u;
}

fn dq8_f32(rb: u32, k: u32) -> W8 {
  let i = (rb >> 2u) + k;
  return W8(bitcast<vec4<f32>>(vec4<u32>(W[i], W[i + 1u], W[i + 2u], W[i + 3u])),
            bitcast<vec4<f32>>(vec4<u32>(W[i + 4u], W[i + 5u], W[i + 6u], W[i + 7u])));
}

fn dq8_f16(rb: u32, k: u32) -> W8 {
  let i = (rb >> 2u) + (k >> 1u);
  return W8(vec4<f32>(unpack2x16float(W[i]), unpack2x16float(W[i + 1u])),
            vec4<f32>(unpack2x16float(W[i + 2u]), unpack2x16float(W[i + 3u])));
}

fn bf2(w: u32) -> vec2<f32> { return bitcast<vec2<f32>>(vec2<u32>(w << 16u, w & 0xFFFF0000u)); }

fn dq8_bf16(rb: u32, k: u32) -> W8 {
  let i = (rb >> 2u) + (k >> 1u);
  return W8(vec4<f32>(bf2(W[i]), bf2(W[i + 1u])), vec4<f32>(bf2(W[i + 2u]), bf2(W[i + 3u])));
}

// 32-element blocks: byte j of qs holds element j in its low nibble and element j + 16 in its high one.
fn dq8_q4_0(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 5u) * 18u;
  let j = (k >> 3u) & 3u;
  let o = b + 2u + (j & 1u) * 8u;
  let s = (j >> 1u) * 4u;
  let d = f16at(b);
  let q = nib2(ld2(o), s);
  return W8((u8x4(q.x) - 8.0) * d, (u8x4(q.y) - 8.0) * d);
}

fn dq8_q4_1(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 5u) * 20u;
  let j = (k >> 3u) & 3u;
  let o = b + 4u + (j & 1u) * 8u;
  let s = (j >> 1u) * 4u;
  let d = f16at(b);
  let m = f16at(b + 2u);
  let q = nib2(ld2(o), s);
  return W8(u8x4(q.x) * d + m, u8x4(q.y) * d + m);
}

fn dq8_q5_0(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 5u) * 22u;
  let j = (k >> 3u) & 3u;
  let o = b + 6u + (j & 1u) * 8u;
  let s = (j >> 1u) * 4u;
  let d = f16at(b);
  let h = ld2(b + 2u).x >> (j * 8u);
  let q = nib2(ld2(o), s) | vec2<u32>(hi_bits(h), hi_bits(h >> 4u));
  return W8((u8x4(q.x) - 16.0) * d, (u8x4(q.y) - 16.0) * d);
}

fn dq8_q5_1(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 5u) * 24u;
  let j = (k >> 3u) & 3u;
  let o = b + 8u + (j & 1u) * 8u;
  let s = (j >> 1u) * 4u;
  let d = f16at(b);
  let m = f16at(b + 2u);
  let h = W[(b >> 2u) + 1u] >> (j * 8u);
  let q = nib2(ld2(o), s) | vec2<u32>(hi_bits(h), hi_bits(h >> 4u));
  return W8(u8x4(q.x) * d + m, u8x4(q.y) * d + m);
}

fn dq8_q8_0(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 5u) * 34u;
  let o = b + 2u + (k & 31u);
  let d = f16at(b);
  let q = ld2(o);
  return W8(i8x4(q.x) * d, i8x4(q.y) * d);
}

// 256-element super-blocks of 8 sub-blocks with 6-bit scales and mins packed in the 12 bytes after
// d and dmin (get_scale_min_k4). Q4_K and Q5_K blocks are word-aligned: d and dmin share word i, the
// scales are words i + 1 .. i + 3. Returns (d * scale, dmin * min) of sub-block s.
fn scale_min_k4(i: u32, s: u32) -> vec2<f32> {
  let sh = (s & 3u) * 8u;
  let lo = vec2<u32>(W[i + 1u], W[i + 2u]) >> vec2<u32>(sh);
  let hi = W[i + 3u] >> sh;
  let v = select(((lo >> vec2<u32>(2u)) & vec2<u32>(0x30u)) | vec2<u32>(hi & 0xFu, (hi >> 4u) & 0xFu), lo & vec2<u32>(63u), s < 4u);
  return unpack2x16float(W[i]) * vec2<f32>(v);
}

// qs holds 64 elements per 32 bytes: sub-block 2c in the low nibbles, 2c + 1 in the high ones.
fn dq8_q4_k(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 8u) * 144u;
  let s = (k >> 5u) & 7u;
  let q = nib2(ld2(b + 16u + (s >> 1u) * 32u + (k & 31u)), (s & 1u) * 4u);
  let dm = scale_min_k4(b >> 2u, s);
  return W8(u8x4(q.x) * dm.x - dm.y, u8x4(q.y) * dm.x - dm.y);
}

// As Q4_K plus qh: bit s of qh[l] is the fifth bit of element l of sub-block s.
fn dq8_q5_k(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 8u) * 176u;
  let s = (k >> 5u) & 7u;
  let l = k & 31u;
  let h = (ld2(b + 16u + l) >> vec2<u32>(s)) & vec2<u32>(0x01010101u);
  let q = nib2(ld2(b + 48u + (s >> 1u) * 32u + l), (s & 1u) * 4u) | (h << vec2<u32>(4u));
  let dm = scale_min_k4(b >> 2u, s);
  return W8(u8x4(q.x) * dm.x - dm.y, u8x4(q.y) * dm.x - dm.y);
}

// Two halves of 128: element 32q + l of a half takes a nibble of ql[l + 32 (q & 1)] (high when q >= 2)
// and bits 2q..2q+1 of qh[l]; int8 scale per 16 elements; d (f16) at the end of the block.
fn dq8_q6_k(rb: u32, k: u32) -> W8 {
  let b = rb + (k >> 8u) * 210u;
  let n = (k >> 7u) & 1u;
  let q = (k >> 5u) & 3u;
  let l = k & 31u;
  let h = (ld2(b + 128u + 32u * n + l) >> vec2<u32>(2u * q)) & vec2<u32>(0x03030303u);
  let v = nib2(ld2(b + 64u * n + 32u * (q & 1u) + l), (q >> 1u) * 4u) | (h << vec2<u32>(4u));
  let sc = bitcast<i32>(u8at(b + 192u + 8u * n + (l >> 4u) + 2u * q) << 24u) >> 24u;
  let d = f16at(b + 208u) * f32(sc);
  return W8((u8x4(v.x) - 32.0) * d, (u8x4(v.y) - 32.0) * d);
}
