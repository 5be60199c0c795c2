// Tokenizers against llama.cpp's expectations for its tokenizer tests (the inputs its
// test-tokenizer-0 reads, with llama.cpp's ids for every vocabulary of test/support/vocab.ts) plus
// the behaviours callers rely on: special tokens, byte fallback, streaming decode of characters split
// across tokens, and clear errors for bad metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GGUF, readGGUF } from '../gguf/gguf.js';
import { StreamDecoder, Tokenizer } from './tokenizer.js';
import { LETTER, UNDEFINED, WHITESPACE, cptFlags } from './unicode.js';
import { VOCABS, VocabName, vocabCases, vocabPath } from '../../test/support/vocab.js';

const cache = new Map<string, Tokenizer>();
const load = (v: VocabName) => {
  let t = cache.get(v);
  if (!t) cache.set(v, (t = Tokenizer.fromGGUF(readGGUF(vocabPath(v)))));
  return t;
};

for (const v of VOCABS) {
  test(`${v}: every one of llama.cpp's tokenizer test inputs tokenizes as in llama.cpp`, async () => {
    const tok = load(v);
    const cases = await vocabCases(v);
    assert.ok(cases.length >= 40, `${v}: only ${cases.length} cases`);
    for (const [text, want] of cases) {
      assert.deepEqual(tok.encode(text, { addBos: false, parseSpecial: false }), want, `${v}: ${JSON.stringify(text)}`);
    }
  });
}

test('metadata: BOS/EOS, add_bos, EOT, FIM and end-of-generation ids as llama.cpp derives them', () => {
  const spm = load('llama-spm');
  assert.equal(spm.kind, 'spm');
  assert.deepEqual([spm.bos, spm.eos, spm.unk, spm.addBos, spm.addEos], [1, 2, 0, true, false]);
  assert.deepEqual(spm.eogIds, [2]);

  const qwen = load('qwen2');
  assert.equal(qwen.pre, 'qwen2');
  assert.equal(qwen.addBos, false);
  assert.equal(qwen.tokenText(qwen.eos!), '<|im_end|>');
  assert.equal(qwen.tokenText(qwen.eot!), '<|im_end|>');
  const fimTexts = Object.fromEntries(Object.entries(qwen.fim).map(([k, id]) => [k, qwen.tokenText(id!)]));
  assert.deepEqual(fimTexts, { pre: '<|fim_prefix|>', suf: '<|fim_suffix|>', mid: '<|fim_middle|>', pad: '<|fim_pad|>', rep: '<|repo_name|>', sep: '<|file_sep|>' });
  for (const t of ['<|endoftext|>', '<|im_end|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>']) assert.ok(qwen.isEog(qwen.tokenId(t)!), t);
  for (const t of ['<|im_start|>', '<|fim_prefix|>', 'hello']) assert.ok(!qwen.isEog(qwen.tokenId(t)!), t);
  assert.ok(qwen.isControl(qwen.fim.pre!), 'a FIM token found by its text becomes a control token');

  const ds = load('deepseek-coder');
  assert.equal(ds.addBos, true);
  assert.deepEqual([ds.tokenText(ds.fim.pre!), ds.tokenText(ds.fim.suf!), ds.tokenText(ds.fim.mid!)], ['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>']);
  assert.equal(ds.fim.pad, undefined);

  const gpt2 = load('gpt-2');
  assert.deepEqual([gpt2.bos, gpt2.eos, gpt2.eot, gpt2.addBos], [50256, 50256, 50256, false]);
});

