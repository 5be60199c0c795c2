// Matrix products straight on ggml's quantized blocks: matvec for decode (one token), tiled matmul for
// prefill (n tokens); on CPU adapters, register-blocked row kernels for both, and for weights in the
// int8 layout, integer products with activations quantized as ggml-cpu quantizes them. Pipelines
// are compiled once per weight type; each distinct call's dispatches (a Product: bind groups, uniform
// parameters, grid sizes) are built once and cached by buffer identity and offsets.
import { GGMLType, rowBytes, typeName, typeTraits } from '../engine/gguf/ggml.js';
import { Dispatch, GpuError, type Gpu } from '../engine/gpu/gpu.js';
import { hasInt8Layout, INT8_LAYOUTS, int8Regions, releaseTensor, tensorFromBytes, type GpuTensor } from '../engine/gpu/gpu-tensor.js';
import { quantize } from '../engine/gguf/quant.js';
import dequant8 from './dequant8.wgsl';
import matvecSrc from './matvec.wgsl';
import reduceSubgroup from './matvec-subgroup.wgsl';
import reduceShared from './matvec-shared.wgsl';
import matmulSrc from './matmul.wgsl';
import rowsSrc from './matmul-rows.wgsl';
import matmulIo from './matmul-io.wgsl';
import int8Src from './matmul-int8.wgsl';
import quantizeActSrc from './quantize-act.wgsl';
import roundF16 from './round-f16.wgsl';

// Decoder (dequant8.wgsl) and matvec pairing distance: the groups of 8 at k and k + pair share bytes.
const DECODER: Partial<Record<GGMLType, { fn: string; pair: number }>> = {
  [GGMLType.F32]: { fn: 'dq8_f32', pair: 8 },
  [GGMLType.F16]: { fn: 'dq8_f16', pair: 8 },
  [GGMLType.BF16]: { fn: 'dq8_bf16', pair: 8 },
  [GGMLType.Q4_0]: { fn: 'dq8_q4_0', pair: 16 },
  [GGMLType.Q4_1]: { fn: 'dq8_q4_1', pair: 16 },
  [GGMLType.Q5_0]: { fn: 'dq8_q5_0', pair: 16 },
  [GGMLType.Q5_1]: { fn: 'dq8_q5_1', pair: 16 },
  [GGMLType.Q8_0]: { fn: 'dq8_q8_0', pair: 8 },
  [GGMLType.Q4_K]: { fn: 'dq8_q4_k', pair: 32 },
  [GGMLType.Q5_K]: { fn: 'dq8_q5_k', pair: 32 },
  [GGMLType.Q6_K]: { fn: 'dq8_q6_k', pair: 64 },
};

/** Weight types the matrix kernels compute on. */
export const MATMUL_TYPES: ReadonlySet<GGMLType> = new Set(Object.keys(DECODER).map(Number) as GGMLType[]);

// Matmul tile (matmul.wgsl).
const MM_M = 64;
const MM_N = 64;

// Parameter words, padded to whole 16-byte rows as uniform buffers lay structs out.
const MV_PARAMS = 16;
const MM_PARAMS = 12;
// Cached products before the cache starts over (prefill adds one set per distinct token count).
const CACHE_LIMIT = 4096;
const POOL_BYTES = 65536;

export interface MatvecArgs {
  weight: GpuTensor;
  /** f32 activations; xOffset (elements) must be a multiple of 4. */
  x: GPUBuffer;
  xOffset?: number;
  /** f32 outputs; writes y[yOffset .. yOffset + weight.rows) only. */
  y: GPUBuffer;
  yOffset?: number;
  /** Optional f32 bias of weight.rows elements at biasOffset. */
  bias?: GPUBuffer;
  biasOffset?: number;
  /**
   * x holds SwiGLU's gate at xOffset and its up projection this many elements later (a multiple
   * of 4); the product's input is SiLU(gate) * up. Matvec on the GPU kernels only (fuses).
   */
  swiglu?: number;
  /** The product's input is RMSNorm(x) * weight (weight.cols f32 values). Matvec on the GPU kernels only. */
  norm?: { weight: GPUBuffer; eps: number };
  /** y += W x (+ bias): the residual add. Matvec on the GPU kernels only. */
  residual?: boolean;
}

