// Pre-tokenizers for byte-level BPE vocabularies: how llama.cpp splits text into words before BPE,
// for every `tokenizer.ggml.pre` it knows. Each pre-tokenizer is a list of regexes applied in turn,
// each splitting the pieces left by the previous one. llama.cpp runs hand-written splitters for the
// common regexes and std::regex (ECMAScript) for the rest, on a "collapsed" text where every
// non-ASCII codepoint stands in as one byte for its category; both are reproduced here, and that
// collapsing is what decides the result, not what the regex would mean under full Unicode.
import {
  ACCENT_MARK, CATEGORY_MASK, LETTER, NUMBER, OUT_OF_RANGE, PUNCTUATION, SYMBOL, WHITESPACE,
  cptFlags, isHan, lowerForContraction,
} from './unicode.js';

// The regexes exactly as llama.cpp spells them (its llm_tokenizer_bpe); custom splitters are chosen
// by comparing these strings, so they must not be "tidied".
const REGEXES: Record<string, readonly string[]> = {
  llama3: [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  jais2: [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
  ],
  deepseek_llm: [
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
  ],
  deepseek3_llm: [
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
  ],
  spark2_5: [
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
    "\\p{N}",
  ],
  youtu: [
    "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  deepseek_coder: [
    "[\r\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}",
  ],
  falcon: [
    "[\\p{P}\\$\\+<=>\\^~\\|`]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "[0-9][0-9][0-9]",
  ],
  starcoder: [
    "\\p{N}",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  ],
  gpt2: [
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  ],
  qwen2: [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  qwen35: [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  bloom: [
    " ?[^(\\s|.,!?…。，、।۔،)]+",
  ],
  viking: [
    " ?[^(\\s|.,!?…。，、।۔،)]+",
    "\\p{N}",
  ],
  tekken: [
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  chameleon: [
    "<sentinel:[0-9]+>",
    "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    "([\\t\\n]|    |  )",
    "\\p{N}",
    "[\\p{P}!-/:-@\\[-`{-~]",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  ],
  gpt4o: [
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  granite_emb_multi: [
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  tiny_aya: [
    "\\d{1,3}(?=(?:\\d{3})*\\b)",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  kimi_k2: [
    "\\p{Han}+",
  ],
  superbpe: [
    "\\p{N}+",
    "(?=(\\d{3})+(?!\\d))",
  ],
  bailingmoe: [
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
  ],
  seed_coder: [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  ufakzeka: [
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  afmoe: [
    "\\p{AFMoE_digits}",
    "[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  laguna: [
    "[^\\n]+|[\\n]+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  exaone_moe: [
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
  ],
  gemma4: [
    "[^\\n]+|[\\n]+",
  ],
  minicpm5: [
    "\\p{N}{1,3}",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ],
  default: [
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
  ],
};

/** What llama.cpp's vocabulary loader derives from `tokenizer.ggml.pre` for a BPE vocabulary. */
export interface PreTokenizerConfig {
  regexes: readonly string[];
  /** Map bytes to GPT-2's printable alphabet (false: raw UTF-8 with <0xNN> byte tokens). */
  byteEncode: boolean;
  /** Use a whole word as one token when the vocabulary has it, before merging. */
  ignoreMerges: boolean;
  /** clean_up_tokenization_spaces when detokenizing. */
  cleanSpaces: boolean;
  /** Default for adding BOS when the metadata does not say. */
  addBos: boolean;
  /** Replace spaces with U+2581 before splitting (SPM-style BPE). */
  escapeWhitespaces: boolean;
  /** The vocabulary has no BOS unless the metadata names one. */
  noDefaultBos: boolean;
  /** Gemma 4: BOS is always added, and a run of newlines that is a token stays whole. */
  gemma4: boolean;
}

const NC = { cleanSpaces: false };
const IM = { ignoreMerges: true };
const BOS = { addBos: true };
const RAW = { byteEncode: false, escapeWhitespaces: true };

// tokenizer.ggml.pre -> [regex group, differences from the BPE defaults], as llama.cpp's loader.
const NAMES: Record<string, [string, Partial<PreTokenizerConfig>?]> = {
  'default': ['default'],
  'minicpm5': ['minicpm5', IM],
  'llama3': ['llama3', { ...IM, ...BOS }], 'llama-v3': ['llama3', { ...IM, ...BOS }],
  'llama-bpe': ['llama3', { ...IM, ...BOS }], 'falcon3': ['llama3', { ...IM, ...BOS }],
  'falcon-h1': ['llama3', { ...IM, ...BOS }], 'pixtral': ['llama3', { ...IM, ...BOS }],
  'midm-2.0': ['llama3', { ...IM, ...BOS }], 'lfm2': ['llama3', { ...IM, ...BOS }],
  'jina-v5-nano': ['llama3', { ...IM, ...BOS }],
  'deepseek-llm': ['deepseek_llm', NC],
  'deepseek-coder': ['deepseek_coder', NC],
  'deepseek-v3': ['deepseek3_llm', NC],
  'spark2_5': ['spark2_5', NC],
  'youtu': ['youtu', { ...NC, ...IM }],
  'falcon': ['falcon'],
  'mpt': ['gpt2'],
  'starcoder': ['starcoder'],
  'gpt-2': ['gpt2'], 'phi-2': ['gpt2'], 'jina-es': ['gpt2'], 'jina-de': ['gpt2'], 'gigachat': ['gpt2'],
  'jina-v2-es': ['gpt2'], 'jina-v2-de': ['gpt2'], 'a.x-4.0': ['gpt2'], 'mellum': ['gpt2'], 'modern-bert': ['gpt2'],
  'jais-2': ['jais2'],
  'gemma4': ['gemma4', { ...RAW, gemma4: true }], 'granite-embed-multi-311m': ['gemma4', { ...RAW, gemma4: true }],
  'sarvam-moe': ['gemma4', { ...RAW, ...NC }],
  'jina-v1-en': ['gpt2'], 'jina-v2-code': ['gpt2'], 'roberta-bpe': ['gpt2'],
  'refact': ['starcoder'],
  'command-r': ['starcoder', NC],
  'qwen2': ['qwen2', NC], 'deepseek-r1-qwen': ['qwen2', NC], 'kormo': ['qwen2', NC], 'f2llmv2': ['qwen2', NC],
  'qwen35': ['qwen35', NC],
  'stablelm2': ['qwen2'],
  'olmo': ['gpt2'],
  'dbrx': ['llama3'],
  'smaug-bpe': ['llama3'],
  'poro-chat': ['bloom', NC],
  'glm4': ['llama3', { noDefaultBos: true }], 'chatglm-bpe': ['llama3', { noDefaultBos: true }],
  'viking': ['viking', NC],
  'jais': ['gpt2'],
  'tekken': ['tekken', { ...NC, ...IM, ...BOS }],
  'smollm': ['starcoder', NC],
  'codeshell': ['starcoder'],
  'bloom': ['bloom'],
  'gpt3-finnish': ['bloom'],
  'exaone': ['starcoder'],
  'exaone4': ['gpt2'],
  'exaone-moe': ['exaone_moe'],
  'chameleon': ['chameleon', { ...BOS, ...NC }],
  'minerva-7b': ['starcoder'],
  'megrez': ['qwen2'],
  'gpt-4o': ['gpt4o', NC], 'llama4': ['gpt4o', NC], 'kanana2': ['gpt4o', NC], 'talkie': ['gpt4o', NC],
  'granite-embed-multi-97m': ['granite_emb_multi', { ...NC, ...IM }],
  'tiny_aya': ['tiny_aya', NC], 'cohere2moe': ['tiny_aya', NC],
  'superbpe': ['superbpe', NC],
  'trillion': ['gpt2', NC],
  'granite-docling': ['gpt2', NC],
  'bailingmoe': ['bailingmoe', NC], 'bailingmoe2': ['bailingmoe', NC], 'llada-moe': ['bailingmoe', NC],
  'seed-coder': ['seed_coder', NC],
  'hunyuan': ['qwen2', NC],
  'hunyuan-dense': ['deepseek3_llm', NC],
  'hy_v4': ['deepseek3_llm', NC],
  'joyai-llm': ['deepseek3_llm', NC],
  'kimi-k2': ['kimi_k2', NC],
  'ufakzeka': ['ufakzeka', NC],
  'grok-2': ['qwen2', NC],
  'afmoe': ['afmoe', NC],
  'laguna': ['laguna', NC],
  'minimax-m2': ['gpt4o', NC],
  'solar-open': ['qwen2', NC],
  'mellum2': ['starcoder'],
};

// "whitespace" is left out: it belongs to llama.cpp's "whitespace" tokenizer model; under "gpt2" llama.cpp
// aborts on the first space.

/** Every `tokenizer.ggml.pre` value llama.cpp accepts for a "gpt2" tokenizer. */
export const PRE_TOKENIZER_NAMES: readonly string[] = Object.keys(NAMES);

/** The loader's settings for a pre-tokenizer name; a missing name means 'default', as in llama.cpp. */
export function preTokenizerConfig(name: string | undefined): PreTokenizerConfig | undefined {
  const entry = NAMES[name ?? 'default'];
  if (!entry) return undefined;
  const [group, over] = entry;
  return {
    regexes: REGEXES[group], byteEncode: true, ignoreMerges: false, cleanSpaces: true, addBos: false,
    escapeWhitespaces: false, noDefaultBos: false, gemma4: false, ...over,
  };
}

// ---- splitting ----

/** The text being split, with the views the splitters need, built on first use. */
class SplitText {
  readonly cps: Uint32Array;
  /** UTF-16 index of each codepoint (and of the end). */
  readonly at16: Int32Array;
  private flagsCache?: Uint16Array;
  private collapsedCache?: string;
  private wideCache?: { text: string; cpOf16: Int32Array };

  constructor(readonly text: string) {
    const cps = new Uint32Array(text.length);
    const at16 = new Int32Array(text.length + 1);
    let n = 0;
    for (let i = 0; i < text.length; n++) {
      at16[n] = i;
      const cp = text.codePointAt(i)!;
      cps[n] = cp;
      i += cp > 0xffff ? 2 : 1;
    }
    at16[n] = text.length;
    this.cps = cps.subarray(0, n);
    this.at16 = at16.subarray(0, n + 1);
  }

  get flags(): Uint16Array {
    if (!this.flagsCache) {
      const f = new Uint16Array(this.cps.length);
      for (let i = 0; i < f.length; i++) f[i] = cptFlags(this.cps[i]);
      this.flagsCache = f;
    }
    return this.flagsCache;
  }

  /** One char per codepoint: ASCII as itself, others as a stand-in for their category. */
  get collapsed(): string {
    if (this.collapsedCache === undefined) {
      const codes = new Uint16Array(this.cps.length);
      const flags = this.flags;
      for (let i = 0; i < codes.length; i++) {
        const cp = this.cps[i];
        if (cp < 128) codes[i] = cp;
        else if (flags[i] & WHITESPACE) codes[i] = 0x0b; // std::regex's \s knows only ASCII spaces
        else codes[i] = COLLAPSED_CHAR.get(flags[i] & CATEGORY_MASK) ?? 0xd0;
      }
      let s = '';
      for (let i = 0; i < codes.length; i += 8192) s += String.fromCharCode(...codes.subarray(i, i + 8192));
      this.collapsedCache = s;
    }
    return this.collapsedCache;
  }

  /** The text with non-ASCII whitespace as \v (as llama.cpp feeds std::wregex), and a UTF-16 -> codepoint index. */
  get wide(): { text: string; cpOf16: Int32Array } {
    if (!this.wideCache) {
      const flags = this.flags;
      let out = '';
      let last = 0;
      for (let i = 0; i < this.cps.length; i++) {
        if (this.cps[i] >= 128 && flags[i] & WHITESPACE) {
          out += this.text.slice(last, this.at16[i]) + '\v';
          last = this.at16[i + 1];
        }
      }
      out += this.text.slice(last);
      const cpOf16 = new Int32Array(this.text.length + 1);
      for (let i = 0; i < this.cps.length; i++) cpOf16[this.at16[i]] = i;
      cpOf16[this.text.length] = this.cps.length;
      this.wideCache = { text: out, cpOf16 };
    }
    return this.wideCache;
  }
}

const COLLAPSED_CHAR = new Map([[NUMBER, 0xd1], [LETTER, 0xd2], [PUNCTUATION, 0xd3], [ACCENT_MARK, 0xd4], [SYMBOL, 0xd5]]);

/** Splits each piece (pieces are consecutive, given as lengths in codepoints) further; returns the new lengths. */
type Splitter = (t: SplitText, offsets: number[]) => number[];

/** Runs a hand-written splitter over each piece: `split` gets the piece's bounds and `cut`, which ends a word. */
function perPiece(split: (t: SplitText, ini: number, end: number, cut: (at: number) => void) => void): Splitter {
  return (t, offsets) => {
    const out: number[] = [];
    let start = 0;
    for (const len of offsets) {
      const ini = start;
      const end = start + len;
      let prev = ini;
      split(t, ini, end, (at) => {
        if (at > prev) out.push(at - prev);
        prev = at;
      });
      start = end;
    }
    return out;
  };
}

const CR = 0x0d, LF = 0x0a, SPACE = 0x20, QUOTE = 0x27;
const S = 0x73, T = 0x74, M = 0x6d, D = 0x64, R = 0x72, E = 0x65, V = 0x76, L = 0x6c;

/** Length of a contraction ('s 't 'm 'd 're 've 'll) at pos, else 0. */
function contractionAt(cps: Uint32Array, pos: number, end: number, fold: boolean): number {
  if (cps[pos] !== QUOTE || pos + 1 >= end) return 0;
  const a = fold ? lowerForContraction(cps[pos + 1]) : cps[pos + 1];
  if (a === S || a === T || a === M || a === D) return 2;
  if (pos + 2 >= end) return 0;
  const b = fold ? lowerForContraction(cps[pos + 2]) : cps[pos + 2];
  return (a === R && b === E) || (a === V && b === E) || (a === L && b === L) ? 3 : 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
const splitGpt2 = perPiece((t, ini, end, cut) => {
  const { cps, flags } = t;
  const flg = (p: number) => (p >= ini && p < end ? flags[p] : OUT_OF_RANGE);
  const isOther = (f: number) => !(f & (WHITESPACE | LETTER | NUMBER)) && f !== OUT_OF_RANGE;
  let pos = ini;
  while (pos < end) {
    const c = cps[pos];
    const n = contractionAt(cps, pos, end, false);
    if (n) { cut(pos += n); continue; }
    const f2 = c === SPACE ? flg(pos + 1) : flags[pos];
    const run = f2 & LETTER ? (f: number) => (f & LETTER) !== 0
      : f2 & NUMBER ? (f: number) => (f & NUMBER) !== 0
      : isOther(f2) ? isOther : undefined;
    if (run) {
      if (c === SPACE) pos++;
      do pos++; while (run(flg(pos)));
      cut(pos);
      continue;
    }
    let ws = 0;
    while (flg(pos + ws) & WHITESPACE) ws++;
    if (ws > 1 && pos + ws < end) cut(pos += ws - 1); // \s+(?!\S): leave the last space to the next word
    else if (ws > 0) cut(pos += ws);
    else cut(++pos);
  }
});

// Llama 3 / Qwen 2 family:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with `letters` = LETTER | ACCENT_MARK for Qwen 3.5, where marks join letter runs.
function llama3Like(maxDigits: number, letters: number): Splitter {
  return perPiece((t, ini, end, cut) => {
    const { cps, flags } = t;
    const flg = (p: number) => (p >= ini && p < end ? flags[p] : OUT_OF_RANGE);
    const cpt = (p: number) => (p >= ini && p < end ? cps[p] : -1);
    const notWord = WHITESPACE | letters | NUMBER;
    let pos = ini;
    while (pos < end) {
      const c = cps[pos];
      const f = flags[pos];
      const n = contractionAt(cps, pos, end, true);
      if (n) { cut(pos += n); continue; }
      if (!(c === CR || c === LF || f & NUMBER) && (f & letters || flg(pos + 1) & letters)) {
        pos++;
        while (flg(pos) & letters) pos++;
        cut(pos);
        continue;
      }
      if (f & NUMBER) {
        let ini2 = pos;
        while (flg(pos) & NUMBER) {
          if (++pos - ini2 >= maxDigits) { cut(pos); ini2 = pos; }
        }
        cut(pos);
        continue;
      }
      let f2 = c === SPACE ? flg(pos + 1) : f;
      // llama.cpp tests the first char's own flags here (not f2), so a lone trailing space lands here
      if (!(f2 & notWord) && f !== OUT_OF_RANGE) {
        if (c === SPACE) pos++;
        while (!(f2 & notWord) && f2 !== OUT_OF_RANGE) f2 = flg(++pos);
        while (cpt(pos) === CR || cpt(pos) === LF) pos++;
        cut(pos);
        continue;
      }
      let ws = 0;
      let lastNewline = -1;
      while (flg(pos + ws) & WHITESPACE) {
        const c2 = cps[pos + ws];
        if (c2 === CR || c2 === LF) lastNewline = pos + ws + 1;
        ws++;
      }
      if (lastNewline >= 0) cut(pos = lastNewline);
      else if (ws > 1 && pos + ws < end) cut(pos += ws - 1);
      else if (ws > 0) cut(pos += ws);
      else cut(++pos);
    }
  });
}

// Kimi K2: [\p{Han}]+ first, then letter words without Han (with an optional contraction), then as Llama 3.
const splitKimiK2 = perPiece((t, ini, end, cut) => {
  const { cps, flags } = t;
  const flg = (p: number) => (p >= ini && p < end ? flags[p] : OUT_OF_RANGE);
  const cpt = (p: number) => (p >= ini && p < end ? cps[p] : -1);
  const nonHanLetter = (p: number) => (flg(p) & LETTER) !== 0 && !isHan(cpt(p));
  let pos = ini;
  while (pos < end) {
    const c = cps[pos];
    const f = flags[pos];
    if (isHan(c)) {
      while (isHan(cpt(pos))) pos++;
      cut(pos);
      continue;
    }
    const canLead = !(c === CR || c === LF || f & LETTER || f & NUMBER);
    if ((f & LETTER && !isHan(c)) || (canLead && nonHanLetter(pos + 1))) {
      const lead = canLead;
      if (lead) pos++;
      let letters = false;
      while (nonHanLetter(pos)) { letters = true; pos++; }
      if (letters || (!lead && nonHanLetter(pos))) {
        if (!letters) pos++;
        while (nonHanLetter(pos)) pos++;
        pos += contractionAt(cps, pos, end, true);
        cut(pos);
        continue;
      } else if (lead) {
        pos--;
      }
    }
    if (f & NUMBER) {
      let ini2 = pos;
      while (flg(pos) & NUMBER) {
        if (++pos - ini2 >= 3) { cut(pos); ini2 = pos; }
      }
      cut(pos);
      continue;
    }
    let f2 = c === SPACE ? flg(pos + 1) : f;
    if (!(f2 & (WHITESPACE | LETTER | NUMBER)) && f2 !== OUT_OF_RANGE) {
      if (c === SPACE) pos++;
      while (!(f2 & (WHITESPACE | LETTER | NUMBER)) && f2 !== OUT_OF_RANGE) f2 = flg(++pos);
      while (cpt(pos) === CR || cpt(pos) === LF) pos++;
      cut(pos);
      continue;
    }
    let ws = 0;
    let lastNewline = -1;
    while (flg(pos + ws) & WHITESPACE) {
      const c2 = cps[pos + ws];
      if (c2 === CR || c2 === LF) lastNewline = pos + ws + 1;
      ws++;
    }
    if (lastNewline >= 0) cut(pos = lastNewline);
    else if (ws > 1 && pos + ws < end) cut(pos += ws - 1);
    else if (ws > 0) cut(pos += ws);
    else cut(++pos);
  }
});

// Digit runs in groups of three from the right (AFMoE, and llama.cpp's stand-in for Tiny Aya's
// \d{1,3}(?=(?:\d{3})*\b)). As in llama.cpp, text before a run joins the run's first group.
const splitDigitGroups = perPiece((t, ini, end, cut) => {
  const flags = t.flags;
  let pos = ini;
  while (pos < end) {
    if (!(flags[pos] & NUMBER)) { pos++; continue; }
    const start = pos;
    while (pos < end && flags[pos] & NUMBER) pos++;
    const rem = (pos - start) % 3;
    if (rem) cut(start + rem);
    for (let at = start + rem + 3; at <= pos; at += 3) cut(at);
  }
  cut(end);
});

// [^\n]+|[\n]+
const splitNewlines = perPiece((t, ini, end, cut) => {
  const cps = t.cps;
  let pos = ini;
  while (pos < end) {
    const nl = cps[pos] === LF;
    while (pos < end && (cps[pos] === LF) === nl) pos++;
    cut(pos);
  }
});

const CUSTOM = new Map<string, Splitter>([
  ["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", splitGpt2],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Like(3, LETTER)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Like(3, LETTER)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Like(1, LETTER)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", llama3Like(1, LETTER | ACCENT_MARK)],
  ['\\p{Han}+', splitKimiK2],
  ['\\p{AFMoE_digits}', splitDigitGroups],
  ['\\d{1,3}(?=(?:\\d{3})*\\b)', splitDigitGroups],
  ['[^\\n]+|[\\n]+', splitNewlines],
]);

// ---- std::regex emulation ----

// The categories llama.cpp substitutes into a regex, with the ASCII members each one keeps.
const UCAT: Record<string, number> = {
  '\\p{N}': NUMBER, '\\p{L}': LETTER, '\\p{P}': PUNCTUATION, '\\p{M}': ACCENT_MARK, '\\p{S}': SYMBOL,
  '\\p{Lu}': LETTER, '\\p{Ll}': LETTER, '\\p{Lt}': LETTER, '\\p{Lm}': LETTER, '\\p{Lo}': LETTER,
};
const UCAT_ASCII = new Map([
  [NUMBER, '0-9'], [LETTER, 'A-Za-z'], [PUNCTUATION, '!-#%-*,-/:-;?-@\\[-\\]_\\{\\}'], [ACCENT_MARK, ''],
  [SYMBOL, '\\$\\+<->^`\\|\\~'],
]);

/** Rewrites \p{..} into the collapsed stand-in plus ASCII members, tracking [] like llama.cpp does. */
function collapseRegex(expr: string): string {
  let out = '';
  let inside = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (ch === '[' && (i === 0 || expr[i - 1] !== '\\')) { out += ch; inside = true; continue; }
    if (inside && ch === ']' && expr[i - 1] !== '\\') { out += ch; inside = false; continue; }
    if (ch === '\\' && i + 3 < expr.length && expr[i + 1] === 'p' && expr[i + 2] === '{') {
      const close = expr.indexOf('}', i + 3);
      const cat = close >= 0 && close <= i + 10 ? UCAT[expr.slice(i, close + 1)] : undefined;
      if (cat !== undefined) {
        const body = String.fromCharCode(COLLAPSED_CHAR.get(cat)!) + UCAT_ASCII.get(cat)!;
        out += inside ? body : `[${body}]`;
        i = close;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

// std::regex's \s in the "C" locale: ASCII whitespace only (JavaScript's also has U+FEFF and Zs).
const C_SPACE = '\\t\\n\\v\\f\\r ';
function withCSpaces(src: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\') {
      const nx = src[i + 1];
      if (nx === 's') out += inClass ? C_SPACE : `[${C_SPACE}]`;
      else if (nx === 'S' && !inClass) out += `[^${C_SPACE}]`;
      else if (nx === 'S') throw new Error(`pre-tokenizer regex ${JSON.stringify(src)}: \\S inside [] is not supported`);
      else out += ch + nx;
      i++;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === ']') inClass = false;
    out += ch;
  }
  return out;
}

/** A regex llama.cpp runs through std::regex: on the collapsed text if it names a category, else on codepoints. */
function stdRegexSplitter(expr: string): Splitter {
  const collapsed = Object.keys(UCAT).some((k) => expr.includes(k));
  if (collapsed && /[^\x00-\x7f]/.test(expr)) {
    throw new Error(`pre-tokenizer regex ${JSON.stringify(expr)} mixes categories and non-ASCII characters, which llama.cpp rejects`);
  }
  const re = new RegExp(withCSpaces(collapsed ? collapseRegex(expr) : expr), collapsed ? 'g' : 'gu');
  return (t, offsets) => {
    const out: number[] = [];
    const whole = collapsed ? t.collapsed : t.wide.text;
    // collapsed text has one char per codepoint; the wide one needs its index maps
    const to16 = collapsed ? undefined : t.at16;
    const toCp = collapsed ? undefined : t.wide.cpOf16;
    let start = 0;
    for (const len of offsets) {
      const a = to16 ? to16[start] : start;
      const b = to16 ? to16[start + len] : start + len;
      const piece = whole.slice(a, b);
      let done = 0; // codepoints of the piece already emitted
      re.lastIndex = 0;
      for (let m = re.exec(piece); m; m = re.exec(piece)) {
        const mStart = toCp ? toCp[a + m.index] - start : m.index;
        const mEnd = toCp ? toCp[a + m.index + m[0].length] - start : m.index + m[0].length;
        if (mStart > done) out.push(mStart - done);
        out.push(mEnd - mStart);
        done = mEnd;
        // an empty match moves on by one codepoint, as std::regex_iterator does
        if (m[0].length === 0) re.lastIndex = m.index + (piece.codePointAt(m.index)! > 0xffff ? 2 : 1);
      }
      if (done < len) out.push(len - done);
      start += len;
    }
    return out;
  };
}

/** Splits text into words the way llama.cpp's unicode_regex_split does for one pre-tokenizer. */
export class PreTokenizer {
  private readonly splitters: Splitter[];

  constructor(regexes: readonly string[]) {
    this.splitters = regexes.map((r) => CUSTOM.get(r) ?? stdRegexSplitter(r));
  }

  /** The words of `text` (which must be well-formed UTF-16), in order; they concatenate to `text`. */
  split(text: string): string[] {
    const t = new SplitText(text);
    let offsets = [t.cps.length];
    for (const s of this.splitters) offsets = s(t, offsets);
    const words: string[] = [];
    let at = 0;
    for (const len of offsets) {
      if (len > 0) words.push(text.slice(t.at16[at], t.at16[at + len]));
      at += len;
    }
    return words;
  }
}
