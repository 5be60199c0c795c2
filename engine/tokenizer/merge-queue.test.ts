// The merge queue: the same merges as the plain definition (repeatedly join the best, leftmost
// pair), a bounded number of questions per character, and a 5 MB single word through the real
// tokenizers in a small, fixed JavaScript heap (a queue of one object and string per candidate
// needed over 1 GB for it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { GGUFValueType, readGGUF } from '../gguf/gguf.js';
import { writeGGUF } from '../gguf/gguf-writer.js';
import { mergeSymbols, type MergePriority } from './merge-queue.js';
import { Tokenizer } from './tokenizer.js';
import { BYTE_TO_CHAR } from './unicode.js';

/** The symbols mergeSymbols leaves, as strings. */
function merged(text: string, priorityOf: MergePriority): string[] {
  const b = mergeSymbols(text, priorityOf);
  return Array.from({ length: b.length - 1 }, (_, k) => text.slice(b[k], b[k + 1]));
}

/** The definition, in O(n^2): join the adjacent pair with the lowest priority, leftmost on ties, until none has one. */
function naiveMerge(text: string, priorityOf: MergePriority): string[] {
  const syms = Array.from(text);
  const starts = [0];
  for (const s of syms) starts.push(starts[starts.length - 1] + s.length);
  for (;;) {
    let best = -1;
    let bestP = 0;
    for (let i = 0; i + 1 < syms.length; i++) {
      const p = priorityOf(starts[i], starts[i + 1], starts[i + 2]);
      if (p !== undefined && (best < 0 || p < bestP)) { best = i; bestP = p; }
    }
    if (best < 0) return syms;
    syms.splice(best, 2, syms[best] + syms[best + 1]);
    starts.splice(best + 1, 1);
  }
}

/** A token every run of 2^k copies of one character up to 8, as a BPE or SPM vocabulary would hold. */
const LONGEST = 8;

/** Writes a GGUF holding only a tokenizer: byte-level BPE (qwen2 pre-tokenizer) or SPM, whose tokens join runs of "a". */
function vocabFile(kind: 'bpe' | 'spm'): string {
  const runs = [2, 4, 8].map((k) => 'a'.repeat(k));
  const tokens = kind === 'bpe' ? [...BYTE_TO_CHAR, ...runs] : ['<unk>', '<s>', '</s>', '\u2581', 'a', ...runs];
  const metadata = [
    { key: 'general.architecture', type: GGUFValueType.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.model', type: GGUFValueType.STRING, value: kind === 'bpe' ? 'gpt2' : 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: tokens },
    kind === 'bpe'
      ? { key: 'tokenizer.ggml.pre', type: GGUFValueType.STRING, value: 'qwen2' }
      : { key: 'tokenizer.ggml.scores', type: GGUFValueType.ARRAY, itemType: GGUFValueType.FLOAT32, value: tokens.map((t) => t.length) },
  ];
  if (kind === 'bpe') metadata.push({ key: 'tokenizer.ggml.merges', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: runs.map((r) => `${r.slice(r.length / 2)} ${r.slice(r.length / 2)}`) });
  const path = join(mkdtempSync(join(tmpdir(), 'hearth-merge-')), `${kind}.gguf`);
  writeGGUF(path, { metadata, tensors: [] });
  return path;
}

interface Job { path: string; chars: number }
interface Done { ids: Int32Array; longest: number }

if (!isMainThread) {
  // A worker with a small heap: tokenize one word of `chars` a's.
  const { path, chars } = workerData as Job;
  const tok = Tokenizer.fromGGUF(readGGUF(path));
  const ids = Int32Array.from(tok.encode('a'.repeat(chars)));
  parentPort!.postMessage({ ids, longest: tok.tokenId('a'.repeat(LONGEST))! } satisfies Done, [ids.buffer]);
} else {
  test('merges as the definition does: best pair first, leftmost on ties, over characters', () => {
    let seed = 20241201;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const alphabet = ['a', 'b', 'c', ' ', '😀', 'é'];
    for (let round = 0; round < 400; round++) {
      const text = Array.from({ length: Math.floor(rnd() * 40) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
      // Priorities from the pair's text, few distinct values (so ties are common), some pairs never merge.
      const table = new Map<string, number | undefined>();
      const priorityOf: MergePriority = (s, m, e) => {
        const key = `${text.slice(s, m)}|${text.slice(m, e)}`;
        if (!table.has(key)) table.set(key, rnd() < 0.3 ? undefined : Math.floor(rnd() * 4));
        return table.get(key);
      };
      assert.deepEqual(merged(text, priorityOf), naiveMerge(text, priorityOf), JSON.stringify(text));
    }
    assert.deepEqual(merged('', () => 0), []);
    assert.deepEqual(merged('😀', () => 0), ['😀'], 'a surrogate pair is one character');
  });

  test('each merge asks for at most two new candidates: O(n) questions for an n-character word', () => {
    const n = 1 << 20;
    let asked = 0;
    const out = merged('a'.repeat(n), (s, m, e) => {
      asked++;
      return m - s === e - m && e - s <= LONGEST ? e - s : undefined;
    });
    assert.equal(out.length, n / LONGEST);
    assert.ok(out.every((s) => s.length === LONGEST));
    // n - 1 first pairs, then at most two per merge (n - n/8 merges).
    assert.ok(asked <= 3 * n, `${asked} questions for ${n} characters`);
  });

  for (const [kind, chars] of [['bpe', 5_000_000], ['spm', 2_000_000]] as const) {
    test(`${kind}: a ${chars / 1e6} MB single word tokenizes in a 64 MiB JavaScript heap`, async () => {
      const path = vocabFile(kind);
      const worker = new Worker(new URL(import.meta.url), { workerData: { path, chars } satisfies Job, resourceLimits: { maxOldGenerationSizeMb: 64 } });
      const done = await new Promise<Done>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`the worker exited with code ${code} before answering`)));
      });
      // SPM's space prefix (U+2581, id 3) is a token of its own; the a's come out as the longest token.
      const prefix = kind === 'spm' ? 1 : 0;
      const expected = new Int32Array(prefix + chars / LONGEST).fill(done.longest);
      if (prefix) expected[0] = 3;
      assert.deepEqual(done.ids, expected);
    });
  }
}
