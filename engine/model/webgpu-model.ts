// The product compute path: llama / qwen2 forward passes on WebGPU, with the same semantics as the
// reference model (engine/model/reference.ts). Weights stay quantized in device memory, streamed from the
// file in bounded chunks (regrouped into the int8 layout on CPU adapters, engine/gpu/gpu-tensor.ts); each
// sequence (slot) has its own KV cache in VRAM (kernels/kv.ts picks f16 or f32);
// pipelines and bind groups are built at load, and every step is one command buffer covering all
// layers (prompts run in chunks of up to PREFILL_CHUNK tokens). On GPUs, greedy decoding keeps the
// next step queued behind the current one, fed its token on the device (WebGpuLoadOptions.ahead).
// The state is named as llama2.c names it: Weights, RunState (every buffer with its shape), Kernels.
import { freemem } from 'node:os';
import { checkOpenOptions, checkSeq, checkStep, checkVerify, type Backend, type BackendStats } from './backend.js';
import { FILE_TYPE_NAMES, GGMLType, typeName } from '../gguf/ggml.js';
import { type GGUF, type GGUFTensorInfo, readGGUF, readTensorBytes } from '../gguf/gguf.js';
import { Dispatch, Gpu, GpuError, OutOfMemoryError, type GpuOptions, type GpuWork, type MemoryKind } from '../gpu/gpu.js';
import { GpuProfile, type ProfileEntry } from '../gpu/gpu-profile.js';
import { allocTensor, Uploader, type GpuTensor, type TensorLayout } from '../gpu/gpu-tensor.js';
import type { ModelConfig } from '../gguf/hparams.js';
import { loadConfig, tensorName, validateTensors } from './model.js';
import { largestContext, planMemory, planTotal, scratchSizes, tensorLayout, type Activation, type DeviceTraits, type MemoryPlan } from './memory-plan.js';
import { dequantize } from '../gguf/quant.js';
import { Attention, AttentionParams, attentionPartialBytes, type AttentionPlan, type AttentionShape } from '../../kernels/attention.js';
import { Embedding } from '../../kernels/embed.js';
import { kvF16 } from '../../kernels/kv.js';
import { MATVEC_MAX_TOKENS, MatmulKernels, type Product } from '../../kernels/matmul.js';
import { RmsNorm } from '../../kernels/rmsnorm.js';
import { Rope, RopeParams, ropeTable } from '../../kernels/rope.js';
import { GreedySampler } from '../../kernels/sample.js';
import { SiluMul } from '../../kernels/silu-mul.js';

export { PREFILL_CHUNK } from './memory-plan.js';

export interface WebGpuLoadOptions {
  /** Positions each sequence's KV cache holds. */
  nCtx: number;
  /** Independent sequences, each with its own cache (default 1). */
  nSeq?: number;
  /** Called as weights stream in. */
  onProgress?: (bytesLoaded: number, bytesTotal: number) => void;
  /**
   * Device memory the model may use. Default: free system memory on software adapters; otherwise
   * unchecked beyond the device's buffer limits (WebGPU does not tell a GPU's memory size).
   */
  maxDeviceBytes?: number;
  /** Device features to leave off (tests of the fallback paths). */
  device?: GpuOptions;
  /**
   * The kernel family: 'cpu' is row-blocked products (kernels/matmul-rows.wgsl) and two-pass decode
   * attention (kernels/attention-cpu.wgsl), shaped for CPUs' SIMD lanes; 'gpu' is subgroup matvec,
   * tiled matmul and flash attention. Default: 'cpu' on software adapters, 'gpu' on GPUs.
   */
  kernels?: 'cpu' | 'gpu';
  /**
   * Q8_0, Q4_0, Q5_0, Q4_K, Q5_K and Q6_K weights in the int8 layout, multiplied by activations rounded to int8 as
   * ggml-cpu rounds them (default: with the 'cpu' kernels, where it is about twice as fast).
   */
  int8?: boolean;
  /** An f16 KV cache (default: kernels/kv.ts's choice, f16 on GPUs with shader-f16); needs shader-f16. */
  kvF16?: boolean;
  /**
   * Greedy decoding queues each step before the previous token is read back, fed that token on the
   * device, so the GPU never waits for the host to read, encode and submit. A step the caller then
   * does not ask for (a stop, another request) is dropped. Default: on GPUs; not on software
   * adapters, where the overlap gains ~10% but a step takes ~100 ms, which the dropped step would add
   * to the next keystroke's completion.
   */
  ahead?: boolean;
}

/** What the host spent on steps of one size: encoding and submitting them (not waiting), and their dispatches. */
export interface StepCost { tokens: number; steps: number; hostMs: number; dispatches: number }

export interface WebGpuLoadReport {
  path: string;
  device: string;
  f16: boolean;
  /** The KV cache holds f16 (kernels/kv.ts). */
  f16Kv: boolean;
  subgroups: boolean;
  /** The kernel family (WebGpuLoadOptions.kernels). */
  kernels: 'cpu' | 'gpu';
  /** Some weights are in the int8 layout, multiplied as ggml-cpu multiplies them. */
  int8: boolean;
  nVocab: number;
  nCtx: number;
  nSeq: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  fileType: string;
  /** Bytes of the GGUF file. */
  modelBytes: number;
  /** Device bytes for weights, KV caches (all sequences) and scratch. */
  vram: Record<MemoryKind, number>;
  loadMs: number;
}

