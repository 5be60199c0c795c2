// Tokenizers built from GGUF metadata, matching llama.cpp's llama_tokenize / llama_detokenize token
// for token: SentencePiece-style (tokenizer.ggml.model = "llama": bigram merges by score, byte
// fallback, U+2581 for spaces) and byte-level BPE ("gpt2": ranked merges over a pre-tokenizer's
// words). Special tokens are taken from the text only when asked, except user-defined ones, which
// llama.cpp always splits out first.
import { GGUF, GGUFError } from '../gguf/gguf.js';
import { quoted } from '../gguf/quoted.js';
import { mergeSymbols } from './merge-queue.js';
import { PreTokenizer, PreTokenizerConfig, preTokenizerConfig } from './pretokenizer.js';
import { BYTE_TO_CHAR, CHAR_TO_BYTE, pushUtf8, utf8Bytes, utf8Decode } from './unicode.js';

// llama_token_attr bits.
const ATTR_UNKNOWN = 1 << 0;
const ATTR_UNUSED = 1 << 1;
const ATTR_NORMAL = 1 << 2;
const ATTR_CONTROL = 1 << 3;
const ATTR_USER_DEFINED = 1 << 4;
const ATTR_BYTE = 1 << 5;
const ATTR_LSTRIP = 1 << 7;
const ATTR_RSTRIP = 1 << 8;
// tokenizer.ggml.token_type values (llama_token_type) -> attributes; other values are "undefined" (0).
const TYPE_ATTR = [0, ATTR_NORMAL, ATTR_UNKNOWN, ATTR_CONTROL, ATTR_USER_DEFINED, ATTR_UNUSED, ATTR_BYTE];

const SPACE_MARK = '\u2581';

export interface EncodeOptions {
  /** Prepend BOS (pass `tokenizer.addBos` to follow the model). Default false. */
  addBos?: boolean;
  /** Turn control-token text such as "<|fim_prefix|>" into that token. Default false. */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control tokens as their text instead of nothing. Default false. */
  special?: boolean;
}

export interface FimTokens { pre?: number; suf?: number; mid?: number; pad?: number; rep?: number; sep?: number }

// Token texts llama.cpp recognises when the metadata names no id (llama_vocab::impl::load).
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>',
  '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_TEXTS: Record<keyof FimTokens, string[]> = {
  pre: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  suf: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  mid: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  sep: ['<|file_sep|>'],
};
const FIM_KINDS = ['pre', 'suf', 'mid', 'pad', 'rep', 'sep'] as const;
// Metadata keys (after "tokenizer.ggml.") of special ids, in llama.cpp's order: the deprecated
// prefix/suffix/middle keys come last and win.
const SPECIAL_ID_KEYS: [string, string][] = [
  ['bos_token_id', 'bos'], ['eos_token_id', 'eos'], ['eot_token_id', 'eot'], ['eom_token_id', 'eom'],
  ['unknown_token_id', 'unk'], ['seperator_token_id', 'sep'], ['padding_token_id', 'pad'], ['mask_token_id', 'mask'],
  ...FIM_KINDS.map((k): [string, string] => [`fim_${k}_token_id`, `fim_${k}`]),
  ['prefix_token_id', 'fim_pre'], ['suffix_token_id', 'fim_suf'], ['middle_token_id', 'fim_mid'],
];
const EOG_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>',
  '<end_of_turn>', '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>',
  '<end_of_utterance>', '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~['];

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu;
/** What the text becomes on its way into llama.cpp as UTF-8: lone surrogates turn into U+FFFD. */
function wellFormed(text: string): string {
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text;
}

/** C isspace() in the "C" locale. */
function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

type Fragment = string | number;

function vocabError(g: GGUF, msg: string): never {
  throw new GGUFError(g.path, msg);
}

export class Tokenizer {
  /** 'spm' for tokenizer.ggml.model "llama", 'bpe' for "gpt2". */
  readonly kind: 'spm' | 'bpe';
  /** tokenizer.ggml.pre ('default' when absent) for BPE, undefined for SPM. */
  readonly pre?: string;
  readonly nVocab: number;
  readonly bos?: number;
  readonly eos?: number;
  readonly eot?: number;
  readonly eom?: number;
  readonly unk?: number;
  readonly pad?: number;
  readonly fim: Readonly<FimTokens>;
  /** Whether llama.cpp adds BOS to a prompt (add_special) for this model. */
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** The end-of-generation set (llama.cpp special_eog_ids), ascending. */
  readonly eogIds: readonly number[];

