import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GGMLType, rowBytes } from './ggml.js';
import { bf16ToF32, dequantize, dequantizeInto, f16ToF32, f32ToBF16, f32ToF16, quantize } from './quant.js';
import { rng as mulberry32 } from '../../test/support/rng.js';

const T = GGMLType;


/**
 * Deterministic weights that exercise the quantizers' branches: each 256-block has its own character
 * (plain, tiny, all positive, large negative, outliers, coarse grid, half zero, heavy tails), plus an
 * all-zero block and a constant block.
 */
function testData(seed: number, nBlocks: number): Float32Array {
  const rnd = mulberry32(seed);
  const x = new Float32Array(256 * nBlocks);
  for (let i = 0; i < x.length; i++) {
    let v = (rnd() - 0.5) * 2;
    switch ((i >> 8) % 8) {
      case 1: v *= 1e-3; break;
      case 2: v = Math.abs(v) + 0.5; break;
      case 3: v = -Math.abs(v) * 100; break;
      case 4: v = i % 7 === 0 ? v * 50 : v * 0.01; break;
      case 5: v = Math.round(v * 8) / 8; break;
      case 6: v = i % 256 < 128 ? 0 : v; break;
      case 7: v = v * v * v * 3; break;
    }
    x[i] = v;
  }
  if (nBlocks > 18) {
    x.fill(0, 256 * 9, 256 * 10);
    x.fill(0.25, 256 * 17, 256 * 18);
  }
  return x;
}

const sha256 = (b: Uint8Array | Float32Array) => createHash('sha256').update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex');

// SHA-256 of llama.cpp's own output for testData(20240611, 64), computed with the ggml shipped in
// node-llama-cpp 3.22 (libggml-base.so: quantize_row_<type>_ref, then dequantize_row_<type> of those
// bytes, ggml_fp32_to_fp16_row, ggml_fp32_to_bf16_row_ref), called through ctypes.
const LLAMA_CPP_HASHES: Record<string, { q: string; dq: string }> = {
  Q4_0: { q: '1339e8c6fb3d30b55ec64d0ab10fff639956b02b8fd2e861f4ece089f35475f4', dq: '3c0f5bd22ca39222209de8b2c03df6eb4af25ca6eedb4ecf5352901f909df952' },
  Q4_1: { q: 'aa1b83c4649f7d86521671cf70f6e9100953ecc3527e99d6c379fc23cefea92a', dq: '30a7e33ab7139fb01d41e8ecd94d4bb9c5d8cb7b83eebde987379fa547f0676a' },
  Q5_0: { q: '718f96a9f0096b97d2614f92107bd4c55b59e4440aa7778d6920c022227222c8', dq: '892681dd2baf951694d43f34f33d6dea266f8777a4f445d2c42da807ea284442' },
  Q5_1: { q: '5cbd04f02f7e3ba93c51cc3ad1981c6dc346c25256012397d4cf04d36c204257', dq: 'd954fe9648afc738d8da0977bdfb77346ddfdb76da59c88d5e591f769f17f687' },
  Q8_0: { q: 'a0f1e55a73d536c925227a4da031d3b41d8061ca65e5b06d1a7deaf441f9eb5e', dq: '7c8886737611c9c19e7f77240095dde3ff6f0e2bc06cf5018bbc232346115f84' },
  Q4_K: { q: '502bde89cfc60c9341e2d3a4cca06acf3d64efc44556a9568f3d7c360b83d98f', dq: '16411d203086b65910afeb3e81124982f8effc48fa64f5973ef5fd5f2ed87b4b' },
  Q5_K: { q: '924755727bdfa75978d3f44735d1a51ca424b26534303acc3f8b9bb2faf05998', dq: '95777dadbc33336651da1dd3943b3740e09a18c6fb7b3bceb5955d123f509e62' },
  Q6_K: { q: '9e39ae7243774d56c75896619f3b0b4c8802d31228211691e913dfd9b8497a6b', dq: 'dc2148c5eadb4bd191021821dcce8d11c83ed71bad27e1d5a08917502f8e06d3' },
  F16: { q: '90bf3b74b134e0b31ed541bf367ec7be510a6519d67dca2e3d378f039b44a50b', dq: '150aff31bebb2fb2a357a0c70f381dafa8a88cca9466ae8141c92fb2755ba46c' },
  BF16: { q: '34e521e632d093110951f76b5a1c8c67009ba41fa84213d4ba71be1beef69809', dq: 'a5df888eed93555907dcd280bab18c66b33a2db1e6a0fc58d05648138ecbe582' },
};

