// Model configuration from GGUF metadata, llama.cpp tensor names, and validation of every tensor
// against the configuration. Shared by the reference forward pass and the WebGPU model.
import { GGMLType, SUPPORTED_TYPES, typeName } from '../gguf/ggml.js';
import { GGUF, GGUFError, GGUFTensorInfo, metaArray, metaNumber, metaString } from '../gguf/gguf.js';
import type { Arch, ModelConfig, RopeScaling } from '../gguf/hparams.js';
import { quoted } from '../gguf/quoted.js';

export const SUPPORTED_ARCHS: readonly Arch[] = ['llama', 'qwen2'];

// Bounds keep a hostile header from driving huge allocations before tensor shapes are checked.
const LIMITS = { nLayer: 512, nEmbd: 1 << 16, nHead: 1024, headDim: 1024, nFf: 1 << 18, nVocab: 1 << 22, nCtx: 1 << 24 };

/** The largest context the engine takes (the backends refuse more). */
export const MAX_CTX = LIMITS.nCtx;

/** llama.cpp tensor names. */
export const tensorName = {
  tokenEmbd: 'token_embd.weight',
  outputNorm: 'output_norm.weight',
  output: 'output.weight',
  ropeFreqs: 'rope_freqs.weight',
  attnNorm: (l: number) => `blk.${l}.attn_norm.weight`,
  attnQ: (l: number) => `blk.${l}.attn_q.weight`,
  attnK: (l: number) => `blk.${l}.attn_k.weight`,
  attnV: (l: number) => `blk.${l}.attn_v.weight`,
  attnQBias: (l: number) => `blk.${l}.attn_q.bias`,
  attnKBias: (l: number) => `blk.${l}.attn_k.bias`,
  attnVBias: (l: number) => `blk.${l}.attn_v.bias`,
  attnOutput: (l: number) => `blk.${l}.attn_output.weight`,
  attnOutputBias: (l: number) => `blk.${l}.attn_output.bias`,
  ffnNorm: (l: number) => `blk.${l}.ffn_norm.weight`,
  ffnGate: (l: number) => `blk.${l}.ffn_gate.weight`,
  ffnUp: (l: number) => `blk.${l}.ffn_up.weight`,
  ffnDown: (l: number) => `blk.${l}.ffn_down.weight`,
  ffnGateBias: (l: number) => `blk.${l}.ffn_gate.bias`,
  ffnUpBias: (l: number) => `blk.${l}.ffn_up.bias`,
  ffnDownBias: (l: number) => `blk.${l}.ffn_down.bias`,
};

function count(g: GGUF, key: string, limit: number, def?: number): number {
  const v = metaNumber(g, key, def);
  if (!Number.isInteger(v) || v < 1 || v > limit) throw new GGUFError(g.path, `metadata "${key}" = ${v} must be an integer in 1..${limit}`);
  return v;
}

function positive(g: GGUF, key: string, def?: number): number {
  const v = metaNumber(g, key, def);
  if (!Number.isFinite(v) || v <= 0) throw new GGUFError(g.path, `metadata "${key}" = ${v} must be a positive number`);
  return v;
}

/** Rope scaling as llama.cpp derives it (llama-model.cpp hparams, then llama-context.cpp cparams). */
function loadRopeScaling(g: GGUF, arch: Arch, nCtxTrain: number): RopeScaling {
  const k = (s: string) => `${arch}.rope.scaling.${s}`;
  // llama.cpp reads rope.scaling.factor, falling back to the older rope.scale_linear.
  const factor = g.metadata.has(k('factor')) ? metaNumber(g, k('factor')) : metaNumber(g, `${arch}.rope.scale_linear`, 0);
  if (!Number.isFinite(factor) || factor < 0) throw new GGUFError(g.path, `metadata "${k('factor')}" = ${factor} must be >= 0`);
  const scale = factor === 0 ? 1 : factor;
  // A missing type means linear in llama.cpp, which is a no-op at factor 1.
  const typeStr = metaString(g, k('type'), 'linear');
  if (typeStr !== 'none' && typeStr !== 'linear' && typeStr !== 'yarn') {
    throw new GGUFError(g.path, `rope scaling ${quoted(typeStr)} (${k('type')}) is not supported (supported: none, linear, yarn)`);
  }
  const type = typeStr === 'none' || (typeStr === 'linear' && scale === 1) ? 'none' : typeStr;
  const origCtx = count(g, k('original_context_length'), LIMITS.nCtx, nCtxTrain);
  const betaFast = metaNumber(g, k('yarn_beta_fast'), 32);
  const betaSlow = metaNumber(g, k('yarn_beta_slow'), 1);
  const extMeta = metaNumber(g, k('yarn_ext_factor'), -1);
  const extFactor = extMeta >= 0 ? extMeta : type === 'yarn' ? 1 : 0;
  let attnFactor = metaNumber(g, k('yarn_attn_factor'), 1);
  if (extFactor !== 0) {
    // llama.cpp replaces the attention factor by YaRN's mscale ratio and then cancels the
    // 1 + 0.1 ln(factor) that ggml's rope multiplies in on its own.
    const mscale = (s: number, m: number) => (s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1);
    const logMul = metaNumber(g, k('yarn_log_multiplier'), 0);
    attnFactor = logMul !== 0 ? mscale(scale, 1) / mscale(scale, logMul) : mscale(scale, 1);
    attnFactor *= 1 / (1 + 0.1 * Math.log(scale));
  }
  attnFactor *= metaNumber(g, k('attn_factor'), 1);
  return { type, factor: type === 'none' ? 1 : scale, origCtx, extFactor, attnFactor, betaFast, betaSlow };
}