export interface MatmulArgs extends MatvecArgs {
  /** Tokens: rows of X and Y. */
  n: number;
  /** Elements between consecutive tokens in x (default weight.cols; a multiple of 4). */
  xStride?: number;
  /** Elements between consecutive tokens in y (default weight.rows). */
  yStride?: number;
}

export interface MatmulOptions {
  /** Use subgroup operations in matvec (default: when the device has them). */
  subgroups?: boolean;
  /** One weight row per invocation (matmul-rows.wgsl; default: on software adapters, i.e. CPUs). */
  rows?: boolean;
  /** Compile the integer kernels for weights in the int8 layout (default: on software adapters). */
  int8?: boolean;
  /** Also compile the GPU matvec kernels whose input is SwiGLU's product or an RMS norm (MatvecArgs.swiglu, .norm). */
  fused?: boolean;
}

// Matvec workgroup shapes: T invocations (a power of two) over the row, R rows. Picked per weight
// part from H200 timings: many rows want several rows per workgroup (151936 x 1536 Q4_0: 110 us
// against 205 us with one), fewer rows as many workgroups as possible.
const MATVEC_SHAPES = { wide: { t: 32, r: 4 }, small: { t: 32, r: 1 } };
type MatvecShape = keyof typeof MATVEC_SHAPES;
type MatvecPipelines = Record<MatvecShape, GPUComputePipeline>;

/**
 * Steps of up to this many tokens take the matvec kernels on GPUs, one workgroup per row block and
 * token: each token's rows are what a one-token step computes (a verification step's), and the
 * folded norms, SwiGLU inputs and residual adds apply to them too.
 */
export const MATVEC_MAX_TOKENS = 8;

function matvecShape(rows: number): MatvecShape {
  return rows >= 8192 ? 'wide' : 'small';
}

// Row kernels (matmul-rows.wgsl): T invocations per workgroup, each with R rows and TN tokens. From
// lavapipe timings (2 cores, Q8_0 0.5B shapes): one token is fastest with one row per invocation
// (about 3 GFLOP/s, against 0.8 for matvec.wgsl); many tokens gain from bigger register blocks
// (R x TN = 1 x 8: 2.5 GFLOP/s, 4 x 8: 9, 8 x 16: 13, against 4 for matmul.wgsl; 16 x 16 reaches
// 18 but takes lavapipe ~10 s to compile per weight type).
const ROWS_T = 32;
const ROWS_ONE = { tn: 1, r: 1 };
const ROWS_MANY = { tn: 16, r: 8 };

// Integer kernels (matmul-int8.wgsl): T invocations, R rows and TN tokens each, picked by token count
// (tokens past the last repeat it, so a wide TN wastes work on a few). From lavapipe timings (2 cores,
// Qwen2.5-Coder-0.5B shapes): one token at 2 rows is about twice the row kernels' speed; 64 tokens
// run at 14 GFLOP/s with 8 x 4, 22 with 32 x 4 (16 x 4: 18, 8 x 8: 13, 32 x 2: 13). Verification
// steps of 2..4 tokens (speculative decoding) take half the time with 4 x 4 as with 8 x 4 (the
// 9728 x 896 Q4_0 gate+up: 12.5 ms against 25-28; 2 x 2 for two tokens: 12.9; one token 5.0).
// Each (row, token) sums its units in the same order in every shape, so rows are exact whatever the step's size.
const INT8_T = 32;
const INT8_SHAPES = [{ maxN: 1, tn: 1, r: 2 }, { maxN: 4, tn: 4, r: 4 }, { maxN: 16, tn: 8, r: 4 }, { maxN: Infinity, tn: 32, r: 4 }];
// Activation words per token and unit of 32 (quantize-act.wgsl): scale, sum, 8 words of quants.
const XQ_WORDS = 10;

/** The weight layout's kernels, and ggml-cpu's activation rounding for the type (Q8_0 or Q8_K groups). */
interface Int8Pipelines { products: GPUComputePipeline[]; quantize: GPUComputePipeline }

/** GPU kernels (matvec.wgsl, matmul.wgsl) or CPU ones (matmul-rows.wgsl for one token and for TN). */
type Pipelines =
  | { rows: false; matvec: { plain: MatvecPipelines } & Partial<Record<MatvecInput, MatvecPipelines>>; matmul: GPUComputePipeline }
  | { rows: true; one: GPUComputePipeline; many: GPUComputePipeline };