  private readonly texts: string[];
  private readonly ids = new Map<string, number>();
  private readonly scores?: Float32Array;
  private readonly attrs: Uint16Array;
  private readonly eog: Set<number>;
  /** Tokens split out of text before tokenizing, longest first. */
  private readonly specials: number[];
  private readonly addSpacePrefix: boolean;
  private readonly cleanSpaces: boolean;
  private readonly escapeWhitespaces: boolean;
  private readonly bpe?: { cfg: PreTokenizerConfig; pre: PreTokenizer; ranks: Map<string, number> };
  private readonly pieceCache: (Uint8Array | undefined)[];
  private readonly wordCache = new Map<string, number[]>();

  private constructor(g: GGUF) {
    const fail = (msg: string): never => vocabError(g, msg);
    const meta = (key: string) => g.metadata.get(key);
    const bool = (key: string): boolean | undefined => {
      const v = meta(key);
      if (v !== undefined && typeof v !== 'boolean') fail(`metadata "${key}" should be a bool`);
      return v as boolean | undefined;
    };

    const model = meta('tokenizer.ggml.model');
    if (model === undefined) vocabError(g, 'missing metadata "tokenizer.ggml.model": the file has no tokenizer');
    const preName = meta('tokenizer.ggml.pre');
    if (preName !== undefined && typeof preName !== 'string') fail('metadata "tokenizer.ggml.pre" should be a string');

    let bos: number | undefined;
    let eos: number | undefined;
    let unk: number | undefined;
    let addBos: boolean;
    let addEos = false;
    let addSpacePrefix: boolean;
    let cfg: PreTokenizerConfig | undefined;
    if (model === 'llama') {
      this.kind = 'spm';
      [bos, eos, unk] = [1, 2, 0];
      addSpacePrefix = true;
      addBos = true;
      this.cleanSpaces = false;
      this.escapeWhitespaces = true;
    } else if (model === 'gpt2') {
      this.kind = 'bpe';
      this.pre = (preName as string | undefined) ?? 'default';
      cfg = preTokenizerConfig(this.pre) ?? fail(`unknown pre-tokenizer type ${quoted(this.pre)} (tokenizer.ggml.pre)`);
      [bos, eos] = cfg.noDefaultBos ? [undefined, 11] : [11, 11];
      addSpacePrefix = false;
      addBos = cfg.addBos;
      this.cleanSpaces = cfg.cleanSpaces;
      this.escapeWhitespaces = cfg.escapeWhitespaces;
    } else {
      vocabError(g, `unsupported tokenizer.ggml.model ${typeof model === 'string' ? quoted(model) : `of type ${typeof model}`} (supported: "llama" for SentencePiece, "gpt2" for byte-level BPE)`);
    }
    addSpacePrefix = bool('tokenizer.ggml.add_space_prefix') ?? addSpacePrefix;
    this.addSpacePrefix = addSpacePrefix;

    // vocabulary
    const tokens = meta('tokenizer.ggml.tokens');
    if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string')) {
      fail(tokens === undefined ? 'missing metadata "tokenizer.ggml.tokens"' : 'metadata "tokenizer.ggml.tokens" should be an array of strings');
    }
    const n = (tokens as string[]).length;
    if (n === 0) fail('metadata "tokenizer.ggml.tokens" is empty');
    this.nVocab = n;
    this.texts = (tokens as string[]).map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
    for (let i = 0; i < n; i++) this.ids.set(this.texts[i], i); // a repeated text maps to its last id

    const scores = meta('tokenizer.ggml.scores');
    if (scores !== undefined) {
      if (!(scores instanceof Float32Array || scores instanceof Int32Array)) fail('metadata "tokenizer.ggml.scores" should be an array of float32 or int32');
      const s = scores as Float32Array | Int32Array;
      if (s.length < n) fail(`metadata "tokenizer.ggml.scores" has ${s.length} entries for ${n} tokens`);
      this.scores = s instanceof Float32Array ? s : Float32Array.from(s.subarray(0, n));
    }
    this.attrs = new Uint16Array(n).fill(ATTR_NORMAL);
    const types = meta('tokenizer.ggml.token_type');
    if (types !== undefined) {
      if (!(types instanceof Int32Array)) fail('metadata "tokenizer.ggml.token_type" should be an array of int32');
      const t = types as Int32Array;
      if (t.length < n) fail(`metadata "tokenizer.ggml.token_type" has ${t.length} entries for ${n} tokens`);
      for (let i = 0; i < n; i++) this.attrs[i] = TYPE_ATTR[t[i]] ?? 0;
    }

