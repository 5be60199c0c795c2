// SwiGLU: out[t, i] = silu(g) * u = g / (1 + exp(-g)) * u, with each token's row of `gu` holding
// the gate's n values then the up projection's (as the fused projection writes them).

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read> gu: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < p.n) {
    let g = gu[gid.y * 2u * p.n + i];
    out[gid.y * p.n + i] = g / (1.0 + exp(-g)) * gu[(gid.y * 2u + 1u) * p.n + i];
  }
}