test('quantize and dequantize match llama.cpp byte for byte', () => {
  const x = testData(20240611, 64);
  for (const [name, want] of Object.entries(LLAMA_CPP_HASHES)) {
    const type = T[name as keyof typeof T];
    const q = quantize(type, x);
    assert.equal(sha256(q), want.q, `${name} quantized bytes`);
    assert.equal(sha256(dequantize(type, q, x.length)), want.dq, `${name} dequantized values`);
  }
});

test('f16: special values and rounding to nearest even', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
    [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [Infinity, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [1023 * 2 ** -24, 0x03ff], [-(2 ** -24), 0x8001],
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even (0)
    [1.5 * 2 ** -24, 0x0002], [2.5 * 2 ** -24, 0x0002], [2 ** -26, 0x0000], [1.0000001 * 2 ** -25, 0x0001],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
    [(2047 / 2048) * 2 ** -14, 0x0400], // rounds up from the subnormal range into the normals
  ];
  for (const [x, h] of cases) assert.equal(f32ToF16(x), h, `f32ToF16(${x})`);
  const nan = f32ToF16(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)) && Number.isNaN(f16ToF32(0xfc01)));
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  assert.equal(f16ToF32(0x0001), 2 ** -24);
  assert.equal(f16ToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f16ToF32(0x7bff), 65504);
  assert.equal(f16ToF32(0xfc00), -Infinity);
  // Every non-NaN half survives a round trip, and positive halves are strictly increasing.
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue;
    assert.ok(Object.is(f16ToF32(f32ToF16(f16ToF32(h))), f16ToF32(h)) && f32ToF16(f16ToF32(h)) === h, `half ${h}`);
    if (h > 0 && h <= 0x7c00) assert.ok(f16ToF32(h) > f16ToF32(h - 1));
  }
});

test('f16: random floats round to the nearest half (ties to even)', () => {
  const rnd = mulberry32(7);
  const bits = new Uint32Array(1), fl = new Float32Array(bits.buffer);
  for (let i = 0; i < 20000; i++) {
    bits[0] = (rnd() * 2 ** 32) >>> 0;
    const x = fl[0];
    if (!Number.isFinite(x) || Math.abs(x) >= 65504) continue;
    const h = f32ToF16(x), v = f16ToF32(h);
    const ulp = Math.abs(v) < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(v) || 1)) - 10);
    const err = Math.abs(x - v);
    assert.ok(err <= ulp / 2, `f32ToF16(${x}) = ${v}, error ${err} > half ulp ${ulp / 2}`);
    if (err === ulp / 2) assert.equal(h & 1, 0, `tie for ${x} must round to even`);
  }
});

