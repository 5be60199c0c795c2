import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../gguf/ggml.js';
import { GGUFValueType, readGGUF } from '../gguf/gguf.js';
import { writeGGUF } from '../gguf/gguf-writer.js';
import { expectedTensors, loadConfig, validateTensors } from './model.js';
import { FixtureFile, FixtureOptions, writeFixtureModel } from '../../test/support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'hearth-model-'));
let n = 0;

// Small llama-spm models (32k vocab, Q8_0) keep these files to a few MB.
const small: FixtureOptions = { arch: 'llama', vocab: 'llama-spm', type: GGMLType.Q8_0, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 96 };

function write(opts: Partial<FixtureOptions> = {}, edit?: (f: FixtureFile) => void): string {
  const path = join(tmp, `m${n++}.gguf`);
  writeFixtureModel(path, { ...small, ...opts }, edit);
  return path;
}

function setMeta(f: FixtureFile, key: string, type: GGUFValueType, value: unknown) {
  const e = f.metadata.find((m) => m.key === key);
  if (e) Object.assign(e, { type, value });
  else f.metadata.push({ key, type, value });
}

test('llama config from metadata: normal rope, untied output, GQA', () => {
  const c = loadConfig(readGGUF(write()));
  assert.equal(c.arch, 'llama');
  assert.equal(c.nVocab, 32000);
  assert.deepEqual([c.nEmbd, c.nLayer, c.nHead, c.nHeadKv, c.headDim, c.nFf, c.nRot], [64, 2, 4, 2, 16, 96, 16]);
  assert.equal(c.ropeNeox, false);
  assert.equal(c.tiedEmbeddings, false);
  assert.deepEqual(c.bias, { qkv: false, attnOut: false, ffn: false });
  assert.equal(c.ropeScaling.type, 'none');
  assert.equal(c.fileType, 7);
  assert.ok(Math.abs(c.rmsEps - 1e-6) < 1e-12);
  assert.equal(c.attnScale, 1 / 4);
});

test('qwen2 config: NEOX rope, tied embeddings, QKV biases', () => {
  const path = write({ arch: 'qwen2', vocab: 'qwen2', type: GGMLType.Q4_0 });
  const g = readGGUF(path);
  const c = loadConfig(g);
  assert.equal(c.arch, 'qwen2');
  assert.equal(c.nVocab, 151669);
  assert.equal(c.ropeNeox, true);
  assert.equal(c.tiedEmbeddings, true);
  assert.deepEqual(c.bias, { qkv: true, attnOut: false, ffn: false });
  assert.equal(c.ropeFreqBase, 1e6);
  assert.equal(validateTensors(g, c).size, g.tensors.length);
});

test('optional llama tensors: biases and rope_freqs are found and validated', () => {
  const g = readGGUF(write({ llamaBiases: true, ropeFreqs: true }));
  const c = loadConfig(g);
  assert.deepEqual(c.bias, { qkv: true, attnOut: true, ffn: true });
  assert.equal(c.ropeFreqs, true);
  assert.equal(validateTensors(g, c).size, g.tensors.length);
  assert.equal(expectedTensors(c).length, g.tensors.length);
});

test('unsupported architecture is a clear error naming it and the file', () => {
  const path = join(tmp, 'gemma.gguf');
  writeGGUF(path, { metadata: [{ key: 'general.architecture', type: GGUFValueType.STRING, value: 'gemma2' }], tensors: [] });
  assert.throws(() => loadConfig(readGGUF(path)), (e: Error) => e.message.includes(path) && /architecture "gemma2" is not supported \(supported: llama, qwen2\)/.test(e.message));
});