/** Reads the model configuration; throws a clear error for architectures we do not run. */
export function loadConfig(g: GGUF): ModelConfig {
  const archStr = metaString(g, 'general.architecture');
  if (!(SUPPORTED_ARCHS as readonly string[]).includes(archStr)) {
    throw new GGUFError(g.path, `architecture ${quoted(archStr)} is not supported (supported: ${SUPPORTED_ARCHS.join(', ')})`);
  }
  const arch = archStr as Arch;
  const k = (s: string) => `${arch}.${s}`;
  const nEmbd = count(g, k('embedding_length'), LIMITS.nEmbd);
  const nLayer = count(g, k('block_count'), LIMITS.nLayer);
  const nHead = count(g, k('attention.head_count'), LIMITS.nHead);
  const nHeadKv = count(g, k('attention.head_count_kv'), LIMITS.nHead, nHead);
  if (nHead % nHeadKv !== 0) throw new GGUFError(g.path, `head_count ${nHead} is not a multiple of head_count_kv ${nHeadKv}`);
  if (!g.metadata.has(k('attention.key_length')) && nEmbd % nHead !== 0) {
    throw new GGUFError(g.path, `embedding_length ${nEmbd} is not a multiple of head_count ${nHead}`);
  }
  const headDim = count(g, k('attention.key_length'), LIMITS.headDim, nEmbd / nHead);
  const valueDim = count(g, k('attention.value_length'), LIMITS.headDim, headDim);
  if (valueDim !== headDim) throw new GGUFError(g.path, `attention.key_length ${headDim} != attention.value_length ${valueDim} is not supported`);
  const ropeDim = count(g, k('rope.dimension_count'), LIMITS.headDim, headDim);
  // Both llama.cpp graphs for these archs assert n_rot == head dim.
  if (ropeDim !== headDim) throw new GGUFError(g.path, `rope.dimension_count ${ropeDim} != head dimension ${headDim} is not supported for ${arch}`);
  if (headDim % 2 !== 0) throw new GGUFError(g.path, `head dimension ${headDim} must be even for rope`);
  const nCtxTrain = count(g, k('context_length'), LIMITS.nCtx);
  const nFf = count(g, k('feed_forward_length'), LIMITS.nFf);
  const rmsEps = positive(g, k('attention.layer_norm_rms_epsilon'));
  const ropeFreqBase = positive(g, k('rope.freq_base'), 10000);
  const attnScale = arch === 'llama' && g.metadata.has(k('attention.scale')) ? positive(g, k('attention.scale')) : 1 / Math.sqrt(headDim);

  const embd = g.tensorByName.get(tensorName.tokenEmbd);
  let nVocab: number;
  if (g.metadata.has('tokenizer.ggml.tokens')) nVocab = metaArray(g, 'tokenizer.ggml.tokens').length;
  else if (embd && embd.dims.length === 2) nVocab = embd.dims[1];
  else throw new GGUFError(g.path, `cannot tell the vocabulary size: no tokenizer.ggml.tokens and no 2-D ${tensorName.tokenEmbd}`);
  if (nVocab < 1 || nVocab > LIMITS.nVocab) throw new GGUFError(g.path, `vocabulary size ${nVocab} must be in 1..${LIMITS.nVocab}`);

  const has = (n: string) => g.tensorByName.has(n);
  const fileType = g.metadata.has('general.file_type') ? metaNumber(g, 'general.file_type') : undefined;
  const config: ModelConfig = {
    arch, name: metaString(g, 'general.name', ''), nVocab, nCtxTrain, nEmbd, nLayer, nHead, nHeadKv, headDim, nFf, rmsEps, attnScale,
    ropeNeox: arch === 'qwen2', nRot: ropeDim, ropeFreqBase, ropeScaling: loadRopeScaling(g, arch, nCtxTrain),
    ropeFreqs: arch === 'llama' && has(tensorName.ropeFreqs),
    bias: {
      qkv: arch === 'qwen2' || has(tensorName.attnQBias(0)),
      attnOut: arch === 'llama' && has(tensorName.attnOutputBias(0)),
      ffn: arch === 'llama' && has(tensorName.ffnGateBias(0)),
    },
    tiedEmbeddings: !has(tensorName.output),
    fileType,
  };
  return config;
}

