// Plain TypeScript forward pass for llama and qwen2, with one f32 KV cache per sequence. Weights are
// dequantized to f32 once at load and all sums run in float64, so this is the numerical yardstick the
// WebGPU model is tested against. Not the product path: it is slow and holds every weight as f32.
import { checkOpenOptions, checkSeq, checkStep, checkVerify, MAX_VERIFY_TOKENS, type Backend, type BackendStats } from './backend.js';
import { GGMLType } from '../gguf/ggml.js';
import { GGUF, GGUFError, GGUFTensorInfo, readTensorBytes } from '../gguf/gguf.js';
import type { ModelConfig } from '../gguf/hparams.js';
import { applyRope, ropeAngles } from '../gguf/rope.js';
import { dequantize, f16ToF32 } from '../gguf/quant.js';
import { ggmlCpuInput } from '../gguf/vec-dot.js';
import { loadConfig, tensorName, validateTensors } from './model.js';
import { argmax } from './sampler.js';

export interface ReferenceOptions {
  /** Positions each sequence's KV cache holds. */
  nCtx: number;
  /** Independent sequences (default 1). */
  nSeq?: number;
  /** Refuse models whose f32 weights exceed this many bytes (default 2 GiB). */
  maxWeightBytes?: number;
}

/** Receives intermediate activations (named as llama.cpp's graph callbacks name them) for debugging. */
export type TraceFn = (name: string, layer: number, data: Float32Array) => void;

export interface EvaluateOptions {
  /** Return logits for every input token (n x nVocab, row per token) instead of only the last. */
  allLogits?: boolean;
  /**
   * Round each matmul's input the way llama.cpp's CPU backend does before its dot products (to f16,
   * bf16, or 8-bit blocks, by weight type), to tell our arithmetic from llama.cpp's rounding in
   * parity tests. Use it for every call on a sequence, or for none.
   */
  ggmlCpuActivations?: boolean;
  /**
   * With ggmlCpuActivations: scales every matmul input element by 1 + u * relative (u uniform in
   * [-1, 1), drawn from `seed`) before rounding it. Stands in for the float32 differences between
   * two correct implementations, to measure how far rounding-boundary flips alone move the output
   * (the parity tests' allowance for them).
   */
  roundingJitter?: { relative: number; seed: number };
  trace?: TraceFn;
}

/** Uniform in [-1, 1) from a seed (mulberry32). */
function jitterSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  };
}

/** What a matmul's input goes through first: nothing, or llama.cpp's CPU rounding (perhaps after a jitter). */
interface InputRounding { jitter?: { relative: number; next: () => number } }

/** A dequantized weight, the ggml type it was stored as, and its Q4_1 / Q5_1 block minimums. */
interface Weight { w: Float32Array; type: GGMLType; mins?: Float32Array }

interface Layer {
  attnNorm: Float32Array;
  wq: Weight; wk: Weight; wv: Weight; wo: Weight;
  bq?: Float32Array; bk?: Float32Array; bv?: Float32Array; bo?: Float32Array;
  ffnNorm: Float32Array;
  gate: Weight; up: Weight; down: Weight;
  bGate?: Float32Array; bUp?: Float32Array; bDown?: Float32Array;
}

interface SeqCache { k: Float32Array[]; v: Float32Array[]; len: number }

/** out[t, o] = sum_i w[o, i] * x[t, i] (+ b[o]); w is ggml's [nIn, nOut] (rows of nIn). */
function matmul(w: Float32Array, nIn: number, nOut: number, x: Float32Array, nTok: number, out: Float32Array, b?: Float32Array): void {
  for (let o = 0; o < nOut; o++) {
    const wo = o * nIn;
    const bias = b ? b[o] : 0;
    for (let t = 0; t < nTok; t++) {
      const xo = t * nIn;
      let s = 0;
      for (let i = 0; i < nIn; i++) s += w[wo + i] * x[xo + i];
      out[t * nOut + o] = s + bias;
    }
  }
}

