// The attention kernels' cache bindings and loads, read-only: Q from the step's rows, K and V from
// the cache (attention-rope.wgsl is the decode kernel's alternative).

@group(0) @binding(1) var<storage, read> k_cache: array<vec4<kv_t>>;
@group(0) @binding(2) var<storage, read> v_cache: array<vec4<kv_t>>;

fn q_in(t: u32, h: u32, j: u32) -> vec4<f32> {
  return qkv[(t * (p.n_head + 2u * p.n_kv) + h) * D4 + j];
}

fn k_in(key: u32, hk: u32, j: u32, owner: bool) -> vec4<f32> {
  return vec4<f32>(k_cache[(hk * p.ctx + key) * D4 + j]);
}

fn v_in(key: u32, hk: u32, j: u32, owner: bool) -> vec4<f32> {
  return vec4<f32>(v_cache[(hk * p.ctx + key) * D4 + j]);
}