export interface TensorSpec { name: string; dims: number[] }

/** Every tensor the model reads, with its expected ggml dims (dims[0] is the row length). */
export function expectedTensors(c: ModelConfig): TensorSpec[] {
  const q = c.nHead * c.headDim;
  const kv = c.nHeadKv * c.headDim;
  const out: TensorSpec[] = [
    { name: tensorName.tokenEmbd, dims: [c.nEmbd, c.nVocab] },
    { name: tensorName.outputNorm, dims: [c.nEmbd] },
  ];
  if (!c.tiedEmbeddings) out.push({ name: tensorName.output, dims: [c.nEmbd, c.nVocab] });
  if (c.ropeFreqs) out.push({ name: tensorName.ropeFreqs, dims: [c.nRot / 2] });
  for (let l = 0; l < c.nLayer; l++) {
    out.push(
      { name: tensorName.attnNorm(l), dims: [c.nEmbd] },
      { name: tensorName.attnQ(l), dims: [c.nEmbd, q] },
      { name: tensorName.attnK(l), dims: [c.nEmbd, kv] },
      { name: tensorName.attnV(l), dims: [c.nEmbd, kv] },
      { name: tensorName.attnOutput(l), dims: [q, c.nEmbd] },
      { name: tensorName.ffnNorm(l), dims: [c.nEmbd] },
      { name: tensorName.ffnGate(l), dims: [c.nEmbd, c.nFf] },
      { name: tensorName.ffnUp(l), dims: [c.nEmbd, c.nFf] },
      { name: tensorName.ffnDown(l), dims: [c.nFf, c.nEmbd] },
    );
    if (c.bias.qkv) {
      out.push({ name: tensorName.attnQBias(l), dims: [q] }, { name: tensorName.attnKBias(l), dims: [kv] }, { name: tensorName.attnVBias(l), dims: [kv] });
    }
    if (c.bias.attnOut) out.push({ name: tensorName.attnOutputBias(l), dims: [c.nEmbd] });
    if (c.bias.ffn) {
      out.push({ name: tensorName.ffnGateBias(l), dims: [c.nFf] }, { name: tensorName.ffnUpBias(l), dims: [c.nFf] }, { name: tensorName.ffnDownBias(l), dims: [c.nEmbd] });
    }
  }
  return out;
}

/**
 * Checks that the file holds exactly the tensors the config needs, with the right shapes and a type
 * we can compute with. Returns them by name. Like llama.cpp, a tensor the model would not use is an
 * error: it usually means a different architecture variant.
 */
export function validateTensors(g: GGUF, c: ModelConfig): Map<string, GGUFTensorInfo> {
  const specs = expectedTensors(c);
  const found = new Map<string, GGUFTensorInfo>();
  for (const s of specs) {
    const t = g.tensorByName.get(s.name);
    if (!t) throw new GGUFError(g.path, `tensor "${s.name}" is missing (${c.arch}, ${c.nLayer} layers)`);
    const want = s.dims.join(' x ');
    if (t.dims.length !== s.dims.length || t.dims.some((d, i) => d !== s.dims[i])) {
      throw new GGUFError(g.path, `tensor "${s.name}" has shape ${t.dims.join(' x ')}, expected ${want} from the metadata`);
    }
    if (!SUPPORTED_TYPES.has(t.type)) {
      throw new GGUFError(g.path, `tensor "${s.name}" has type ${typeName(t.type)}, which is not supported (supported: ${[...SUPPORTED_TYPES].map(typeName).join(', ')})`);
    }
    if (s.name === tensorName.ropeFreqs && t.type !== GGMLType.F32) {
      throw new GGUFError(g.path, `tensor "${s.name}" must be F32, got ${typeName(t.type)}`);
    }
    found.set(s.name, t);
  }
  if (g.tensors.length !== found.size) {
    const extra = g.tensors.filter((t) => !found.has(t.name)).map((t) => t.name);
    const shown = extra.slice(0, 5).map((n) => quoted(n)).join(', ') + (extra.length > 5 ? `, ... (${extra.length} in all)` : '');
    throw new GGUFError(g.path, `unexpected tensor(s) ${shown} for a ${c.arch} model with this metadata`);
  }
  return found;
}
