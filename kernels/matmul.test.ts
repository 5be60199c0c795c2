import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, GpuError, submitPass } from '../engine/gpu/gpu.js';
import { GGMLType, rowBytes, typeName, typeTraits } from '../engine/gguf/ggml.js';
import { dequantize, f32ToF16, quantize } from '../engine/gguf/quant.js';
import { INT8_LAYOUTS, tensorFromBytes, type GpuTensor } from '../engine/gpu/gpu-tensor.js';
import { ggmlCpuInput } from '../engine/gguf/vec-dot.js';
import { MATMUL_TYPES, MatmulKernels } from './matmul.js';
import { freshSeed, randomF32, readF32, rng, storage } from '../test/support/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

// The GPU kernels with either reduction, and the CPU adapters' row kernels (each on any device).
const sharedPath = await MatmulKernels.create(gpu, MATMUL_TYPES, { subgroups: false, rows: false });
const subgroupPath = gpu.subgroups ? await MatmulKernels.create(gpu, MATMUL_TYPES, { subgroups: true, rows: false }) : undefined;
const rowsPath = await MatmulKernels.create(gpu, MATMUL_TYPES, { rows: true });
const paths: [string, MatmulKernels | undefined][] = [['subgroups', subgroupPath], ['workgroup memory', sharedPath], ['rows', rowsPath]];
const tiledPath = subgroupPath ?? sharedPath;
// Matvec with SwiGLU or RMS-norm inputs and residual adds (the same input code for every type) on
// types of each decoder family.
const FUSED_TYPES = [GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_K, GGMLType.Q6_K];
const fusedPaths: [string, MatmulKernels][] = [['workgroup memory', await MatmulKernels.create(gpu, FUSED_TYPES, { subgroups: false, rows: false, fused: true })]];
if (gpu.subgroups) fusedPaths.push(['subgroups', await MatmulKernels.create(gpu, FUSED_TYPES, { subgroups: true, rows: false, fused: true })]);
const layouts: [string, MatmulKernels][] = [['tiled', tiledPath], ['rows', rowsPath]];
// Integer products on weights in the int8 layout (CPU adapters' default; any device runs them).
const INT8_TYPES = [...INT8_LAYOUTS.keys()];
const int8Path = await MatmulKernels.create(gpu, INT8_TYPES, { int8: true });

// f32 accumulation: the error bound is relative to sum |w x| of each output (the condition of the
// dot product), so cancellation in the result cannot hide or fake an error.
const TOL = 1e-4;
const POISON = 0xffffffff;

/** Random raw blocks: every bit pattern of the quants, with sane f16 scales. */
function rawBlocks(type: GGMLType, n: number, rand: () => number): Uint8Array {
  const t = typeTraits(type)!;
  const out = new Uint8Array(rowBytes(type, n));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  const half = (o: number) => {
    const h = f32ToF16((rand() * 2 - 1) * 0.05);
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
  };
  const view = new DataView(out.buffer);
  for (let o = 0; o < out.length; o += t.typeSize) {
    switch (type) {
      case GGMLType.F32: view.setFloat32(o, rand() * 2 - 1, true); break;
      case GGMLType.F16: half(o); break;
      case GGMLType.BF16: view.setUint16(o, new Uint32Array(new Float32Array([rand() * 2 - 1]).buffer)[0] >>> 16, true); break;
      case GGMLType.Q6_K: half(o + 208); break;
      case GGMLType.Q4_1: case GGMLType.Q5_1: case GGMLType.Q4_K: case GGMLType.Q5_K: half(o); half(o + 2); break;
      default: half(o);
    }
  }
  return out;
}