test('bf16: rounding, NaN and round trips', () => {
  const fromBits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
  assert.equal(f32ToBF16(1), 0x3f80);
  assert.equal(f32ToBF16(-2), 0xc000);
  assert.equal(f32ToBF16(fromBits(0x3f808000)), 0x3f80); // tie, even stays
  assert.equal(f32ToBF16(fromBits(0x3f818000)), 0x3f82); // tie, odd rounds up
  assert.equal(f32ToBF16(fromBits(0x3f808001)), 0x3f81);
  assert.equal(f32ToBF16(fromBits(0x7f7fffff)), 0x7f80); // max float rounds to inf
  assert.equal(f32ToBF16(Infinity), 0x7f80);
  assert.equal(f32ToBF16(fromBits(0x7f800001)), 0x7fc0); // signalling NaN becomes quiet, stays NaN
  assert.equal(f32ToBF16(fromBits(0xffc00000)), 0xffc0);
  assert.equal(f32ToBF16(fromBits(0x00000001)), 0x0000); // float subnormals round like everything else
  assert.equal(f32ToBF16(fromBits(0x00018000)), 0x0002);
  assert.ok(Object.is(bf16ToF32(0x8000), -0));
  assert.ok(Number.isNaN(bf16ToF32(0x7fc1)));
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7f80) === 0x7f80 && h & 0x7f) continue;
    assert.equal(f32ToBF16(bf16ToF32(h)), h);
  }
});

/** Packs bytes little-endian from a list of [value, byteCount] fields. */
function pack(fields: [number, number][]): Uint8Array {
  const out: number[] = [];
  for (const [v, n] of fields) for (let i = 0; i < n; i++) out.push((v >>> (8 * i)) & 0xff);
  return new Uint8Array(out);
}

test('hand-built blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0', () => {
  // Q4_0: d = 0.5 (half 0x3800); byte j holds element j (low nibble) and j+16 (high nibble), minus 8.
  const q40 = pack([[0x3800, 2], ...Array.from({ length: 16 }, (_, j) => [j | ((15 - j) << 4), 1] as [number, number])]);
  const want40 = [...Array.from({ length: 16 }, (_, j) => (j - 8) * 0.5), ...Array.from({ length: 16 }, (_, j) => (7 - j) * 0.5)];
  assert.deepEqual([...dequantize(T.Q4_0, q40, 32)], want40);
  // Q4_1: d = 2, m = -1: value = q*d + m.
  const q41 = pack([[0x4000, 2], [0xbc00, 2], ...Array.from({ length: 16 }, (_, j) => [j | (3 << 4), 1] as [number, number])]);
  assert.deepEqual([...dequantize(T.Q4_1, q41, 32)], [...Array.from({ length: 16 }, (_, j) => j * 2 - 1), ...Array(16).fill(5)]);
  // Q5_0: fifth bits in a 32-bit qh: bit j for element j, bit j+16 for element j+16. d = 1.
  const qh = 0b10100000000000000000000000000101 >>> 0; // elements 0, 2, 29, 31 get +16
  const q50 = pack([[0x3c00, 2], [qh, 4], ...Array.from({ length: 16 }, (_, j) => [(j & 15) | (1 << 4), 1] as [number, number])]);
  const want50 = Array.from({ length: 32 }, (_, e) => ((e < 16 ? e : 1) | ((qh >>> e) & 1 ? 16 : 0)) - 16);
  assert.deepEqual([...dequantize(T.Q5_0, q50, 32)], want50);
  // Q5_1: d = 0.25, m = 3, same qh.
  const q51 = pack([[0x3400, 2], [0x4200, 2], [qh, 4], ...Array.from({ length: 16 }, (_, j) => [(j & 15) | (1 << 4), 1] as [number, number])]);
  const want51 = Array.from({ length: 32 }, (_, e) => ((e < 16 ? e : 1) | ((qh >>> e) & 1 ? 16 : 0)) * 0.25 + 3);
  assert.deepEqual([...dequantize(T.Q5_1, q51, 32)], want51);
  // Q8_0: d = -0.125, int8 quants.
  const qs = Array.from({ length: 32 }, (_, j) => [-128, 120, -1, 0][j % 4] + (j >> 2));
  const q80 = pack([[0xb000, 2], ...qs.map((v) => [v & 0xff, 1] as [number, number])]);
  assert.deepEqual([...dequantize(T.Q8_0, q80, 32)], qs.map((v) => v * -0.125));
});

