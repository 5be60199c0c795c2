// Tiny, complete GGUF models written without shared/vocab: a seven-token byte-level BPE vocabulary
// (with or without the FIM tokens), an optional chat template, and zero-filled weights of a valid
// qwen2 or llama shape. For tests of what reads headers (discovery, the fit check, downloads).
import { GGMLType, typeTraits } from '../../engine/gguf/ggml.js';
import { GGUFValueType } from '../../engine/gguf/gguf.js';
import { writeGGUF, type GGUFMetaEntry, type GGUFWriteTensor } from '../../engine/gguf/gguf-writer.js';
import type { ModelConfig } from '../../engine/gguf/hparams.js';
import { expectedTensors } from '../../engine/model/model.js';

export interface TinyModelOptions {
  name?: string;
  arch?: 'qwen2' | 'llama';
  /** Type of every matrix (default F32). */
  type?: GGMLType;
  /** general.file_type to record (default: none). */
  fileType?: number;
  fim?: boolean;
  chatTemplate?: string;
  nCtxTrain?: number;
  nLayer?: number;
  nEmbd?: number;
  nHead?: number;
  nHeadKv?: number;
  nFf?: number;
}

export function writeTinyModel(path: string, o: TinyModelOptions = {}): void {
  const arch = o.arch ?? 'qwen2';
  const nEmbd = o.nEmbd ?? 32, nHead = o.nHead ?? 2, nHeadKv = o.nHeadKv ?? 1, nFf = o.nFf ?? 64, nLayer = o.nLayer ?? 1;
  const headDim = nEmbd / nHead;
  const tokens = ['a', 'b', 'ab', '<|endoftext|>', ...(o.fim === false ? ['<|x|>', '<|y|>', '<|z|>'] : ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'])];
  const u32 = (key: string, value: number): GGUFMetaEntry => ({ key, type: GGUFValueType.UINT32, value });
  const str = (key: string, value: string): GGUFMetaEntry => ({ key, type: GGUFValueType.STRING, value });
  const metadata: GGUFMetaEntry[] = [
    str('general.architecture', arch),
    str('general.name', o.name ?? `tiny-${arch}`),
    u32(`${arch}.context_length`, o.nCtxTrain ?? 4096),
    u32(`${arch}.embedding_length`, nEmbd),
    u32(`${arch}.block_count`, nLayer),
    u32(`${arch}.feed_forward_length`, nFf),
    u32(`${arch}.attention.head_count`, nHead),
    u32(`${arch}.attention.head_count_kv`, nHeadKv),
    { key: `${arch}.attention.layer_norm_rms_epsilon`, type: GGUFValueType.FLOAT32, value: 1e-6 },
    str('tokenizer.ggml.model', 'gpt2'),
    str('tokenizer.ggml.pre', 'qwen2'),
    { key: 'tokenizer.ggml.tokens', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT32, value: Int32Array.from(tokens, (t) => (t.startsWith('<|') ? 3 : 1)) },
    { key: 'tokenizer.ggml.merges', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: ['a b'] },
  ];
  if (o.fileType !== undefined) metadata.push(u32('general.file_type', o.fileType));
  if (o.chatTemplate !== undefined) metadata.push(str('tokenizer.chat_template', o.chatTemplate));
  const shape = {
    arch, nVocab: tokens.length, nEmbd, nLayer, nHead, nHeadKv, headDim, nFf, nRot: headDim, tiedEmbeddings: true, ropeFreqs: false,
    bias: { qkv: arch === 'qwen2', attnOut: false, ffn: false },
  } as ModelConfig;
  const tensors: GGUFWriteTensor[] = expectedTensors(shape).map((s) => {
    const type = s.dims.length === 1 ? GGMLType.F32 : (o.type ?? GGMLType.F32);
    const t = typeTraits(type)!;
    const n = s.dims.reduce((a, b) => a * b, 1);
    return { name: s.name, dims: s.dims, type, data: new Uint8Array((n / t.blockSize) * t.typeSize) };
  });
  writeGGUF(path, { metadata, tensors });
}
