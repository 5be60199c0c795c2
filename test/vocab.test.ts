// The vocabularies test/support/vocab.ts converts from tokenizer.json are right, not merely
// self-consistent: llama.cpp on the built file tokenizes as the tokenizer's own code does
// (@huggingface/tokenizers, the Hugging Face tokenizers in JavaScript) and as llama.cpp's expected
// outputs say (written by Hugging Face's Python tokenizers); the pre-tokenizer name is the one
// llama.cpp's converter derives; and where llama.cpp ships the same vocabulary, its file agrees.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Tokenizer as HfTokenizerJs } from '@huggingface/tokenizers';
import { getLlama, LlamaLogLevel, LlamaModel, Token } from 'node-llama-cpp';
import { readGGUF } from '../engine/gguf/gguf.js';
import { UNDEFINED, cptFlags } from '../engine/tokenizer/unicode.js';
import { tokenizerCorpus } from './support/tokenizer-corpus.js';
import { CONVERTED_VOCABS, VocabName, hfTokenizer, llamaCppFile, llamaCppOut, vocabCases, vocabInputs, vocabPath } from './support/vocab.js';

const llama = await getLlama({ build: 'never', gpu: false, logLevel: LlamaLogLevel.disabled });
const models = new Map<VocabName, Promise<LlamaModel>>();
const load = (v: VocabName) => models.get(v) ?? models.set(v, llama.loadModel({ modelPath: vocabPath(v), vocabOnly: true })).get(v)!;
after(async () => {
  for (const m of models.values()) await (await m).dispose();
});

/**
 * What tokenizers.js cannot take as Python's tokenizers do: its regexes run on JavaScript's RegExp,
 * whose \s includes U+FEFF but not U+0085 and whose Unicode is newer than the 15.1 of llama.cpp's
 * (and Oniguruma's) tables; lone surrogates never reach either as UTF-8. tokenizer-llama.test.ts
 * covers those characters against llama.cpp.
 */
function comparable(s: string, nfc: boolean): string {
  let out = '';
  for (const c of s.replace(/[\uD800-\uDFFF]/gu, '\uFFFD')) {
    const cp = c.codePointAt(0)!;
    if (cp === 0x85 || cp === 0xfeff || (cptFlags(cp) === UNDEFINED && /\p{Assigned}/u.test(c))) continue;
    out += c;
  }
  // llama.cpp does not apply a tokenizer's NFC normalizer (Qwen's): give both normalized text
  return nfc ? out.normalize('NFC') : out;
}

const corpus = tokenizerCorpus(4321, 400);
const HF_VERSION = JSON.parse(readFileSync(resolve(process.cwd(), 'node_modules/@huggingface/tokenizers/package.json'), 'utf8')).version;

/**
 * The reference's ids for llama.cpp's check text, "Hello" and the corpus, cached beside the built
 * file (its name holds the hash of the tokenizer files) for this corpus and tokenizers.js version.
 */
function reference(v: VocabName): { chk: number[]; hello: number[]; corpus: string[]; ids: number[][] } {
  const hf = hfTokenizer(v);
  const nfc = hf.tokenizer.normalizer?.type === 'NFC';
  const inputs = corpus.map((s) => comparable(s, nfc));
  const chktxt = vocabInputs(v).at(-1)!; // the last of llama.cpp's test inputs is its converter's check text
  const key = createHash('sha256').update(JSON.stringify({ HF_VERSION, chktxt, inputs })).digest('hex').slice(0, 12);
  const path = join(dirname(vocabPath(v)), `${basename(vocabPath(v), '.gguf')}.hf-${key}.json`);
  if (!existsSync(path)) {
    const t = new HfTokenizerJs(hf.tokenizer, hf.config ?? {});
    const enc = (s: string, special: boolean) => t.encode(s, { add_special_tokens: special }).ids;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify({ chk: enc(chktxt, false), hello: enc('Hello', true), ids: inputs.map((s) => enc(s, false)) }));
  }
  return { ...JSON.parse(readFileSync(path, 'utf8')), corpus: inputs };
}