// matvec.wgsl's input: x itself, SwiGLU's product of its gate and up halves, or x's RMS norm times
// NW. Every workgroup of a norm sums the squares itself: a K-element pass over x, which the products
// read whole anyway, costs less than the dispatch and barrier it saves.
const X_IN = {
  plain: 'fn x_begin(lid: u32, base: u32) {}\nfn x_in(i: u32) -> vec4<f32> { return X[i]; }',
  swiglu: 'fn x_begin(lid: u32, base: u32) {}\nfn x_in(i: u32) -> vec4<f32> { let g = X[i]; return g / (1.0 + exp(-g)) * X[i + P.x_up]; }',
  norm: `@group(0) @binding(5) var<storage, read> NW: array<vec4<f32>>;
var<workgroup> norm_ss: array<f32, T>;
var<private> norm_scale: f32;
var<private> norm_base: u32;
fn x_begin(lid: u32, base: u32) {
  var ss = 0.0;
  for (var i = lid; i < P.k / 4u; i += T) { let v = X[base + i]; ss += dot(v, v); }
  norm_ss[lid] = ss;
  for (var s = T / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { norm_ss[lid] += norm_ss[lid + s]; }
  }
  workgroupBarrier();
  norm_scale = inverseSqrt(norm_ss[0] / f32(P.k) + P.eps);
  norm_base = base;
}
fn x_in(i: u32) -> vec4<f32> { return X[i] * norm_scale * NW[i - norm_base]; }`,
};
type MatvecInput = keyof typeof X_IN;

interface ProductStep { d: Dispatch; x: number; y: number; z: number }

/** The dispatches of one product call (MatmulKernels.product), bound and sized. */
export class Product {
  constructor(private readonly steps: ProductStep[]) {}

  record(pass: GPUComputePassEncoder): void {
    for (const s of this.steps) s.d.record(pass, s.x, s.y, s.z);
  }
}

/** dequant8.wgsl and `body` for one weight type, after `prelude` lines. */
function kernelSource(type: GGMLType, body: string, prelude: string[] = []): string {
  const t = typeTraits(type)!;
  const d = DECODER[type]!;
  const lines = [
    ...prelude,
    `const PAIR = ${d.pair}u;`,
    `const ALIGNED = ${t.typeSize % 4 === 0 || t.blockSize === 1};`,
    `fn dq8(rb: u32, k: u32) -> W8 { return ${d.fn}(rb, k); }`,
  ];
  return `${lines.join('\n')}\n${dequant8}\n${body}`;
}

export class MatmulKernels {
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private readonly cache = new Map<string, Product>();
  private pool: GPUBuffer | undefined;
  private poolUsed = POOL_BYTES;
  private readonly slot: number;
  private readonly noBias: GPUBuffer;

  /** Quantized activations of the current int8 product (grown as products need). */
  private xq: GPUBuffer | undefined;

  private constructor(private readonly gpu: Gpu, private readonly pipelines: Map<GGMLType, Pipelines>, private readonly int8: Map<GGMLType, Int8Pipelines>) {
    this.slot = Math.max(64, gpu.limits.minUniformBufferOffsetAlignment);
    this.noBias = gpu.buffer('matmul no-bias', 16, 'scratch');
  }

