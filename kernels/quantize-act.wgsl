// Activations to int8 for matmul-int8.wgsl, rounded as ggml-cpu rounds a matmul's input for the
// weight type (quantize_row_q8_0 / quantize_row_q8_K): per group of GROUP values (32: Q8_0, 256:
// Q8_K) one scale, quants rounded half to even. Writes, per token, the scale and the quants' sum of
// each unit of 32 and the quants packed four to a word. The prelude defines GROUP.

struct Params {
  units: u32, // per token: k / 32
  x_off: u32, // floats
  x_stride: u32,
  n: u32,
  q_off: u32, // words
  q_stride: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> XQ: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  let t = gid.y;
  if (g * (GROUP / 32u) >= P.units || t >= P.n) { return; }
  let x0 = P.x_off + t * P.x_stride + g * GROUP;
  let q0 = P.q_off + t * P.q_stride;
  var d = 0.0;
  var id = 0.0;
  if (GROUP == 32u) {
    // Q8_0: d = amax / 127, stored as f16; quants use 127 / amax.
    var amax = 0.0;
    for (var i = 0u; i < GROUP; i++) { amax = max(amax, abs(X[x0 + i])); }
    d = round_f16(amax / 127.0);
    if (amax > 0.0) { id = 127.0 / amax; }
  } else {
    // Q8_K: the scale takes the sign of the value of largest magnitude (the first such).
    var amax = 0.0;
    var vmax = 0.0;
    for (var i = 0u; i < GROUP; i++) {
      let v = X[x0 + i];
      if (abs(v) > amax) { amax = abs(v); vmax = v; }
    }
    if (amax > 0.0) {
      id = -127.0 / vmax;
      d = 1.0 / id;
    }
  }
  for (var u = 0u; u < GROUP / 32u; u++) {
    let unit = g * (GROUP / 32u) + u;
    var sum = 0;
    for (var w = 0u; w < 8u; w++) {
      var word = 0u;
      for (var b = 0u; b < 4u; b++) {
        let q = min(i32(round(X[x0 + u * 32u + w * 4u + b] * id)), 127);
        sum += q;
        word |= (bitcast<u32>(q) & 0xFFu) << (8u * b);
      }
      XQ[q0 + 2u * P.units + unit * 8u + w] = word;
    }
    XQ[q0 + unit] = bitcast<u32>(d);
    XQ[q0 + P.units + unit] = bitcast<u32>(sum);
  }
}