test('special tokens are parsed from text only when asked; user-defined ones always are', () => {
  const qwen = load('qwen2');
  const text = '<|fim_prefix|>def f():\n    return <|fim_suffix|>\n<|fim_middle|>';
  const parsed = qwen.encode(text, { parseSpecial: true });
  assert.equal(parsed[0], qwen.fim.pre);
  assert.equal(parsed.at(-1), qwen.fim.mid);
  assert.ok(parsed.includes(qwen.fim.suf!));
  assert.deepEqual(parsed.slice(1, parsed.indexOf(qwen.fim.suf!)), qwen.encode('def f():\n    return '));
  const plain = qwen.encode(text);
  assert.ok(!plain.some((id) => qwen.isControl(id)), 'no control token unless parseSpecial');
  assert.equal(qwen.decode(plain), text);
  assert.equal(qwen.decode(parsed), 'def f():\n    return \n', 'control tokens render as nothing by default');
  assert.equal(qwen.decode(parsed, { special: true }), text);

  // "<think>" is a user-defined token: llama.cpp splits it out even without parse_special
  const think = qwen.tokenId('<think>')!;
  assert.deepEqual(qwen.encode('a<think>b'), [...qwen.encode('a'), think, ...qwen.encode('b')]);
  // deepseek-coder's user-defined single characters likewise win over byte-level BPE
  const ds = load('deepseek-coder');
  assert.deepEqual(ds.encode('õ'), [ds.tokenId('õ')]);

  // SPM: a space prefix goes on the first fragment and on every fragment after a special token
  const spm = load('llama-spm');
  const hello = spm.tokenId('▁Hello')!;
  assert.deepEqual(spm.encode('Hello'), [hello]);
  assert.deepEqual(spm.encode('Hello</s>Hello', { parseSpecial: true }), [hello, 2, hello]);
  assert.deepEqual(spm.encode('Hello', { addBos: true }), [1, hello]);
  assert.deepEqual(spm.encode('', { addBos: true }), [1]);
  assert.deepEqual(spm.encode(''), []);
});

test('SPM byte fallback and decoding: unknown characters become <0xNN> tokens and decode back', () => {
  const spm = load('llama-spm');
  const ids = spm.encode('🦙');
  assert.deepEqual(ids.map((id) => spm.tokenText(id)), ['▁', '<0xF0>', '<0x9F>', '<0xA6>', '<0x99>']);
  assert.equal(spm.decode(ids), '🦙', 'the space prefix comes off the first token');
  assert.equal(spm.decode([spm.tokenId('▁Hello')!, spm.tokenId('▁world')!]), 'Hello world');
  assert.equal(spm.decode([1, spm.tokenId('▁Hello')!]), ' Hello', 'only the very first token loses its space');
  assert.throws(() => spm.decode([spm.nVocab]), /outside the vocabulary/);
});

test('StreamDecoder never emits half a character and adds up to the whole text', () => {
  const text = 'naïve café 🦙🚀 你好，世界 Привет 👨‍👩‍👧 e\u0301 ½';
  for (const v of VOCABS) {
    const tok = load(v);
    const ids = tok.encode(text);
    const d = new StreamDecoder(tok);
    const chunks = ids.map((id) => d.push(id));
    chunks.push(d.flush());
    for (const c of chunks) assert.ok(!c.includes('\uFFFD'), `${v}: a chunk holds a broken character`);
    assert.ok(chunks.some((c, i) => c === '' && i < ids.length), `${v}: no token ends mid-character, so nothing was held back`);
    // SPM keeps the space prefix (where the vocabulary adds one) when streaming; decode() removes it
    const prefix = tok.kind === 'spm' && readGGUF(vocabPath(v)).metadata.get('tokenizer.ggml.add_space_prefix') !== false;
    assert.equal(chunks.join(''), (prefix ? ' ' : '') + text, v);
  }
  // a character cut off at the end comes out as U+FFFD on flush
  const spm = load('llama-spm');
  const d = new StreamDecoder(spm);
  assert.equal(d.push(spm.tokenId('<0xF0>')!) + d.push(spm.tokenId('<0x9F>')!), '');
  assert.equal(d.flush(), '\uFFFD');
  assert.equal(d.push(spm.tokenId('<0x41>')!), 'A', 'the decoder is reusable after flush');
});

