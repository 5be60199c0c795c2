// Matrix product for CPU adapters (lavapipe), decode and prefill: Y[t, m] = X[t, :] . W[m, :] (+ bias[m]).
// A CPU runs a workgroup's invocations as SIMD lanes, and gathers (each lane loading its own
// address) are what it pays for. So each invocation walks whole weight rows, R of them, for TN
// tokens: every dequantized unit of weights serves TN tokens and every activation load R rows, with
// no barriers or workgroup memory. (GPUs want lanes on neighbouring bytes instead: matvec.wgsl and
// matmul.wgsl.) Workgroup (x, y) takes T * R rows (blocks beyond 65535 continue in y), z a block of
// TN tokens. The prelude defines the operands (matmul-io.wgsl), T, R, TN, PAIR, ALIGNED and dq8
// (dequant8.wgsl).

@compute @workgroup_size(T)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Rows m0 + r T for r < R.
  let m0 = (wg.y * nwg.x + wg.x) * T * R + lid;
  let t0 = wg.z * TN;
  // Rows and tokens past the end repeat the last one; their results are never stored.
  var rb: array<u32, R>;
  for (var r = 0u; r < R; r++) { rb[r] = min(m0 + r * T, P.rows - 1u) * P.row_bytes; }
  var xr: array<u32, TN>;
  for (var j = 0u; j < TN; j++) { xr[j] = P.x_off + min(t0 + j, P.n - 1u) * P.x_stride; }
  var acc: array<array<f32, TN>, R>;
  for (var u = 0u; u < P.k / 16u; u++) {
    // The unit of 16: the groups of 8 at k and k + PAIR share bytes.
    let k = (u / (PAIR / 8u)) * (2u * PAIR) + (u % (PAIR / 8u)) * 8u;
    var w: array<W8, R>;
    var v: array<W8, R>;
    for (var r = 0u; r < R; r++) {
      w[r] = dq8(rb[r], k);
      v[r] = dq8(rb[r], k + PAIR);
    }
    for (var j = 0u; j < TN; j++) {
      let xo = xr[j] + k / 4u;
      let xa = X[xo];
      let xb = X[xo + 1u];
      let xc = X[xo + PAIR / 4u];
      let xd = X[xo + PAIR / 4u + 1u];
      for (var r = 0u; r < R; r++) {
        acc[r][j] += dot(w[r].a, xa) + dot(w[r].b, xb) + dot(v[r].a, xc) + dot(v[r].b, xd);
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
