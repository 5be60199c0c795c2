// Operands, parameters and constants both attention kernels (attention.wgsl, attention-prefill.wgsl)
// share, so one bind group layout and parameter block serve both.

struct Params {
  n_tokens: u32,
  // Position of the step's first token; token t sees keys 0..pos+t.
  pos: u32,
  n_splits: u32,
  split_len: u32,
  n_head: u32,
  n_kv: u32,
  // Cache positions per kv head.
  ctx: u32,
  scale: f32,
  // D4 again: a loop bound the shader compiler cannot unroll (full unrolling made lavapipe's
  // compile take tens of seconds).
  d4: u32,
}

// Each token's row holds its Q heads, then K and V heads (which the kernels read from the cache).
// The host declares k_cache and v_cache (bindings 1 and 2, array<vec4<kv_t>>): read-only, or
// read-write for a decode kernel that stores the step's keys itself.
@group(0) @binding(0) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: Params;

// Stands in for -inf: masked scores and empty rows, without inf - inf = NaN.
const NEG = -3.0e38;
