// RoPE on a step's Q (in place) and K, writing rotated K and V into the sequence's KV cache. Q, K
// and V sit side by side in each token's row of `qkv` (as the fused projection writes them).
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

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> angles: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<kv_t>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<kv_t>;
@group(0) @binding(4) var<uniform> p: Params;

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
  // Q heads then K heads; V follows K.
  let base = (t * (p.n_head + 2u * p.n_kv) + h) * p.dim;
  let x0 = qkv[base + a];
  let x1 = qkv[base + b];
  let r0 = x0 * cs.x - x1 * cs.y;
  let r1 = x0 * cs.y + x1 * cs.x;
  if (h < p.n_head) {
    qkv[base + a] = r0;
    qkv[base + b] = r1;
  } else {
    let dst = ((h - p.n_head) * p.ctx + pos) * p.dim;
    k_cache[dst + a] = kv_t(r0);
    k_cache[dst + b] = kv_t(r1);
    let vb = base + p.n_kv * p.dim;
    v_cache[dst + a] = kv_t(qkv[vb + a]);
    v_cache[dst + b] = kv_t(qkv[vb + b]);
  }
}