  /** Compiles the kernels for every weight type in `types`. */
  static async create(gpu: Gpu, types: Iterable<GGMLType>, o: MatmulOptions = {}): Promise<MatmulKernels> {
    const subgroups = o.subgroups ?? gpu.subgroups;
    if (subgroups && !gpu.subgroups) throw new GpuError('matmul kernels: subgroups requested but the device does not have them');
    const rows = o.rows ?? gpu.info.software;
    const int8 = o.int8 ?? gpu.info.software;
    const pipelines = new Map<GGMLType, Pipelines>();
    const int8Pipelines = new Map<GGMLType, Int8Pipelines>();
    await Promise.all([...new Set(types)].map(async (type) => {
      if (!DECODER[type]) throw new GpuError(`matmul kernels: no GPU kernel for ggml type ${typeName(type)}`);
      const name = typeName(type);
      const layout = INT8_LAYOUTS.get(type);
      if (int8 && layout) {
        const mins = { none: 0, offset: 1, stored: 2, halves: 3 }[layout.mins];
        const [quantize, ...products] = await Promise.all([
          gpu.pipeline({ label: `quantize activations for ${name}`, code: `const GROUP = ${layout.cols === 256 ? 256 : 32}u;\n${roundF16}\n${quantizeActSrc}` }),
          ...INT8_SHAPES.map(({ tn, r }) => gpu.pipeline({
            label: `matmul int8 ${name} ${r}x${tn}`,
            code: `const T = ${INT8_T}u;\nconst R = ${r}u;\nconst TN = ${tn}u;\nconst WORDS = ${layout.words}u;\nconst MINS = ${mins}u;\nconst OFFSET = ${layout.offset};\n${int8Src}`,
          })),
        ]);
        int8Pipelines.set(type, { products, quantize });
      }
      if (rows) {
        const [one, many] = await Promise.all([ROWS_ONE, ROWS_MANY].map(({ tn, r }) => gpu.pipeline({
          label: `matmul rows ${name} ${r}x${tn}`, code: kernelSource(type, `${matmulIo}\n${rowsSrc}`, [`const T = ${ROWS_T}u;`, `const TN = ${tn}u;`, `const R = ${r}u;`]),
        })));
        pipelines.set(type, { rows, one, many });
        return;
      }
      const body = `${matvecSrc}\n${subgroups ? reduceSubgroup : reduceShared}`;
      const shapes = Object.entries(MATVEC_SHAPES) as [MatvecShape, { t: number; r: number }][];
      const matvecs = async (input: MatvecInput) => {
        const ps = await Promise.all(shapes.map(([shape, { t, r }]) => gpu.pipeline({
          label: `matvec ${name} ${shape} ${input}`,
          code: kernelSource(type, body, [subgroups ? 'enable subgroups;' : '', `const T = ${t}u;`, `const R = ${r}u;`, X_IN[input]]),
        })));
        return [input, Object.fromEntries(shapes.map(([shape], i) => [shape, ps[i]])) as MatvecPipelines] as const;
      };
      const inputs: MatvecInput[] = o.fused ? ['plain', 'swiglu', 'norm'] : ['plain'];
      const [matmul, ...matvec] = await Promise.all([
        gpu.pipeline({ label: `matmul ${name}`, code: kernelSource(type, `${matmulIo}\n${matmulSrc}`) }),
        ...inputs.map(matvecs),
      ]);
      pipelines.set(type, { rows, matmul, matvec: Object.fromEntries(matvec) as { plain: MatvecPipelines } });
    }));
    return new MatmulKernels(gpu, pipelines, int8Pipelines);
  }

  /** y = W x (+ bias): weight.rows outputs from weight.cols inputs. */
  matvec(pass: GPUComputePassEncoder, a: MatvecArgs): void {
    this.product({ ...a, n: 1 }).record(pass);
  }

  /** Y[t, :] = W X[t, :] (+ bias) for n tokens; n = 1 runs matvec. */
  matmul(pass: GPUComputePassEncoder, a: MatmulArgs): void {
    this.product(a).record(pass);
  }