const BPE = CONVERTED_VOCABS.filter((v) => readGGUF(vocabPath(v)).metadata.get('tokenizer.ggml.model') === 'gpt2');

test(`${CONVERTED_VOCABS.length} vocabularies are converted, ${BPE.length} of them byte-level BPE`, () => {
  assert.deepEqual(CONVERTED_VOCABS, ['qwen2', 'llama-spm', 'mistral-spm', 'llama-bpe', 'deepseek-v3', 'gemma3', 'gpt-2']);
  assert.deepEqual(BPE, ['qwen2', 'llama-bpe', 'deepseek-v3', 'gpt-2']);
});

for (const v of CONVERTED_VOCABS) {
  test(`${v}: llama.cpp on the converted file tokenizes the corpus as the tokenizer itself does`, async () => {
    const model = await load(v);
    const ref = reference(v);
    // Text llama.cpp takes as a special token where the tokenizer sees none: llama.cpp makes tokens
    // with end-of-generation texts ("</s>" in Qwen's vocabulary) control tokens whatever their type.
    const added = new Set(hfTokenizer(v).tokenizer.added_tokens.flatMap((t) => [t.content, t.content.replaceAll('\u2581', ' ')]));
    const texts = readGGUF(vocabPath(v)).metadata.get('tokenizer.ggml.tokens') as string[];
    const extra = texts.filter((t, id) => {
      const a = model.getTokenAttributes(id as Token);
      return (a.control || a.userDefined) && !added.has(t);
    });
    assert.ok(extra.length <= 2, `${v}: llama.cpp treats ${JSON.stringify(extra.slice(0, 20))} as special`);
    let compared = 0;
    ref.corpus.forEach((s, i) => {
      if (extra.some((t) => s.includes(t))) return;
      compared++;
      const got = Array.from(model.tokenize(s, true));
      if (JSON.stringify(got) !== JSON.stringify(ref.ids[i])) assert.deepEqual(got, ref.ids[i], `${v}: ${JSON.stringify(s).slice(0, 300)}`);
    });
    assert.ok(compared > corpus.length * 0.9, `${v}: only ${compared} strings compared`);
    if (!BPE.includes(v)) {
      // SentencePiece: the tokenizer's template adds BOS exactly when llama.cpp's add_bos_token says so
      const bos = model.tokens.shouldPrependBosToken ? [model.tokens.bos!] : [];
      assert.deepEqual(ref.hello, [...bos, ...model.tokenize('Hello', false)], `${v}: add_bos_token`);
    }
  });
}

