import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../gguf/ggml.js';
import { GGUF, readGGUF, readTensorBytes } from '../gguf/gguf.js';
import { metadataEntries, writeGGUF } from '../gguf/gguf-writer.js';
import { ReferenceModel } from './reference.js';
import { fixtureModel } from '../../test/support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'hearth-reference-'));
const llamaPath = fixtureModel({ arch: 'llama', vocab: 'llama-spm', type: GGMLType.F32 });
const qwenPath = fixtureModel({ arch: 'qwen2', vocab: 'qwen2', type: GGMLType.Q8_0 });
const tokens = [17, 4242, 999, 31000, 5, 77, 1234, 8080, 300, 12];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('KV cache: token-by-token and chunked decoding give the logits of one batch', () => {
  for (const path of [llamaPath, qwenPath]) {
    const m = ReferenceModel.load(readGGUF(path), { nCtx: 32, nSeq: 3 });
    const V = m.config.nVocab;
    const batch = m.evaluate(0, tokens, 0, { allLogits: true });
    tokens.forEach((t, i) => {
      const one = m.evaluate(1, [t], i);
      assert.ok(maxDiff(one, batch.subarray(i * V, (i + 1) * V)) < 1e-4, `${path} position ${i}`);
    });
    m.evaluate(2, tokens.slice(0, 4), 0);
    const rest = m.evaluate(2, tokens.slice(4), 4);
    assert.ok(maxDiff(rest, batch.subarray((tokens.length - 1) * V)) < 1e-4);
    assert.equal(m.seqLength(2), tokens.length);
    // The logits are not degenerate: spread out, with a clear winner.
    const last = batch.subarray((tokens.length - 1) * V);
    const sorted = Array.from(last).sort((a, b) => b - a);
    const mean = last.reduce((s, x) => s + x, 0) / V;
    const std = Math.sqrt(last.reduce((s, x) => s + (x - mean) ** 2, 0) / V);
    assert.ok(std > 2 && std < 10, `logit std ${std}`);
    assert.ok(sorted[0] - sorted[1] > 1e-3, 'no exact tie at the top');
  }
});

test('sequences are independent, and a smaller pos replaces the tail of the cache', () => {
  const m = ReferenceModel.load(readGGUF(llamaPath), { nCtx: 16, nSeq: 2 });
  const a = m.evaluate(0, tokens.slice(0, 5), 0);
  const b = m.evaluate(1, tokens.slice(5), 0);
  // Interleave work on the other sequence, then continue each.
  const a2 = m.evaluate(0, [42], 5);
  const fresh = ReferenceModel.load(readGGUF(llamaPath), { nCtx: 16 });
  assert.deepEqual(fresh.evaluate(0, tokens.slice(5), 0), b);
  assert.deepEqual(fresh.evaluate(0, tokens.slice(0, 5), 0), a);
  assert.deepEqual(fresh.evaluate(0, [42], 5), a2);
  // Rewind sequence 0 to position 2 and take another branch: same as evaluating that prefix afresh.
  const branch = m.evaluate(0, [9, 10], 2);
  assert.equal(m.seqLength(0), 4);
  assert.deepEqual(fresh.evaluate(0, [tokens[0], tokens[1], 9, 10], 0), branch);
});

/** The same model with every KV head repeated for each query head that shares it (no GQA). */
function expandKvHeads(g: GGUF, path: string): void {
  const arch = String(g.metadata.get('general.architecture'));
  const nHead = Number(g.metadata.get(`${arch}.attention.head_count`));
  const nKv = Number(g.metadata.get(`${arch}.attention.head_count_kv`));
  const E = Number(g.metadata.get(`${arch}.embedding_length`));
  const D = E / nHead;
  const metadata = metadataEntries(g).map((e) => (e.key === `${arch}.attention.head_count_kv` ? { ...e, value: nHead } : e));
  const tensors = g.tensors.map((t) => {
    const bytes = readTensorBytes(g, t);
    if (!/attn_[kv]\.(weight|bias)$/.test(t.name)) return { name: t.name, dims: t.dims, type: t.type, data: bytes };
    assert.equal(t.type, GGMLType.F32);
    const rowBytes = t.dims.length === 2 ? t.dims[0] * 4 : 4;
    const out = new Uint8Array(bytes.length * (nHead / nKv));
    for (let h = 0; h < nHead; h++) {
      const src = Math.floor(h / (nHead / nKv)) * D * rowBytes;
      out.set(bytes.subarray(src, src + D * rowBytes), h * D * rowBytes);
    }
    return { name: t.name, dims: t.dims.length === 2 ? [t.dims[0], nHead * D] : [nHead * D], type: t.type, data: out };
  });
  writeGGUF(path, { metadata, tensors });
}