test('missing or inconsistent metadata is an error naming the key', () => {
  const noHeads = write({}, (f) => { f.metadata = f.metadata.filter((m) => m.key !== 'llama.attention.head_count'); });
  assert.throws(() => loadConfig(readGGUF(noHeads)), /llama\.attention\.head_count/);
  const badKv = write({}, (f) => setMeta(f, 'llama.attention.head_count_kv', GGUFValueType.UINT32, 3));
  assert.throws(() => loadConfig(readGGUF(badKv)), /head_count 4 is not a multiple of head_count_kv 3/);
  const hugeLayers = write({}, (f) => setMeta(f, 'llama.block_count', GGUFValueType.UINT32, 4_000_000_000));
  assert.throws(() => loadConfig(readGGUF(hugeLayers)), /llama\.block_count" = 4000000000 must be an integer in 1\.\.512/);
  const partialRope = write({}, (f) => setMeta(f, 'llama.rope.dimension_count', GGUFValueType.UINT32, 8));
  assert.throws(() => loadConfig(readGGUF(partialRope)), /rope\.dimension_count 8 != head dimension 16/);
  const longrope = write({}, (f) => setMeta(f, 'llama.rope.scaling.type', GGUFValueType.STRING, 'longrope'));
  assert.throws(() => loadConfig(readGGUF(longrope)), /rope scaling "longrope" .* is not supported/);
});

test('tensor validation names the tensor, the file and what was expected', () => {
  const check = (edit: (f: FixtureFile) => void, re: RegExp) => {
    const path = write({}, edit);
    const g = readGGUF(path);
    assert.throws(() => validateTensors(g, loadConfig(g)), (e: Error) => e.message.startsWith(path) && re.test(e.message), re.source);
  };
  check((f) => { f.tensors = f.tensors.filter((t) => t.name !== 'blk.1.ffn_up.weight'); }, /tensor "blk\.1\.ffn_up\.weight" is missing/);
  check((f) => {
    const t = f.tensors.find((x) => x.name === 'blk.0.attn_k.weight')!;
    Object.assign(t, { dims: [64, 16], data: new Uint8Array(34 * 2 * 16) });
  }, /tensor "blk\.0\.attn_k\.weight" has shape 64 x 16, expected 64 x 32/);
  check((f) => {
    const t = f.tensors.find((x) => x.name === 'blk.0.attn_norm.weight')!;
    Object.assign(t, { type: GGMLType.IQ4_NL, dims: [64], data: new Uint8Array(18 * 2) });
  }, /tensor "blk\.0\.attn_norm\.weight" has type IQ4_NL, which is not supported/);
  check((f) => { f.tensors.push({ name: 'blk.0.attn_qkv.weight', dims: [32], type: GGMLType.F32, data: new Uint8Array(128) }); }, /unexpected tensor\(s\) "blk\.0\.attn_qkv\.weight"/);
  // A bias present in layer 0 but not layer 1 is reported for layer 1.
  const path = write({ llamaBiases: true }, (f) => { f.tensors = f.tensors.filter((t) => t.name !== 'blk.1.attn_v.bias'); });
  const g = readGGUF(path);
  assert.throws(() => validateTensors(g, loadConfig(g)), /tensor "blk\.1\.attn_v\.bias" is missing/);
});

test('rope scaling metadata as llama.cpp derives it', () => {
  const linear = loadConfig(readGGUF(write({ ropeScaling: { type: 'linear', factor: 4 } }))).ropeScaling;
  assert.deepEqual(linear, { type: 'linear', factor: 4, origCtx: 4096, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1 });
  const yarn = loadConfig(readGGUF(write({ ropeScaling: { type: 'yarn', factor: 4, origCtx: 1024 } }))).ropeScaling;
  assert.equal(yarn.type, 'yarn');
  assert.equal(yarn.extFactor, 1);
  assert.equal(yarn.origCtx, 1024);
  // llama.cpp cancels YaRN's mscale in attn_factor because ggml's rope multiplies it in again.
  assert.ok(Math.abs(yarn.attnFactor - 1) < 1e-12);
  const logMul = write({ ropeScaling: { type: 'yarn', factor: 4 } }, (f) => setMeta(f, 'llama.rope.scaling.yarn_log_multiplier', GGUFValueType.FLOAT32, 0.1));
  const m = (s: number, k: number) => 0.1 * k * Math.log(s) + 1;
  assert.ok(Math.abs(loadConfig(readGGUF(logMul)).ropeScaling.attnFactor - m(4, 1) / m(4, Math.fround(0.1)) / m(4, 1)) < 1e-9);
  // A factor of 1 or a missing type is no scaling at all.
  const one = loadConfig(readGGUF(write({ ropeScaling: { type: 'linear', factor: 1 } }))).ropeScaling;
  assert.equal(one.type, 'none');
});