/**
 * A projection into one activation buffer: a single matmul when its weights share a type (Q, K and
 * V rows, or gate and up rows, concatenated into one tensor at load), else one matmul per weight,
 * each writing its columns of the same rows.
 */
interface Projection { pieces: { weight: GpuTensor; bias?: GPUBuffer; yOffset: number }[]; yStride: number }

/**
 * One layer's weights, in ggml's dims (innermost first: a matrix [nIn, nOut] is nOut rows of nIn).
 * Matrices stay in their file encoding (or the int8 layout); norms and biases are f32.
 */
interface LayerWeights {
  /** [nEmbd] each: the RMS norms before attention and before the FFN. */
  attnNorm: GPUBuffer;
  ffnNorm: GPUBuffer;
  /** [nEmbd, (nHead + 2 nHeadKv) headDim]: Q, K and V, with their biases when the file has them. */
  qkv: Projection;
  /** [nHead headDim, nEmbd], and its [nEmbd] bias. */
  wo: GpuTensor;
  bo?: GPUBuffer;
  /** [nEmbd, 2 nFf]: gate then up, with their biases. */
  gateUp: Projection;
  /** [nFf, nEmbd], and its [nEmbd] bias. */
  down: GpuTensor;
  bDown?: GPUBuffer;
}

/** The model's weights in device memory (llama2.c's TransformerWeights). */
interface Weights {
  /** [nEmbd, nVocab]: token_embd. */
  tokenEmbd: GpuTensor;
  layers: LayerWeights[];
  /** [nEmbd] f32. */
  outputNorm: GPUBuffer;
  /** [nEmbd, nVocab]: the output product, tokenEmbd itself when the embeddings are tied. */
  output: GpuTensor;
}

/**
 * The buffers the steps work in (llama2.c's RunState), f32 unless noted, shapes outermost first.
 * `chunk` is the most tokens one command buffer runs (MemoryPlan.chunk); the activations serve every
 * sequence in turn, and each sequence has its own KV cache.
 */
interface RunState {
  /** [chunk] u32: the step's token ids (a step queued ahead gets its token from the sampler). */
  tokens: GPUBuffer;
  /** [chunk, nEmbd]: the residual stream. */
  x: GPUBuffer;
  /** [chunk, nEmbd]: x through the current RMS norm (where the norm is not folded into the product after it). */
  h: GPUBuffer;
  /** [chunk, nHead + 2 nHeadKv, headDim]: each token's Q heads, then its K and V heads. */
  qkv: GPUBuffer;
  /** [chunk, nHead, headDim]: attention's output. */
  attn: GPUBuffer;
  /** [chunk, nEmbd]: wo's or down's output before its residual add (where the add is not folded in). */
  proj: GPUBuffer;
  /** [chunk, 2 nFf]: each token's gate, then its up. */
  gu: GPUBuffer;
  /** [chunk, nFf]: silu(gate) * up (where it is not folded into the down product). */
  act: GPUBuffer;
  /** [verifyRows, nVocab]: the last token's logits, or a verification step's rows (MemoryPlan.verifyRows). */
  logits: GPUBuffer;
  /** [nCtx, headDim / 2, 2]: (cos, sin) of each rotated pair at each position (kernels/rope.ts's ropeTable). */
  angles: GPUBuffer;
  /**
   * Decode attention's partials, attentionPartialBytes(...) each, shared by all layers: the splits'
   * outputs and (max, sum) pairs, or on the CPU kernels every key's score (and an unused ml).
   */
  attnPartO: GPUBuffer;
  attnPartML: GPUBuffer;
  /** [nLayer][nSeq], each [nHeadKv, nCtx, headDim] of kv_t (f16 or f32, kernels/kv.ts). */
  kCache: GPUBuffer[][];
  vCache: GPUBuffer[][];
  /** [verifyRows, nVocab], host-readable: the logits read back. */
  logitsStaging: GPUBuffer;
  /** Two of [verifyRows] u32, host-readable: a step queued ahead copies its token while the previous one's is read. */
  tokenStaging: [GPUBuffer, GPUBuffer];
}