    if (this.kind === 'bpe') {
      const merges = meta('tokenizer.ggml.merges');
      const ranks = new Map<string, number>();
      if (merges === undefined) {
        if (this.pre !== 'kimi-k2') fail('missing metadata "tokenizer.ggml.merges" for a BPE tokenizer');
      } else {
        if (!Array.isArray(merges) || merges.some((m) => typeof m !== 'string')) fail('metadata "tokenizer.ggml.merges" should be an array of strings');
        (merges as string[]).forEach((m, i) => {
          // "left right", split at the first space after the first character; the first rank wins
          const sp = m.indexOf(' ', 1);
          if (sp >= 0 && !ranks.has(m)) ranks.set(m, i);
        });
      }
      this.bpe = { cfg: cfg!, pre: new PreTokenizer(cfg!.regexes), ranks };
    }

    // special token ids: defaults, then metadata; out-of-range ids fall back as llama.cpp does
    const sp: Record<string, number | undefined> = { bos, eos, unk };
    for (const [key, slot] of SPECIAL_ID_KEYS) {
      const def = sp[slot];
      if (def !== undefined && def >= n) sp[slot] = undefined;
      const v = meta(`tokenizer.ggml.${key}`);
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(`metadata "tokenizer.ggml.${key}" should be an integer token id`);
      if ((v as number) >= 0 && (v as number) < n) sp[slot] = v as number;
    }
    addBos = bool('tokenizer.ggml.add_bos_token') ?? addBos;
    addEos = bool('tokenizer.ggml.add_eos_token') ?? addEos;
    if (cfg?.gemma4) addBos = true;

    // ids named by well-known texts, when the metadata does not give them. With several candidates
    // llama.cpp takes the first in its hash map's order; we take the first listed, which agrees with
    // it on Qwen 2 ("<|im_end|>" over "<|endoftext|>") and is the pick those lists intend.
    const findByText = (texts: readonly string[]): number | undefined => {
      for (const t of texts) {
        const id = this.ids.get(t);
        if (id === undefined) continue;
        this.attrs[id] |= ATTR_CONTROL;
        return id;
      }
      return undefined;
    };
    sp.eot ??= findByText(EOT_TEXTS);
    sp.eom ??= findByText(EOM_TEXTS);
    const fim: FimTokens = {};
    for (const k of FIM_KINDS) fim[k] = sp[`fim_${k}`] ?? findByText(FIM_TEXTS[k]);

    for (let i = 0; i < n; i++) {
      if ((this.attrs[i] & (ATTR_CONTROL | ATTR_UNUSED)) === ATTR_CONTROL && this.texts[i].includes('unused')) this.attrs[i] |= ATTR_UNUSED;
    }

    const eog = new Set<number>();
    for (const id of [fim.pad, fim.rep, fim.sep]) if (id !== undefined) eog.add(id);
    for (const t of EOG_TEXTS) {
      const i = this.ids.get(t);
      if (i === undefined) continue;
      eog.add(i);
      this.attrs[i] |= ATTR_CONTROL;
    }
    // gpt-oss: these always render
    for (const t of ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']) {
      const i = this.ids.get(t);
      if (i !== undefined) this.attrs[i] = ATTR_USER_DEFINED;
    }
    for (const id of [sp.eos, sp.eot, sp.eom]) if (id !== undefined) eog.add(id);
    const eogWith = (t: string) => [...eog].find((i) => this.texts[i] === t);
    // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation
    const end = eogWith('<|end|>');
    const call = eogWith('<|call|>') ?? eogWith('<|calls|>');
    if (end !== undefined && call !== undefined && (eogWith('<|return|>') !== undefined || eogWith('<|flush|>') !== undefined)) {
      eog.delete(end);
      this.attrs[end] = ATTR_USER_DEFINED;
    }
    // gemma4 / paddleocr: "</s>" is not an end of generation next to "<|tool_response>"
    const s = eogWith('</s>');
    if (s !== undefined && eogWith('<|tool_response>') !== undefined) {
      eog.delete(s);
      this.attrs[s] = ATTR_NORMAL;
    }
    this.eog = eog;
    this.eogIds = [...eog].sort((a, b) => a - b);