test('grouped-query attention equals attention with the KV heads duplicated', () => {
  for (const [arch, vocab] of [['llama', 'llama-spm'], ['qwen2', 'qwen2']] as const) {
    const gqa = readGGUF(fixtureModel({ arch, vocab, type: GGMLType.F32, nEmbd: 64, nHead: 4, nHeadKv: 2 }));
    const path = join(tmp, `${arch}-mha.gguf`);
    expandKvHeads(gqa, path);
    const a = ReferenceModel.load(gqa, { nCtx: 16 });
    const b = ReferenceModel.load(readGGUF(path), { nCtx: 16 });
    assert.equal(a.config.nHeadKv, 2);
    assert.equal(b.config.nHeadKv, 4);
    assert.ok(maxDiff(a.evaluate(0, tokens, 0, { allLogits: true }), b.evaluate(0, tokens, 0, { allLogits: true })) < 1e-4, arch);
  }
});

test('bad calls are clear errors, and nothing is cached by them', () => {
  const m = ReferenceModel.load(readGGUF(llamaPath), { nCtx: 8, nSeq: 2 });
  m.evaluate(0, [1, 2], 0);
  assert.throws(() => m.evaluate(0, [3], 3), /position 3 is outside 0\.\.2 \(sequence 0 holds 2 tokens\)/);
  assert.throws(() => m.evaluate(0, [32000], 2), /token 32000 is outside the vocabulary 0\.\.31999/);
  assert.throws(() => m.evaluate(0, [-1], 2), /token -1/);
  assert.throws(() => m.evaluate(2, [1], 0), /sequence 2 is outside 0\.\.1/);
  assert.throws(() => m.evaluate(0, [1, 2, 3, 4, 5, 6, 7], 2), /positions 2\.\.8 exceed the context of 8/);
  assert.throws(() => m.evaluate(0, [], 2), /no tokens/);
  assert.equal(m.seqLength(0), 2);
  assert.throws(() => ReferenceModel.load(readGGUF(llamaPath), { nCtx: 8, maxWeightBytes: 1 << 20 }), /needs 0\.\d+ GiB of f32 weights, over its 0\.00 GiB limit/);
  assert.throws(() => ReferenceModel.load(readGGUF(llamaPath), { nCtx: 0 }), /nCtx 0 must be a positive integer/);
});

test('trace reports named activations; result_output is the returned logits', () => {
  const m = ReferenceModel.load(readGGUF(qwenPath), { nCtx: 8 });
  const seen = new Map<string, number>();
  let out: Float32Array | undefined;
  const logits = m.evaluate(0, [5, 6, 7], 0, {
    trace: (name, layer, data) => {
      seen.set(`${name}:${layer}`, data.length);
      if (name === 'result_output') out = data.slice();
    },
  });
  const c = m.config;
  assert.equal(seen.get('Qcur:0'), 3 * c.nHead * c.headDim);
  assert.equal(seen.get('Kcur:1'), 3 * c.nHeadKv * c.headDim);
  assert.equal(seen.get('l_out:1'), 3 * c.nEmbd);
  assert.equal(seen.get('result_norm:-1'), c.nEmbd);
  assert.deepEqual(out, logits);
});

test('the Backend interface: forward and forwardGreedy agree with evaluate', async () => {
  const m = ReferenceModel.load(readGGUF(llamaPath), { nCtx: 16 });
  const logits = await m.forward(0, tokens.slice(0, 4), 0);
  const id = await m.forwardGreedy(0, [tokens[4]], 4);
  const fresh = ReferenceModel.load(readGGUF(llamaPath), { nCtx: 16 });
  assert.deepEqual(fresh.evaluate(0, tokens.slice(0, 4), 0), logits);
  const next = fresh.evaluate(0, [tokens[4]], 4);
  assert.equal(id, next.indexOf(Math.max(...next)));
  assert.equal(m.stats().kvBytes, 2 * m.config.nLayer * 16 * m.config.nHeadKv * m.config.headDim * 4);
  m.dispose();
  assert.equal(m.seqLength(0), 0);
});

test('YaRN metadata changes attention: scaled model differs from the unscaled one only through rope', () => {
  const base = { arch: 'qwen2' as const, vocab: 'qwen2' as const, type: GGMLType.F32 };
  const plain = ReferenceModel.load(readGGUF(fixtureModel(base)), { nCtx: 16 });
  const yarn = ReferenceModel.load(readGGUF(fixtureModel({ ...base, ropeScaling: { type: 'yarn', factor: 4, origCtx: 256 } })), { nCtx: 16 });
  assert.equal(yarn.config.ropeScaling.type, 'yarn');
  // Position 0 has no rotation, but YaRN's magnitude scale still sharpens attention; with a single
  // token attention is trivially 1, so the first position's logits are identical.
  assert.deepEqual(plain.evaluate(0, [tokens[0]], 0), yarn.evaluate(0, [tokens[0]], 0));
  assert.ok(maxDiff(plain.evaluate(0, tokens.slice(1, 4), 1), yarn.evaluate(0, tokens.slice(1, 4), 1)) > 1e-3);
});
