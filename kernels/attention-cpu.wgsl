// Decode attention for CPU adapters, in two passes with no workgroup memory or barriers. A CPU runs
// an invocation as one SIMD lane, so the flash kernel's shared tiles cost a gather per element;
// here lanes walk consecutive keys (scores) or consecutive dimensions (mix), and what every lane
// of a workgroup reads is the same (the query, a score).
// The host prepends kv_t, the constants D4 (head dim / 4), G (query heads per kv head), ML and MC
// (mix lanes, columns per lane: ML * MC >= D4), and attention-io.wgsl.

// [token * n_head + head][ctx]: scaled scores of a step's keys.
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;

// Invocation (key j, token t, kv head hk): its G heads' scores against key j, reading the key once.
@compute @workgroup_size(32)
fn score(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x;
  let t = id.y;
  let hk = id.z;
  if (j > p.pos + t) { return; }
  let q0 = t * (p.n_head + 2u * p.n_kv) * D4 + hk * G * D4;
  let k0 = (hk * p.ctx + j) * D4;
  var acc: array<vec4<f32>, G>;
  for (var i = 0u; i < p.d4; i++) {
    let k = vec4<f32>(k_cache[k0 + i]);
    for (var h = 0u; h < G; h++) {
      acc[h] = fma(qkv[q0 + h * D4 + i], k, acc[h]);
    }
  }
  let row0 = t * p.n_head + hk * G;
  for (var h = 0u; h < G; h++) {
    scores[(row0 + h) * p.ctx + j] = (acc[h].x + acc[h].y + acc[h].z + acc[h].w) * p.scale;
  }
}

// Workgroup (token t, head h): softmax of the row's scores times the values. Invocation lid owns the
// columns lid, lid + ML, ... so one SIMD lane group computes each key's exp once.
@compute @workgroup_size(ML)
fn mix(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  let t = row / p.n_head;
  let hk = (row % p.n_head) / G;
  let n = p.pos + t + 1u;
  let s0 = row * p.ctx;
  var m = NEG;
  for (var j = 0u; j < n; j++) {
    m = max(m, scores[s0 + j]);
  }
  var l = 0.0;
  var acc: array<vec4<f32>, MC>;
  // Columns past D4 repeat the last; they are never stored.
  let v0 = hk * p.ctx * D4;
  for (var j = 0u; j < n; j++) {
    let e = exp(scores[s0 + j] - m);
    l += e;
    for (var c = 0u; c < MC; c++) {
      acc[c] = fma(vec4<f32>(e), vec4<f32>(v_cache[v0 + j * D4 + min(lid + c * ML, D4 - 1u)]), acc[c]);
    }
  }
  for (var c = 0u; c < MC; c++) {
    let d = lid + c * ML;
    if (d < D4) { out[row * D4 + d] = acc[c] / l; }
  }
}