interface Case {
  type: GGMLType;
  rows: number;
  cols: number;
  /** Tokens; 1 runs matvec directly. */
  n: number;
  kernels: MatmulKernels;
  /** Split the weight into parts of about 10 rows. */
  split?: boolean;
  bias?: boolean;
  /** Random raw blocks instead of quantized random floats. */
  raw?: boolean;
  /** The weight in the int8 layout: x is rounded as ggml-cpu rounds it for the type (see TOL_INT8). */
  int8?: boolean;
  /** x holds SwiGLU's gate, then its up projection after a gap: the input is SiLU(gate) * up. */
  swiglu?: boolean;
  /** The input is x's RMS norm times a random weight. */
  norm?: boolean;
  /** y holds a random residual that the product adds to. */
  residual?: boolean;
}

// The int8 kernels' integer sums are exact; what remains is f32 scaling and accumulation per unit.
const TOL_INT8 = 1e-5;

/**
 * Runs one product with offsets and strides around every operand, all unused space poisoned with
 * NaN, and checks each output against dequantize + f64 dot products and every other element of y
 * for the poison.
 */
async function check(c: Case): Promise<void> {
  const seed = freshSeed();
  const rand = rng(seed);
  const { type, rows, cols, n } = c;
  const flags = (['split', 'raw', 'int8', 'swiglu', 'norm', 'residual'] as const).filter((f) => c[f]).join(' ');
  const what = `${typeName(type)} ${rows}x${cols} n=${n} ${flags} seed ${seed}`;
  const bytes = c.raw ? rawBlocks(type, rows * cols, rand) : quantize(type, randomF32(rows * cols, rand));
  const w = dequantize(type, bytes, rows * cols);
  const rb = rowBytes(type, cols);
  const layout = c.int8 ? 'int8' as const : 'raw' as const;
  const weight: GpuTensor = await tensorFromBytes(gpu, 'blk.0.ffn_up.weight', type, [cols, rows], bytes, { layout, ...(c.split ? { maxPartBytes: rb * (c.int8 ? 24 : 10) + 32 } : {}) });
  if (c.split) assert.ok(weight.parts.length >= 3, `${what}: ${weight.parts.length} parts`);

  // SwiGLU's up half starts after a gap of NaNs that must stay unread, in each token's row.
  const up = c.swiglu ? cols + 8 : 0;
  const xOffset = 4, xStride = up + cols + 4, yOffset = 5, yStride = rows + 3, biasOffset = 3;
  const x = new Float32Array(xOffset + (n + 1) * xStride + up).fill(NaN);
  for (let t = 0; t < n; t++) x.set(randomF32(cols, rand), xOffset + t * xStride);
  if (c.swiglu) for (let t = 0; t < n; t++) x.set(randomF32(cols, rand, 3), xOffset + t * xStride + up);
  // A group of zeros (scale 0) in the first token.
  if (c.int8) x.fill(0, xOffset, xOffset + 32);
  // What the products multiply: x itself, or x rounded to int8 as ggml-cpu rounds it.
  const xs = new Float32Array(x);
  if (c.int8) for (let t = 0; t < n; t++) xs.set(ggmlCpuInput(type, x.subarray(xOffset + t * xStride, xOffset + t * xStride + cols)).x, xOffset + t * xStride);
  // The norm weight's tail is NaN: it must stay unread.
  const eps = 1e-6 * (1 + rand());
  const nw = new Float32Array(cols + 4).fill(NaN);
  nw.set(randomF32(cols, rand, 2));
  for (let t = 0; t < n; t++) {
    const o = xOffset + t * xStride;
    if (c.swiglu) for (let k = 0; k < cols; k++) xs[o + k] = (x[o + k] / (1 + Math.exp(-x[o + k]))) * x[o + up + k];
    if (c.norm) {
      let ss = 0;
      for (let k = 0; k < cols; k++) ss += x[o + k] ** 2;
      const scale = 1 / Math.sqrt(ss / cols + eps);
      for (let k = 0; k < cols; k++) xs[o + k] = x[o + k] * scale * nw[k];
    }
  }
  const bias = new Float32Array(biasOffset + rows + 2).fill(NaN);
  bias.set(randomF32(rows, rand), biasOffset);
  const yLen = yOffset + (n + 1) * yStride;
  const xBuf = storage(gpu, 'x', x);
  const y0 = new Uint32Array(yLen).fill(POISON);
  const residual = new Float32Array(y0.buffer);
  if (c.residual) for (let t = 0; t < n; t++) residual.set(randomF32(rows, rand, 4), yOffset + t * yStride);
  const yBuf = storage(gpu, 'y', y0);
  const bBuf = storage(gpu, 'bias', bias);
  const nwBuf = storage(gpu, 'norm weight', nw);
  const args = {
    weight, x: xBuf, xOffset, y: yBuf, yOffset, ...(c.bias ? { bias: bBuf, biasOffset } : {}), ...(c.swiglu ? { swiglu: up } : {}),
    ...(c.norm ? { norm: { weight: nwBuf, eps } } : {}), ...(c.residual ? { residual: true } : {}),
  };
  submitPass(gpu, 'matmul test', (pass) => (n === 1 ? c.kernels.matvec(pass, args) : c.kernels.matmul(pass, { ...args, n, xStride, yStride })));
  const y = await readF32(gpu, yBuf, yLen);
  const bits = new Uint32Array(y.buffer);

  for (let t = 0; t < n; t++) {
    for (let m = 0; m < rows; m++) {
      const i = yOffset + t * yStride + m;
      let dot = (c.bias ? bias[biasOffset + m] : 0) + (c.residual ? residual[i] : 0);
      let mag = Math.abs(c.bias ? bias[biasOffset + m] : 0) + (c.residual ? Math.abs(residual[i]) : 0);
      for (let k = 0; k < cols; k++) {
        const p = w[m * cols + k] * xs[xOffset + t * xStride + k];
        dot += p;
        mag += Math.abs(p);
      }
      // A row of zero weights (a random scale that rounds to 0) must give exactly the bias.
      const err = mag === 0 ? (y[i] === dot ? 0 : Infinity) : Math.abs(y[i] - dot) / mag;
      const tol = c.int8 ? TOL_INT8 : TOL;
      if (!(err <= tol)) assert.fail(`${what}: y[token ${t}, row ${m}] = ${y[i]}, expected ${dot} (error ${err} of sum|w x| ${mag}, tolerance ${tol})`);
      bits[i] = POISON;
    }
  }
  const touched = bits.findIndex((b) => b !== POISON);
  if (touched >= 0) assert.fail(`${what}: y[${touched}] outside the outputs was written (${y[touched]})`);
  for (const p of weight.parts) gpu.release(p.buffer);
  for (const b of [xBuf, yBuf, bBuf, nwBuf]) gpu.release(b);
}

