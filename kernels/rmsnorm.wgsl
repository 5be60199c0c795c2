// RMS norm, one workgroup per row: y = x / sqrt(mean(x^2) + eps) * w. `add_norm` first adds a
// residual into x (x += a, written back), saving the model a dispatch per residual.

struct Params {
  n: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> a: array<f32>;

const WG = 256u;
var<workgroup> partial: array<f32, WG>;

fn norm(base: u32, lid: u32, ss: f32) {
  partial[lid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      partial[lid] += partial[lid + s];
    }
    workgroupBarrier();
  }
  let scale = inverseSqrt(partial[0] / f32(p.n) + p.eps);
  for (var i = lid; i < p.n; i += WG) {
    y[base + i] = x[base + i] * scale * w[i];
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * p.n;
  var ss = 0.0;
  for (var i = lid; i < p.n; i += WG) {
    let v = x[base + i];
    ss += v * v;
  }
  norm(base, lid, ss);
}

@compute @workgroup_size(WG)
fn add_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * p.n;
  var ss = 0.0;
  for (var i = lid; i < p.n; i += WG) {
    let v = x[base + i] + a[base + i];
    x[base + i] = v;
    ss += v * v;
  }
  norm(base, lid, ss);
}
