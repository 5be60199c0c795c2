// Prefill matrix product over one weight part: Y[t, m] = X[t, :] . W[m, :] (+ bias[m]) for n tokens.
// 64 x 64 output tiles per workgroup of 256 invocations, 4 x 4 outputs each; every K step of 32
// dequantizes a 64 x 32 weight tile (one dq8 group per invocation) and a 64 x 32 activation tile
// into workgroup memory, both k-major so the inner loop reads vec4s. The prelude defines the operands
// (matmul-io.wgsl), ALIGNED and dq8 (dequant8.wgsl).

const BM = 64u;
const BN = 64u;
const BK = 32u;

var<workgroup> ws: array<vec4<f32>, BK * BM / 4u>;
var<workgroup> xs: array<vec4<f32>, BK * BN / 4u>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.x * BM;
  let n0 = wg.y * BN;
  // Loading role: row `lr` of the tiles, group `lg` of 8 along k.
  let lr = lid >> 2u;
  let lg = lid & 3u;
  // Rows and tokens past the end repeat the last one; their results are never stored.
  let wrow = min(m0 + lr, P.rows - 1u) * P.row_bytes;
  let xrow = P.x_off + min(n0 + lr, P.n - 1u) * P.x_stride;
  // Computing role: rows 4tm..4tm+3 and tokens 4tn..4tn+3 of the tile; acc[j][i] is (row i, token j).
  let tm = lid & 15u;
  let tn = lid >> 4u;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < P.k; k0 += BK) {
    let k = k0 + lg * 8u;
    var w = W8(vec4<f32>(0.0), vec4<f32>(0.0));
    var xa = vec4<f32>(0.0);
    var xb = vec4<f32>(0.0);
    if (k < P.k) {
      w = dq8(wrow, k);
      xa = X[xrow + k / 4u];
      xb = X[xrow + k / 4u + 1u];
    }
    workgroupBarrier();
    let kk = lg * 8u;
    for (var i = 0u; i < 4u; i++) {
      ws[(kk + i) * (BM / 4u) + lr / 4u][lr % 4u] = w.a[i];
      ws[(kk + 4u + i) * (BM / 4u) + lr / 4u][lr % 4u] = w.b[i];
      xs[(kk + i) * (BN / 4u) + lr / 4u][lr % 4u] = xa[i];
      xs[(kk + 4u + i) * (BN / 4u) + lr / 4u][lr % 4u] = xb[i];
    }
    workgroupBarrier();
    for (var c = 0u; c < BK; c++) {
      let a = ws[c * (BM / 4u) + tm];
      let b = xs[c * (BN / 4u) + tn];
      acc[0] += a * b.x;
      acc[1] += a * b.y;
      acc[2] += a * b.z;
      acc[3] += a * b.w;
    }
  }
  for (var j = 0u; j < 4u; j++) {
    let t = n0 + tn * 4u + j;
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + tm * 4u + i;
      if (t < P.n && m < P.rows) {
        var v = acc[j][i];
        if (P.has_bias != 0u) { v += B[P.b_off + m]; }
        Y[P.y_off + t * P.y_stride + m] = v;
      }
    }
  }
}