function colsFor(type: GGMLType): number {
  const bs = typeTraits(type)!.blockSize;
  // Float rows need only a multiple of 16; 208 also leaves a partial K step in the matmul tiles.
  return bs === 1 ? 208 : bs === 32 ? 7 * 32 : 2 * 256;
}

for (const type of MATMUL_TYPES) {
  const name = typeName(type);
  const cols = colsFor(type);
  for (const [path, kernels] of paths) {
    test(`matvec ${name} (${path}), split weight, bias`, { skip: kernels ? false : 'the device has no subgroups' }, async () => {
      await check({ type, rows: 37, cols, n: 1, kernels: kernels!, split: true, bias: true });
    });
  }
  for (const [layout, kernels] of layouts) {
    test(`matvec ${name} (${layout}) on random raw blocks`, async () => {
      await check({ type, rows: 7, cols, n: 1, kernels, raw: true });
    });
    test(`matmul ${name} (${layout}), split weight, 3 and 17 tokens`, async () => {
      await check({ type, rows: 37, cols, n: 3, kernels, split: true, bias: true });
      await check({ type, rows: 37, cols, n: 17, kernels, split: true });
    });
  }
}

for (const type of FUSED_TYPES) {
  for (const [path, kernels] of fusedPaths) {
    test(`matvec ${typeName(type)} (${path}) on SwiGLU's product and on an RMS norm, split weight, bias, residual, and at 8200 rows`, async () => {
      const cols = colsFor(type);
      await check({ type, rows: 37, cols, n: 1, kernels, split: true, bias: true, swiglu: true, residual: true });
      await check({ type, rows: 8200, cols, n: 1, kernels, raw: true, swiglu: true });
      await check({ type, rows: 37, cols, n: 1, kernels, split: true, bias: true, norm: true });
      await check({ type, rows: 8200, cols, n: 1, kernels, raw: true, norm: true, residual: true });
      await check({ type, rows: 29, cols, n: 1, kernels, residual: true });
    });
    test(`matvec ${typeName(type)} (${path}) over a verification step's 3 and 8 tokens, SwiGLU, RMS norm and residual inputs`, async () => {
      const cols = colsFor(type);
      await check({ type, rows: 37, cols, n: 3, kernels, split: true, bias: true, swiglu: true, residual: true });
      await check({ type, rows: 37, cols, n: 8, kernels, split: true, bias: true, norm: true });
      await check({ type, rows: 8200, cols, n: 3, kernels, raw: true, norm: true, residual: true });
    });
  }
}

