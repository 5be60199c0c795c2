// ggml tensor encodings: block layouts as ggml-common.h defines them, dequantization that reproduces
// ggml's dequantize_row_* bit for bit, and the reference quantizers (quantize_row_*_ref) with every
// float operation rounded to float32 so the bytes match what ggml writes.
// Multi-byte fields are little-endian, as in GGUF files.

import { GGMLType, typeName, typeTraits } from './ggml.js';

const f = Math.fround;
const QK_K = 256;
const GROUP_MAX_EPS = f(1e-15);
const F_0_1 = f(0.1);

// Scratch views for reinterpreting float32 bits.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1024 + m) * 2 ** (e - 25);
  }
  return t;
})();

export function f16ToF32(h: number): number {
  return F16_TABLE[h & 0xffff];
}

/** IEEE half bits of float32 bits, rounding to nearest even; NaN becomes a quiet NaN (as ggml's C path). */
function f16FromBits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 rounds past the largest half
  if (a < 0x38800000) {
    // Half subnormal (or zero): units of 2^-24, ties to even. a < 2^-14 so the scaled value is exact.
    scratchU32[0] = a;
    const x = scratchF32[0] * 16777216;
    let r = Math.round(x);
    if (r - x === 0.5 && (r & 1)) r -= 1;
    return sign | r;
  }
  return sign | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
}

/** float -> half bits, like GGML_FP32_TO_FP16 (the argument is first rounded to float32). */
export function f32ToF16(x: number): number {
  scratchF32[0] = x;
  return f16FromBits(scratchU32[0]);
}

export function bf16ToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

function bf16FromBits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff; // NaN: keep payload, force quiet
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float -> bfloat16 bits, like GGML_FP32_TO_BF16: round to nearest even, NaN stays (quiet) NaN. */
export function f32ToBF16(x: number): number {
  scratchF32[0] = x;
  return bf16FromBits(scratchU32[0]);
}

/** ggml's nearest_int: float32 round-half-even via the 1.5*2^23 trick (and the same bits when out of range). */
function nearestInt(v: number): number {
  const t = f(v + 12582912);
  if (t >= 8388608 && t < 16777216) return t - 12582912;
  scratchF32[0] = t;
  return (scratchU32[0] & 0x007fffff) - 0x00400000;
}

/** C's (int8_t)(float) for the values our quantizers produce (NaN/inf -> 0 as x86 does). */
function toInt8(v: number): number {
  return ((v | 0) << 24) >> 24;
}

function readF16(b: Uint8Array, o: number): number {
  return F16_TABLE[b[o] | (b[o + 1] << 8)];
}

function writeF16(b: Uint8Array, o: number, x: number): void {
  const h = f32ToF16(x);
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
}

function traitsOf(type: GGMLType, what: string) {
  const t = typeTraits(type);
  if (!t) throw new Error(`${what}: unknown ggml type ${type}`);
  return t;
}