/** Per-block minimums of a Q4_1 / Q5_1 tensor (the f16 `m` after each block's `d`). */
function blockMins(type: GGMLType, bytes: Uint8Array): Float32Array | undefined {
  if (type !== GGMLType.Q4_1 && type !== GGMLType.Q5_1) return undefined;
  const size = type === GGMLType.Q4_1 ? 20 : 24;
  const out = new Float32Array(bytes.length / size);
  for (let b = 0; b < out.length; b++) out[b] = f16ToF32(bytes[b * size + 2] | (bytes[b * size + 3] << 8));
  return out;
}

function rmsNorm(x: Float32Array, nTok: number, n: number, weight: Float32Array, eps: number, out: Float32Array): void {
  for (let t = 0; t < nTok; t++) {
    const o = t * n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[o + i] * x[o + i];
    const scale = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[o + i] = x[o + i] * scale * weight[i];
  }
}

export class ReferenceModel implements Backend {
  readonly name = 'reference' as const;
  /** Each row's sums run in the same order whatever the step's size: every row is exact. */
  readonly maxVerifyTokens = MAX_VERIFY_TOKENS;
  private readonly caches: (SeqCache | undefined)[];
  private readonly loadMs: number;

  private constructor(
    readonly config: ModelConfig,
    readonly nCtx: number,
    readonly nSeq: number,
    private readonly path: string,
    private readonly tokEmbd: Float32Array,
    private readonly outputNorm: Float32Array,
    private readonly output: Weight,
    private readonly ropeFreqs: Float32Array | undefined,
    private readonly layers: Layer[],
    private readonly weightBytes: number,
    t0: number,
  ) {
    this.caches = new Array(nSeq).fill(undefined);
    this.loadMs = performance.now() - t0;
  }

  static load(g: GGUF, opts: ReferenceOptions): ReferenceModel {
    const t0 = performance.now();
    const c = loadConfig(g);
    const tensors = validateTensors(g, c);
    const nSeq = opts.nSeq ?? 1;
    checkOpenOptions(g.path, opts.nCtx, nSeq);
    const limit = opts.maxWeightBytes ?? 2 ** 31;
    let weightBytes = 0;
    for (const t of tensors.values()) weightBytes += t.nelements * 4;
    if (weightBytes > limit) {
      throw new GGUFError(g.path, `the reference model needs ${(weightBytes / 2 ** 30).toFixed(2)} GiB of f32 weights, over its ${(limit / 2 ** 30).toFixed(2)} GiB limit (it is meant for small test models)`);
    }
    const kvBytes = 2 * c.nLayer * opts.nCtx * c.nHeadKv * c.headDim * 4;
    if (kvBytes > 2 ** 31) throw new GGUFError(g.path, `a ${opts.nCtx}-position f32 KV cache needs ${(kvBytes / 2 ** 30).toFixed(2)} GiB per sequence; use a smaller nCtx`);

    const weight = (name: string): Weight => {
      const t = tensors.get(name) as GGUFTensorInfo;
      const bytes = readTensorBytes(g, t);
      return { w: dequantize(t.type, bytes, t.nelements), type: t.type, mins: blockMins(t.type, bytes) };
    };
    const f32 = (name: string) => weight(name).w;
    const opt = (name: string, present: boolean) => (present ? f32(name) : undefined);
    const layers: Layer[] = [];
    for (let l = 0; l < c.nLayer; l++) {
      layers.push({
        attnNorm: f32(tensorName.attnNorm(l)),
        wq: weight(tensorName.attnQ(l)), wk: weight(tensorName.attnK(l)), wv: weight(tensorName.attnV(l)), wo: weight(tensorName.attnOutput(l)),
        bq: opt(tensorName.attnQBias(l), c.bias.qkv), bk: opt(tensorName.attnKBias(l), c.bias.qkv), bv: opt(tensorName.attnVBias(l), c.bias.qkv),
        bo: opt(tensorName.attnOutputBias(l), c.bias.attnOut),
        ffnNorm: f32(tensorName.ffnNorm(l)),
        gate: weight(tensorName.ffnGate(l)), up: weight(tensorName.ffnUp(l)), down: weight(tensorName.ffnDown(l)),
        bGate: opt(tensorName.ffnGateBias(l), c.bias.ffn), bUp: opt(tensorName.ffnUpBias(l), c.bias.ffn), bDown: opt(tensorName.ffnDownBias(l), c.bias.ffn),
      });
    }
    const tokEmbd = weight(tensorName.tokenEmbd);
    const output = c.tiedEmbeddings ? tokEmbd : weight(tensorName.output);
    return new ReferenceModel(c, opts.nCtx, nSeq, g.path, tokEmbd.w, f32(tensorName.outputNorm), output,
      opt(tensorName.ropeFreqs, c.ropeFreqs), layers, weightBytes, t0);
  }