  /**
   * The dispatches of a product, checked and bound once per distinct call (and cached): a caller that
   * repeats a call every step (a decode step's products) keeps the Product and records it.
   */
  product(a: MatmulArgs): Product {
    const w = a.weight, n = a.n;
    const xOffset = a.xOffset ?? 0, yOffset = a.yOffset ?? 0, biasOffset = a.biasOffset ?? 0;
    const xStride = a.xStride ?? w.cols, yStride = a.yStride ?? w.rows, up = a.swiglu ?? 0;
    const key = [
      this.id(w.parts[0].buffer), n, this.id(a.x), xOffset, xStride, up, a.norm ? `${this.id(a.norm.weight)}:${a.norm.eps}` : '',
      this.id(a.y), yOffset, yStride, a.residual ? 1 : 0, a.bias ? this.id(a.bias) : 0, biasOffset,
    ].join(':');
    const cached = this.cache.get(key);
    if (cached) return cached;
    const input: MatvecInput = a.swiglu !== undefined ? 'swiglu' : a.norm ? 'norm' : 'plain';
    if (n > MATVEC_MAX_TOKENS && (input !== 'plain' || a.residual)) throw new GpuError(`matmul ${w.name}: fused inputs and residual adds are for steps of up to ${MATVEC_MAX_TOKENS} tokens (matvec)`);
    if (a.swiglu !== undefined && a.norm) throw new GpuError(`matmul ${w.name}: an input is SwiGLU's or a norm's, not both`);
    const p = this.pipelineFor(w);
    const matvecs = n <= MATVEC_MAX_TOKENS && !p.rows && w.layout === 'raw' ? p.matvec[input] : undefined;
    if (!matvecs && (input !== 'plain' || a.residual)) {
      const what = { plain: 'a residual add', swiglu: 'a SwiGLU input', norm: 'a norm input' }[input];
      throw new GpuError(`matmul ${w.name}: ${what} needs the GPU matvec kernels${input === 'plain' ? '' : ' compiled with fused'} (MatmulKernels.create)`);
    }
    if (up % 4 !== 0) throw new GpuError(`matmul ${w.name}: SwiGLU up offset ${up} is not a multiple of 4`);
    this.check(a, n, xStride, yStride);
    if (xStride % 4 !== 0) throw new GpuError(`matmul ${w.name}: x stride ${xStride} is not a multiple of 4`);
    const maxDim = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    const steps: ProductStep[] = [];
    // Row blocks beyond one grid dimension continue in y; tokens go in z (tiled matmul: y).
    const grid = (blocks: number, gz: number) => {
      const gx = Math.min(blocks, maxDim), gy = Math.ceil(blocks / gx);
      if (gy > maxDim || gz > maxDim) throw new GpuError(`matmul ${w.name}: ${w.rows} rows x ${n} tokens exceed ${maxDim} workgroups per dimension`);
      return [gx, gy, gz] as const;
    };
    const bias = a.bias ?? this.noBias, hasBias = a.bias ? 1 : 0;

    if (w.layout === 'int8') {
      const q = this.int8.get(w.type);
      if (!q) throw new GpuError(`matmul ${w.name}: int8 kernels for ${typeName(w.type)} were not compiled (MatmulKernels.create int8)`);
      // The activations are quantized once, then multiplied with every part.
      const units = w.cols / 32, qStride = XQ_WORDS * units;
      if (!this.xq || this.xq.size < n * qStride * 4) this.xq = this.gpu.buffer('matmul int8 activations', n * qStride * 4, 'scratch');
      const xq = this.xq;
      if (n > maxDim) throw new GpuError(`matmul ${w.name}: ${n} tokens exceed ${maxDim} workgroups per dimension`);
      const group = INT8_LAYOUTS.get(w.type)!.cols;
      const qbg = this.bindGroup(`q8 ${key}`, q.quantize, [a.x, xq], new Uint32Array([units, xOffset, xStride, n, 0, qStride, 0, 0]));
      steps.push({ d: new Dispatch(q.quantize, qbg), x: Math.ceil(w.cols / group / 64), y: n, z: 1 });
      const k = INT8_SHAPES.findIndex((x) => n <= x.maxN);
      const shape = INT8_SHAPES[k], pipeline = q.products[k];
      for (const part of w.parts) {
        const r = int8Regions(w.type, part.rows, w.cols);
        const params = new Uint32Array(MM_PARAMS);
        params.set([part.rows, units, r.minOffset, r.quantOffset, 0, qStride, yOffset + part.firstRow, yStride, biasOffset + part.firstRow, hasBias, n]);
        const [x, y, z] = grid(Math.ceil(part.rows / (INT8_T * shape.r)), Math.ceil(n / shape.tn));
        steps.push({ d: new Dispatch(pipeline, this.bindGroup(key, pipeline, [part.buffer, xq, a.y, bias], params)), x, y, z });
      }
    } else if (p.rows) {
      const [pipeline, shape] = n === 1 ? [p.one, ROWS_ONE] : [p.many, ROWS_MANY];
      for (const part of w.parts) {
        const params = new Uint32Array(MM_PARAMS);
        params.set([part.rows, w.cols, w.rowBytes, xOffset / 4, xStride / 4, yOffset + part.firstRow, yStride, biasOffset + part.firstRow, hasBias, n]);
        const [x, y, z] = grid(Math.ceil(part.rows / (ROWS_T * shape.r)), Math.ceil(n / shape.tn));
        steps.push({ d: new Dispatch(pipeline, this.bindGroup(key, pipeline, [part.buffer, a.x, a.y, bias], params)), x, y, z });
      }
    } else if (matvecs) {
      for (const part of w.parts) {
        const shape = matvecShape(part.rows);
        const params = new Uint32Array(MV_PARAMS);
        params.set([part.rows, w.cols, w.rowBytes, xOffset / 4, yOffset + part.firstRow, biasOffset + part.firstRow, hasBias, up / 4, a.residual ? 1 : 0, 0, n, xStride / 4, yStride]);
        new Float32Array(params.buffer)[9] = a.norm?.eps ?? 0;
        const bg = this.bindGroup(key, matvecs[shape], [part.buffer, a.x, a.y, bias], params, a.norm && [a.norm.weight]);
        const [x, y] = grid(Math.ceil(part.rows / MATVEC_SHAPES[shape].r) * n, 1);
        steps.push({ d: new Dispatch(matvecs[shape], bg), x, y, z: 1 });
      }
    } else {
      for (const part of w.parts) {
        if (Math.ceil(part.rows / MM_M) > maxDim || Math.ceil(n / MM_N) > maxDim) {
          throw new GpuError(`matmul ${w.name}: ${part.rows} rows x ${n} tokens exceed ${maxDim} workgroups per dimension`);
        }
        const params = new Uint32Array(MM_PARAMS);
        params.set([part.rows, w.cols, w.rowBytes, xOffset / 4, xStride / 4, yOffset + part.firstRow, yStride, biasOffset + part.firstRow, hasBias, n]);
        steps.push({ d: new Dispatch(p.matmul, this.bindGroup(key, p.matmul, [part.buffer, a.x, a.y, bias], params)), x: Math.ceil(part.rows / MM_M), y: Math.ceil(n / MM_N), z: 1 });
      }
    }
    const product = new Product(steps);
    if (this.cache.size >= CACHE_LIMIT) {
      // Start over; command buffers already encoded, and Products kept by callers, keep their bind groups and uniforms alive.
      this.cache.clear();
      this.pool = undefined;
    }
    this.cache.set(key, product);
    return product;
  }

