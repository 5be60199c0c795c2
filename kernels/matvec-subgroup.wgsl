// Row sums across the workgroup with subgroupAdd. WGSL does not say which invocations share a
// subgroup, so each subgroup's elected invocation stores its sums in its own slot, the others zeros,
// and the first R invocations add the T slots in order (deterministic for a given device).

var<workgroup> partial: array<f32, T * R>;

// Invocation r < R gets the total of row r.
fn reduce_rows(lid: u32, acc: array<f32, R>) -> f32 {
  let first = subgroupElect();
  for (var r = 0u; r < R; r++) {
    let s = subgroupAdd(acc[r]);
    partial[lid * R + r] = select(0.0, s, first);
  }
  workgroupBarrier();
  var t = 0.0;
  if (lid < R) {
    for (var i = 0u; i < T; i++) { t += partial[i * R + lid]; }
  }
  return t;
}
