// Causal attention of a step's queries over one sequence's KV cache, flash style: scores never
// leave the workgroup and softmax runs online over blocks of TK keys.
// Workgroup (split, tile, kv head): rows are (token, head of the GQA group) pairs, token-major, TQ
// of them per tile, all sharing the kv head's keys. With n_splits > 1 (decode: few rows, long
// cache) each split covers split_len keys and writes unnormalized partials that `combine` merges;
// with one split the workgroup writes the final output.
// The host prepends kv_t, the constants D4 (head dim / 4), TQ, TK, WG and NACC = ceil(TQ*D4/WG),
// attention-io.wgsl, and the loads q_in, k_in and v_in: from the step's rows and the cache, or, with
// RoPE folded in (attention-rope.wgsl), Q rotated on load and the step's own keys rotated from its
// rows, which the last row tile (`owner`) also stores in the cache.

// [split][token * n_head + head][D4] and (max, sum) per [split][token * n_head + head].
@group(0) @binding(4) var<storage, read_write> part_o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> part_ml: array<vec2<f32>>;


var<workgroup> qs: array<vec4<f32>, TQ * D4>;
var<workgroup> kvs: array<vec4<f32>, TK * D4>;
var<workgroup> sc: array<f32, TQ * TK>;
var<workgroup> row_m: array<f32, TQ>;
var<workgroup> row_l: array<f32, TQ>;
var<workgroup> row_corr: array<f32, TQ>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let split = wid.x;
  let hk = wid.z;
  let g = p.n_head / p.n_kv;
  let n_rows = p.n_tokens * g;
  let row0 = wid.y * TQ;
  let last_row = min(row0 + TQ, n_rows) - 1u;
  let kv_start = split * p.split_len;
  let kv_end = min(kv_start + p.split_len, p.pos + last_row / g + 1u);
  // The last row tile's keys run to the step's last token: each key is loaded by one of its splits.
  let owner = wid.y + 1u == nwg.y;

  for (var i = tid; i < TQ * D4; i += WG) {
    let row = row0 + i / D4;
    var x = vec4<f32>(0.0);
    if (row < n_rows) {
      x = q_in(row / g, hk * g + row % g, i % D4) * p.scale;
    }
    qs[i] = x;
  }
  if (tid < TQ) {
    row_m[tid] = NEG;
    row_l[tid] = 0.0;
  }
  var acc: array<vec4<f32>, NACC>;
  workgroupBarrier();

  for (var kb = kv_start; kb < kv_end; kb += TK) {
    let nk = min(TK, kv_end - kb);
    for (var i = tid; i < TK * D4; i += WG) {
      var x = vec4<f32>(0.0);
      if (i / D4 < nk) {
        x = k_in(kb + i / D4, hk, i % D4, owner);
      }
      kvs[i] = x;
    }
    workgroupBarrier();
    for (var i = tid; i < TQ * TK; i += WG) {
      let r = i / TK;
      let c = i % TK;
      let row = row0 + r;
      var s = NEG;
      if (row < n_rows && c < nk && kb + c <= p.pos + row / g) {
        var d = vec4<f32>(0.0);
        for (var j = 0u; j < p.d4; j++) {
          d = fma(qs[r * D4 + j], kvs[c * D4 + j], d);
        }
        s = d.x + d.y + d.z + d.w;
      }
      sc[i] = s;
    }
    workgroupBarrier();
    if (tid < TQ) {
      let m_old = row_m[tid];
      var m = m_old;
      for (var c = 0u; c < nk; c++) {
        m = max(m, sc[tid * TK + c]);
      }
      var corr = 1.0;
      var sum = 0.0;
      if (m > NEG) {
        corr = exp(m_old - m);
        for (var c = 0u; c < nk; c++) {
          let e = exp(sc[tid * TK + c] - m);
          sc[tid * TK + c] = e;
          sum += e;
        }
      } else {
        for (var c = 0u; c < nk; c++) {
          sc[tid * TK + c] = 0.0;
        }
      }
      row_m[tid] = m;
      row_l[tid] = row_l[tid] * corr + sum;
      row_corr[tid] = corr;
    }
    for (var i = tid; i < TK * D4; i += WG) {
      var x = vec4<f32>(0.0);
      if (i / D4 < nk) {
        x = v_in(kb + i / D4, hk, i % D4, owner);
      }
      kvs[i] = x;
    }
    workgroupBarrier();
    // Invocation tid owns outputs i = a * WG + tid (row i / D4, column i % D4); past TQ * D4 they
    // read a valid element and are never stored. Keys outermost keeps one loop for the compiler.
    for (var a = 0u; a < NACC; a++) {
      acc[a] *= row_corr[min(a * WG + tid, TQ * D4 - 1u) / D4];
    }
    for (var c = 0u; c < nk; c++) {
      for (var a = 0u; a < NACC; a++) {
        let i = min(a * WG + tid, TQ * D4 - 1u);
        acc[a] = fma(vec4<f32>(sc[(i / D4) * TK + c]), kvs[c * D4 + i % D4], acc[a]);
      }
    }
    workgroupBarrier();
  }

  let n_out = p.n_tokens * p.n_head;
  for (var a = 0u; a < NACC; a++) {
    let i = a * WG + tid;
    let r = i / D4;
    let row = row0 + r;
    if (i < TQ * D4 && row < n_rows) {
      let o = (row / g) * p.n_head + hk * g + row % g;
      if (p.n_splits == 1u) {
        out[o * D4 + i % D4] = acc[a] / row_l[r];
      } else {
        part_o[(split * n_out + o) * D4 + i % D4] = acc[a];
        if (i % D4 == 0u) {
          part_ml[split * n_out + o] = vec2<f32>(row_m[r], row_l[r]);
        }
      }
    }
  }
}

// One workgroup per output row (token, head): rescales each split's partial to the common max.
@compute @workgroup_size(64)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let o = wid.x;
  let n_out = p.n_tokens * p.n_head;
  var m = NEG;
  for (var s = 0u; s < p.n_splits; s++) {
    m = max(m, part_ml[s * n_out + o].x);
  }
  var l = 0.0;
  for (var s = 0u; s < p.n_splits; s++) {
    let ml = part_ml[s * n_out + o];
    l += ml.y * exp(ml.x - m);
  }
  for (var j = tid; j < D4; j += 64u) {
    var x = vec4<f32>(0.0);
    for (var s = 0u; s < p.n_splits; s++) {
      x += part_o[(s * n_out + o) * D4 + j] * exp(part_ml[s * n_out + o].x - m);
    }
    out[o * D4 + j] = x / l;
  }
}