test('hand-built blocks: Q4_K and Q5_K (6-bit scales and mins)', () => {
  // 8 sub-blocks of 32. Scales/mins are 6 bits in 12 bytes: bytes 0-3 hold sc[0..3] in bits 0-5 and
  // the top 2 bits of sc[4..7] in bits 6-7; bytes 4-7 the same for mins; bytes 8-11 hold the low
  // 4 bits of sc[4..7] (bits 0-3) and of m[4..7] (bits 4-7).
  const sc = [1, 2, 3, 4, 33, 50, 63, 17];
  const mn = [0, 5, 10, 15, 20, 40, 60, 63];
  const scales = [
    ...[0, 1, 2, 3].map((j) => sc[j] | ((sc[j + 4] >> 4) << 6)),
    ...[0, 1, 2, 3].map((j) => mn[j] | ((mn[j + 4] >> 4) << 6)),
    ...[0, 1, 2, 3].map((j) => (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4)),
  ];
  // Quant nibbles: sub-block 2c uses the low nibbles of qs[32c..32c+32), sub-block 2c+1 the high ones.
  const q = (e: number) => (e * 7 + (e >> 5)) & 15;
  const qs = Array.from({ length: 128 }, (_, b) => q(64 * (b >> 5) + (b & 31)) | (q(64 * (b >> 5) + 32 + (b & 31)) << 4));
  const d = 0.5, dmin = 0.25; // halves 0x3800, 0x3400
  const q4k = pack([[0x3800, 2], [0x3400, 2], ...scales.map((v) => [v, 1] as [number, number]), ...qs.map((v) => [v, 1] as [number, number])]);
  assert.equal(q4k.length, 144);
  const want4 = Array.from({ length: 256 }, (_, e) => d * sc[e >> 5] * q(e) - dmin * mn[e >> 5]);
  assert.deepEqual([...dequantize(T.Q4_K, q4k, 256)], want4);

  // Q5_K: the fifth bit of element e (sub-block j = e >> 5, l = e & 31) is bit j of qh[l].
  const hi = (e: number) => ((e * 13) >> 3) & 1;
  const qh = Array.from({ length: 32 }, (_, l) => Array.from({ length: 8 }, (_, j) => hi(32 * j + l) << j).reduce((a, b) => a | b));
  const q5k = pack([[0x3800, 2], [0x3400, 2], ...scales.map((v) => [v, 1] as [number, number]), ...qh.map((v) => [v, 1] as [number, number]), ...qs.map((v) => [v, 1] as [number, number])]);
  assert.equal(q5k.length, 176);
  const want5 = Array.from({ length: 256 }, (_, e) => d * sc[e >> 5] * (q(e) + 16 * hi(e)) - dmin * mn[e >> 5]);
  assert.deepEqual([...dequantize(T.Q5_K, q5k, 256)], want5);
});

test('hand-built block: Q6_K', () => {
  // Layout: ql[128] low nibbles, qh[64] high 2 bits, int8 scales[16], half d. Element e: half h = e >> 7,
  // quarter k = (e >> 5) & 3, l = e & 31; low 4 bits from ql[64h + 32(k & 1) + l], nibble k >> 1;
  // high 2 bits are bits 2k..2k+1 of qh[32h + l]; scale index 8h + 2k + (l >> 4); value d*scale*(q-32).
  const q = (e: number) => (e * 37 + 11) & 63;
  const scale = Array.from({ length: 16 }, (_, i) => [-128, 124, -3, 5][i % 4] + (i >> 2));
  const ql = new Array(128).fill(0), qh = new Array(64).fill(0);
  for (let e = 0; e < 256; e++) {
    const h = e >> 7, k = (e >> 5) & 3, l = e & 31;
    ql[64 * h + 32 * (k & 1) + l] |= (q(e) & 15) << (4 * (k >> 1));
    qh[32 * h + l] |= (q(e) >> 4) << (2 * k);
  }
  const block = pack([...ql.map((v) => [v, 1] as [number, number]), ...qh.map((v) => [v, 1] as [number, number]),
    ...scale.map((v) => [v & 0xff, 1] as [number, number]), [0x2c00, 2]]); // d = 1/16
  assert.equal(block.length, 210);
  const want = Array.from({ length: 256 }, (_, e) => {
    const h = e >> 7, k = (e >> 5) & 3, l = e & 31;
    return (1 / 16) * scale[8 * h + 2 * k + (l >> 4)] * (q(e) - 32);
  });
  assert.deepEqual([...dequantize(T.Q6_K, block, 256)], want);
});

