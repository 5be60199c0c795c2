// In-place add over rows of n: y[t, i] += a[t * a_stride + i]. a_stride = n adds a same-shape
// matrix (residual), a_stride = 0 broadcasts one row (bias).

struct Params {
  n: u32,
  a_stride: u32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i < p.n) {
    y[t * p.n + i] += a[t * p.a_stride + i];
  }
}
