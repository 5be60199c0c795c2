// Operands and parameters shared by the many-token products (matmul.wgsl, matmul-rows.wgsl), so one
// bind group layout and one parameter block serve both: Y[t, m] = X[t, :] . W[m, :] (+ bias[m]).

struct Params {
  rows: u32,
  k: u32,
  row_bytes: u32,
  x_off: u32, // in vec4s
  x_stride: u32, // in vec4s
  y_off: u32,
  y_stride: u32,
  b_off: u32,
  has_bias: u32,
  n: u32,
}

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