  /** Whether matvec takes SwiGLU and norm inputs and adds residuals (MatvecArgs.swiglu, .norm, .residual) for this weight. */
  fuses(w: GpuTensor): boolean {
    const p = this.pipelines.get(w.type);
    return w.layout === 'raw' && p !== undefined && !p.rows && 'norm' in p.matvec;
  }

  private pipelineFor(w: GpuTensor): Pipelines {
    const p = this.pipelines.get(w.type);
    if (!p) throw new GpuError(`matmul ${w.name}: kernels for ${typeName(w.type)} were not compiled (MatmulKernels.create types)`);
    return p;
  }

  private id(b: GPUBuffer): number {
    let id = this.ids.get(b);
    if (id === undefined) this.ids.set(b, (id = this.nextId++));
    return id;
  }

  /** Bounds of every buffer the call touches, checked once per cached bind group. */
  private check(a: MatvecArgs, n: number, xStride: number, yStride: number): void {
    const w = a.weight;
    const what = `matmul ${w.name} (${typeName(w.type)} ${w.cols} x ${w.rows})`;
    const xOffset = a.xOffset ?? 0, yOffset = a.yOffset ?? 0, biasOffset = a.biasOffset ?? 0;
    const int = (v: number) => Number.isSafeInteger(v) && v >= 0;
    if (!int(n) || n < 1) throw new GpuError(`${what}: token count ${n} is not a positive integer`);
    if (w.cols % 16 !== 0) throw new GpuError(`${what}: rows of ${w.cols} elements are not a multiple of 16`);
    if (!int(xOffset) || xOffset % 4 !== 0) throw new GpuError(`${what}: x offset ${xOffset} is not a multiple of 4`);
    if (!int(yOffset) || !int(biasOffset)) throw new GpuError(`${what}: offsets must be non-negative integers`);
    if (a.x === a.y || a.bias === a.y || a.norm?.weight === a.y) throw new GpuError(`${what}: y must be a different buffer from x, bias and norm weight`);
    if (xStride < w.cols || yStride < w.rows) throw new GpuError(`${what}: strides ${xStride}/${yStride} are shorter than a row`);
    const need = (label: string, b: GPUBuffer, elements: number) => {
      if (b.size < elements * 4) throw new GpuError(`${what}: ${label} buffer of ${b.size} bytes is smaller than the ${elements * 4} bytes it needs`);
    };
    need('x', a.x, xOffset + (n - 1) * xStride + (a.swiglu ?? 0) + w.cols);
    need('y', a.y, yOffset + (n - 1) * yStride + w.rows);
    if (a.bias) need('bias', a.bias, biasOffset + w.rows);
    if (a.norm) need('norm weight', a.norm.weight, w.cols);
  }