    const specials: number[] = [];
    for (let i = 0; i < n; i++) if (this.attrs[i] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) specials.push(i);
    // longest (in bytes) first; llama.cpp's std::sort leaves equal lengths in an unspecified order,
    // which only matters for overlapping special texts of the same length
    const byteLen = new Map(specials.map((i) => [i, Buffer.byteLength(this.texts[i])]));
    this.specials = specials.sort((a, b) => byteLen.get(b)! - byteLen.get(a)! || a - b);

    // per-model strip attributes, keyed on names as llama.cpp does
    const name = String(meta('general.name') ?? '').toLowerCase();
    const arch = String(meta('general.architecture') ?? '');
    const pre = typeof preName === 'string' ? preName : '';
    const setAttr = (text: string, attr: number, on: boolean) => {
      const i = this.ids.get(text);
      if (i !== undefined) this.attrs[i] = on ? this.attrs[i] | attr : this.attrs[i] & ~attr;
    };
    if (['jina-v2-de', 'jina-v2-es', 'jina-v2-code'].some((x) => pre.includes(x)) || ['nomic-bert-moe', 'jina-bert-v3'].some((x) => arch.includes(x))) {
      setAttr('<mask>', ATTR_LSTRIP, true);
    } else if (name.includes('phi-3') || name.includes('phi3')) {
      for (const i of this.specials) this.attrs[i] |= ATTR_RSTRIP;
      setAttr('</s>', ATTR_RSTRIP, true);
      for (const t of ['<unk>', '<s>', '<|endoftext|>']) setAttr(t, ATTR_RSTRIP, false);
    } else if (name.includes('modern-bert')) {
      setAttr('[MASK]', ATTR_LSTRIP, true);
    }

