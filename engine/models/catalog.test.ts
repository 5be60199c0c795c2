// The curated list: the eight completion and eight chat files, their repositories and names, shapes
// that agree with the benchmark's Qwen2.5-Coder shapes, sizes from the Hub, and fit estimates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOG, catalogFiles, defaultEntry } from './catalog.js';
import { estimateFit } from './fit.js';
import { FakeHub, sha256 } from '../../test/support/fake-hub.js';
import { QWEN25_CODER_0_5B, QWEN25_CODER_1_5B } from '../../test/support/fixtures.js';

test('completion: base models; chat: the matching Instruct ones; 0.5B to 7B in Q8_0 and Q4_K_M', () => {
  assert.equal(CATALOG.length, 16);
  assert.equal(new Set(CATALOG.map((e) => e.id)).size, 16);
  const ids = (role: string) => CATALOG.filter((e) => e.role === role).map((e) => e.file);
  assert.deepEqual(ids('completion'), [
    'qwen2.5-coder-0.5b-q8_0.gguf', 'qwen2.5-coder-0.5b-q4_k_m.gguf', 'qwen2.5-coder-1.5b-q8_0.gguf', 'qwen2.5-coder-1.5b-q4_k_m.gguf',
    'qwen2.5-coder-3b-q8_0.gguf', 'qwen2.5-coder-3b-q4_k_m.gguf', 'qwen2.5-coder-7b-q8_0.gguf', 'qwen2.5-coder-7b-q4_k_m.gguf',
  ]);
  assert.deepEqual(ids('chat'), ids('completion').map((f) => f.replace(/-(q8_0|q4_k_m)\.gguf$/, '-instruct-$1.gguf')));
  const repo = (file: string) => CATALOG.find((e) => e.file === file)!.repo;
  assert.equal(repo('qwen2.5-coder-1.5b-q8_0.gguf'), 'Qwen/Qwen2.5-Coder-1.5B-GGUF');
  assert.equal(repo('qwen2.5-coder-3b-instruct-q4_k_m.gguf'), 'Qwen/Qwen2.5-Coder-3B-Instruct-GGUF');
  assert.equal(repo('qwen2.5-coder-7b-q4_k_m.gguf'), 'Qwen/Qwen2.5-Coder-7B-GGUF');
  assert.equal(repo('qwen2.5-coder-7b-q8_0.gguf'), 'ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF');
  assert.equal(repo('qwen2.5-coder-7b-instruct-q8_0.gguf'), 'ggml-org/Qwen2.5-Coder-7B-Instruct-Q8_0-GGUF');
  assert.equal(CATALOG.find((e) => e.id === 'qwen2.5-coder-0.5b-instruct-q4_k_m')!.label, 'Qwen2.5-Coder 0.5B Instruct (Q4_K_M)');
  assert.equal(defaultEntry('completion', false).id, 'qwen2.5-coder-1.5b-q8_0');
  assert.equal(defaultEntry('completion', true).id, 'qwen2.5-coder-0.5b-q8_0');
  assert.equal(defaultEntry('chat', false).id, 'qwen2.5-coder-1.5b-instruct-q8_0');
});

test('shapes agree with the benchmark\'s exact Qwen2.5-Coder shapes', () => {
  for (const [size, f] of [['0.5B', QWEN25_CODER_0_5B], ['1.5B', QWEN25_CODER_1_5B]] as const) {
    const s = CATALOG.find((e) => e.size === size)!.shape;
    assert.deepEqual([s.nVocab, s.nEmbd, s.nLayer, s.nHead, s.nHeadKv, s.headDim, s.nFf, s.nCtxTrain],
      [f.nVocabPadded, f.nEmbd, f.nLayer, f.nHead, f.nHeadKv, f.nEmbd! / f.nHead!, f.nFf, f.nCtxTrain]);
  }
});

test('sizes and SHA-256s come from the Hub; an unreachable or missing repository is an error on its entries only', async () => {
  const content = Buffer.alloc(4096, 1);
  const hub = await FakeHub.start([{ repo: 'Qwen/Qwen2.5-Coder-0.5B-GGUF', commit: 'd'.repeat(40), files: [{ path: 'qwen2.5-coder-0.5b-q8_0.gguf', content }] }]);
  try {
    const files = await catalogFiles({ endpoint: hub.url, token: null, env: {}, retries: 0, entries: CATALOG.filter((e) => e.size === '0.5B' || e.size === '1.5B') });
    assert.equal(files.length, 8);
    const q8 = files.find((f) => f.id === 'qwen2.5-coder-0.5b-q8_0')!;
    assert.deepEqual([q8.sizeBytes, q8.sha256, q8.error], [4096, sha256(content), undefined]);
    assert.equal(files.find((f) => f.id === 'qwen2.5-coder-0.5b-q4_k_m')!.error?.code, 'not-found');
    assert.equal(files.find((f) => f.id === 'qwen2.5-coder-1.5b-q8_0')!.error?.code, 'not-found');
    assert.equal(hub.count('hub', '/tree/'), 4, 'one list per repository');
    const fit = estimateFit(q8.file, q8.sizeBytes!, q8.shape, { nCtx: 4096, device: { software: false } });
    assert.equal(fit.kvBytes, 2 * 24 * 2 * 2 * 4096 * 64 * 2);
  } finally {
    await hub.close();
  }
});
