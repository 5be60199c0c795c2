// Causal attention of a step's queries over one sequence's KV cache, flash style: scores never
// leave the workgroup and softmax runs online over blocks of TK keys.
// Workgroup (split, tile, kv head): a tile is up to TQ heads of one token's GQA group, all sharing
// the kv head's keys. Each token splits its keys as a one-token step at its position would (into
// split_count(keys) splits of equal length): with several (decode: few rows, long cache) each split
// writes unnormalized partials that `combine` merges; with one the workgroup writes the final
// output. So every token of a step of several (a verification step's) gets exactly what a one-token
// step gives it. The host prepends kv_t, the constants D4 (head dim / 4), TQ, TK, WG, NACC =
// ceil(TQ*D4/WG), MAX_SPLITS and MIN_SPLIT_KEYS, attention-io.wgsl, and the loads q_in, k_in and
// v_in: from the step's rows and the cache, or, with RoPE folded in (attention-rope.wgsl), Q rotated
// on load and the step's own keys rotated from its rows, which the last tile (`owner`, the last
// token's, whose splits cover every key of the step) also stores in the cache.

// [split][token * n_head + head][D4] and (max, sum) per [split][token * n_head + head].
@group(0) @binding(4) var<storage, read_write> part_o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> part_ml: array<vec2<f32>>;


var<workgroup> qs: array<vec4<f32>, TQ * D4>;
var<workgroup> kvs: array<vec4<f32>, TK * D4>;
var<workgroup> sc: array<f32, TQ * TK>;
var<workgroup> row_m: array<f32, TQ>;
var<workgroup> row_l: array<f32, TQ>;
var<workgroup> row_corr: array<f32, TQ>;

// Splits of a one-token step over `keys` keys (AttentionParams.plan's): splits of at least
// MIN_SPLIT_KEYS keys, at most MAX_SPLITS.
fn split_count(keys: u32) -> u32 {
  return max(1u, min(MAX_SPLITS, keys / MIN_SPLIT_KEYS));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let split = wid.x;
  let hk = wid.z;
  let g = p.n_head / p.n_kv;
  let tiles = (g + TQ - 1u) / TQ;
  let t = wid.y / tiles;
  // This tile's heads of the group: h0 .. h0 + n_h - 1.
  let h0 = (wid.y % tiles) * TQ;
  let n_h = min(TQ, g - h0);
  let keys = p.pos + t + 1u;
  let n_splits = split_count(keys);
  // The token's own splits: the step's dispatch has as many as its last token's.
  if (split >= n_splits) {
    return;
  }
  let split_len = (keys + n_splits - 1u) / n_splits;
  let kv_start = split * split_len;
  let kv_end = min(kv_start + split_len, keys);
  // The last tile's keys run to the step's last token: each key is loaded by one of its splits.
  let owner = wid.y + 1u == nwg.y;

  for (var i = tid; i < TQ * D4; i += WG) {
    let r = i / D4;
    var x = vec4<f32>(0.0);
    if (r < n_h) {
      x = q_in(t, hk * g + h0 + r, i % D4) * p.scale;
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
      var s = NEG;
      if (r < n_h && c < nk) {
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
    if (i < TQ * D4 && r < n_h) {
      let o = t * p.n_head + hk * g + h0 + r;
      if (n_splits == 1u) {
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

// One workgroup per output row (token, head): rescales each split's partial to the common max. A
// token with one split has its output already.
@compute @workgroup_size(64)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let o = wid.x;
  let n_out = p.n_tokens * p.n_head;
  let n_splits = split_count(p.pos + o / p.n_head + 1u);
  if (n_splits == 1u) {
    return;
  }
  var m = NEG;
  for (var s = 0u; s < n_splits; s++) {
    m = max(m, part_ml[s * n_out + o].x);
  }
  var l = 0.0;
  for (var s = 0u; s < n_splits; s++) {
    let ml = part_ml[s * n_out + o];
    l += ml.y * exp(ml.x - m);
  }
  for (var j = tid; j < D4; j += 64u) {
    var x = vec4<f32>(0.0);
    for (var s = 0u; s < n_splits; s++) {
      x += part_o[(s * n_out + o) * D4 + j] * exp(part_ml[s * n_out + o].x - m);
    }
    out[o * D4 + j] = x / l;
  }
}