for (const v of BPE) {
  test(`${v}: tokenizer.ggml.pre is the name llama.cpp's converter gives this tokenizer`, async () => {
    // convert_hf_to_gguf.py hashes the ids the tokenizer makes of a check text (with BOS when it adds one)
    const base = readFileSync(llamaCppFile('conversion/base.py'), 'utf8');
    const names = new Map([...base.matchAll(/if chkhsh == "([0-9a-f]{64})":\s*\n\s*#[^\n]*\n\s*res = "([^"]+)"/g)].map((m) => [m[1], m[2]]));
    assert.ok(names.size > 50, 'the converter\'s table of pre-tokenizer hashes');
    const model = await load(v);
    const ids = [...(model.tokens.shouldPrependBosToken ? [model.tokens.bos!] : []), ...reference(v).chk];
    const chkhsh = createHash('sha256').update(`[${ids.join(', ')}]`).digest('hex');
    assert.equal(names.get(chkhsh), readGGUF(vocabPath(v)).metadata.get('tokenizer.ggml.pre'), `${v}: chkhsh ${chkhsh}`);
  });
}

// the same tokenizers as llama.cpp's own test vocabularies (Llama 3 8B, Qwen 1.5 7B for the other two)
for (const [v, theirs] of [['gpt-2', 'gpt-2'], ['llama-spm', 'llama-spm'], ['llama-bpe', 'llama-bpe'], ['qwen2', 'qwen2']] as const) {
  test(`${v}: llama.cpp on the converted file gives llama.cpp's expected ids for its tests (${theirs}.out)`, async () => {
    const want = llamaCppOut(theirs);
    const cases = await vocabCases(v);
    assert.equal(cases.length, want.length);
    cases.forEach(([s, ids], i) => assert.deepEqual(ids, want[i], `${v}: ${JSON.stringify(s)}`));
  });

  test(`${v}: the converted vocabulary is llama.cpp's ggml-vocab-${theirs}.gguf where the tokenizers are the same`, () => {
    const ours = readGGUF(vocabPath(v)).metadata;
    const ref = readGGUF(llamaCppFile(`models/ggml-vocab-${theirs}.gguf`)).metadata;
    const key = (k: string, g: Map<string, unknown>) => g.get(`tokenizer.ggml.${k}`) as ArrayLike<unknown> | undefined;
    // tokens up to the first added token (those differ between model versions), and every merge
    const nBase = Math.min(...hfTokenizer(v).tokenizer.added_tokens.map((t) => t.id).filter((id) => id > 2), key('tokens', ours)!.length);
    assert.deepEqual(Array.from(key('tokens', ours)!).slice(0, nBase), Array.from(key('tokens', ref)!).slice(0, nBase));
    assert.deepEqual(key('merges', ours), key('merges', ref));
    const types = (g: Map<string, unknown>) => Array.from(key('token_type', g)!).slice(3, nBase);
    assert.deepEqual(types(ours), types(ref), 'token types past the first three');
    const scores = key('scores', ours);
    if (scores) {
      // SentencePiece priorities: the pieces a merge makes are in the same order
      const theirScores = key('scores', ref)!;
      const made = hfTokenizer(v).tokenizer.model.merges.map((m) => (typeof m === 'string' ? m.replace(' ', '') : m.join('')));
      const id = new Map(Array.from(key('tokens', ours) as string[]).map((t, i) => [t, i]));
      let last = Infinity;
      for (const t of new Set(made)) {
        const s = theirScores[id.get(t)!] as number;
        assert.ok(s <= last, `${v}: ${JSON.stringify(t)} has llama.cpp score ${s} after ${last}`);
        last = s;
      }
    }
    for (const k of ['bos_token_id', 'eos_token_id', 'unknown_token_id']) {
      if (v === 'llama-bpe' && k === 'eos_token_id') continue; // Llama 3.1 ends its turns with <|eot_id|>, Llama 3 8B its text with <|end_of_text|>
      if (v === 'qwen2' && k === 'eos_token_id') continue; // Qwen3's is <|im_end|>, Qwen 1.5's <|endoftext|>
      assert.equal(ours.get(`tokenizer.ggml.${k}`), ref.get(`tokenizer.ggml.${k}`), `${v}: ${k}`);
    }
  });
}

// ../shared/vocab, where it lies beside the repository, may hold files made from the same tokenizers
for (const v of CONVERTED_VOCABS) {
  const shared = resolve(process.cwd(), `../shared/vocab/ggml-vocab-${v}.gguf`);
  if (existsSync(shared)) test(`${v}: the same vocabulary as ../shared/vocab/ggml-vocab-${v}.gguf`, () => {
    const ours = readGGUF(vocabPath(v)).metadata;
    const theirs = readGGUF(shared).metadata;
    // (not the token types: that file's added tokens are typed by another rule than convert_hf_to_gguf.py's)
    for (const k of ['tokens', 'merges']) assert.deepEqual(ours.get(`tokenizer.ggml.${k}`), theirs.get(`tokenizer.ggml.${k}`), `${v}: ${k}`);
  });
}
