// Embedding lookup: out[t, :] = dequantized row tokens[t] of the table (one part of it: rows
// first_row .. first_row + rows - 1; tokens outside the part are left for the other parts' dispatches).

struct Params {
  cols: u32,
  first_row: u32,
  rows: u32,
  pad: u32,
  table: Layout,
}

@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  let id = tokens[t];
  if (i >= p.cols || id < p.first_row || id - p.first_row >= p.rows) {
    return;
  }
  out[t * p.cols + i] = dq(id - p.first_row, i, p.table);
}