  /** Binds `buffers` in order, then `params` in a slot of the uniform pool, then `after`. */
  private bindGroup(label: string, pipeline: GPUComputePipeline, buffers: GPUBuffer[], params: Uint32Array, after: GPUBuffer[] = []): GPUBindGroup {
    if (!this.pool || this.poolUsed + this.slot > POOL_BYTES) {
      this.pool = this.gpu.device.createBuffer({ label: 'matmul params', size: POOL_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.poolUsed = 0;
    }
    const offset = this.poolUsed;
    this.poolUsed += this.slot;
    this.gpu.device.queue.writeBuffer(this.pool, offset, params);
    return this.gpu.bindGroup(label, pipeline, [...buffers, { buffer: this.pool, offset, size: params.byteLength }, ...after]);
  }
}

export interface MatmulBench {
  /** Time of one product (median over five submissions of `iters` products each). */
  ms: number;
  /** Weight bytes read per second (what bounds decode). */
  gbps: number;
  /** 2 * rows * cols * n per second (what bounds prefill). */
  gflops: number;
}

/**
 * Micro benchmark (for `npm run bench`, not the tests) of one rows x cols product over n tokens
 * (n = 1: matvec), `iters` times per command buffer. Weights rotate over enough copies (up to 256) to
 * exceed 192 MB, so repeated products measure device memory rather than a cache.
 */
export async function benchMatmul(gpu: Gpu, type: GGMLType, rows: number, cols: number, n: number, iters: number, o: MatmulOptions = {}): Promise<MatmulBench> {
  const kernels = await MatmulKernels.create(gpu, [type], o);
  // A quantized random tile repeated over the rows: realistic bytes, quick to make.
  const tileRows = Math.min(rows, 16);
  const tile = quantize(type, Float32Array.from({ length: tileRows * cols }, () => Math.random() * 2 - 1));
  const bytes = new Uint8Array(rowBytes(type, cols) * rows);
  for (let off = 0; off < bytes.length; off += tile.length) bytes.set(tile.subarray(0, Math.min(tile.length, bytes.length - off)), off);
  const copies = Math.max(1, Math.min(256, Math.ceil((192 << 20) / bytes.length)));
  const weights: GpuTensor[] = [];
  const layout = (o.int8 ?? gpu.info.software) && hasInt8Layout(type, cols) ? 'int8' : 'raw';
  for (let i = 0; i < copies; i++) weights.push(await tensorFromBytes(gpu, `bench ${typeName(type)} ${i}`, type, [cols, rows], bytes, { layout }));
  const x = gpu.buffer('bench x', n * cols * 4, 'scratch');
  gpu.write(x, Float32Array.from({ length: n * cols }, () => Math.random() * 2 - 1));
  const y = gpu.buffer('bench y', n * rows * 4, 'scratch');
  // Encoded up front: the timing covers the device's work, not the encoding.
  const encode = (count: number) => {
    const enc = gpu.device.createCommandEncoder({ label: 'bench matmul' });
    const pass = enc.beginComputePass();
    for (let i = 0; i < count; i++) kernels.matmul(pass, { weight: weights[i % copies], x, y, n });
    pass.end();
    return enc.finish();
  };
  const time = async (cb: GPUCommandBuffer) => {
    const t0 = performance.now();
    gpu.device.queue.submit([cb]);
    await gpu.done();
    return performance.now() - t0;
  };
  try {
    // Two untimed runs bring the clocks up; the median of five is reported.
    for (let i = 0; i < 2; i++) await time(encode(iters));
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push(await time(encode(iters)));
    const ms = times.sort((a, b) => a - b)[2] / iters;
    return { ms, gbps: bytes.length / ms / 1e6, gflops: (2 * rows * cols * n) / ms / 1e6 };
  } finally {
    for (const w of weights) releaseTensor(gpu, w);
    gpu.release(x);
    gpu.release(y);
  }
}