for (const type of INT8_TYPES) {
  const name = typeName(type);
  const cols = colsFor(type);
  test(`int8 layout: matvec ${name}, split weight, bias, and on random raw blocks`, async () => {
    await check({ type, rows: 37, cols, n: 1, kernels: int8Path, split: true, bias: true, int8: true });
    await check({ type, rows: 13, cols, n: 1, kernels: int8Path, raw: true, int8: true });
  });
  test(`int8 layout: matmul ${name}, split weight, 3, 9 and 17 tokens, at 1031 x 512 x 67 tokens`, async () => {
    // One shape per range of token counts (1, 2..4, 5..16, more).
    await check({ type, rows: 37, cols, n: 3, kernels: int8Path, split: true, bias: true, int8: true });
    await check({ type, rows: 37, cols, n: 9, kernels: int8Path, bias: true, int8: true });
    await check({ type, rows: 37, cols, n: 17, kernels: int8Path, split: true, raw: true, int8: true });
    await check({ type, rows: 1031, cols: 512, n: 67, kernels: int8Path, raw: true, int8: true });
  });
}

// Matvec on long rows and matmul over many tiles, for the common model types; the workgroup shape
// for many rows (R rows per workgroup: the same code for every type) on Q4_0 with both reductions
// and on Q8_0. Each distinct kernel costs lavapipe about a second to compile.
for (const type of [GGMLType.Q4_0, GGMLType.Q8_0, GGMLType.F16, GGMLType.Q4_K, GGMLType.Q6_K]) {
  for (const [layout, kernels] of layouts) {
    test(`${typeName(type)} (${layout}) at 37 x 4096 and 1031 x 512 x 67 tokens`, async () => {
      await check({ type, rows: 37, cols: 4096, n: 1, kernels });
      await check({ type, rows: 1031, cols: 512, n: 67, kernels, raw: true });
    });
  }
}

for (const [path, kernels] of paths) {
  test(`matvec Q4_0 (${path}) at 8200 x 512`, { skip: kernels ? false : 'the device has no subgroups' }, async () => {
    await check({ type: GGMLType.Q4_0, rows: 8200, cols: 512, n: 1, kernels: kernels!, bias: true, raw: true });
  });
}

test('matvec Q8_0 at 8200 x 512', async () => {
  await check({ type: GGMLType.Q8_0, rows: 8200, cols: 512, n: 1, kernels: tiledPath, bias: true, raw: true });
});