/** The kernels of a step, their pipelines and bind groups built at load over Weights and RunState. */
interface Kernels {
  matmul: MatmulKernels;
  embed: Embedding;
  /** The first layer's attention norm; then per layer the norms after its two residual adds (after the last layer, the output norm). */
  firstNorm: RmsNorm;
  norms: { ffn: RmsNorm; next: RmsNorm }[];
  /** [nLayer][nSeq]: RoPE and the KV store, each bound to its layer's and sequence's cache. */
  ropes: Rope[][];
  /** [nLayer][nSeq], bound likewise. */
  attns: Attention[][];
  swiglu: SiluMul;
  sampler: GreedySampler;
  /** The uniforms a step sets (its first position, its attention plan), shared by every layer and sequence. */
  ropeParams: RopeParams;
  attnParams: AttentionParams;
  /**
   * Steps of up to MATVEC_MAX_TOKENS tokens (decode and verification steps) fold each RMS norm into
   * the product after it, each residual add into the product before it, and SiLU * up into the down
   * product (MatmulKernels.fuses): three dispatches and barriers fewer per layer. (On the GPU
   * kernels, decode attention folds RoPE in: Attention.ropes.)
   */
  foldsDecode: boolean;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Reads byte ranges of several sources laid end to end. */
function concatenated(reads: ((start: number, length: number) => Uint8Array)[], sizes: number[]): (start: number, length: number) => Uint8Array {
  return (start, length) => {
    const out = new Uint8Array(length);
    let base = 0, done = 0;
    for (let i = 0; i < reads.length && done < length; base += sizes[i++]) {
      const from = start + done - base;
      if (from >= sizes[i]) continue;
      const n = Math.min(sizes[i] - from, length - done);
      out.set(reads[i](from, n), done);
      done += n;
    }
    return out;
  };
}

/** What a WebGpuModel is made of, as build() assembles it. */
interface ModelParts {
  gpu: Gpu;
  config: ModelConfig;
  path: string;
  nCtx: number;
  nSeq: number;
  chunk: number;
  verifyRows: number;
  weights: Weights;
  state: RunState;
  kernels: Kernels;
  aheadSteps: boolean;
  report: WebGpuLoadReport;
}

/** Every matrix the products multiply by, the output product's first. */
function matricesOf(w: Weights): GpuTensor[] {
  return [w.output, ...w.layers.flatMap((L) => [...L.qkv.pieces.map((p) => p.weight), L.wo, ...L.gateUp.pieces.map((p) => p.weight), L.down])];
}

/**
 * Streams the weights to the device: matrices in their file encoding (or `layout`'s int8 layout),
 * norms and biases as f32. Also returns rope_freqs (llama 3), which only the angle table needs.
 */
async function uploadWeights(gpu: Gpu, g: GGUF, c: ModelConfig, tensors: Map<string, GGUFTensorInfo>, layout: (t: GGUFTensorInfo) => TensorLayout, onProgress?: (loaded: number, total: number) => void): Promise<{ weights: Weights; ropeFreqs?: Float32Array }> {
  const total = [...tensors.values()].reduce((a, t) => a + t.nbytes, 0);
  let loaded = 0;
  const progress = (n: number) => {
    loaded += n;
    onProgress?.(loaded, total);
  };
  const up = new Uploader(gpu);
  const read = (t: GGUFTensorInfo) => (s: number, n: number) => readTensorBytes(g, t, s, n);
  const matrix = async (name: string): Promise<GpuTensor> => {
    const t = tensors.get(name)!;
    const w = allocTensor(gpu, name, t.type, t.dims, { layout: layout(t) });
    await up.upload(w, read(t), progress);
    return w;
  };
  const f32 = (name: string) => {
    const t = tensors.get(name)!;
    progress(t.nbytes);
    return dequantize(t.type, readTensorBytes(g, t), t.nelements);
  };
  const vector = (data: Float32Array, label: string): GPUBuffer => {
    const b = gpu.buffer(label, data.byteLength, 'weights');
    gpu.write(b, data);
    return b;
  };
  const opt = (name: string, present: boolean) => (present ? vector(f32(name), name) : undefined);
  // Row-concatenated matrices (and their biases) become one projection when their types match.
  const projection = async (label: string, names: string[], biases: string[] | undefined): Promise<Projection> => {
    const infos = names.map((n) => tensors.get(n)!);
    const widths = infos.map((t) => t.dims[1]);
    const yStride = widths.reduce((a, b) => a + b, 0);
    const offsets = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
    if (infos.every((t) => t.type === infos[0].type)) {
      const w = allocTensor(gpu, label, infos[0].type, [infos[0].dims[0], yStride], { layout: layout(infos[0]) });
      await up.upload(w, concatenated(infos.map(read), infos.map((t) => t.nbytes)), progress);
      const bias = biases && vector(concat(biases.map(f32)), `${label} bias`);
      return { pieces: [{ weight: w, bias, yOffset: 0 }], yStride };
    }
    const pieces = [];
    for (let i = 0; i < names.length; i++) pieces.push({ weight: await matrix(names[i]), bias: biases && vector(f32(biases[i]), biases[i]), yOffset: offsets[i] });
    return { pieces, yStride };
  };
  const tokenEmbd = await matrix(tensorName.tokenEmbd);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    layers.push({
      attnNorm: vector(f32(tensorName.attnNorm(l)), tensorName.attnNorm(l)),
      ffnNorm: vector(f32(tensorName.ffnNorm(l)), tensorName.ffnNorm(l)),
      qkv: await projection(`blk.${l}.attn_qkv`, [tensorName.attnQ(l), tensorName.attnK(l), tensorName.attnV(l)],
        c.bias.qkv ? [tensorName.attnQBias(l), tensorName.attnKBias(l), tensorName.attnVBias(l)] : undefined),
      wo: await matrix(tensorName.attnOutput(l)), bo: opt(tensorName.attnOutputBias(l), c.bias.attnOut),
      gateUp: await projection(`blk.${l}.ffn_gate_up`, [tensorName.ffnGate(l), tensorName.ffnUp(l)],
        c.bias.ffn ? [tensorName.ffnGateBias(l), tensorName.ffnUpBias(l)] : undefined),
      down: await matrix(tensorName.ffnDown(l)), bDown: opt(tensorName.ffnDownBias(l), c.bias.ffn),
    });
  }
  const output = c.tiedEmbeddings ? tokenEmbd : await matrix(tensorName.output);
  const outputNorm = vector(f32(tensorName.outputNorm), tensorName.outputNorm);
  const ropeFreqs = c.ropeFreqs ? f32(tensorName.ropeFreqs) : undefined;
  await up.flush();
  return { weights: { tokenEmbd, layers, outputNorm, output }, ropeFreqs };
}

