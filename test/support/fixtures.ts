// Seeded random-weight llama / qwen2 GGUF models for tests and the benchmark, with the real tokenizer
// metadata of a vocabulary file (test/support/vocab.ts). Generated on demand into .cache/fixtures (never committed) and
// cached by a hash of every parameter. Tensor data is produced a block of rows at a time, so even
// the full-size benchmark shapes are written without holding the model in memory.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { GGMLType, typeName } from '../../engine/gguf/ggml.js';
import { GGUFValueType, readGGUF } from '../../engine/gguf/gguf.js';
import { GGUFMetaEntry, GGUFWriteTensor, metadataEntries, writeGGUF } from '../../engine/gguf/gguf-writer.js';
import { tensorName } from '../../engine/model/model.js';
import { quantize } from '../../engine/gguf/quant.js';
import { VocabName, vocabPath } from './vocab.js';

// engine/prompt/fim.test.ts takes vocabPath from here
export { vocabPath };

export interface FixtureOptions {
  arch: 'llama' | 'qwen2';
  vocab: VocabName;
  /** Type of every matrix (norms and biases stay F32, as llama.cpp writes them). */
  type: GGMLType;
  /** Type of token_embd.weight (default: type). */
  embdType?: GGMLType;
  nLayer?: number;
  nEmbd?: number;
  nHead?: number;
  nHeadKv?: number;
  nFf?: number;
  nCtxTrain?: number;
  /** No output.weight; logits use token_embd (default: true for qwen2, false for llama). */
  tied?: boolean;
  /** Pad the token list with [PADn] tokens to this many entries, as convert_hf_to_gguf does. */
  nVocabPadded?: number;
  ropeFreqBase?: number;
  ropeScaling?: { type: 'linear' | 'yarn'; factor: number; origCtx?: number };
  /** Optional llama biases (qwen2 always has Q/K/V biases). */
  llamaBiases?: boolean;
  /** Write rope_freqs.weight (llama 3 style frequency factors; llama only). */
  ropeFreqs?: boolean;
  rmsEps?: number;
  seed?: number;
}

// Bump when the generated weights or metadata change, so stale cached files are not reused.
const FIXTURE_VERSION = 1;

/** Exact shapes of Qwen2.5-Coder-0.5B, for the benchmark. */
export const QWEN25_CODER_0_5B: Omit<FixtureOptions, 'type'> = {
  arch: 'qwen2', vocab: 'qwen2', nLayer: 24, nEmbd: 896, nHead: 14, nHeadKv: 2, nFf: 4864,
  nCtxTrain: 32768, nVocabPadded: 151936, tied: true, ropeFreqBase: 1e6, rmsEps: 1e-6,
};
/** Exact shapes of Qwen2.5-Coder-1.5B, for the benchmark. */
export const QWEN25_CODER_1_5B: Omit<FixtureOptions, 'type'> = {
  arch: 'qwen2', vocab: 'qwen2', nLayer: 28, nEmbd: 1536, nHead: 12, nHeadKv: 2, nFf: 8960,
  nCtxTrain: 32768, nVocabPadded: 151936, tied: true, ropeFreqBase: 1e6, rmsEps: 1e-6,
};

/** llama_ftype of a file whose matrices are `type` (llama.cpp's names; K-quants as their _M mixes). */
const FILE_TYPE: Partial<Record<GGMLType, number>> = {
  [GGMLType.F32]: 0, [GGMLType.F16]: 1, [GGMLType.Q4_0]: 2, [GGMLType.Q4_1]: 3, [GGMLType.Q8_0]: 7,
  [GGMLType.Q5_0]: 8, [GGMLType.Q5_1]: 9, [GGMLType.Q4_K]: 15, [GGMLType.Q5_K]: 17, [GGMLType.Q6_K]: 18, [GGMLType.BF16]: 32,
};

/** What llama.cpp's quantizer stores instead of a K-quant when a row is not a multiple of 256. */
const K_FALLBACK: Partial<Record<GGMLType, GGMLType>> = {
  [GGMLType.Q4_K]: GGMLType.Q5_0, [GGMLType.Q5_K]: GGMLType.Q5_1, [GGMLType.Q6_K]: GGMLType.Q8_0,
};