test('matvec over more row blocks than one grid dimension holds', async () => {
  // 4 rows per workgroup at this size: 65535 * 4 + 9 rows need a second row of workgroups.
  await check({ type: GGMLType.Q4_0, rows: 65535 * 4 + 9, cols: 32, n: 1, kernels: tiledPath, raw: true });
  // Row kernels: 32 rows per workgroup for one token.
  await check({ type: GGMLType.Q4_0, rows: 65535 * 32 + 9, cols: 32, n: 1, kernels: rowsPath, raw: true });
});

test('bad operands are refused with the tensor named', async () => {
  const bytes = quantize(GGMLType.Q8_0, randomF32(64 * 4, rng(1)));
  const weight = await tensorFromBytes(gpu, 'output.weight', GGMLType.Q8_0, [64, 4], bytes);
  const x = gpu.buffer('x', 64 * 4, 'scratch');
  const y = gpu.buffer('y', 16, 'scratch');
  const pass = gpu.device.createCommandEncoder().beginComputePass();
  assert.throws(() => sharedPath.matvec(pass, { weight, x, xOffset: 2, y }), (e: Error) => e instanceof GpuError && /output\.weight.*x offset 2/.test(e.message));
  assert.throws(() => sharedPath.matvec(pass, { weight, x, y, yOffset: 1 }), /output\.weight.*y buffer of 16 bytes/);
  assert.throws(() => sharedPath.matvec(pass, { weight, x, y: x }), /output\.weight.*different buffer/);
  assert.throws(() => sharedPath.matmul(pass, { weight, x, y, n: 0 }), /output\.weight.*token count 0/);
  const q4 = await MatmulKernels.create(gpu, [GGMLType.Q4_0]);
  assert.throws(() => q4.matvec(pass, { weight, x, y }), /output\.weight.*Q8_0 were not compiled/);
  const norm = { weight: gpu.buffer('norm', 64 * 4, 'scratch'), eps: 1e-6 };
  assert.throws(() => sharedPath.matvec(pass, { weight, x, y, swiglu: 64 }), /output\.weight: a SwiGLU input needs the GPU matvec kernels compiled with fused/);
  assert.throws(() => rowsPath.matvec(pass, { weight, x, y, swiglu: 64 }), /SwiGLU input needs/);
  assert.throws(() => rowsPath.matvec(pass, { weight, x, y, norm }), /output\.weight: a norm input needs/);
  assert.throws(() => rowsPath.matvec(pass, { weight, x, y, residual: true }), /output\.weight: a residual add needs the GPU matvec kernels/);
  assert.equal(rowsPath.fuses(weight), false);
  const [, fused] = fusedPaths[0];
  assert.equal(sharedPath.fuses(weight), false);
  assert.equal(fused.fuses(weight), true);
  assert.throws(() => fused.matvec(pass, { weight, x, y, swiglu: 6 }), /SwiGLU up offset 6 is not a multiple of 4/);
  assert.throws(() => fused.matvec(pass, { weight, x, y, swiglu: 64 }), /x buffer of 256 bytes is smaller than the 512 bytes/);
  assert.throws(() => fused.matvec(pass, { weight, x, y, swiglu: 0, norm }), /SwiGLU's or a norm's, not both/);
  assert.throws(() => fused.matvec(pass, { weight, x, y, norm: { ...norm, weight: y } }), /y must be a different buffer from x, bias and norm weight/);
  assert.throws(() => fused.matvec(pass, { weight, x, y: gpu.buffer('y', 64, 'scratch'), norm: { ...norm, weight: gpu.buffer('short', 16, 'scratch') } }), /norm weight buffer of 16 bytes is smaller than the 256 bytes/);
  for (const fusedArgs of [{ swiglu: 0 }, { norm }, { residual: true }]) {
    assert.throws(() => fused.matmul(pass, { weight, x, y, n: 9, ...fusedArgs }), /fused inputs and residual adds are for steps of up to 8 tokens/);
  }
  await assert.rejects(MatmulKernels.create(gpu, [GGMLType.Q2_K]), /no GPU kernel for ggml type Q2_K/);
  pass.end();
  for (const p of weight.parts) gpu.release(p.buffer);
});
