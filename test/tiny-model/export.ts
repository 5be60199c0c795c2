// Writes the demonstration model's GGUF files from what train.py left in .cache/tiny-model
// (manifest.json, weights.f32, tokenizer.json), with llama.cpp's metadata names: F16 and Q8_0 into
// test/tiny-model/ (committed), or any types into --out.
//   node export.mjs [--from DIR] [--out DIR] [--types f16,q8_0,f32]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GGMLType } from '../../engine/gguf/ggml.js';
import { GGUFValueType } from '../../engine/gguf/gguf.js';
import { GGUFMetaEntry, GGUFWriteTensor, writeGGUF } from '../../engine/gguf/gguf-writer.js';
import { quantize } from '../../engine/gguf/quant.js';

interface Manifest {
  config: { vocab: number; n_embd: number; n_layer: number; n_head: number; n_head_kv: number; n_ff: number; n_ctx: number; rope_base: number; rms_eps: number };
  tensors: { name: string; dims: number[]; offset: number }[];
  special: Record<string, number>;
}

interface HfTokenizer {
  added_tokens: { id: number; content: string; special: boolean }[];
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
}

/** ChatML, as Qwen2.5-Coder's template lays a conversation out (without its tool calling). */
export const CHAT_TEMPLATE =
  "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}" +
  "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

const TYPES: Record<string, { type: GGMLType; fileType: number; file: string }> = {
  f32: { type: GGMLType.F32, fileType: 0, file: 'tiny-code-f32.gguf' },
  f16: { type: GGMLType.F16, fileType: 1, file: 'tiny-code-f16.gguf' },
  q8_0: { type: GGMLType.Q8_0, fileType: 7, file: 'tiny-code-q8_0.gguf' },
};

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  if (v === undefined) throw new Error(`export: --${name} needs a value`);
  return v;
}

const from = resolve(flag('from', '.cache/tiny-model'));
const out = resolve(flag('out', 'test/tiny-model'));
const manifest = JSON.parse(readFileSync(join(from, 'manifest.json'), 'utf8')) as Manifest;
const hf = JSON.parse(readFileSync(join(from, 'tokenizer.json'), 'utf8')) as HfTokenizer;
const weights = readFileSync(join(from, 'weights.f32'));
const c = manifest.config;

if (hf.model.type !== 'BPE') throw new Error(`export: ${from}/tokenizer.json is a ${hf.model.type} model, expected BPE`);
const tokens: string[] = new Array(c.vocab);
for (const [text, id] of Object.entries(hf.model.vocab)) tokens[id] = text;
for (let i = 0; i < c.vocab; i++) if (tokens[i] === undefined) throw new Error(`export: tokenizer.json has no token ${i} of ${c.vocab}`);
const CONTROL = 3, NORMAL = 1; // llama_token_type
const special = new Set(hf.added_tokens.filter((t) => t.special).map((t) => t.id));
const tokenType = Int32Array.from(tokens, (_, i) => (special.has(i) ? CONTROL : NORMAL));
const merges = hf.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
const id = (text: string) => {
  const v = manifest.special[text];
  if (v === undefined) throw new Error(`export: the manifest names no id for ${text}`);
  return v;
};

const u32 = (key: string, value: number): GGUFMetaEntry => ({ key, type: GGUFValueType.UINT32, value });
const f32 = (key: string, value: number): GGUFMetaEntry => ({ key, type: GGUFValueType.FLOAT32, value });
const str = (key: string, value: string): GGUFMetaEntry => ({ key, type: GGUFValueType.STRING, value });
const bool = (key: string, value: boolean): GGUFMetaEntry => ({ key, type: GGUFValueType.BOOL, value });

for (const name of flag('types', 'f16,q8_0').split(',')) {
  const t = TYPES[name];
  if (!t) throw new Error(`export: --types: unknown type "${name}" (known: ${Object.keys(TYPES).join(', ')})`);
  const metadata: GGUFMetaEntry[] = [
    str('general.architecture', 'llama'),
    str('general.name', 'Hearth tiny code (demonstration)'),
    str('general.description', "A demonstration model trained by Hearth's test/tiny-model/train.py; not a useful code model"),
    u32('general.file_type', t.fileType),
    u32('llama.context_length', c.n_ctx),
    u32('llama.embedding_length', c.n_embd),
    u32('llama.block_count', c.n_layer),
    u32('llama.feed_forward_length', c.n_ff),
    u32('llama.attention.head_count', c.n_head),
    u32('llama.attention.head_count_kv', c.n_head_kv),
    f32('llama.attention.layer_norm_rms_epsilon', c.rms_eps),
    f32('llama.rope.freq_base', c.rope_base),
    u32('llama.rope.dimension_count', c.n_embd / c.n_head),
    u32('llama.vocab_size', c.vocab),
    str('tokenizer.ggml.model', 'gpt2'),
    str('tokenizer.ggml.pre', 'gpt-2'),
    { key: 'tokenizer.ggml.tokens', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT32, value: tokenType },
    { key: 'tokenizer.ggml.merges', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: merges },
    u32('tokenizer.ggml.bos_token_id', id('<|endoftext|>')),
    u32('tokenizer.ggml.eos_token_id', id('<|endoftext|>')),
    u32('tokenizer.ggml.padding_token_id', id('<|endoftext|>')),
    u32('tokenizer.ggml.eot_token_id', id('<|im_end|>')),
    u32('tokenizer.ggml.fim_pre_token_id', id('<|fim_prefix|>')),
    u32('tokenizer.ggml.fim_suf_token_id', id('<|fim_suffix|>')),
    u32('tokenizer.ggml.fim_mid_token_id', id('<|fim_middle|>')),
    u32('tokenizer.ggml.fim_sep_token_id', id('<|file_sep|>')),
    bool('tokenizer.ggml.add_bos_token', false),
    bool('tokenizer.ggml.add_eos_token', false),
    str('tokenizer.chat_template', CHAT_TEMPLATE),
  ];
  if (t.type !== GGMLType.F32 && t.type !== GGMLType.F16) metadata.push(u32('general.quantization_version', 2));

  const tensors: GGUFWriteTensor[] = manifest.tensors.map((m) => {
    const n = m.dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(weights.buffer, weights.byteOffset + m.offset, n).slice();
    // Norm weights stay F32, as llama.cpp stores every 1-D tensor.
    const type = m.dims.length === 1 ? GGMLType.F32 : t.type;
    return { name: m.name, dims: m.dims, type, data: quantize(type, data) };
  });
  const path = join(out, t.file);
  writeGGUF(path, { metadata, tensors });
  console.log(`wrote ${path}`);
}