/** Max |x - y| over each block of `bs`, next to the block's max |x|. */
function blockErrors(x: Float32Array, y: Float32Array, bs: number): { err: number; amax: number }[] {
  const out = [];
  for (let b = 0; b < x.length; b += bs) {
    let err = 0, amax = 0;
    for (let i = b; i < b + bs; i++) { err = Math.max(err, Math.abs(x[i] - y[i])); amax = Math.max(amax, Math.abs(x[i])); }
    out.push({ err, amax });
  }
  return out;
}

test('round trips on random data stay within the stated error bounds', () => {
  const rnd = mulberry32(99);
  const x = new Float32Array(256 * 40);
  // Gaussian-ish weights with per-block scale changes, like real tensors.
  for (let i = 0; i < x.length; i++) x[i] = (rnd() + rnd() + rnd() - 1.5) * 2 ** ((i >> 8) % 7 - 3);
  const h = 2 ** -11; // relative rounding of a half-precision scale
  // Symmetric 8-bit: error <= d/2 per block, d = amax/127 (plus the half rounding of d).
  for (const { err, amax } of blockErrors(x, dequantize(T.Q8_0, quantize(T.Q8_0, x), x.length), 32)) {
    assert.ok(err <= (amax / 127) * (0.5 + 128 * h), `Q8_0 error ${err} for amax ${amax}`);
  }
  // Symmetric 4/5-bit map the extreme value to -8/-16, so the opposite side clips by up to one step d.
  for (const [type, steps] of [[T.Q4_0, 8], [T.Q5_0, 16]] as const) {
    for (const { err, amax } of blockErrors(x, dequantize(type, quantize(type, x), x.length), 32)) {
      assert.ok(err <= (amax / steps) * (1 + (steps + 1) * h), `${T[type]} error ${err} for amax ${amax}`);
    }
  }
  // Min/scale 4/5-bit: d = (max - min)/(2^b - 1), error <= d/2 (+ half rounding of d and of the min).
  for (const [type, levels] of [[T.Q4_1, 15], [T.Q5_1, 31]] as const) {
    const y = dequantize(type, quantize(type, x), x.length);
    for (let b = 0; b < x.length; b += 32) {
      const blk = x.subarray(b, b + 32);
      const lo = Math.min(...blk), hi = Math.max(...blk), d = (hi - lo) / levels;
      for (let i = b; i < b + 32; i++) {
        assert.ok(Math.abs(x[i] - y[i]) <= d * (0.5 + (levels + 1) * h) + Math.abs(lo) * h, `${T[type]} element ${i}`);
      }
    }
  }
  // K-quants: the weighted least-squares scale/min search has no tidy worst case. Bounds, in steps of
  // the super-block's max |x| (amax/15, /31, /32), sit above the worst seen over uniform, gaussian and
  // outlier-heavy data (1.5, 1.9 and 0.55 steps), as does the RMS error relative to the data's RMS
  // (0.090, 0.045, 0.026).
  const rms = (a: Float32Array, b?: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - (b ? b[i] : 0)) ** 2, 0) / a.length);
  for (const [type, step, maxSteps, relRms] of [[T.Q4_K, 15, 2, 0.1], [T.Q5_K, 31, 2.5, 0.05], [T.Q6_K, 32, 0.75, 0.03]] as const) {
    const y = dequantize(type, quantize(type, x), x.length);
    for (const { err, amax } of blockErrors(x, y, 256)) {
      assert.ok(err <= (amax / step) * maxSteps, `${T[type]} max error ${err} for block amax ${amax}`);
    }
    const r = rms(x, y) / rms(x);
    assert.ok(r <= relRms, `${T[type]} relative RMS error ${r} > ${relRms}`);
  }
  // Float formats: half ulp.
  const f16 = dequantize(T.F16, quantize(T.F16, x), x.length);
  const bf16 = dequantize(T.BF16, quantize(T.BF16, x), x.length);
  for (let i = 0; i < x.length; i++) {
    assert.ok(Math.abs(x[i] - f16[i]) <= Math.max(Math.abs(x[i]) * 2 ** -11, 2 ** -25));
    assert.ok(Math.abs(x[i] - bf16[i]) <= Math.abs(x[i]) * 2 ** -8);
  }
  assert.deepEqual(dequantize(T.F32, quantize(T.F32, x), x.length), x);
});