function fakeGGUF(entries: [string, unknown][]): GGUF {
  return {
    path: 'fake.gguf', version: 3, fileSize: 0, alignment: 32, dataOffset: 0,
    metadata: new Map(entries as [string, never][]), metadataTypes: new Map(), tensors: [], tensorByName: new Map(),
  };
}

test('bad tokenizer metadata gives a clear error naming the file and key', () => {
  const tokens = ['a', 'b', 'ab'];
  const ok: [string, unknown][] = [['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', 'qwen2'], ['tokenizer.ggml.tokens', tokens], ['tokenizer.ggml.merges', ['a b']]];
  const t = Tokenizer.fromGGUF(fakeGGUF(ok));
  assert.deepEqual(t.encode('abab'), [2, 2]);
  const without = (k: string) => ok.filter(([key]) => key !== k);
  assert.throws(() => Tokenizer.fromGGUF(fakeGGUF([])), /fake\.gguf.*tokenizer\.ggml\.model/);
  assert.throws(() => Tokenizer.fromGGUF(fakeGGUF([...without('tokenizer.ggml.model'), ['tokenizer.ggml.model', 'bert']])), /fake\.gguf.*unsupported tokenizer\.ggml\.model "bert"/);
  assert.throws(() => Tokenizer.fromGGUF(fakeGGUF([...without('tokenizer.ggml.pre'), ['tokenizer.ggml.pre', 'nonsense']])), /fake\.gguf.*unknown pre-tokenizer type "nonsense"/);
  assert.throws(() => Tokenizer.fromGGUF(fakeGGUF(without('tokenizer.ggml.merges'))), /fake\.gguf.*tokenizer\.ggml\.merges/);
  assert.throws(() => Tokenizer.fromGGUF(fakeGGUF(without('tokenizer.ggml.tokens'))), /fake\.gguf.*tokenizer\.ggml\.tokens/);
  assert.throws(() => Tokenizer.fromGGUF(fakeGGUF([...ok, ['tokenizer.ggml.token_type', new Int32Array(2)]])), /fake\.gguf.*token_type" has 2 entries for 3 tokens/);
  assert.throws(() => Tokenizer.fromGGUF(fakeGGUF([...ok, ['tokenizer.ggml.bos_token_id', 'x']])), /fake\.gguf.*bos_token_id/);
  // an out-of-range special id is ignored, as llama.cpp does (it keeps the default, here also out of range)
  assert.equal(Tokenizer.fromGGUF(fakeGGUF([...ok, ['tokenizer.ggml.bos_token_id', 99]])).bos, undefined);
  const spm = fakeGGUF([['tokenizer.ggml.model', 'llama'], ['tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', '▁', '▁a']]]);
  assert.throws(() => Tokenizer.fromGGUF(spm).encode('b'), /no token for byte 0x62/);
});

test('codepoint categories follow llama.cpp (Unicode 15.1), not a newer Unicode', () => {
  // these were assigned in Unicode 15.1; a Node that does not know them would split text differently
  assert.ok(/\p{L}/u.test('\u{2EBF0}') && /\p{L}/u.test('\u{31EF}') === false && /\p{So}/u.test('\u{31EF}'), 'this Node knows Unicode 15.1');
  assert.equal(cptFlags(0x1c89), UNDEFINED, 'U+1C89 (Unicode 16) is unassigned to llama.cpp');
  assert.equal(cptFlags(0x1fae9), UNDEFINED, 'U+1FAE9 (Unicode 16) is unassigned to llama.cpp');
  assert.equal(cptFlags(0x41), LETTER);
  assert.equal(cptFlags(0x85) & WHITESPACE, WHITESPACE, 'U+0085 is White_Space');
  assert.equal(cptFlags(0xfeff) & WHITESPACE, 0, 'U+FEFF is not');
});
