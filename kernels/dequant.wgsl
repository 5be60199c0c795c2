// Per-element decoders of raw ggml blocks held in `W: array<u32>` (declared by the including kernel).
// `blk` is the byte offset of the block, `j` the element inside it. Blocks of 18, 22, 34 and 210 bytes
// may start at 2 mod 4, so fields are read by byte or by 2-byte half, never assuming word alignment.

fn dq_byte(b: u32) -> u32 { return (W[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu; }

fn dq_half(b: u32) -> f32 { return unpack2x16float(W[b >> 2u] >> ((b & 2u) * 8u)).x; }

fn dq_f32(blk: u32) -> f32 { return bitcast<f32>(W[blk >> 2u]); }

fn dq_f16(blk: u32) -> f32 { return dq_half(blk); }

fn dq_bf16(blk: u32) -> f32 { return bitcast<f32>(((W[blk >> 2u] >> ((blk & 2u) * 8u)) & 0xFFFFu) << 16u); }

// 32-element blocks: byte j of qs holds element j (low nibble) and element j + 16 (high nibble).
fn dq_nibble(qs: u32, j: u32) -> u32 { return (dq_byte(qs + (j & 15u)) >> ((j >> 4u) * 4u)) & 0xFu; }

// Fifth bit of element j from the 32-bit little-endian qh field at byte b.
fn dq_bit5(b: u32, j: u32) -> u32 { return ((dq_byte(b + (j >> 3u)) >> (j & 7u)) & 1u) << 4u; }

fn dq_q4_0(blk: u32, j: u32) -> f32 { return (f32(dq_nibble(blk + 2u, j)) - 8.0) * dq_half(blk); }

fn dq_q4_1(blk: u32, j: u32) -> f32 { return f32(dq_nibble(blk + 4u, j)) * dq_half(blk) + dq_half(blk + 2u); }

fn dq_q5_0(blk: u32, j: u32) -> f32 {
  return (f32(dq_nibble(blk + 6u, j) | dq_bit5(blk + 2u, j)) - 16.0) * dq_half(blk);
}

fn dq_q5_1(blk: u32, j: u32) -> f32 {
  return f32(dq_nibble(blk + 8u, j) | dq_bit5(blk + 4u, j)) * dq_half(blk) + dq_half(blk + 2u);
}

fn dq_q8_0(blk: u32, j: u32) -> f32 {
  return f32(bitcast<i32>(dq_byte(blk + 2u + j) << 24u) >> 24u) * dq_half(blk);
}

// K-quants: 256-element super-blocks. Q4_K/Q5_K: 8 sub-blocks of 32 with 6-bit scale and min packed
// in 12 bytes at blk + 4 (get_scale_min_k4); qs holds sub-block 2c in the low nibbles of bytes
// 32c..32c+31 and sub-block 2c + 1 in their high nibbles.
fn dq_scale_min_k4(blk: u32, s: u32) -> vec2<f32> {
  let sc = blk + 4u;
  var v: vec2<u32>;
  if (s < 4u) {
    v = vec2<u32>(dq_byte(sc + s) & 63u, dq_byte(sc + s + 4u) & 63u);
  } else {
    let hi = dq_byte(sc + s + 4u);
    v = vec2<u32>((hi & 0xFu) | ((dq_byte(sc + s - 4u) >> 6u) << 4u), (hi >> 4u) | ((dq_byte(sc + s) >> 6u) << 4u));
  }
  return vec2<f32>(dq_half(blk), dq_half(blk + 2u)) * vec2<f32>(v);
}

fn dq_q4_k(blk: u32, j: u32) -> f32 {
  let s = j >> 5u;
  let q = (dq_byte(blk + 16u + (s >> 1u) * 32u + (j & 31u)) >> ((s & 1u) * 4u)) & 0xFu;
  let dm = dq_scale_min_k4(blk, s);
  return f32(q) * dm.x - dm.y;
}

// As Q4_K plus qh[32] at blk + 16: bit s of qh[l] is the fifth bit of element l of sub-block s.
fn dq_q5_k(blk: u32, j: u32) -> f32 {
  let s = j >> 5u;
  let l = j & 31u;
  let q = ((dq_byte(blk + 48u + (s >> 1u) * 32u + l) >> ((s & 1u) * 4u)) & 0xFu) | (((dq_byte(blk + 16u + l) >> s) & 1u) << 4u);
  let dm = dq_scale_min_k4(blk, s);
  return f32(q) * dm.x - dm.y;
}

// Q6_K: two halves of 128; element 32q + l of half n takes a nibble of ql[64n + l + 32 (q & 1)]
// (the high one when q >= 2) and bits 2q..2q+1 of qh[32n + l]; int8 scale per 16 elements; d last.
fn dq_q6_k(blk: u32, j: u32) -> f32 {
  let n = j >> 7u;
  let q = (j >> 5u) & 3u;
  let l = j & 31u;
  let lo = (dq_byte(blk + 64u * n + 32u * (q & 1u) + l) >> ((q >> 1u) * 4u)) & 0xFu;
  let hi = (dq_byte(blk + 128u + 32u * n + l) >> (2u * q)) & 3u;
  let sc = bitcast<i32>(dq_byte(blk + 192u + 8u * n + (l >> 4u) + 2u * q) << 24u) >> 24u;
  return dq_half(blk + 208u) * f32(sc) * (f32(lo | (hi << 4u)) - 32.0);
}