function checkCount(what: string, name: string, n: number, blockSize: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} ${name}: element count ${n} is not a non-negative integer`);
  if (n % blockSize !== 0) throw new Error(`${what} ${name}: ${n} elements is not a multiple of the block size ${blockSize}`);
}

/** Decodes `n` elements of `type` from `bytes` (exactly rowBytes(type, n) long). */
export function dequantize(type: GGMLType, bytes: Uint8Array, n: number): Float32Array {
  const t = traitsOf(type, 'dequantize');
  checkCount('dequantize', t.name, n, t.blockSize);
  const out = new Float32Array(n);
  dequantizeInto(type, bytes, n, out, 0);
  return out;
}

/** Like dequantize, writing into out[outOffset .. outOffset + n). */
export function dequantizeInto(type: GGMLType, bytes: Uint8Array, n: number, out: Float32Array, outOffset = 0): void {
  const t = traitsOf(type, 'dequantize');
  checkCount('dequantize', t.name, n, t.blockSize);
  const need = (n / t.blockSize) * t.typeSize;
  if (bytes.length !== need) {
    throw new Error(`dequantize ${t.name}: ${n} elements need ${need} bytes, got ${bytes.length}`);
  }
  if (!Number.isSafeInteger(outOffset) || outOffset < 0 || outOffset + n > out.length) {
    throw new Error(`dequantize ${t.name}: output of ${out.length} floats cannot hold ${n} elements at offset ${outOffset}`);
  }
  const nb = n / t.blockSize;
  switch (type) {
    case GGMLType.F32: {
      const src = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
      out.set(new Float32Array(src.buffer, src.byteOffset, n), outOffset);
      return;
    }
    case GGMLType.F16:
      for (let i = 0; i < n; i++) out[outOffset + i] = F16_TABLE[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
      return;
    case GGMLType.BF16: {
      const u = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, n);
      for (let i = 0; i < n; i++) u[i] = ((bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16) >>> 0;
      return;
    }
    case GGMLType.Q4_0: return dqQ4_0(bytes, nb, out, outOffset);
    case GGMLType.Q4_1: return dqQ4_1(bytes, nb, out, outOffset);
    case GGMLType.Q5_0: return dqQ5_0(bytes, nb, out, outOffset);
    case GGMLType.Q5_1: return dqQ5_1(bytes, nb, out, outOffset);
    case GGMLType.Q8_0: return dqQ8_0(bytes, nb, out, outOffset);
    case GGMLType.Q4_K: return dqQ4_K(bytes, nb, out, outOffset);
    case GGMLType.Q5_K: return dqQ5_K(bytes, nb, out, outOffset);
    case GGMLType.Q6_K: return dqQ6_K(bytes, nb, out, outOffset);
    default:
      throw new Error(`dequantize: ggml type ${typeName(type)} is not supported`);
  }
}

// Products below are exact in float32 (few-bit integers times a half), so the single rounding on
// store into the Float32Array gives ggml's result exactly.

function dqQ4_0(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 18, base = yo + i * 32;
    const d = readF16(b, o);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j];
      y[base + j] = ((q & 15) - 8) * d;
      y[base + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

function dqQ4_1(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 20, base = yo + i * 32;
    const d = readF16(b, o), m = readF16(b, o + 2);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 4 + j];
      y[base + j] = (q & 15) * d + m;
      y[base + j + 16] = (q >> 4) * d + m;
    }
  }
}

function dqQ5_0(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 22, base = yo + i * 32;
    const d = readF16(b, o);
    const qh = b[o + 2] | (b[o + 3] << 8) | (b[o + 4] << 16) | (b[o + 5] << 24);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j];
      y[base + j] = (((q & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
      y[base + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
}

function dqQ5_1(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 24, base = yo + i * 32;
    const d = readF16(b, o), m = readF16(b, o + 2);
    const qh = b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 8 + j];
      y[base + j] = ((q & 15) | (((qh >>> j) & 1) << 4)) * d + m;
      y[base + j + 16] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
    }
  }
}

function dqQ8_0(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 34, base = yo + i * 32;
    const d = readF16(b, o);
    for (let j = 0; j < 32; j++) y[base + j] = ((b[o + 2 + j] << 24) >> 24) * d;
  }
}

/** 6-bit scale (sc) and min (m) of sub-block j from the 12 packed bytes at s (get_scale_min_k4). */
export function scaleK4(b: Uint8Array, s: number, j: number): number {
  return j < 4 ? b[s + j] & 63 : (b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4);
}
export function minK4(b: Uint8Array, s: number, j: number): number {
  return j < 4 ? b[s + j + 4] & 63 : (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4);
}

function dqQ4_K(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 144, base = yo + i * 256;
    const d = readF16(b, o), dmin = readF16(b, o + 2);
    for (let c = 0; c < 4; c++) {
      const d1 = d * scaleK4(b, o + 4, 2 * c), m1 = dmin * minK4(b, o + 4, 2 * c);
      const d2 = d * scaleK4(b, o + 4, 2 * c + 1), m2 = dmin * minK4(b, o + 4, 2 * c + 1);
      const q = o + 16 + 32 * c, yb = base + 64 * c;
      for (let l = 0; l < 32; l++) {
        const v = b[q + l];
        y[yb + l] = d1 * (v & 15) - m1;
        y[yb + 32 + l] = d2 * (v >> 4) - m2;
      }
    }
  }
}

function dqQ5_K(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 176, base = yo + i * 256;
    const d = readF16(b, o), dmin = readF16(b, o + 2);
    for (let c = 0; c < 4; c++) {
      const d1 = d * scaleK4(b, o + 4, 2 * c), m1 = dmin * minK4(b, o + 4, 2 * c);
      const d2 = d * scaleK4(b, o + 4, 2 * c + 1), m2 = dmin * minK4(b, o + 4, 2 * c + 1);
      const u1 = 1 << (2 * c), u2 = 2 << (2 * c);
      const q = o + 48 + 32 * c, yb = base + 64 * c;
      for (let l = 0; l < 32; l++) {
        const v = b[q + l], h = b[o + 16 + l];
        y[yb + l] = d1 * ((v & 15) + (h & u1 ? 16 : 0)) - m1;
        y[yb + 32 + l] = d2 * ((v >> 4) + (h & u2 ? 16 : 0)) - m2;
      }
    }
  }
}

function dqQ6_K(b: Uint8Array, nb: number, y: Float32Array, yo: number): void {
  for (let i = 0; i < nb; i++) {
    const o = i * 210;
    const d = readF16(b, o + 208);
    for (let h = 0; h < 2; h++) {
      const ql = o + 64 * h, qh = o + 128 + 32 * h, sc = o + 192 + 8 * h, yb = yo + i * 256 + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const a = b[ql + l], c = b[ql + l + 32], hb = b[qh + l];
        y[yb + l] = d * ((b[sc + is] << 24) >> 24) * (((a & 15) | ((hb & 3) << 4)) - 32);
        y[yb + l + 32] = d * ((b[sc + is + 2] << 24) >> 24) * (((c & 15) | (((hb >> 2) & 3) << 4)) - 32);
        y[yb + l + 64] = d * ((b[sc + is + 4] << 24) >> 24) * (((a >> 4) | (((hb >> 4) & 3) << 4)) - 32);
        y[yb + l + 96] = d * ((b[sc + is + 6] << 24) >> 24) * (((c >> 4) | (((hb >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

/** Encodes `data` (a whole number of blocks) as `type`, byte for byte as ggml's reference quantizers. */
export function quantize(type: GGMLType, data: Float32Array): Uint8Array {
  const t = traitsOf(type, 'quantize');
  const n = data.length;
  checkCount('quantize', t.name, n, t.blockSize);
  const nb = n / t.blockSize;
  const out = new Uint8Array(nb * t.typeSize);
  switch (type) {
    case GGMLType.F32:
      new Float32Array(out.buffer).set(data);
      return out;
    case GGMLType.F16:
    case GGMLType.BF16: {
      const bits = new Uint32Array(data.buffer, data.byteOffset, n);
      const conv = type === GGMLType.F16 ? f16FromBits : bf16FromBits;
      for (let i = 0; i < n; i++) {
        const h = conv(bits[i]);
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >> 8;
      }
      return out;
    }
    case GGMLType.Q4_0:
    case GGMLType.Q4_1:
    case GGMLType.Q5_0:
    case GGMLType.Q5_1:
    case GGMLType.Q8_0:
    case GGMLType.Q4_K:
    case GGMLType.Q5_K:
    case GGMLType.Q6_K:
      break;
    default:
      throw new Error(`quantize: ggml type ${t.name} is not supported`);
  }
  // ggml's quantizers assume finite input; NaN/inf would silently become garbage blocks.
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`quantize ${t.name}: element ${i} is ${data[i]}`);
  }
  switch (type) {
    case GGMLType.Q4_0: qQ4_0(data, nb, out); break;
    case GGMLType.Q4_1: qQ4_1(data, nb, out); break;
    case GGMLType.Q5_0: qQ5_0(data, nb, out); break;
    case GGMLType.Q5_1: qQ5_1(data, nb, out); break;
    case GGMLType.Q8_0: qQ8_0(data, nb, out); break;
    case GGMLType.Q4_K: qQxK(data, nb, out, 15); break;
    case GGMLType.Q5_K: qQxK(data, nb, out, 31); break;
    default: qQ6_K(data, nb, out); break;
  }
  return out;
}

/** Value of largest magnitude (the first one on ties), as the symmetric ggml quantizers pick it. */
function signedAbsMax(x: Float32Array, o: number, n: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  }
  return max;
}

function qQ4_0(x: Float32Array, nb: number, y: Uint8Array): void {
  for (let i = 0; i < nb; i++) {
    const xo = i * 32, o = i * 18;
    const d = f(signedAbsMax(x, xo, 32) / -8);
    const id = d ? f(1 / d) : 0;
    writeF16(y, o, d);
    for (let j = 0; j < 16; j++) {
      const a = Math.min(15, toInt8(f(f(x[xo + j] * id) + 8.5)));
      const b = Math.min(15, toInt8(f(f(x[xo + 16 + j] * id) + 8.5)));
      y[o + 2 + j] = a | (b << 4);
    }
  }
}

function qQ4_1(x: Float32Array, nb: number, y: Uint8Array): void {
  for (let i = 0; i < nb; i++) {
    const xo = i * 32, o = i * 20;
    let min = Infinity, max = -Infinity;
    for (let j = 0; j < 32; j++) {
      const v = x[xo + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = f(f(max - min) / 15);
    const id = d ? f(1 / d) : 0;
    writeF16(y, o, d);
    writeF16(y, o + 2, min);
    for (let j = 0; j < 16; j++) {
      const a = Math.min(15, toInt8(f(f(f(x[xo + j] - min) * id) + 0.5)));
      const b = Math.min(15, toInt8(f(f(f(x[xo + 16 + j] - min) * id) + 0.5)));
      y[o + 4 + j] = a | (b << 4);
    }
  }
}

function writeQ5(y: Uint8Array, qhAt: number, qsAt: number, a: Int32Array): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const x0 = a[j] & 0xff, x1 = a[j + 16] & 0xff;
    y[qsAt + j] = (x0 & 15) | ((x1 & 15) << 4);
    qh |= ((x0 >> 4) & 1) << j;
    qh |= ((x1 >> 4) & 1) << (j + 16);
  }
  y[qhAt] = qh & 0xff;
  y[qhAt + 1] = (qh >>> 8) & 0xff;
  y[qhAt + 2] = (qh >>> 16) & 0xff;
  y[qhAt + 3] = qh >>> 24;
}

const q5tmp = new Int32Array(32);

function qQ5_0(x: Float32Array, nb: number, y: Uint8Array): void {
  for (let i = 0; i < nb; i++) {
    const xo = i * 32, o = i * 22;
    const d = f(signedAbsMax(x, xo, 32) / -16);
    const id = d ? f(1 / d) : 0;
    writeF16(y, o, d);
    for (let j = 0; j < 32; j++) q5tmp[j] = Math.min(31, toInt8(f(f(x[xo + j] * id) + 16.5)));
    writeQ5(y, o + 2, o + 6, q5tmp);
  }
}

function qQ5_1(x: Float32Array, nb: number, y: Uint8Array): void {
  for (let i = 0; i < nb; i++) {
    const xo = i * 32, o = i * 24;
    let min = Infinity, max = -Infinity;
    for (let j = 0; j < 32; j++) {
      const v = x[xo + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = f(f(max - min) / 31);
    const id = d ? f(1 / d) : 0;
    writeF16(y, o, d);
    writeF16(y, o + 2, min);
    for (let j = 0; j < 32; j++) q5tmp[j] = toInt8(f(f(f(x[xo + j] - min) * id) + 0.5));
    writeQ5(y, o + 4, o + 8, q5tmp);
  }
}

function qQ8_0(x: Float32Array, nb: number, y: Uint8Array): void {
  for (let i = 0; i < nb; i++) {
    const xo = i * 32, o = i * 34;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    writeF16(y, o, d);
    for (let j = 0; j < 32; j++) {
      const v = f(x[xo + j] * id);
      // roundf: half away from zero
      y[o + 2 + j] = (v >= 0 ? Math.floor(v + 0.5) : -Math.floor(0.5 - v)) & 0xff;
    }
  }
}

// ---- K-quants (super-blocks of 256) ----

const kL = new Uint8Array(QK_K);
const kLaux = new Uint8Array(32);
const kWeights = new Float32Array(32);
const kXm = new Float32Array(32); // x - min, rounded to float32 on store
const kScales = new Float32Array(QK_K / 16);
const kMins = new Float32Array(QK_K / 32);
let qkxMin = 0; // second result of makeQkx2 (ggml's *the_min)

/**
 * ggml's make_qkx2_quants: asymmetric n-element quantization to 0..nmax with a weighted least-squares
 * scale/min search over nstep+1 candidate scales. Levels go to kL[lo..], the min to qkxMin.
 */
function makeQkx2(n: number, nmax: number, x: Float32Array, xo: number, w: Float32Array, lo: number,
  rmin: number, rdelta: number, nstep: number): number {
  let min = x[xo], max = x[xo];
  let sumW = w[0];
  let sumX = f(sumW * x[xo]);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    sumW = f(sumW + w[i]);
    sumX = f(sumX + f(w[i] * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    kL.fill(0, lo, lo + n);
    qkxMin = -min;
    return 0;
  }
  const xm = kXm;
  for (let i = 0; i < n; i++) xm[i] = x[xo + i] - min;
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(f(iscale * xm[i]));
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    kL[lo + i] = l;
    const diff = f(f(f(scale * l) + min) - x[xo + i]);
    bestError = f(bestError + f(w[i] * f(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    // min moves to the best fit so far, and the candidate scales follow it (as in ggml).
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    let changed = is === 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(f(iscale * xm[i]));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      if (kLaux[i] !== l) { kLaux[i] = l; changed = true; }
      const wl = f(w[i] * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[xo + i]));
    }
    // The outcome depends only on the levels: a repeat of the previous candidate cannot beat the best.
    if (!changed) continue;
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * kLaux[i]) + thisMin) - x[xo + i]);
        curError = f(curError + f(w[i] * f(diff * diff)));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) kL[lo + i] = kLaux[i];
        bestError = curError;
        scale = thisScale;
        if (thisMin !== min) {
          min = thisMin;
          for (let i = 0; i < n; i++) xm[i] = x[xo + i] - min;
        }
      }
    }
  }
  qkxMin = -min;
  return scale;
}

/** Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with 6-bit scales and mins. */
function qQxK(x: Float32Array, nb: number, y: Uint8Array, nmax: number): void {
  const typeSize = nmax === 15 ? 144 : 176;
  const rmin = nmax === 15 ? -1 : -0.5;
  const nstep = nmax === 15 ? 20 : 15;
  for (let i = 0; i < nb; i++) {
    const xb = i * QK_K, o = i * typeSize;
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const xo = xb + 32 * j;
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[xo + l] * x[xo + l]));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      for (let l = 0; l < 32; l++) kWeights[l] = avX + Math.abs(x[xo + l]);
      const scale = makeQkx2(32, nmax, x, xo, kWeights, 32 * j, rmin, F_0_1, nstep);
      kScales[j] = scale;
      kMins[j] = qkxMin;
      if (scale > maxScale) maxScale = scale;
      if (qkxMin > maxMin) maxMin = qkxMin;
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const s = o + 4;
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(f(invScale * kScales[j])) & 0xff);
      const lm = Math.min(63, nearestInt(f(invMin * kMins[j])) & 0xff);
      if (j < 4) {
        y[s + j] = ls;
        y[s + j + 4] = lm;
      } else {
        y[s + j + 4] = (ls & 15) | ((lm & 15) << 4);
        y[s + j - 4] |= (ls >> 4) << 6;
        y[s + j] |= (lm >> 4) << 6;
      }
    }
    writeF16(y, o, f(maxScale / 63));
    writeF16(y, o + 2, f(maxMin / 63));
    const dAll = readF16(y, o), dminAll = readF16(y, o + 2);
    for (let j = 0; j < 8; j++) {
      const d = f(dAll * scaleK4(y, s, j));
      if (!d) continue; // keeps the levels makeQkx2 chose, as ggml does
      const dm = f(dminAll * minK4(y, s, j));
      for (let ii = 0; ii < 32; ii++) {
        const l = nearestInt(f(f(x[xb + 32 * j + ii] + dm) / d));
        kL[32 * j + ii] = l < 0 ? 0 : l > nmax ? nmax : l;
      }
    }
    if (nmax === 15) {
      for (let c = 0; c < 4; c++) {
        const q = o + 16 + 32 * c;
        for (let l = 0; l < 32; l++) y[q + l] = kL[64 * c + l] | (kL[64 * c + l + 32] << 4);
      }
    } else {
      const qh = o + 16;
      for (let c = 0; c < 4; c++) {
        const q = o + 48 + 32 * c, m1 = 1 << (2 * c), m2 = 2 << (2 * c);
        for (let l = 0; l < 32; l++) {
          let l1 = kL[64 * c + l], l2 = kL[64 * c + l + 32];
          if (l1 > 15) { l1 -= 16; y[qh + l] |= m1; }
          if (l2 > 15) { l2 -= 16; y[qh + l] |= m2; }
          y[q + l] = l1 | (l2 << 4);
        }
      }
    }
  }
}

/**
 * ggml's make_qx_quants with rmse_type 1 and no importance weights (weights x^2): symmetric levels
 * -nmax..nmax-1 stored as 0..2*nmax-1 in kL[lo..], best of 19 candidate scales.
 */
function makeQx(n: number, nmax: number, x: Float32Array, xo: number, lo: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) { amax = ax; max = x[xo + i]; }
  }
  if (amax < GROUP_MAX_EPS) {
    kL.fill(0, lo, lo + n);
    return 0;
  }
  let iscale = f(-nmax / max);
  let sumLX = 0, sumL2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    let l = nearestInt(f(iscale * xi));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    kL[lo + i] = l + nmax;
    const w = f(xi * xi);
    sumLX = f(sumLX + f(f(w * xi) * l));
    sumL2 = f(sumL2 + f(f(w * l) * l));
  }
  let scale = sumL2 ? f(sumLX / sumL2) : 0;
  let best = f(scale * sumLX);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(F_0_1 * is)) / max);
    sumLX = 0;
    sumL2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      let l = nearestInt(f(iscale * xi));
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      const w = f(xi * xi);
      sumLX = f(sumLX + f(f(w * xi) * l));
      sumL2 = f(sumL2 + f(f(w * l) * l));
    }
    if (sumL2 > 0 && f(sumLX * sumLX) > f(best * sumL2)) {
      for (let i = 0; i < n; i++) {
        const l = nearestInt(f(iscale * x[xo + i]));
        kL[lo + i] = nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l);
      }
      scale = f(sumLX / sumL2);
      best = f(scale * sumLX);
    }
  }
  return scale;
}

function qQ6_K(x: Float32Array, nb: number, y: Uint8Array): void {
  for (let i = 0; i < nb; i++) {
    const xb = i * QK_K, o = i * 210;
    let maxScale = 0, maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQx(16, 32, x, xb + 16 * ib, 16 * ib);
      kScales[ib] = scale;
      if (Math.abs(scale) > maxAbsScale) { maxAbsScale = Math.abs(scale); maxScale = scale; }
    }
    if (maxAbsScale < GROUP_MAX_EPS) continue; // all-zero block (out is zero-filled)
    const iscale = f(-128 / maxScale);
    writeF16(y, o + 208, f(1 / iscale));
    for (let ib = 0; ib < 16; ib++) y[o + 192 + ib] = Math.min(127, nearestInt(f(iscale * kScales[ib]))) & 0xff;
    const dAll = readF16(y, o + 208);
    for (let j = 0; j < 16; j++) {
      const d = f(dAll * ((y[o + 192 + j] << 24) >> 24));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        let l = nearestInt(f(x[xb + 16 * j + ii] / d));
        l = l < -32 ? -32 : l > 31 ? 31 : l;
        kL[16 * j + ii] = l + 32;
      }
    }
    for (let h = 0; h < 2; h++) {
      const ql = o + 64 * h, qh = o + 128 + 32 * h, L = 128 * h;
      for (let l = 0; l < 32; l++) {
        const a = kL[L + l], b = kL[L + l + 32], c = kL[L + l + 64], e = kL[L + l + 96];
        y[ql + l] = (a & 15) | ((c & 15) << 4);
        y[ql + l + 32] = (b & 15) | ((e & 15) << 4);
        y[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
  }
}
