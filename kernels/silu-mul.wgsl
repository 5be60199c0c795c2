// SwiGLU's gate, in place: g = silu(g) * u = g / (1 + exp(-g)) * u.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read_write> g: array<f32>;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < p.n) {
    let k = gid.y * p.n + i;
    let v = g[k];
    g[k] = v / (1.0 + exp(-v)) * u[k];
  }
}