    this.bos = sp.bos;
    this.eos = sp.eos;
    this.eot = sp.eot;
    this.eom = sp.eom;
    this.unk = sp.unk;
    this.pad = sp.pad;
    this.fim = fim;
    this.addBos = addBos;
    this.addEos = addEos;
    this.pieceCache = new Array(n);
  }

  static fromGGUF(g: GGUF): Tokenizer {
    return new Tokenizer(g);
  }

  /** The token's text as stored in the vocabulary. */
  tokenText(id: number): string {
    this.check(id);
    return this.texts[id];
  }

  /** The id of a token with exactly this vocabulary text. */
  tokenId(text: string): number | undefined {
    return this.ids.get(text);
  }

  isEog(id: number): boolean {
    return this.eog.has(id);
  }

  /** Control tokens (BOS, EOS, FIM markers, ...) render as nothing unless asked. */
  isControl(id: number): boolean {
    this.check(id);
    return (this.attrs[id] & ATTR_CONTROL) !== 0;
  }

  /** Text -> token ids, as llama_tokenize(text, add_special = false, parse_special), after BOS if `addBos`. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addBos) {
      if (this.bos === undefined) throw new Error('tokenizer: addBos requested but the model has no BOS token');
      out.push(this.bos);
    }
    if (text === '') return out;
    const fragments = this.partition(wellFormed(text), opts.parseSpecial ?? false);
    if (this.kind === 'spm') {
      let afterSpecial = true; // the first fragment gets the space prefix too
      for (const f of fragments) {
        if (typeof f === 'number') { out.push(f); afterSpecial = true; continue; }
        const t = (this.addSpacePrefix && afterSpecial ? ' ' : '') + f;
        this.encodeSpm(t.replaceAll(' ', SPACE_MARK), out);
        afterSpecial = false;
      }
    } else {
      for (const f of fragments) {
        if (typeof f === 'number') out.push(f);
        else this.encodeBpe(this.escapeWhitespaces ? f.replaceAll(' ', SPACE_MARK) : f, out);
      }
    }
    return out;
  }

  /** Token ids -> text, as llama_detokenize(remove_special = false, unparse_special = special). */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const special = opts.special ?? false;
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const p = this.tokenPiece(ids[i], special);
      // the SPM space prefix comes off the first token only
      const skip = i === 0 && this.addSpacePrefix && p[0] === 0x20 ? 1 : 0;
      for (let j = skip; j < p.length; j++) bytes.push(p[j]);
    }
    const buf = Uint8Array.from(bytes);
    const len = this.cleanSpaces ? cleanUpSpaces(buf) : buf.length;
    return utf8Decode(buf.subarray(0, len));
  }

  /** The bytes a token stands for (llama_token_to_piece); may be part of a UTF-8 character. */
  tokenPiece(id: number, special = false): Uint8Array {
    this.check(id);
    if (!special && this.attrs[id] & (ATTR_UNKNOWN | ATTR_CONTROL)) return EMPTY;
    return (this.pieceCache[id] ??= this.piece(id));
  }

  private check(id: number) {
    if (!Number.isInteger(id) || id < 0 || id >= this.nVocab) throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.nVocab - 1})`);
  }

  private piece(id: number): Uint8Array {
    const a = this.attrs[id];
    const text = this.texts[id];
    if (a & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) return utf8Bytes(text);
    if (a & ATTR_NORMAL) {
      if (this.kind === 'spm' || this.escapeWhitespaces) return utf8Bytes(text.replaceAll(SPACE_MARK, ' '));
      return decodeByteLevel(text);
    }
    if (a & ATTR_BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16) || 0);
    return EMPTY;
  }

  /** Splits special-token text out of `text`, one special token at a time, longest first. */
  private partition(text: string, parseSpecial: boolean): Fragment[] {
    let frags: Fragment[] = [text];
    for (const id of this.specials) {
      const attr = this.attrs[id];
      // user-defined tokens are split out even when special text is not parsed
      if (!parseSpecial && attr & (ATTR_CONTROL | ATTR_UNKNOWN)) continue;
      const tt = this.texts[id];
      if (!frags.some((f) => typeof f === 'string' && f.includes(tt))) continue;
      const next: Fragment[] = [];
      for (const f of frags) {
        if (typeof f !== 'string') { next.push(f); continue; }
        let rest = f;
        for (;;) {
          const at = rest.indexOf(tt);
          if (at < 0) { if (rest) next.push(rest); break; }
          let left = at;
          if (attr & ATTR_LSTRIP) while (left > 0 && isCSpace(rest.charCodeAt(left - 1))) left--;
          if (left > 0) next.push(rest.slice(0, left));
          next.push(id);
          let right = at + tt.length;
          if (attr & ATTR_RSTRIP) while (right < rest.length && isCSpace(rest.charCodeAt(right))) right++;
          rest = rest.slice(right);
          if (!rest) break;
        }
      }
      frags = next;
    }
    return frags;
  }

  private encodeSpm(text: string, out: number[]) {
    const scores = this.scores;
    // Highest score first: the priority is the joined token's negated score.
    const bounds = mergeSymbols(text, (start, _mid, end) => {
      const id = this.ids.get(text.slice(start, end));
      return id === undefined ? undefined : scores ? -scores[id] : 0;
    });
    for (let k = 0; k + 1 < bounds.length; k++) {
      const sym = text.slice(bounds[k], bounds[k + 1]);
      const id = this.ids.get(sym);
      if (id !== undefined) { out.push(id); continue; }
      for (const b of utf8Bytes(sym)) out.push(this.spmByteToken(b));
    }
  }

  private spmByteToken(b: number): number {
    const id = this.ids.get(`<0x${hex2(b)}>`) ?? (b < 0x80 ? this.ids.get(String.fromCharCode(b)) : undefined);
    if (id === undefined) throw new Error(`tokenizer: the vocabulary has no token for byte 0x${hex2(b)} (<0x${hex2(b)}>)`);
    return id;
  }

  private encodeBpe(text: string, out: number[]) {
    const { pre } = this.bpe!;
    for (const word of pre.split(text)) {
      let ids = this.wordCache.get(word);
      if (!ids) {
        ids = this.bpeWord(word);
        if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
        if (word.length <= WORD_CACHE_MAX_CHARS) this.wordCache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  private bpeWord(word: string): number[] {
    const { cfg, ranks } = this.bpe!;
    // Byte-level BPE works on the word's UTF-8 bytes, each as its one-unit GPT-2 character.
    const text = cfg.byteEncode ? byteChars(word) : word;
    if (cfg.ignoreMerges || (cfg.gemma4 && /^\n+$/.test(word))) {
      const id = this.ids.get(text);
      if (id !== undefined) return [id];
    }
    const bounds = mergeSymbols(text, (start, mid, end) => ranks.get(`${text.slice(start, mid)} ${text.slice(mid, end)}`));
    const ids: number[] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const sym = text.slice(bounds[k], bounds[k + 1]);
      const id = this.ids.get(sym);
      if (id !== undefined) { ids.push(id); continue; }
      // no token: fall back to single bytes of the symbol's UTF-8, dropping any the vocabulary lacks
      for (const b of utf8Bytes(sym)) {
        const bt = cfg.byteEncode ? (b < 0x80 ? this.ids.get(String.fromCharCode(b)) : undefined) : this.ids.get(`<0x${hex2(b)}>`);
        if (bt !== undefined) ids.push(bt);
      }
    }
    return ids;
  }
}

const EMPTY = new Uint8Array(0);

const BYTE_CODE = Uint16Array.from(BYTE_TO_CHAR, (c) => c.charCodeAt(0));
const UTF16 = new TextDecoder('utf-16le');

/** The GPT-2 characters of a string's UTF-8 bytes, one code unit each. */
function byteChars(word: string): string {
  const bytes = utf8Bytes(word);
  const units = new Uint16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) units[i] = BYTE_CODE[bytes[i]];
  return UTF16.decode(units);
}
const WORD_CACHE_LIMIT = 1 << 16;
/** Longer words are not cached: they seldom repeat, and a huge one would stay in memory. */
const WORD_CACHE_MAX_CHARS = 256;

/** A byte-level BPE token's bytes; a char outside GPT-2's alphabet becomes llama.cpp's [UNK_BYTE_..] text. */
function decodeByteLevel(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = CHAR_TO_BYTE.get(cp);
    if (b !== undefined) { out.push(b); continue; }
    const u: number[] = [];
    pushUtf8(cp, u);
    for (const c of utf8Bytes(`[UNK_BYTE_0x${u.map((x) => x.toString(16).padStart(2, '0')).join('')}${text}]`)) out.push(c);
  }
  return Uint8Array.from(out);
}

/**
 * clean_up_tokenization_spaces, done in place exactly as llama_detokenize does it (including its
 * quirks); returns the new length.
 */
function cleanUpSpaces(t: Uint8Array): number {
  const SP = 0x20, AP = 0x27;
  const ch = (s: string) => s.charCodeAt(0);
  let total = t.length;
  // " ?", " !", " .", " ,"
  const total1 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total1; i++) {
    const x = t[i];
    if (t[i - 1] === SP && (x === ch('?') || x === ch('!') || x === ch('.') || x === ch(','))) total--;
    t[total++] = x;
  }
  // " ' "
  const total2 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total2; i++) {
    const x = t[i];
    if (x === AP && i + 1 < total2 && t[i - 1] === SP && t[i + 1] === SP) {
      total--;
      t[++i] = 0;
    }
    t[total++] = x;
  }
  // " 's", " 'm", " 're", " 've"
  const total3 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total3; i++) {
    const x = t[i];
    if (t[i - 1] === SP && x === AP && i + 1 < total3) {
      const x1 = t[i + 1];
      if (x1 === ch('s') || x1 === ch('m')) total--;
      else if (x1 !== ch('t') && x1 !== ch('d') && i + 2 < total3) {
        const x2 = t[i + 2];
        if ((x1 === ch('r') && x2 === ch('e')) || (x1 === ch('v') && x2 === ch('e'))) total--;
      }
    }
    t[total++] = x;
  }
  return total;
}

/** Turns a stream of token ids into text, holding back bytes until they complete a UTF-8 character. */
export class StreamDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly tokenizer: Tokenizer, private readonly opts: DecodeOptions = {}) {}

  /** Text completed by this token (possibly ''). */
  push(id: number): string {
    return this.utf8.decode(this.tokenizer.tokenPiece(id, this.opts.special ?? false), { stream: true });
  }

  /** Whatever is still held back (an incomplete character becomes U+FFFD); the decoder can be reused. */
  flush(): string {
    return this.utf8.decode();
  }
}

