// Greedy sampling on the device, so that only token ids are read back: argmax_partial writes one
// (max, index) per chunk of AC logits, argmax_final picks the best of them. Ties go to the lower id,
// as the host sampler's argmax (engine/model/sampler.ts). Workgroup row y picks from row y of the
// logits (a verification step's rows, each n logits after the one before).
// The host prepends the constants AC and WG.

struct Level {
  // Elements in each row of this dispatch's input.
  n: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
// Per-chunk bests: (f32 bits of the logit, token id).
@group(0) @binding(1) var<storage, read> best_in: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> best_out: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> result: array<u32>;
@group(0) @binding(4) var<uniform> level: Level;

// No token yet (an id past any vocabulary).
const NONE = 0xffffffffu;
// Below any logit.
const PAD = -3.0e38;

var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;

// Larger logit first, then smaller id.
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return av > bv || (av == bv && ai < bi);
}

// Leaves the workgroup's best of the threads' (bv, bi) in red_v[0], red_i[0].
fn reduce_best(tid: u32, bv: f32, bi: u32) {
  red_v[tid] = bv;
  red_i[tid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s && better(red_v[tid + s], red_i[tid + s], red_v[tid], red_i[tid])) {
      red_v[tid] = red_v[tid + s];
      red_i[tid] = red_i[tid + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn argmax_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  var bv = PAD;
  var bi = NONE;
  let row = wid.y * level.n;
  let end = min(level.n, (wid.x + 1u) * AC);
  for (var i = wid.x * AC + tid; i < end; i += WG) {
    let v = logits[row + i];
    if (better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  reduce_best(tid, bv, bi);
  if (tid == 0u) {
    best_out[wid.y * nwg.x + wid.x] = vec2<u32>(bitcast<u32>(red_v[0]), red_i[0]);
  }
}

@compute @workgroup_size(WG)
fn argmax_final(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  var bv = PAD;
  var bi = NONE;
  for (var i = tid; i < level.n; i += WG) {
    let c = best_in[wid.y * level.n + i];
    if (better(bitcast<f32>(c.x), c.y, bv, bi)) {
      bv = bitcast<f32>(c.x);
      bi = c.y;
    }
  }
  reduce_best(tid, bv, bi);
  if (tid == 0u) {
    result[wid.y] = red_i[0];
  }
}