test('Q8_0 re-quantizes its own output to the same bytes', () => {
  const x = testData(5, 8);
  const q = quantize(T.Q8_0, x);
  assert.deepEqual(quantize(T.Q8_0, dequantize(T.Q8_0, q, x.length)), q);
});

test('rows: a matrix with an odd row count decodes row by row, into offsets, from unaligned bytes', () => {
  const rows = 7, cols = 512;
  const x = testData(11, (rows * cols) / 256);
  for (const type of [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]) {
    const q = quantize(type, x);
    const whole = dequantize(type, q, x.length);
    const rb = rowBytes(type, cols);
    assert.equal(q.length, rb * rows, `${T[type]} size`);
    const out = new Float32Array(rows * cols + 3).fill(NaN);
    for (let r = rows - 1; r >= 0; r--) {
      // Copy the row to an odd byte offset so views of it are unaligned.
      const buf = new Uint8Array(rb + 1);
      buf.set(q.subarray(r * rb, (r + 1) * rb), 1);
      const row = buf.subarray(1);
      assert.deepEqual(quantize(type, x.subarray(r * cols, (r + 1) * cols)), q.subarray(r * rb, (r + 1) * rb), `${T[type]} row ${r} quantized alone`);
      dequantizeInto(type, row, cols, out, 3 + r * cols);
    }
    assert.ok(out.subarray(0, 3).every(Number.isNaN), `${T[type]} wrote before the offset`);
    assert.deepEqual(out.subarray(3), whole, T[type]);
  }
});

test('errors name the type and the sizes', () => {
  const x = new Float32Array(64);
  assert.throws(() => quantize(T.Q4_K, x), /Q4_K: 64 elements is not a multiple of the block size 256/);
  assert.throws(() => quantize(T.Q8_0, new Float32Array(33)), /Q8_0: 33 elements/);
  assert.throws(() => quantize(T.Q2_K, new Float32Array(256)), /Q2_K is not supported/);
  assert.throws(() => quantize(99 as GGMLType, x), /unknown ggml type 99/);
  assert.throws(() => quantize(T.Q8_0, Float32Array.of(...new Array(31).fill(0), NaN)), /Q8_0: element 31 is NaN/);
  assert.throws(() => quantize(T.Q4_0, Float32Array.of(Infinity, ...new Array(31).fill(0))), /Q4_0: element 0 is Infinity/);
  assert.throws(() => dequantize(T.Q8_0, new Uint8Array(33), 32), /Q8_0: 32 elements need 34 bytes, got 33/);
  assert.throws(() => dequantize(T.Q6_K, new Uint8Array(210), 255), /Q6_K: 255 elements is not a multiple of the block size 256/);
  assert.throws(() => dequantize(T.IQ4_XS, new Uint8Array(136), 256), /IQ4_XS is not supported/);
  assert.throws(() => dequantize(T.F16, new Uint8Array(4), -2), /element count -2/);
  assert.throws(() => dequantizeInto(T.Q4_0, new Uint8Array(18), 32, new Float32Array(40), 9), /output of 40 floats cannot hold 32 elements at offset 9/);
  assert.equal(dequantize(T.Q4_K, new Uint8Array(0), 0).length, 0);
});
