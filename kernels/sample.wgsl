// Token sampling on the device, so that only a token id is read back.
// Greedy: argmax_partial (one (max, index) per chunk of AC logits) then argmax_final.
// Otherwise: topk_first sorts chunks of CH logits (bitonic, in workgroup memory) and keeps each
// chunk's best C, also writing the chunk's (max, sum of exp((l - max) / T)) for the full-vocabulary
// softmax; topk_merge repeats on the candidates until one chunk is left; sample_final applies the
// reference's sampleLogits rules (top-k, softmax with temperature, top-p, then the host's uniform)
// to the sorted candidates. It writes FALLBACK when the answer needs more than the best C (top-k
// off with a flat distribution): the host then samples the logits itself.
// The host prepends the constants CH, C, AC and WG.

struct Level {
  // Elements in this dispatch's input.
  n: u32,
}

struct Sampling {
  n_vocab: u32,
  // 0: no top-k (the whole vocabulary); otherwise 1..C.
  top_k: u32,
  n_partials: u32,
  temperature: f32,
  top_p: f32,
  uniform: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
// Candidates: (f32 bits of the logit, token id).
@group(0) @binding(1) var<storage, read> cand_in: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> cand_out: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> result: array<u32>;
@group(0) @binding(5) var<uniform> level: Level;
@group(0) @binding(6) var<uniform> sp: Sampling;

const FALLBACK = 0xffffffffu;
// Below any logit; exp of it minus a real logit is 0.
const PAD = -3.0e38;

var<workgroup> sv: array<f32, CH>;
var<workgroup> si: array<u32, CH>;
var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;

// Sort order: larger logit first, then smaller id (as the reference sorts).
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return av > bv || (av == bv && ai < bi);
}

@compute @workgroup_size(WG)
fn argmax_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  var bv = PAD;
  var bi = FALLBACK;
  let end = min(level.n, (wid.x + 1u) * AC);
  for (var i = wid.x * AC + tid; i < end; i += WG) {
    let v = logits[i];
    if (better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
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
  if (tid == 0u) {
    cand_out[wid.x] = vec2<u32>(bitcast<u32>(red_v[0]), red_i[0]);
  }
}

@compute @workgroup_size(WG)
fn argmax_final(@builtin(local_invocation_index) tid: u32) {
  var bv = PAD;
  var bi = FALLBACK;
  for (var i = tid; i < level.n; i += WG) {
    let c = cand_in[i];
    if (better(bitcast<f32>(c.x), c.y, bv, bi)) {
      bv = bitcast<f32>(c.x);
      bi = c.y;
    }
  }
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
  if (tid == 0u) {
    result[0] = red_i[0];
  }
}

// Sorts sv/si best-first.
fn bitonic(tid: u32) {
  for (var k = 2u; k <= CH; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      for (var t = tid; t < CH / 2u; t += WG) {
        let a = 2u * j * (t / j) + t % j;
        let b = a + j;
        let swap = select(better(sv[a], si[a], sv[b], si[b]), better(sv[b], si[b], sv[a], si[a]), (a & k) == 0u);
        if (swap) {
          let v = sv[a];
          sv[a] = sv[b];
          sv[b] = v;
          let i = si[a];
          si[a] = si[b];
          si[b] = i;
        }
      }
      workgroupBarrier();
    }
  }
}

fn write_best(wid: u32, tid: u32) {
  for (var c = tid; c < C; c += WG) {
    cand_out[wid * C + c] = vec2<u32>(bitcast<u32>(sv[c]), si[c]);
  }
}

@compute @workgroup_size(WG)
fn topk_first(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  for (var c = tid; c < CH; c += WG) {
    let i = wid.x * CH + c;
    if (i < level.n) {
      sv[c] = logits[i];
      si[c] = i;
    } else {
      sv[c] = PAD;
      si[c] = FALLBACK;
    }
  }
  workgroupBarrier();
  bitonic(tid);
  let m = sv[0];
  var s = 0.0;
  for (var c = tid; c < CH; c += WG) {
    s += exp((sv[c] - m) / sp.temperature);
  }
  red_v[tid] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (tid < h) {
      red_v[tid] += red_v[tid + h];
    }
    workgroupBarrier();
  }
  if (tid == 0u) {
    partials[wid.x] = vec2<f32>(m, red_v[0]);
  }
  write_best(wid.x, tid);
}

@compute @workgroup_size(WG)
fn topk_merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  for (var c = tid; c < CH; c += WG) {
    let i = wid.x * CH + c;
    var x = vec2<u32>(bitcast<u32>(PAD), FALLBACK);
    if (i < level.n) {
      x = cand_in[i];
    }
    sv[c] = bitcast<f32>(x.x);
    si[c] = x.y;
  }
  workgroupBarrier();
  bitonic(tid);
  write_best(wid.x, tid);
}

fn cand_weight(j: u32, m: f32) -> f32 {
  return exp((bitcast<f32>(cand_in[j].x) - m) / sp.temperature);
}

// Sequential over at most C candidates: one thread.
@compute @workgroup_size(1)
fn sample_final() {
  let m = bitcast<f32>(cand_in[0].x);
  let full = sp.top_k == 0u;
  let k = select(min(sp.top_k, sp.n_vocab), min(C, sp.n_vocab), full);
  // Whether the candidates are the whole (top-k limited) vocabulary.
  let complete = !full || k == sp.n_vocab;
  var total = 0.0;
  if (full) {
    for (var w = 0u; w < sp.n_partials; w++) {
      let p = partials[w];
      total += p.y * exp((p.x - m) / sp.temperature);
    }
  } else {
    for (var j = 0u; j < k; j++) {
      total += cand_weight(j, m);
    }
  }
  var keep = k;
  var cum = 1.0;
  if (sp.top_p < 1.0) {
    cum = 0.0;
    keep = 0u;
    while (keep < k && cum < sp.top_p) {
      cum += cand_weight(keep, m) / total;
      keep++;
    }
    if (cum < sp.top_p && !complete) {
      result[0] = FALLBACK;
      return;
    }
  }
  var acc = 0.0;
  for (var j = 0u; j < keep; j++) {
    acc += cand_weight(j, m) / total / cum;
    if (sp.uniform < acc) {
      result[0] = cand_in[j].y;
      return;
    }
  }
  // Past the candidates' mass: the rest of the vocabulary decides, unless there is none.
  result[0] = select(FALLBACK, cand_in[keep - 1u].y, complete || sp.top_p < 1.0);
}