/** mulberry32 uniform stream, with Box-Muller normals. */
class Rng {
  private s: number;
  private spare: number | undefined;
  constructor(seed: number) { this.s = seed >>> 0; }
  uniform(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== undefined) { const v = this.spare; this.spare = undefined; return v; }
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

function seedOf(seed: number, name: string): number {
  return createHash('sha256').update(`${seed}:${name}`).digest().readUInt32LE(0);
}

/** Every fixture option with its default filled in. */
export function fixtureOptions(o: FixtureOptions): Required<Omit<FixtureOptions, 'ropeScaling' | 'nVocabPadded'>> & Pick<FixtureOptions, 'ropeScaling' | 'nVocabPadded'> {
  return {
    embdType: o.type, nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtxTrain: 4096, tied: o.arch === 'qwen2',
    ropeFreqBase: o.arch === 'qwen2' ? 1e6 : 1e4, llamaBiases: false, ropeFreqs: false, rmsEps: 1e-6, seed: 1,
    ...(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as FixtureOptions),
  };
}

/** The file about to be written, for tests that need a broken or altered model. */
export interface FixtureFile { metadata: GGUFMetaEntry[]; tensors: GGUFWriteTensor[] }

/**
 * Writes a random-weight model. Scales are chosen so that logits are spread (std ~5) and each
 * layer's attention and MLP outweigh the token embedding in the residual stream, so greedy
 * continuations depend on the context rather than repeating the last token. `edit` may change the
 * metadata and tensors before they are written.
 */
export function writeFixtureModel(path: string, opts: FixtureOptions, edit?: (f: FixtureFile) => void): void {
  const o = fixtureOptions(opts);
  if (o.arch === 'qwen2' && (o.llamaBiases || o.ropeFreqs)) throw new Error('fixture: llamaBiases and ropeFreqs are llama-only options');
  if (o.nEmbd % o.nHead !== 0 || o.nHead % o.nHeadKv !== 0) throw new Error(`fixture: nEmbd ${o.nEmbd}, nHead ${o.nHead}, nHeadKv ${o.nHeadKv} do not divide`);
  const vocabFile = readGGUF(vocabPath(o.vocab));
  const arch = o.arch;
  const headDim = o.nEmbd / o.nHead;
  const kvDim = o.nHeadKv * headDim;

  const tokenizer = metadataEntries(vocabFile, 'tokenizer.');
  const tokens = vocabFile.metadata.get('tokenizer.ggml.tokens') as string[];
  let nVocab = tokens.length;
  if (o.nVocabPadded !== undefined && o.nVocabPadded > nVocab) {
    const pad = Array.from({ length: o.nVocabPadded - nVocab }, (_, i) => `[PAD${nVocab + i}]`);
    const UNUSED = 5; // llama_token_type
    for (const e of tokenizer) {
      if (e.key === 'tokenizer.ggml.tokens') e.value = [...tokens, ...pad];
      else if (e.key === 'tokenizer.ggml.token_type') e.value = Int32Array.from([...(e.value as Int32Array), ...pad.map(() => UNUSED)]);
      else if (e.key === 'tokenizer.ggml.scores') e.value = Float32Array.from([...(e.value as Float32Array), ...pad.map(() => 0)]);
    }
    nVocab = o.nVocabPadded;
  }

  const u32 = (key: string, value: number): GGUFMetaEntry => ({ key, type: GGUFValueType.UINT32, value });
  const f32 = (key: string, value: number): GGUFMetaEntry => ({ key, type: GGUFValueType.FLOAT32, value });
  const str = (key: string, value: string): GGUFMetaEntry => ({ key, type: GGUFValueType.STRING, value });
  const metadata: GGUFMetaEntry[] = [
    str('general.architecture', arch),
    str('general.name', `hearth-fixture-${arch}-${typeName(o.type)}`),
    u32('general.file_type', FILE_TYPE[o.type] ?? 0),
    u32(`${arch}.context_length`, o.nCtxTrain),
    u32(`${arch}.embedding_length`, o.nEmbd),
    u32(`${arch}.block_count`, o.nLayer),
    u32(`${arch}.feed_forward_length`, o.nFf),
    u32(`${arch}.attention.head_count`, o.nHead),
    u32(`${arch}.attention.head_count_kv`, o.nHeadKv),
    f32(`${arch}.attention.layer_norm_rms_epsilon`, o.rmsEps),
    f32(`${arch}.rope.freq_base`, o.ropeFreqBase),
    u32(`${arch}.rope.dimension_count`, headDim),
  ];
  if (o.ropeScaling) {
    metadata.push(str(`${arch}.rope.scaling.type`, o.ropeScaling.type), f32(`${arch}.rope.scaling.factor`, o.ropeScaling.factor));
    if (o.ropeScaling.origCtx) metadata.push(u32(`${arch}.rope.scaling.original_context_length`, o.ropeScaling.origCtx));
  }
  metadata.push(...tokenizer);

  const tensors: GGUFWriteTensor[] = [];
  // Rows of `cols` values drawn as std * N(0,1) (+ mean), stored as `type`, a few MiB at a time.
  const random = (name: string, dims: number[], type: GGMLType, std: number, mean = 0) => {
    const cols = dims[0];
    const rows = dims.length > 1 ? dims[1] : 1;
    const stored = cols % 256 !== 0 ? (K_FALLBACK[type] ?? type) : type;
    tensors.push({
      name, dims, type: stored,
      data: function* () {
        const rng = new Rng(seedOf(o.seed, name));
        const step = Math.max(1, Math.floor((1 << 20) / cols));
        for (let r = 0; r < rows; r += step) {
          const chunk = new Float32Array(Math.min(step, rows - r) * cols);
          for (let i = 0; i < chunk.length; i++) chunk[i] = mean + std * rng.normal();
          yield quantize(stored, chunk);
        }
      },
    });
  };
  const norm = (name: string) => random(name, [o.nEmbd], GGMLType.F32, 0.1, 1);
  const sEmbd = 5 / Math.sqrt(o.nEmbd); // tied logits: std ~5
  random(tensorName.tokenEmbd, [o.nEmbd, nVocab], o.embdType, sEmbd);
  norm(tensorName.outputNorm);
  if (!o.tied) random(tensorName.output, [o.nEmbd, nVocab], o.type, 5 / Math.sqrt(o.nEmbd));
  if (o.ropeFreqs) random(tensorName.ropeFreqs, [headDim / 2], GGMLType.F32, 0.3, 1.5);
  const inScale = 1 / Math.sqrt(o.nEmbd);
  for (let l = 0; l < o.nLayer; l++) {
    norm(tensorName.attnNorm(l));
    // q and k elements ~N(0, 1.5^2) give attention logits of std ~2: neither uniform nor one-hot.
    random(tensorName.attnQ(l), [o.nEmbd, o.nEmbd], o.type, 1.5 * inScale);
    random(tensorName.attnK(l), [o.nEmbd, kvDim], o.type, 1.5 * inScale);
    random(tensorName.attnV(l), [o.nEmbd, kvDim], o.type, inScale);
    // Attention and MLP outputs ~3x the embedding's std (attention mixes shrink v to ~0.7, SwiGLU of
    // unit inputs has std ~0.6).
    random(tensorName.attnOutput(l), [o.nEmbd, o.nEmbd], o.type, (3 / 0.7) * sEmbd * inScale);
    if (arch === 'qwen2' || o.llamaBiases) {
      random(tensorName.attnQBias(l), [o.nEmbd], GGMLType.F32, 0.5);
      random(tensorName.attnKBias(l), [kvDim], GGMLType.F32, 0.5);
      random(tensorName.attnVBias(l), [kvDim], GGMLType.F32, 0.2);
    }
    if (o.llamaBiases) random(tensorName.attnOutputBias(l), [o.nEmbd], GGMLType.F32, 0.2 * sEmbd);
    norm(tensorName.ffnNorm(l));
    random(tensorName.ffnGate(l), [o.nEmbd, o.nFf], o.type, inScale);
    random(tensorName.ffnUp(l), [o.nEmbd, o.nFf], o.type, inScale);
    random(tensorName.ffnDown(l), [o.nFf, o.nEmbd], o.type, (3 / 0.6) * sEmbd / Math.sqrt(o.nFf));
    if (o.llamaBiases) {
      random(tensorName.ffnGateBias(l), [o.nFf], GGMLType.F32, 0.2);
      random(tensorName.ffnUpBias(l), [o.nFf], GGMLType.F32, 0.2);
      random(tensorName.ffnDownBias(l), [o.nEmbd], GGMLType.F32, 0.2 * sEmbd);
    }
  }
  const file: FixtureFile = { metadata, tensors };
  edit?.(file);
  writeGGUF(path, file);
}

/** Path of the cached fixture for these options under .cache/fixtures, written first if missing. */
export function fixtureModel(opts: FixtureOptions, dir = resolve(process.cwd(), '.cache/fixtures')): string {
  const o = fixtureOptions(opts);
  // the vocabulary file's path holds the hash of what it was made from (or llama.cpp's commit)
  const key = createHash('sha256').update(JSON.stringify({ v: FIXTURE_VERSION, ...o, vocabFile: relative(process.cwd(), vocabPath(o.vocab)) })).digest('hex').slice(0, 16);
  const path = join(dir, `${o.arch}-${o.vocab}-${typeName(o.type)}-${key}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  // Write then rename, so a concurrent or interrupted run never sees a partial file.
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFixtureModel(tmp, opts);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return path;
}