/** Allocates the run state: activations for plan.chunk tokens, attention's partials, a KV cache per layer and sequence, readback buffers. */
function allocRunState(gpu: Gpu, c: ModelConfig, nCtx: number, nSeq: number, plan: MemoryPlan, attnPart: { o: number; ml: number }): RunState {
  const kvCache = (kv: 'k' | 'v') => Array.from({ length: c.nLayer }, (_, l) => Array.from({ length: nSeq }, (_, s) => gpu.buffer(`${kv} cache ${l}/${s}`, plan.kvBinding, 'kv')));
  const bytes = scratchSizes(c, plan.chunk, nCtx, plan.verifyRows);
  const activation = (a: Activation) => gpu.buffer(a, bytes[a], 'scratch');
  const staging = (label: string, size: number) => gpu.device.createBuffer({ label, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  return {
    tokens: activation('tokens'), x: activation('x'), h: activation('h'), qkv: activation('qkv'), attn: activation('attn'),
    proj: activation('proj'), gu: activation('gu'), act: activation('act'), logits: activation('logits'), angles: activation('angles'),
    attnPartO: gpu.buffer('attention partials', attnPart.o, 'scratch'),
    attnPartML: gpu.buffer('attention partial stats', attnPart.ml, 'scratch'),
    kCache: kvCache('k'), vCache: kvCache('v'),
    logitsStaging: staging('logits readback', plan.verifyRows * c.nVocab * 4),
    tokenStaging: [staging('token readback', plan.verifyRows * 4), staging('token readback', plan.verifyRows * 4)],
  };
}

/** Builds every kernel of a step over the weights and the run state. */
async function createKernels(gpu: Gpu, c: ModelConfig, w: Weights, s: RunState, o: { attnShape: AttentionShape; f16Kv: boolean; cpu: boolean; int8: boolean; verifyRows: number }): Promise<Kernels> {
  const ropeParams = new RopeParams(gpu, c, o.attnShape.ctx, o.f16Kv);
  const attnParams = new AttentionParams(gpu, o.attnShape, o.f16Kv, o.cpu);
  const matrices = matricesOf(w);
  const norm = (weight: GPUBuffer, residual?: GPUBuffer) => RmsNorm.create(gpu, { x: s.x, w: weight, y: s.h, residual }, c.nEmbd, c.rmsEps);
  const [matmul, embed, firstNorm, swiglu, sampler] = await Promise.all([
    MatmulKernels.create(gpu, matrices.map((m) => m.type), { int8: o.int8, rows: o.cpu, fused: !o.cpu }),
    Embedding.create(gpu, w.tokenEmbd, s.tokens, s.x),
    norm(w.layers[0].attnNorm),
    SiluMul.create(gpu, s.gu, s.act, c.nFf),
    GreedySampler.create(gpu, s.logits, c.nVocab, o.verifyRows),
  ]);
  // After the last layer, the output norm (for every row; the logits take the last).
  const norms = await Promise.all(w.layers.map(async (L, l) => ({
    ffn: await norm(L.ffnNorm, s.proj),
    next: await norm(l + 1 < c.nLayer ? w.layers[l + 1].attnNorm : w.outputNorm, s.proj),
  })));
  const ropes: Rope[][] = [], attns: Attention[][] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const caches = (seq: number) => ({ kCache: s.kCache[l][seq], vCache: s.vCache[l][seq] });
    ropes.push(await Promise.all(s.kCache[l].map((_, seq) => Rope.create(gpu, ropeParams, { qkv: s.qkv, angles: s.angles, ...caches(seq) }))));
    attns.push(await Promise.all(s.kCache[l].map((_, seq) => Attention.create(gpu, attnParams, {
      qkv: s.qkv, ...caches(seq), out: s.attn, partO: s.attnPartO, partML: s.attnPartML, rope: o.cpu ? undefined : { angles: s.angles, neox: c.ropeNeox },
    }))));
  }
  return { matmul, embed, firstNorm, norms, ropes, attns, swiglu, sampler, ropeParams, attnParams, foldsDecode: matrices.every((m) => matmul.fuses(m)) };
}

/** A step whose input is the token the previous step sampled, still on the device. */
const DEVICE_TOKEN = Symbol('device token');
/** Keys a warm-up step's attention covers at most: enough for GPU decode attention to split them (and merge the splits). */
const WARM_UP_KEYS = 1024;

/** A kernel of a step, bound and sized when the step's op list is built: its profile label and recorder. */
interface Op { label: string; record: (pass: GPUComputePassEncoder, plan: AttentionPlan) => void }

/** A submitted step: what its readback waits for, and where its sampled tokens land. */
interface Submitted { work: GpuWork; staging: GPUBuffer }

/** What a step ends with: the last token's logits or greedy pick, or every row's (a verification step). */
interface StepOutput { pick: boolean; rows: 'last' | 'all' }
const LOGITS: StepOutput = { pick: false, rows: 'last' };
const PICK: StepOutput = { pick: true, rows: 'last' };

/** A greedy step queued before the caller asked for it, fed `token` on the device. */
interface Ahead extends Submitted { seq: number; pos: number; token: number }

const GiB = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

export class WebGpuModel implements Backend {
  readonly name = 'webgpu' as const;
  readonly config: ModelConfig;
  readonly nCtx: number;
  readonly nSeq: number;
  /** Steps of up to this many tokens compute each row as one-token steps do (MemoryPlan.verifyRows). */
  readonly maxVerifyTokens: number;
  private readonly gpu: Gpu;
  private readonly path: string;
  /** Most tokens per command buffer. */
  private readonly chunk: number;
  private readonly weights: Weights;
  private readonly state: RunState;
  private readonly kernels: Kernels;
  /** WebGpuLoadOptions.ahead. */
  private readonly aheadSteps: boolean;
  private readonly loadReport: WebGpuLoadReport;

  /** Tokens each sequence's cache holds, counting a step queued ahead. */
  private readonly seqLen: number[];
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  /** Which of state.tokenStaging the next step copies its token to. */
  private nextStaging = 0;
  private ahead: Ahead | undefined;
  /** Times every kernel while set (profile()). */
  private profiler: GpuProfile | undefined;
  /** Each sequence's decode-step kernels (ops), built at its first decode step. */
  private readonly decodeOps: Op[][] = [];
  /** Host cost of the steps since takeStepCosts(), by token count. */
  private readonly costs = new Map<number, StepCost>();

  private constructor(m: ModelParts) {
    this.gpu = m.gpu;
    this.config = m.config;
    this.path = m.path;
    this.nCtx = m.nCtx;
    this.nSeq = m.nSeq;
    this.chunk = m.chunk;
    this.maxVerifyTokens = m.verifyRows > 1 ? m.verifyRows : 0;
    this.weights = m.weights;
    this.state = m.state;
    this.kernels = m.kernels;
    this.aheadSteps = m.aheadSteps;
    this.loadReport = m.report;
    this.seqLen = new Array(m.nSeq).fill(0);
  }

  static async load(source: string | GGUF, opts: WebGpuLoadOptions): Promise<WebGpuModel> {
    const t0 = performance.now();
    const g = typeof source === 'string' ? readGGUF(source) : source;
    const c = loadConfig(g);
    const tensors = validateTensors(g, c);
    const nSeq = opts.nSeq ?? 1;
    checkOpenOptions(g.path, opts.nCtx, nSeq);
    for (const t of tensors.values()) {
      if (t.dims.length === 2 && t.dims[0] % 8 !== 0) throw new GpuError(`${g.path}: tensor "${t.name}" has rows of ${t.dims[0]} elements; the GPU kernels need a multiple of 8`);
    }
    const gpu = await Gpu.create(opts.device);
    try {
      return await WebGpuModel.build(gpu, g, c, tensors, nSeq, opts, t0);
    } catch (e) {
      gpu.destroy();
      throw e;
    }
  }

  private static async build(gpu: Gpu, g: GGUF, c: ModelConfig, tensors: Map<string, GGUFTensorInfo>, nSeq: number, opts: WebGpuLoadOptions, t0: number): Promise<WebGpuModel> {
    const nCtx = opts.nCtx;
    const cpu = (opts.kernels ?? (gpu.info.software ? 'cpu' : 'gpu')) === 'cpu';
    const int8 = opts.int8 ?? cpu;
    const f16Kv = opts.kvF16 ?? kvF16(gpu);
    if (f16Kv && !gpu.f16) throw new GpuError(`${g.path}: an f16 KV cache needs the shader-f16 feature, which the device lacks`);
    const traits: DeviceTraits = { maxBinding: gpu.limits.maxStorageBufferBindingSize, cpu, int8, f16Kv };
    const layout = (t: { type: GGMLType; dims: number[] }): TensorLayout => tensorLayout(traits, t);
    const plan = planMemory(g.path, c, tensors, nCtx, nSeq, traits);
    const need = planTotal(plan);
    const available = opts.maxDeviceBytes ?? (gpu.info.software ? freemem() : Infinity);
    if (need > available) {
      const most = largestContext(g.path, c, tensors, nSeq, traits, available, nCtx);
      throw new OutOfMemoryError(`${g.path}: the model needs ${GiB(need)} of device memory (weights ${GiB(plan.weights)}, KV cache ${GiB(plan.kv)} for ${nSeq} x ${nCtx} positions, scratch ${GiB(plan.scratch)}) but ${GiB(available)} is available${gpu.info.software ? ' (software adapter: free system memory)' : ''}; ${most > 0 ? `the largest context that fits is ${most} positions` : 'even a 1-position context does not fit'}; use a smaller context or fewer sequences`, need, available);
    }

    const { weights, ropeFreqs } = await uploadWeights(gpu, g, c, tensors, layout, opts.onProgress);
    const attnShape = { nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, ctx: nCtx, scale: c.attnScale };
    const state = allocRunState(gpu, c, nCtx, nSeq, plan, attentionPartialBytes(attnShape, cpu));
    gpu.write(state.angles, ropeTable(c, nCtx, ropeFreqs));
    const kernels = await createKernels(gpu, c, weights, state, { attnShape, f16Kv, cpu, int8, verifyRows: plan.verifyRows });
    await gpu.done();

    const report: WebGpuLoadReport = {
      path: g.path, device: gpu.info.description || `${gpu.info.vendor} ${gpu.info.architecture}`.trim(), f16: gpu.f16, f16Kv, subgroups: gpu.subgroups,
      kernels: cpu ? 'cpu' : 'gpu',
      int8: matricesOf(weights).some((w) => w.layout === 'int8'),
      nVocab: c.nVocab, nCtx, nSeq, nEmbd: c.nEmbd, nLayer: c.nLayer, nHead: c.nHead, nHeadKv: c.nHeadKv,
      fileType: c.fileType !== undefined ? FILE_TYPE_NAMES[c.fileType] ?? `type ${c.fileType}` : typeName(tensors.get(tensorName.attnQ(0))!.type),
      modelBytes: g.fileSize, vram: { ...gpu.allocated }, loadMs: performance.now() - t0,
    };
    return new WebGpuModel({
      gpu, config: c, path: g.path, nCtx, nSeq, chunk: plan.chunk, verifyRows: plan.verifyRows, weights, state, kernels, aheadSteps: opts.ahead ?? !gpu.info.software, report,
    });
  }

  /** What was loaded and where the device memory went. */
  report(): WebGpuLoadReport {
    return { ...this.loadReport, vram: { ...this.loadReport.vram } };
  }

  stats(): BackendStats {
    const r = this.loadReport;
    return { device: r.device, loadMs: r.loadMs, weightBytes: r.vram.weights, kvBytes: r.vram.kv, scratchBytes: r.vram.scratch };
  }

  /** Tokens held in a sequence's cache (not counting a step queued ahead). */
  seqLength(seq: number): number {
    checkSeq(this.path, this.nSeq, seq);
    return this.ahead?.seq === seq ? this.ahead.pos : this.seqLen[seq];
  }

  forward(seq: number, tokens: number[], pos: number): Promise<Float32Array> {
    return this.serialize(async () => {
      if (this.ahead) await this.discard(this.ahead);
      this.ahead = undefined;
      return this.readLogits(this.step(seq, tokens, pos, LOGITS).work, 1);
    });
  }

  forwardAll(seq: number, tokens: number[], pos: number): Promise<Float32Array> {
    return this.serialize(async () => {
      checkVerify(this.path, this.maxVerifyTokens, tokens.length);
      if (this.ahead) await this.discard(this.ahead);
      this.ahead = undefined;
      return this.readLogits(this.step(seq, tokens, pos, { pick: false, rows: 'all' }).work, tokens.length);
    });
  }

  forwardGreedyAll(seq: number, tokens: number[], pos: number): Promise<Int32Array> {
    return this.serialize(async () => {
      checkVerify(this.path, this.maxVerifyTokens, tokens.length);
      if (this.ahead) await this.discard(this.ahead);
      this.ahead = undefined;
      const run = this.step(seq, tokens, pos, { pick: true, rows: 'all' });
      await this.gpu.mapRead(run.staging, run.work);
      const ids = new Int32Array(run.staging.getMappedRange(0, tokens.length * 4).slice(0));
      run.staging.unmap();
      return ids;
    });
  }

  forwardGreedy(seq: number, tokens: number[], pos: number): Promise<number> {
    return this.serialize(async () => {
      const pending = this.ahead;
      this.ahead = undefined;
      let run: Submitted;
      if (pending && pending.seq === seq && pending.pos === pos && tokens.length === 1 && tokens[0] === pending.token) {
        run = pending;
      } else {
        if (pending) await this.discard(pending);
        run = this.step(seq, tokens, pos, PICK);
      }
      const end = pos + tokens.length;
      const next = this.aheadSteps && !this.profiler && end < this.nCtx ? this.step(seq, DEVICE_TOKEN, end, PICK) : undefined;
      const id = await this.readToken(run);
      if (next) {
        // The device starts the queued step about now, when the one before it is done.
        next.work.since = performance.now();
        this.ahead = { ...next, seq, pos: end, token: id };
      }
      return id;
    });
  }

  /**
   * Dispatches once every pipeline a request can use, so that none is first dispatched by a
   * request: drivers may compile a pipeline only then (lavapipe JIT-compiles each at its first
   * dispatch, a minute or more for a model's kernels on a cold shader cache). The kernels change
   * shape at step sizes past powers of two (matvec and GPU decode attention up to 8 tokens, int8
   * tiles up to 4 and 16, CPU attention up to 32), so one step of each size 2^k + 1 up to a chunk
   * covers them, with every row's output where verification steps take that size; each step records
   * only the dispatches of pipelines not used yet (Dispatch.firstUsesOnly), about one layer's work.
   * Its keys end late enough in the context for decode attention to split them. The sequences'
   * caches hold nothing afterwards, as before. Returns how many pipelines it dispatched.
   */
  warmUp(): Promise<number> {
    return this.serialize(async () => {
      const before = Dispatch.firstUses;
      const sizes = [1, 2, 3, 5, 9, 17, 33, 65].filter((n) => n <= Math.min(this.chunk, this.nCtx));
      for (const n of sizes) {
        const all = n <= this.maxVerifyTokens;
        const pos = Math.min(this.nCtx - n, WARM_UP_KEYS);
        this.gpu.write(this.state.tokens, new Uint32Array(n));
        this.kernels.ropeParams.setPosition(pos);
        const plan = this.kernels.attnParams.plan(n, pos);
        const enc = this.gpu.device.createCommandEncoder({ label: 'warm-up' });
        const pass = enc.beginComputePass({ label: 'warm-up' });
        Dispatch.firstUsesOnly = true;
        try {
          for (const op of this.ops(0, n, all ? 'all' : 'last')) op.record(pass, plan);
          this.kernels.sampler.record(pass, all ? n : 1);
        } finally {
          Dispatch.firstUsesOnly = false;
        }
        pass.end();
        this.gpu.device.queue.submit([enc.finish()]);
      }
      await this.gpu.done();
      return Dispatch.firstUses - before;
    });
  }

  /**
   * Times every kernel of the steps that follow, each in its own pass (a little slower than one
   * pass per step) until profile(false); needs the device's timestamp-query feature.
   */
  profile(on: boolean): void {
    if (on) this.profiler ??= new GpuProfile(this.gpu);
    else this.profiler = undefined;
  }

  /** GPU time per kernel of the steps run since profiling began or the profile was last taken. */
  takeProfile(): Promise<ProfileEntry[]> {
    if (!this.profiler) throw new GpuError(`${this.path}: profiling is off (profile(true))`);
    return this.profiler.take();
  }

  /** Host time to encode and submit the steps run since the last call, and their dispatches, by step size. */
  takeStepCosts(): StepCost[] {
    const out = [...this.costs.values()].sort((a, b) => a.tokens - b.tokens);
    this.costs.clear();
    return out;
  }

  /** Releases the device and all its memory; pending and later calls reject. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gpu.destroy();
  }

  private serialize<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.disposed) throw new GpuError(`${this.path}: the model was disposed`);
      return f();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Submits the forward pass of `tokens` at pos.. of `seq`, one command buffer per chunk. The last
   * ends with the logits copied for reading, or with the greedy pick and its token copied (`pick`):
   * of the last token, or of every row (a verification step, one chunk). Returns what the readback waits for.
   */
  private step(seq: number, tokens: number[] | typeof DEVICE_TOKEN, pos: number, out: StepOutput): Submitted {
    const c = this.config;
    const fed = tokens === DEVICE_TOKEN;
    checkStep(this.path, { nSeq: this.nSeq, nCtx: this.nCtx, nVocab: c.nVocab, held: this.seqLen[seq] }, seq, fed ? 1 : tokens, pos);
    const n = fed ? 1 : tokens.length;
    const t0 = performance.now(), d0 = Dispatch.recorded;
    this.gpu.check();
    // Steps of similar size take similar time per token: decode steps, short appends, prompt chunks.
    const staging = this.state.tokenStaging[this.nextStaging];
    this.nextStaging ^= 1;
    const work: GpuWork = { kind: `forward ${n <= 4 ? n : 2 ** Math.ceil(Math.log2(n))}`, units: n, since: performance.now() };
    for (let start = 0; start < n; start += this.chunk) {
      const m = Math.min(this.chunk, n - start);
      const last = start + m === n;
      if (!fed) this.gpu.write(this.state.tokens, Uint32Array.from(tokens.slice(start, start + m)));
      this.kernels.ropeParams.setPosition(pos + start);
      const plan = this.kernels.attnParams.plan(m, pos + start);
      const enc = this.gpu.device.createCommandEncoder({ label: 'forward' });
      // A decode step's ops are the same every token: built once per sequence.
      const rows = last && out.rows === 'all' ? m : 1;
      const ops = m === 1 ? (this.decodeOps[seq] ??= this.ops(seq, 1, 'last')) : this.ops(seq, m, last ? out.rows : undefined);
      const sampling: Op | undefined = last && out.pick ? { label: 'sample', record: (pass) => this.kernels.sampler.record(pass, rows) } : undefined;
      if (this.profiler) {
        // One timed pass per kernel.
        for (const op of sampling ? [...ops, sampling] : ops) {
          const pass = this.profiler.pass(enc, op.label);
          op.record(pass, plan);
          pass.end();
        }
      } else {
        const pass = enc.beginComputePass({ label: 'forward' });
        for (const op of ops) op.record(pass, plan);
        sampling?.record(pass, plan);
        pass.end();
      }
      if (last && out.pick) {
        enc.copyBufferToBuffer(this.kernels.sampler.result, 0, staging, 0, rows * 4);
        // The input of a step queued before this token is read (aheadSteps).
        if (this.aheadSteps && rows === 1) enc.copyBufferToBuffer(this.kernels.sampler.result, 0, this.state.tokens, 0, 4);
      } else if (last) enc.copyBufferToBuffer(this.state.logits, 0, this.state.logitsStaging, 0, rows * c.nVocab * 4);
      if (this.profiler) this.profiler.submit(enc);
      else this.gpu.device.queue.submit([enc.finish()]);
    }
    this.seqLen[seq] = pos + n;
    const cost = this.costs.get(n) ?? { tokens: n, steps: 0, hostMs: 0, dispatches: 0 };
    cost.steps++;
    cost.hostMs += performance.now() - t0;
    cost.dispatches += Dispatch.recorded - d0;
    this.costs.set(n, cost);
    return { work, staging };
  }

  /** Waits for a submitted step's sampled token. */
  private async readToken(run: Submitted): Promise<number> {
    await this.gpu.mapRead(run.staging, run.work);
    const id = new Uint32Array(run.staging.getMappedRange(0, 4))[0];
    run.staging.unmap();
    return id;
  }

  /** Drops a step queued ahead that the caller did not ask for; the sequence ends before it again. */
  private async discard(a: Ahead): Promise<void> {
    await this.readToken(a);
    this.seqLen[a.seq] = Math.min(this.seqLen[a.seq], a.pos);
  }

  /**
   * The kernels of a step of n tokens of `seq`, through the output product of the last token or of
   * every row (`output`). Steps of a few tokens on foldsDecode's kernels fold the norms and residual
   * adds into the products; otherwise h holds each norm of x.
   */
  private ops(seq: number, n: number, output: StepOutput['rows'] | undefined): Op[] {
    const c = this.config, w = this.weights, s = this.state, k = this.kernels, mm = k.matmul, eps = c.rmsEps;
    const fold = n <= MATVEC_MAX_TOKENS && k.foldsDecode;
    const ops: Op[] = [];
    const op = (label: string, record: Op['record']) => ops.push({ label, record });
    const products = (label: string, ps: Product[]) => op(label, (pass) => {
      for (const p of ps) p.record(pass);
    });
    const project = (label: string, p: Projection, norm: GPUBuffer, y: GPUBuffer) => {
      const input = fold ? { x: s.x, norm: { weight: norm, eps } } : { x: s.h };
      products(label, p.pieces.map((q) => mm.product({ weight: q.weight, ...input, y, n, bias: q.bias, yOffset: q.yOffset, yStride: p.yStride })));
    };
    // Folded, the products after attention and the FFN add into x; unfolded, the norms do.
    const out = fold ? { y: s.x, residual: true } : { y: s.proj };
    op('embed', (pass) => k.embed.record(pass, n));
    if (!fold) op('rmsnorm', (pass) => k.firstNorm.record(pass, n));
    for (let l = 0; l < c.nLayer; l++) {
      const L = w.layers[l], rope = k.ropes[l][seq], attn = k.attns[l][seq], norms = k.norms[l];
      project('matmul qkv', L.qkv, L.attnNorm, s.qkv);
      if (!attn.ropes(n)) op('rope', (pass) => rope.record(pass, n));
      op('attention', (pass, plan) => attn.record(pass, plan));
      products('matmul wo', [mm.product({ weight: L.wo, x: s.attn, ...out, n, bias: L.bo })]);
      if (!fold) op('rmsnorm', (pass) => norms.ffn.record(pass, n));
      project('matmul gate+up', L.gateUp, L.ffnNorm, s.gu);
      if (fold) {
        products('matmul down', [mm.product({ weight: L.down, x: s.gu, xStride: 2 * c.nFf, swiglu: c.nFf, ...out, n, bias: L.bDown })]);
        continue;
      }
      op('silu-mul', (pass) => k.swiglu.record(pass, n));
      products('matmul down', [mm.product({ weight: L.down, x: s.act, ...out, n, bias: L.bDown })]);
      op('rmsnorm', (pass) => norms.next.record(pass, n));
    }
    if (output) {
      // Unfolded, h holds the output norm of every row; the logits need the last, or all of them.
      const rows = output === 'all' ? n : 1;
      const input = fold ? { x: s.x, xOffset: (n - rows) * c.nEmbd, norm: { weight: w.outputNorm, eps } } : { x: s.h, xOffset: (n - rows) * c.nEmbd };
      products('matmul output', [mm.product({ weight: w.output, ...input, y: s.logits, n: rows })]);
    }
    return ops;
  }

  /** Waits for a submitted step's logits, `rows` rows of them. */
  private async readLogits(work: GpuWork, rows: number): Promise<Float32Array> {
    await this.gpu.mapRead(this.state.logitsStaging, work);
    const out = new Float32Array(this.state.logitsStaging.getMappedRange(0, rows * this.config.nVocab * 4).slice(0));
    this.state.logitsStaging.unmap();
    return out;
  }
}
