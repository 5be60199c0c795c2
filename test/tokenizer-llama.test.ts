// Our tokenizers against llama.cpp itself (node-llama-cpp, vocab-only) for every vocabulary of
// test/support/vocab.ts: a generated corpus tokenized with and without special-token parsing, detokenized
// both ways, random token sequences detokenized (byte tokens and split characters included), the
// special ids and the end-of-generation set.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { getLlama, LlamaLogLevel, LlamaModel, Token } from 'node-llama-cpp';
import { readGGUF } from '../engine/gguf/gguf.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { tokenizerCorpus } from './support/tokenizer-corpus.js';
import { rng } from './support/rng.js';
import { VOCABS, VocabName, vocabPath } from './support/vocab.js';

const llama = await getLlama({ build: 'never', gpu: false, logLevel: LlamaLogLevel.disabled });
const corpus = tokenizerCorpus(1234, 500);

const loaded = new Map<string, Promise<{ model: LlamaModel; tok: Tokenizer }>>();
function load(v: VocabName) {
  let p = loaded.get(v);
  if (!p) {
    p = llama.loadModel({ modelPath: vocabPath(v), vocabOnly: true }).then((model) => ({ model, tok: Tokenizer.fromGGUF(readGGUF(vocabPath(v))) }));
    loaded.set(v, p);
  }
  return p;
}
after(async () => {
  for (const p of loaded.values()) await (await p).model.dispose();
});

/** Fails on the first input whose result differs, showing both; counts the inputs checked. */
function sameOnAll<T>(what: string, inputs: readonly T[], ref: (x: T) => unknown, ours: (x: T) => unknown): number {
  for (const x of inputs) {
    const want = ref(x);
    const got = ours(x);
    if (JSON.stringify(want) !== JSON.stringify(got)) assert.deepEqual(got, want, `${what}: ${JSON.stringify(x).slice(0, 300)}`);
  }
  return inputs.length;
}

test(`the corpus is large and varied (${corpus.length} strings)`, () => {
  assert.ok(corpus.length >= 1000);
  const all = corpus.join('');
  for (const needle of ['\r\n', '\t\t', '    ', '你', '🦙', '\u0301', 'مرحبا', 'Привет', "it's", '<|endoftext|>', '1234567']) {
    assert.ok(all.includes(needle), `corpus lacks ${JSON.stringify(needle)}`);
  }
});

for (const v of VOCABS) {
  test(`${v}: tokenization and detokenization equal llama.cpp's on the corpus`, async () => {
    const { model, tok } = await load(v);
    sameOnAll(`${v} tokenize`, corpus, (s) => Array.from(model.tokenize(s, false)), (s) => tok.encode(s, { addBos: false, parseSpecial: false }));
    sameOnAll(`${v} tokenize, parse special`, corpus, (s) => Array.from(model.tokenize(s, true)), (s) => tok.encode(s, { parseSpecial: true }));
    const tokenized = corpus.map((s) => Array.from(model.tokenize(s, true)));
    sameOnAll(`${v} detokenize`, tokenized, (ids) => model.detokenize(ids, false), (ids) => tok.decode(ids));
    sameOnAll(`${v} detokenize, special`, tokenized, (ids) => model.detokenize(ids, true), (ids) => tok.decode(ids, { special: true }));
  });

  test(`${v}: random token sequences detokenize as in llama.cpp`, async () => {
    const { model, tok } = await load(v);
    const r = rng(77);
    const seqs: number[][] = [];
    for (let k = 0; k < 1500; k++) {
      const ids: number[] = [];
      // low ids hold byte tokens and single bytes, high ids the special tokens
      for (let n = 1 + Math.floor(r() * 12); n > 0; n--) {
        const k2 = r();
        ids.push(Math.floor(k2 < 0.3 ? r() * 300 : k2 < 0.4 ? tok.nVocab - 1 - r() * 300 : r() * tok.nVocab));
      }
      seqs.push(ids);
    }
    for (const special of [false, true]) {
      sameOnAll(`${v} detokenize (special ${special})`, seqs, (ids) => model.detokenize(ids as Token[], special), (ids) => tok.decode(ids, { special }));
    }
  });

  test(`${v}: special ids, add_bos and the end-of-generation set equal llama.cpp's`, async () => {
    const { model, tok } = await load(v);
    const t = model.tokens;
    assert.deepEqual(
      { bos: tok.bos, eos: tok.eos, eot: tok.eot, pre: tok.fim.pre, suf: tok.fim.suf, mid: tok.fim.mid, addBos: tok.addBos, addEos: tok.addEos },
      { bos: t.bos ?? undefined, eos: t.eos ?? undefined, eot: t.eot ?? undefined, pre: t.infill.prefix ?? undefined,
        suf: t.infill.suffix ?? undefined, mid: t.infill.middle ?? undefined, addBos: t.shouldPrependBosToken, addEos: t.shouldAppendEosToken });
    const eog: number[] = [];
    for (let id = 0; id < tok.nVocab; id++) if (model.isEogToken(id as Token)) eog.push(id);
    assert.deepEqual(tok.eogIds, eog);
    assert.equal(tok.nVocab, model.fileInsights.ggufFileInfo.metadata.tokenizer.ggml.tokens.length);
  });
}
