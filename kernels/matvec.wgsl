// Decode-time matrix-vector product over one weight part: y[m] = W[m, :] . x (+ bias[m]), for each
// of a few tokens (a verification step's), each computed exactly as a one-token step computes it.
// Each workgroup takes R rows of one token, tokens fastest (workgroups of one row block share its
// weights in the cache); its T invocations stride over the row's K/16 units and reuse each unit of
// x across the R rows. A unit is the groups of 8 weights at k and k + PAIR, which a weight
// type's blocks keep in the same bytes (low and high nibbles, say). The prelude defines T, R, PAIR,
// ALIGNED, dq8 (dequant8.wgsl), reduce_rows (matvec-subgroup.wgsl or matvec-shared.wgsl), and the
// input x_in with its set-up x_begin (given the token's first vec4): X itself; SwiGLU's SiLU(gate) *
// up from gate and up halves x_up vec4s apart; or RMSNorm(X) * NW. Folding these, and the residual add (`residual`: Y += W x), into the
// product saves a decode step three dispatches and barriers per layer.

struct Params {
  rows: u32,
  k: u32,
  row_bytes: u32,
  x_off: u32, // in vec4s
  y_off: u32,
  b_off: u32,
  has_bias: u32,
  x_up: u32, // in vec4s, for x_in
  residual: u32,
  eps: f32, // for x_in
  n: u32, // tokens
  x_stride: u32, // in vec4s
  y_stride: u32,
}

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

@compute @workgroup_size(T)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Row blocks beyond 65535 continue in the grid's y dimension.
  let block = wg.y * nwg.x + wg.x;
  let t = block % P.n;
  let row0 = (block / P.n) * R;
  if (row0 >= P.rows) { return; }
  let xb = P.x_off + t * P.x_stride;
  let yb = P.y_off + t * P.y_stride;
  x_begin(lid, xb);
  var acc: array<f32, R>;
  for (var u = lid; u < P.k / 16u; u += T) {
    let k = (u / (PAIR / 8u)) * (2u * PAIR) + (u % (PAIR / 8u)) * 8u;
    let xo = xb + k / 4u;
    let xa = x_in(xo);
    let xb = x_in(xo + 1u);
    let xc = x_in(xo + PAIR / 4u);
    let xd = x_in(xo + PAIR / 4u + 1u);
    for (var r = 0u; r < R; r++) {
      // The last block's missing rows repeat the last row; they are never stored.
      let rb = min(row0 + r, P.rows - 1u) * P.row_bytes;
      let w = dq8(rb, k);
      let v = dq8(rb, k + PAIR);
      acc[r] += dot(w.a, xa) + dot(w.b, xb) + dot(v.a, xc) + dot(v.b, xd);
    }
  }
  let total = reduce_rows(lid, acc);
  let m = row0 + lid;
  if (lid < R && m < P.rows) {
    var v = total;
    if (P.has_bias != 0u) { v += B[P.b_off + m]; }
    if (P.residual != 0u) { v += Y[yb + m]; }
    Y[yb + m] = v;
  }
}