  private matmul(W: Weight, nIn: number, nOut: number, x: Float32Array, nTok: number, out: Float32Array, b: Float32Array | undefined, ggmlCpu: InputRounding | undefined): void {
    if (!ggmlCpu) return matmul(W.w, nIn, nOut, x, nTok, out, b);
    const j = ggmlCpu.jitter;
    const input = ggmlCpuInput(W.type, j && W.type !== GGMLType.F32 ? x.map((v) => v * (1 + j.relative * j.next())) : x);
    matmul(W.w, nIn, nOut, input.x, nTok, out, b);
    const err = input.sumError, mins = W.mins;
    if (!err || !mins) return;
    const nb = nIn / 32;
    for (let o = 0; o < nOut; o++) {
      for (let t = 0; t < nTok; t++) {
        let s = 0;
        for (let j = 0; j < nb; j++) s += mins[o * nb + j] * err[t * nb + j];
        out[t * nOut + o] += s;
      }
    }
  }

  /** Tokens held in a sequence's cache. */
  seqLength(seq: number): number {
    checkSeq(this.path, this.nSeq, seq);
    return this.caches[seq]?.len ?? 0;
  }

  /**
   * Runs `tokens` at positions pos..pos+n-1 of sequence `seq`, replacing cache entries at >= pos.
   * Returns the last token's logits, or every token's with `allLogits`.
   */
  evaluate(seq: number, tokens: readonly number[], pos: number, opts: EvaluateOptions = {}): Float32Array {
    const c = this.config;
    checkStep(this.path, { nSeq: this.nSeq, nCtx: this.nCtx, nVocab: c.nVocab, held: this.seqLength(seq) }, seq, tokens, pos);
    const n = tokens.length;
    const trace = opts.trace ?? (() => {});
    const jitter = opts.roundingJitter && { relative: opts.roundingJitter.relative, next: jitterSource(opts.roundingJitter.seed) };
    const ggmlCpu: InputRounding | undefined = opts.ggmlCpuActivations ? { jitter } : undefined;
    const cache = (this.caches[seq] ??= {
      k: this.layers.map(() => new Float32Array(this.nCtx * c.nHeadKv * c.headDim)),
      v: this.layers.map(() => new Float32Array(this.nCtx * c.nHeadKv * c.headDim)),
      len: 0,
    });

    const E = c.nEmbd, D = c.headDim, qDim = c.nHead * D, kvDim = c.nHeadKv * D, group = c.nHead / c.nHeadKv;
    const x = new Float32Array(n * E);
    for (let t = 0; t < n; t++) x.set(this.tokEmbd.subarray(tokens[t] * E, (tokens[t] + 1) * E), t * E);
    const angles = tokens.map((_, t) => ropeAngles(c, pos + t, this.ropeFreqs));
    const h = new Float32Array(n * E);
    const q = new Float32Array(n * qDim), k = new Float32Array(n * kvDim), v = new Float32Array(n * kvDim);
    const attn = new Float32Array(n * qDim), proj = new Float32Array(n * E);
    const gate = new Float32Array(n * c.nFf), up = new Float32Array(n * c.nFf);
    const scores = new Float64Array(pos + n);

    for (let l = 0; l < c.nLayer; l++) {
      const L = this.layers[l];
      rmsNorm(x, n, E, L.attnNorm, c.rmsEps, h);
      trace('attn_norm', l, h);
      this.matmul(L.wq, E, qDim, h, n, q, L.bq, ggmlCpu);
      this.matmul(L.wk, E, kvDim, h, n, k, L.bk, ggmlCpu);
      this.matmul(L.wv, E, kvDim, h, n, v, L.bv, ggmlCpu);
      for (let t = 0; t < n; t++) {
        for (let hd = 0; hd < c.nHead; hd++) applyRope(q, t * qDim + hd * D, c.ropeNeox, angles[t].cos, angles[t].sin);
        for (let hd = 0; hd < c.nHeadKv; hd++) applyRope(k, t * kvDim + hd * D, c.ropeNeox, angles[t].cos, angles[t].sin);
      }
      trace('Qcur', l, q);
      trace('Kcur', l, k);
      trace('Vcur', l, v);
      cache.k[l].set(k, pos * kvDim);
      cache.v[l].set(v, pos * kvDim);
      const K = cache.k[l], V = cache.v[l];

      for (let t = 0; t < n; t++) {
        const nKv = pos + t + 1; // causal: this token sees the cache up to and including itself
        for (let hd = 0; hd < c.nHead; hd++) {
          const qo = t * qDim + hd * D, kvo = Math.floor(hd / group) * D;
          let max = -Infinity;
          for (let j = 0; j < nKv; j++) {
            let s = 0;
            for (let i = 0; i < D; i++) s += q[qo + i] * K[j * kvDim + kvo + i];
            scores[j] = s * c.attnScale;
            if (scores[j] > max) max = scores[j];
          }
          let sum = 0;
          for (let j = 0; j < nKv; j++) sum += (scores[j] = Math.exp(scores[j] - max));
          for (let i = 0; i < D; i++) {
            let s = 0;
            for (let j = 0; j < nKv; j++) s += scores[j] * V[j * kvDim + kvo + i];
            attn[qo + i] = s / sum;
          }
        }
      }
      trace('kqv_out', l, attn);
      this.matmul(L.wo, qDim, E, attn, n, proj, L.bo, ggmlCpu);
      for (let i = 0; i < n * E; i++) x[i] += proj[i];
      trace('ffn_inp', l, x);

      rmsNorm(x, n, E, L.ffnNorm, c.rmsEps, h);
      trace('ffn_norm', l, h);
      this.matmul(L.gate, E, c.nFf, h, n, gate, L.bGate, ggmlCpu);
      this.matmul(L.up, E, c.nFf, h, n, up, L.bUp, ggmlCpu);
      for (let i = 0; i < n * c.nFf; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      this.matmul(L.down, c.nFf, E, gate, n, proj, L.bDown, ggmlCpu);
      trace('ffn_out', l, proj);
      for (let i = 0; i < n * E; i++) x[i] += proj[i];
      trace('l_out', l, x);
    }
    cache.len = pos + n;

    const first = opts.allLogits ? 0 : n - 1;
    const rows = n - first;
    const last = x.subarray(first * E);
    const normed = new Float32Array(rows * E);
    rmsNorm(last, rows, E, this.outputNorm, c.rmsEps, normed);
    trace('result_norm', -1, normed);
    const logits = new Float32Array(rows * c.nVocab);
    this.matmul(this.output, E, c.nVocab, normed, rows, logits, undefined, ggmlCpu);
    trace('result_output', -1, logits);
    return logits;
  }

  async forward(seq: number, tokens: number[], pos: number): Promise<Float32Array> {
    return this.evaluate(seq, tokens, pos);
  }

  async forwardGreedy(seq: number, tokens: number[], pos: number): Promise<number> {
    return argmax(this.evaluate(seq, tokens, pos));
  }

  async forwardAll(seq: number, tokens: number[], pos: number): Promise<Float32Array> {
    checkVerify(this.path, this.maxVerifyTokens, tokens.length);
    return this.evaluate(seq, tokens, pos, { allLogits: true });
  }

  async forwardGreedyAll(seq: number, tokens: number[], pos: number): Promise<Int32Array> {
    const logits = await this.forwardAll(seq, tokens, pos);
    const nVocab = this.config.nVocab;
    return Int32Array.from(tokens, (_, i) => argmax(logits.subarray(i * nVocab, (i + 1) * nVocab)));
  }

  /** Plain TypeScript: nothing is compiled at first use. */
  async warmUp(): Promise<number> {
    return 0;
  }

  stats(): BackendStats {
    const c = this.config;
    const perSeq = 2 * c.nLayer * this.nCtx * c.nHeadKv * c.headDim * 4;
    return { device: 'cpu', loadMs: this.loadMs, weightBytes: this.weightBytes, kvBytes: perSeq * this.caches.filter(Boolean).length, scratchBytes: 0 };
  }

  dispose(): void {
    this.caches.fill(undefined);
  }
}
