// Row sums across the workgroup by a tree in workgroup memory (devices without subgroups). T is a
// power of two.

var<workgroup> partial: array<f32, T * R>;

// Invocation r < R gets the total of row r.
fn reduce_rows(lid: u32, acc: array<f32, R>) -> f32 {
  for (var r = 0u; r < R; r++) { partial[lid * R + r] = acc[r]; }
  for (var s = T / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      for (var r = 0u; r < R; r++) { partial[lid * R + r] += partial[(lid + s) * R + r]; }
    }
  }
  workgroupBarrier();
  return select(0.0, partial[min(lid, R - 1u)], lid < R);
}
