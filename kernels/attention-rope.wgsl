// Decode attention's loads with RoPE folded in (attention.wgsl), which saves a decode step the rope
// dispatch per layer: Q is rotated on load, and the step's own keys (positions p.pos and on) come
// from its rows, rotated and rounded to kv_t as rope.wgsl stores them, stored into the cache by the
// `owner` workgroup. No workgroup of the dispatch reads those cache rows, so nothing races. Angles
// as rope.wgsl's; the host prepends NEOX (pairs (i, i + D/2), needing D4 even; else (2i, 2i + 1)),
// KV_F16 (kv_t is f16) and round-f16.wgsl.

@group(0) @binding(1) var<storage, read_write> k_cache: array<vec4<kv_t>>;
@group(0) @binding(2) var<storage, read_write> v_cache: array<vec4<kv_t>>;
@group(0) @binding(7) var<storage, read> angles: array<vec2<f32>>;

fn row_base(t: u32, h: u32) -> u32 {
  return (t * (p.n_head + 2u * p.n_kv) + h) * D4;
}

fn cs4(a: u32) -> array<vec4<f32>, 2> {
  let c0 = angles[a];
  let c1 = angles[a + 1u];
  let c2 = angles[a + 2u];
  let c3 = angles[a + 3u];
  return array<vec4<f32>, 2>(vec4<f32>(c0.x, c1.x, c2.x, c3.x), vec4<f32>(c0.y, c1.y, c2.y, c3.y));
}

// vec4 j of head h of token t, rotated to position pos: r0 = x0 cos - x1 sin, r1 = x0 sin + x1 cos.
fn rotated(t: u32, h: u32, j: u32, pos: u32) -> vec4<f32> {
  let base = row_base(t, h);
  let a = pos * D4 * 2u;
  if (NEOX) {
    let h4 = D4 / 2u;
    if (j < h4) {
      let cs = cs4(a + 4u * j);
      return qkv[base + j] * cs[0] - qkv[base + j + h4] * cs[1];
    }
    let cs = cs4(a + 4u * (j - h4));
    return qkv[base + j - h4] * cs[1] + qkv[base + j] * cs[0];
  }
  let x = qkv[base + j];
  let c0 = angles[a + 2u * j];
  let c1 = angles[a + 2u * j + 1u];
  return vec4<f32>(x.x * c0.x - x.y * c0.y, x.x * c0.y + x.y * c0.x, x.z * c1.x - x.w * c1.y, x.z * c1.y + x.w * c1.x);
}

// x as the cache holds it, which is what attention uses for the step's keys too (as it does when
// rope.wgsl stored them): stored exactly, whatever the device's f32 -> f16 rounding.
fn kv_round(x: vec4<f32>) -> vec4<f32> {
  if (KV_F16) {
    return vec4<f32>(round_f16(x.x), round_f16(x.y), round_f16(x.z), round_f16(x.w));
  }
  return x;
}

fn q_in(t: u32, h: u32, j: u32) -> vec4<f32> {
  return rotated(t, h, j, p.pos + t);
}

fn k_in(key: u32, hk: u32, j: u32, owner: bool) -> vec4<f32> {
  let i = (hk * p.ctx + key) * D4 + j;
  if (key < p.pos) {
    return vec4<f32>(k_cache[i]);
  }
  let k = kv_round(rotated(key - p.pos, p.n_head + hk, j, key));
  if (owner) {
    k_cache[i] = vec4<kv_t>(k);
  }
  return k;
}

fn v_in(key: u32, hk: u32, j: u32, owner: bool) -> vec4<f32> {
  let i = (hk * p.ctx + key) * D4 + j;
  if (key < p.pos) {
    return vec4<f32>(v_cache[i]);
  }
  let v = kv_round(qkv[row_base(key - p.pos, p.n_head + p.n_kv + hk) + j]);
  if (owner) {
    v_cache[i] = vec4<kv_t>(v);
  }
  return v;
}
