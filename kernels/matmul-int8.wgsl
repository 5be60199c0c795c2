// Matrix products for CPU adapters on weights in the int8 layout (engine/gpu-tensor.ts) and
// activations quantized to int8 (quantize-act.wgsl), as ggml-cpu computes them: per unit of 32, an
// exact integer dot product (dot4I8Packed), scaled once. Y[t, m] = X[t, :] . W[m, :] (+ bias[m]).
// A CPU runs a workgroup's invocations as SIMD lanes, each on its own row; the layout puts the same
// word of 8 neighbouring rows side by side. Each invocation takes R rows (m0 + r T) and TN tokens, so
// a unit's weight words serve TN tokens and its activation words R rows. The prelude defines T, R,
// TN, WORDS (8: int8 quants, 4: nibbles, 5: nibbles and fifth bits) and MINS (0: none, 1: OFFSET
// times the scale (Q4_0, Q5_0), 2: stored (Q4_K), 3: none, but a second scale for the unit's second
// 16 weights (Q6_K)).

struct Params {
  rows: u32,
  units: u32, // per row: k / 32
  min_off: u32, // words
  quant_off: u32,
  x_off: u32, // words of XQ
  x_stride: u32,
  y_off: u32,
  y_stride: u32,
  b_off: u32,
  has_bias: u32,
  n: u32,
}

@group(0) @binding(0) var<storage, read> W: array<u32>;
// Per token: units f32 scales, units i32 sums of the quants, then units x 8 words of int8 quants.
@group(0) @binding(1) var<storage, read> XQ: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

const LOW = 0x0F0F0F0Fu;

// Bits 0..3 of h to bit 4 of bytes 0..3.
fn fifth(h: u32) -> u32 {
  return ((h & 1u) | ((h & 2u) << 7u) | ((h & 4u) << 14u) | ((h & 8u) << 21u)) << 4u;
}

@compute @workgroup_size(T)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m0 = (wg.y * nwg.x + wg.x) * T * R + lid;
  let t0 = wg.z * TN;
  // Rows and tokens past the end repeat the last one; their results are never stored.
  var at: array<u32, R>;
  for (var r = 0u; r < R; r++) {
    let m = min(m0 + r * T, P.rows - 1u);
    at[r] = (m >> 3u) * P.units * 8u + (m & 7u);
  }
  var xr: array<u32, TN>;
  for (var j = 0u; j < TN; j++) { xr[j] = P.x_off + min(t0 + j, P.n - 1u) * P.x_stride; }
  var acc: array<array<f32, TN>, R>;
  for (var u = 0u; u < P.units; u++) {
    var w: array<array<u32, WORDS>, R>;
    // 4- and 5-bit quants widened to bytes, once per unit rather than once per token.
    var wb: array<array<u32, 8>, R>;
    var sc: array<f32, R>;
    var mn: array<f32, R>;
    for (var r = 0u; r < R; r++) {
      let s = at[r] + u * 8u;
      sc[r] = bitcast<f32>(W[s]);
      if (MINS >= 2u) { mn[r] = bitcast<f32>(W[P.min_off + s]); }
      let q = P.quant_off + s * WORDS - (s & 7u) * (WORDS - 1u);
      for (var i = 0u; i < WORDS; i++) { w[r][i] = W[q + i * 8u]; }
      if (WORDS == 4u) {
        for (var i = 0u; i < 4u; i++) {
          wb[r][i] = w[r][i] & LOW;
          wb[r][i + 4u] = (w[r][i] >> 4u) & LOW;
        }
      } else if (WORDS == 5u) {
        let h = w[r][WORDS - 1u];
        for (var i = 0u; i < 4u; i++) {
          wb[r][i] = (w[r][i] & LOW) | fifth(h >> (4u * i));
          wb[r][i + 4u] = ((w[r][i] >> 4u) & LOW) | fifth(h >> (16u + 4u * i));
        }
      }
    }
    for (var j = 0u; j < TN; j++) {
      let dx = bitcast<f32>(XQ[xr[j] + u]);
      let sx = bitcast<i32>(XQ[xr[j] + P.units + u]);
      let xo = xr[j] + 2u * P.units + u * 8u;
      var x: array<u32, 8>;
      for (var i = 0u; i < 8u; i++) { x[i] = XQ[xo + i]; }
      for (var r = 0u; r < R; r++) {
        var s = 0;
        // The second 16 weights' sum, apart when they have their own scale.
        var s2 = 0;
        if (WORDS == 8u) {
          for (var i = 0u; i < 4u; i++) { s += dot4I8Packed(w[r][i], x[i]); }
          for (var i = 4u; i < 8u; i++) { s2 += dot4I8Packed(w[r][i], x[i]); }
          if (MINS != 3u) { s += s2; }
        } else {
          for (var i = 0u; i < 8u; i++) { s += dot4I8Packed(wb[r][i], x[i]); }
        }
        if (MINS == 0u) {
          acc[r][j] += sc[r] * dx * f32(s);
        } else if (MINS == 1u) {
          acc[r][j] += sc[r] * dx * f32(s - OFFSET * sx);
        } else if (MINS == 2u) {
          acc[r][j] += dx * (sc[r] * f32(s) - mn[r] * f32(sx));
        } else {
          acc[r][j] += dx * (sc[r] * f32(s) + mn[r] * f32(s2));
        }
      }
    }
  }
  for (var r = 0u; r < R; r++) {
    let m = m0 + r * T;
    if (m >= P.rows) { return; }
    var bias = 0.0;
    if (P.has_bias != 0u) { bias = B[P.b_off + m]; }
    for (var j = 0u; j < TN; j++) {
      if (t0 + j < P.n) { Y[P.y_off + (t0 + j) * P.y_stride + m] = acc[r][j] + bias; }
    }
  }
}
