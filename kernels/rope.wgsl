// RoPE on a step's Q (in place) and K, writing rotated K and V into the sequence's KV cache.
// Angles come from a table of (cos, sin) per position and pair, computed on the host exactly as the
// reference computes them (scaling, YaRN and frequency factors included), so no GPU sin/cos of
// large arguments is involved. One thread per pair of one head of one token.

struct Params {
  n_head: u32,
  n_kv: u32,
  dim: u32,
  neox: u32,
  // Cache positions per KV head.
  ctx: u32,
  // Position of the step's first token.
  pos: u32,
}

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> angles: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> k_cache: array<kv_t>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<kv_t>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = p.dim / 2u;
  let h = gid.x / half;
  let i = gid.x % half;
  let t = gid.y;
  if (h >= p.n_head + p.n_kv) {
    return;
  }
  let pos = p.pos + t;
  let cs = angles[pos * half + i];
  var a = 2u * i;
  var b = a + 1u;
  if (p.neox != 0u) {
    a = i;
    b = i + half;
  }
  if (h < p.n_head) {
    let base = (t * p.n_head + h) * p.dim;
    let x0 = q[base + a];
    let x1 = q[base + b];
    q[base + a] = x0 * cs.x - x1 * cs.y;
    q[base + b] = x0 * cs.y + x1 * cs.x;
  } else {
    let hk = h - p.n_head;
    let src = (t * p.n_kv + hk) * p.dim;
    let dst = (hk * p.ctx + pos) * p.dim;
    let x0 = k[src + a];
    let x1 = k[src + b];
    k_cache[dst + a] = kv_t(x0 * cs.x - x1 * cs.y);
    k_cache[dst + b] = kv_t(x0 * cs.y + x1 * cs.x);
    v_cache[dst + a] = kv_t(v[src + a]);
    v_cache[dst + b] = kv_t(v[src + b]);
  }
}
