// Every pre-tokenizer llama.cpp knows, and the vocabulary options that change tokenization, checked
// against llama.cpp (node-llama-cpp). Each variant is a copy of a test/support/vocab.ts GGUF with
// its tokenizer metadata changed (tokenizer.ggml.pre, token types, names that switch strip rules).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { GGUF, GGUFValueType, readGGUF } from '../engine/gguf/gguf.js';
import { GGUFMetaEntry, metadataEntries, writeGGUF } from '../engine/gguf/gguf-writer.js';
import { PRE_TOKENIZER_NAMES, preTokenizerConfig } from '../engine/tokenizer/pretokenizer.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { BYTE_TO_CHAR } from '../engine/tokenizer/unicode.js';
import { codepointSweep, tokenizerCorpus } from './support/tokenizer-corpus.js';
import { VocabName, vocabPath } from './support/vocab.js';

const llama = await getLlama({ build: 'never', gpu: false, logLevel: LlamaLogLevel.disabled });
const dir = mkdtempSync(join(tmpdir(), 'hearth-tokenizer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = tokenizerCorpus(99, 150);

const TOKEN_TYPE = { UNDEFINED: 0, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5 };

const bases = new Map<string, GGUF>();

/**
 * A copy of a vocabulary with some tokenizer metadata changed. `edit` changes token texts and types
 * in place; `keep` cuts the vocabulary to its first tokens (and merges), which keeps byte-level BPE
 * vocabularies whole enough for splitting tests and makes them quick to write and load.
 */
function variant(name: string, base: VocabName, set: Record<string, unknown>, opts: { keep?: number; edit?: (texts: string[], types: Int32Array) => void } = {}): string {
  const g = bases.get(base) ?? bases.set(base, readGGUF(vocabPath(base))).get(base)!;
  const entries: GGUFMetaEntry[] = metadataEntries(g).filter((e) => !(e.key in set));
  for (const [key, value] of Object.entries(set)) {
    entries.push({ key, value, type: typeof value === 'boolean' ? GGUFValueType.BOOL : typeof value === 'number' ? GGUFValueType.UINT32 : GGUFValueType.STRING });
  }
  let texts = [...(g.metadata.get('tokenizer.ggml.tokens') as string[])];
  let types = Int32Array.from(g.metadata.get('tokenizer.ggml.token_type') as Int32Array);
  let merges = g.metadata.get('tokenizer.ggml.merges') as string[] | undefined;
  if (opts.keep) {
    texts = texts.slice(0, opts.keep);
    types = types.slice(0, opts.keep);
    merges = merges?.slice(0, opts.keep);
  }
  opts.edit?.(texts, types);
  for (const e of entries) {
    if (e.key === 'tokenizer.ggml.tokens') e.value = texts;
    if (e.key === 'tokenizer.ggml.token_type') e.value = types;
    if (e.key === 'tokenizer.ggml.merges') e.value = merges;
  }
  const path = join(dir, `${name}.gguf`);
  writeGGUF(path, { metadata: entries, tensors: [] });
  return path;
}

// GPT-2's first 12000 tokens with "<|endoftext|>" after them as BOS/EOS
const SMALL_GPT2 = {
  keep: 12000,
  edit: (texts: string[], types: Int32Array) => {
    texts[11999] = '<|endoftext|>';
    types[11999] = TOKEN_TYPE.CONTROL;
  },
};
const SMALL_GPT2_IDS = { 'tokenizer.ggml.bos_token_id': 11999, 'tokenizer.ggml.eos_token_id': 11999 };

async function compare(label: string, path: string, inputs: readonly string[], opts = { decode: true }) {
  const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  try {
    const tok = Tokenizer.fromGGUF(readGGUF(path));
    for (const s of inputs) {
      for (const parseSpecial of [false, true]) {
        const want = Array.from(model.tokenize(s, parseSpecial));
        const got = tok.encode(s, { parseSpecial });
        if (want.length !== got.length || want.some((x, i) => x !== got[i])) {
          assert.deepEqual(got, want, `${label} (parseSpecial ${parseSpecial}): ${JSON.stringify(s).slice(0, 300)}`);
        }
        for (const special of opts.decode ? [false, true] : []) {
          assert.equal(tok.decode(want, { special }), model.detokenize(want, special), `${label} detokenize (special ${special}): ${JSON.stringify(s).slice(0, 300)}`);
        }
      }
    }
    assert.equal(tok.addBos, model.tokens.shouldPrependBosToken, `${label}: add_bos`);
    assert.equal(tok.bos, model.tokens.bos ?? undefined, `${label}: bos`);
  } finally {
    await model.dispose();
  }
}

// one name for each distinct set of loader settings (regexes, merges, byte encoding, BOS, spaces)
const representatives = new Map<string, string>();
for (const name of PRE_TOKENIZER_NAMES) {
  const key = JSON.stringify(preTokenizerConfig(name));
  if (!representatives.has(key)) representatives.set(key, name);
}

test(`all ${PRE_TOKENIZER_NAMES.length} pre-tokenizer names load, in ${representatives.size} distinct configurations`, () => {
  assert.ok(representatives.size >= 35);
  for (const name of ['default', 'gpt-2', 'llama-bpe', 'qwen2', 'deepseek-coder', 'deepseek-llm', 'starcoder', 'falcon', 'mpt', 'refact']) {
    assert.ok(PRE_TOKENIZER_NAMES.includes(name), name);
  }
});

for (const name of representatives.values()) {
  test(`pre-tokenizer "${name}" splits as llama.cpp does (${corpus.length} strings)`, async () => {
    await compare(name, variant(`pre-${name}`, 'gpt-2', { 'tokenizer.ggml.pre': name, ...SMALL_GPT2_IDS }, SMALL_GPT2), corpus);
  });
}

/**
 * A byte-level BPE vocabulary in which every pair of bytes merges (pairs with a lower first byte
 * first), so any difference in where words are split shows up in the tokens. The real vocabularies
 * often tokenize two splits alike, which would hide a wrong codepoint category.
 */
function pairVocab(pre: string): string {
  const g = bases.get('gpt-2') ?? bases.set('gpt-2', readGGUF(vocabPath('gpt-2'))).get('gpt-2')!;
  const texts = [...BYTE_TO_CHAR];
  const merges: string[] = [];
  for (const a of BYTE_TO_CHAR) {
    for (const b of BYTE_TO_CHAR) {
      texts.push(a + b);
      merges.push(`${a} ${b}`);
    }
  }
  texts.push('<|endoftext|>');
  const types = new Int32Array(texts.length).fill(1);
  types[texts.length - 1] = TOKEN_TYPE.CONTROL;
  const entries = metadataEntries(g).filter((e) => !e.key.startsWith('tokenizer.'));
  entries.push(
    { key: 'tokenizer.ggml.model', type: GGUFValueType.STRING, value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: GGUFValueType.STRING, value: pre },
    { key: 'tokenizer.ggml.tokens', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: texts },
    { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT32, value: types },
    { key: 'tokenizer.ggml.merges', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: merges },
    { key: 'tokenizer.ggml.bos_token_id', type: GGUFValueType.UINT32, value: texts.length - 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: GGUFValueType.UINT32, value: texts.length - 1 },
  );
  const path = join(dir, `pairs-${pre}.gguf`);
  writeGGUF(path, { metadata: entries, tensors: [] });
  return path;
}

// hand-written splitters (gpt-2, qwen2, qwen35) and std::regex ones telling letters, digits,
// punctuation (deepseek-coder), marks and symbols (deepseek-v3) apart
for (const name of ['gpt-2', 'qwen2', 'qwen35', 'deepseek-coder', 'deepseek-v3']) {
  test(`pre-tokenizer "${name}": a sweep over the codepoint space splits as in llama.cpp`, async () => {
    const sweep = codepointSweep();
    assert.ok(sweep.join('').length > 300000);
    await compare(`${name} sweep`, pairVocab(name), sweep, { decode: false });
  });
}

test('SPM without the space prefix (tokenizer.ggml.add_space_prefix = false)', async () => {
  await compare('spm no prefix', variant('spm-noprefix', 'llama-spm', { 'tokenizer.ggml.add_space_prefix': false }), corpus);
});

test('SPM named Phi-3: special tokens strip whitespace to their right', async () => {
  // llama.cpp insists on these tokens in a Phi-3 vocabulary
  await compare('phi-3', variant('phi3', 'llama-spm', { 'general.name': 'Phi-3-mini-4k-instruct' }, {
    edit: (texts, types) => {
      ['<|endoftext|>', '<|end|>', '<|user|>'].forEach((t, i) => {
        texts[31990 + i] = t;
        types[31990 + i] = TOKEN_TYPE.CONTROL;
      });
    },
  }), corpus);
});

test('unusual token types: user-defined, control, unused and undefined tokens inside ordinary text', async () => {
  const retype = (texts: string[], types: Int32Array, changes: Record<string, number>) => {
    for (const [t, type] of Object.entries(changes)) {
      const i = texts.indexOf(t);
      assert.ok(i >= 0, t);
      types[i] = type;
    }
  };
  await compare('spm retyped', variant('spm-types', 'llama-spm', {}, {
    edit: (texts, types) => retype(texts, types, {
      '▁world': TOKEN_TYPE.USER_DEFINED, 'ing': TOKEN_TYPE.USER_DEFINED, '▁Hello': TOKEN_TYPE.CONTROL, '▁the': TOKEN_TYPE.UNUSED, 'er': TOKEN_TYPE.UNDEFINED,
    }),
  }), corpus);
  await compare('bpe retyped', variant('bpe-types', 'gpt-2', SMALL_GPT2_IDS, {
    keep: SMALL_GPT2.keep,
    edit: (texts, types) => {
      SMALL_GPT2.edit(texts, types);
      retype(texts, types, { 'Ġthe': TOKEN_TYPE.USER_DEFINED, 'ing': TOKEN_TYPE.USER_DEFINED, 'Ġworld': TOKEN_TYPE.CONTROL, 'er': TOKEN_TYPE.UNUSED });
    },
  }), corpus);
  // jina-v2 vocabularies: "<mask>" also takes the whitespace to its left
  await compare('lstrip <mask>', variant('mask', 'gpt-2', { 'tokenizer.ggml.pre': 'jina-v2-code', ...SMALL_GPT2_IDS }, {
    keep: SMALL_GPT2.keep,
    edit: (texts, types) => {
      SMALL_GPT2.edit(texts, types);
      texts[11998] = '<mask>';
      types[11998] = TOKEN_TYPE.USER_DEFINED;
    },
  }), corpus);
});
