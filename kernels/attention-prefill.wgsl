// Causal attention for prefill steps (many query rows), flash style like attention.wgsl but with
// register tiles: 128 invocations as 16 row groups x 8 column groups; each computes RQ x RK scores
// (rows rg*RQ.., keys cg + 8k) and then RQ rows x RJ vec4 columns (cg + 8j) of the output, so every
// value read from workgroup memory feeds several multiply-adds. Softmax statistics are reduced
// across each row's 8 column groups in workgroup memory. Operands and Params from attention-io.wgsl;
// one split (the workgroup covers keys 0 .. its last row's position).
// The host prepends kv_t, the constants D4, TQ, TK, RQ = TQ / 16, RK = TK / 8, RJ = ceil(D4 / 8), and
// attention-io.wgsl.

// Rows of qs and kvs are padded by one vec4 so that column groups hit different banks.
const QS = D4 + 1u;

var<workgroup> qs: array<vec4<f32>, TQ * QS>;
var<workgroup> kvs: array<vec4<f32>, TK * QS>;
var<workgroup> sc: array<f32, TQ * TK>;
var<workgroup> red: array<f32, TQ * 8u>;
var<workgroup> row_m: array<f32, TQ>;
var<workgroup> row_l: array<f32, TQ>;

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let hk = wid.z;
  let g = p.n_head / p.n_kv;
  let n_rows = p.n_tokens * g;
  let row0 = wid.y * TQ;
  let kv_end = p.pos + (min(row0 + TQ, n_rows) - 1u) / g + 1u;
  let rg = tid / 8u;
  let cg = tid % 8u;
  let qrow = (p.n_head + 2u * p.n_kv) * D4;

  for (var i = tid; i < TQ * D4; i += 128u) {
    let row = row0 + i / D4;
    var x = vec4<f32>(0.0);
    if (row < n_rows) {
      x = qkv[(row / g) * qrow + (hk * g + row % g) * D4 + i % D4] * p.scale;
    }
    qs[(i / D4) * QS + i % D4] = x;
  }
  if (tid < TQ) {
    row_m[tid] = NEG;
    row_l[tid] = 0.0;
  }
  var acc: array<vec4<f32>, RQ * RJ>;
  workgroupBarrier();

  let cache_row = hk * p.ctx;
  for (var kb = 0u; kb < kv_end; kb += TK) {
    let nk = min(TK, kv_end - kb);
    for (var i = tid; i < TK * D4; i += 128u) {
      var x = vec4<f32>(0.0);
      if (i / D4 < nk) {
        x = vec4<f32>(k_cache[(cache_row + kb) * D4 + i]);
      }
      kvs[(i / D4) * QS + i % D4] = x;
    }
    workgroupBarrier();

    // Zeroed by hand: WGSL says a var is zeroed each time its declaration runs, but on lavapipe
    // this loop-scoped array kept the previous block's scores.
    var s: array<f32, RQ * RK>;
    for (var i = 0u; i < RQ * RK; i++) {
      s[i] = 0.0;
    }
    for (var j = 0u; j < p.d4; j++) {
      var kv: array<vec4<f32>, RK>;
      for (var k = 0u; k < RK; k++) {
        kv[k] = kvs[(cg + 8u * k) * QS + j];
      }
      for (var i = 0u; i < RQ; i++) {
        let qv = qs[(rg * RQ + i) * QS + j];
        for (var k = 0u; k < RK; k++) {
          s[i * RK + k] += dot(qv, kv[k]);
        }
      }
    }
    // Mask, and each row's partial max over this thread's keys.
    for (var i = 0u; i < RQ; i++) {
      let row = row0 + rg * RQ + i;
      var mx = NEG;
      for (var k = 0u; k < RK; k++) {
        let c = cg + 8u * k;
        if (row >= n_rows || c >= nk || kb + c > p.pos + row / g) {
          s[i * RK + k] = NEG;
        }
        mx = max(mx, s[i * RK + k]);
      }
      red[(rg * RQ + i) * 8u + cg] = mx;
    }
    workgroupBarrier();
    var m_old: array<f32, RQ>;
    var m_new: array<f32, RQ>;
    for (var i = 0u; i < RQ; i++) {
      let r = rg * RQ + i;
      m_old[i] = row_m[r];
      var m = m_old[i];
      for (var c = 0u; c < 8u; c++) {
        m = max(m, red[r * 8u + c]);
      }
      m_new[i] = m;
    }
    workgroupBarrier();
    // Everyone has read red, row_m and kvs: reuse them.
    for (var i = 0u; i < RQ; i++) {
      let r = rg * RQ + i;
      var sum = 0.0;
      for (var k = 0u; k < RK; k++) {
        var e = 0.0;
        if (m_new[i] > NEG) {
          e = exp(s[i * RK + k] - m_new[i]);
        }
        sc[r * TK + cg + 8u * k] = e;
        sum += e;
      }
      red[r * 8u + cg] = sum;
    }
    for (var i = tid; i < TK * D4; i += 128u) {
      var x = vec4<f32>(0.0);
      if (i / D4 < nk) {
        x = vec4<f32>(v_cache[(cache_row + kb) * D4 + i]);
      }
      kvs[(i / D4) * QS + i % D4] = x;
    }
    workgroupBarrier();
    for (var i = 0u; i < RQ; i++) {
      let r = rg * RQ + i;
      var corr = 1.0;
      if (m_new[i] > NEG) {
        corr = exp(m_old[i] - m_new[i]);
      }
      if (cg == 0u) {
        var sum = 0.0;
        for (var c = 0u; c < 8u; c++) {
          sum += red[r * 8u + c];
        }
        row_m[r] = m_new[i];
        row_l[r] = row_l[r] * corr + sum;
      }
      for (var jj = 0u; jj < RJ; jj++) {
        acc[i * RJ + jj] *= corr;
      }
    }
    // Keys outermost: one loop over the block (a loop per output tile made lavapipe's compile
    // explode). Columns past D4 (when 8 does not divide it) read a valid column and are never stored.
    for (var c = 0u; c < nk; c++) {
      var vv: array<vec4<f32>, RJ>;
      for (var jj = 0u; jj < RJ; jj++) {
        vv[jj] = kvs[c * QS + min(cg + 8u * jj, D4 - 1u)];
      }
      for (var i = 0u; i < RQ; i++) {
        let pc = vec4<f32>(sc[(rg * RQ + i) * TK + c]);
        for (var jj = 0u; jj < RJ; jj++) {
          acc[i * RJ + jj] = fma(pc, vv[jj], acc[i * RJ + jj]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < RQ; i++) {
    let r = rg * RQ + i;
    let row = row0 + r;
    if (row < n_rows) {
      let o = (row / g) * p.n_head + hk * g + row % g;
      for (var jj = 0u; jj < RJ; jj++) {
        let j = cg + 8u * jj;
        if (j < D4) {
          out[o * D4 + j] = acc[i * RJ + jj] / row_l[r];
        }
      }
    }
  }
}
