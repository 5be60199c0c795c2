import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { GGMLType } from '../engine/gguf/ggml.js';
import { GGUFError, GGUFValueType, readGGUF, readTensorBytes, metaString, metaNumber, metaArray } from '../engine/gguf/gguf.js';
import { metadataEntries, writeGGUF } from '../engine/gguf/gguf-writer.js';
import { VOCABS, vocabPath } from './support/vocab.js';
const tmp = mkdtempSync(join(tmpdir(), 'hearth-gguf-'));

function sampleFile(version: 2 | 3 = 3, alignment = 32) {
  const path = join(tmp, `sample-v${version}-a${alignment}.gguf`);
  const a = new Uint8Array(4 * 6).map((_, i) => i);
  const b = new Uint8Array(18 * 3).map((_, i) => 255 - i);
  writeGGUF(path, {
    version, alignment,
    metadata: [
      { key: 'general.architecture', type: GGUFValueType.STRING, value: 'llama' },
      { key: 'u8', type: GGUFValueType.UINT8, value: 200 },
      { key: 'i8', type: GGUFValueType.INT8, value: -100 },
      { key: 'u16', type: GGUFValueType.UINT16, value: 60000 },
      { key: 'i16', type: GGUFValueType.INT16, value: -30000 },
      { key: 'u32', type: GGUFValueType.UINT32, value: 4000000000 },
      { key: 'i32', type: GGUFValueType.INT32, value: -2000000000 },
      { key: 'f32', type: GGUFValueType.FLOAT32, value: 0.5 },
      { key: 'f64', type: GGUFValueType.FLOAT64, value: Math.PI },
      { key: 'u64', type: GGUFValueType.UINT64, value: 2n ** 60n },
      { key: 'i64', type: GGUFValueType.INT64, value: -5 },
      { key: 'bool', type: GGUFValueType.BOOL, value: true },
      { key: 'str', type: GGUFValueType.STRING, value: 'héllo ▁ 世界' },
      { key: 'arr.str', type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: ['a', '', 'ccc'] },
      { key: 'arr.f32', type: GGUFValueType.ARRAY, itemType: GGUFValueType.FLOAT32, value: [1.5, -2, 3] },
      { key: 'arr.i32', type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT32, value: [1, -2, 3] },
      { key: 'arr.bool', type: GGUFValueType.ARRAY, itemType: GGUFValueType.BOOL, value: [true, false] },
      { key: 'arr.nested', type: GGUFValueType.ARRAY, itemType: GGUFValueType.ARRAY, value: [{ itemType: GGUFValueType.UINT8, value: [1, 2] }] },
    ],
    tensors: [
      { name: 'a', dims: [3, 2], type: GGMLType.F32, data: a },
      { name: 'b', dims: [32, 3], type: GGMLType.Q4_0, data: () => [b.subarray(0, 10), b.subarray(10)] },
    ],
  });
  return { path, a, b };
}

test('round trip of every metadata type, both versions, custom alignment', () => {
  for (const [version, alignment] of [[2, 32], [3, 32], [3, 64]] as const) {
    const { path, a, b } = sampleFile(version, alignment);
    const g = readGGUF(path);
    assert.equal(g.version, version);
    assert.equal(g.alignment, alignment);
    assert.equal(g.metadata.get('u8'), 200);
    assert.equal(g.metadata.get('i8'), -100);
    assert.equal(g.metadata.get('u16'), 60000);
    assert.equal(g.metadata.get('i16'), -30000);
    assert.equal(g.metadata.get('u32'), 4000000000);
    assert.equal(g.metadata.get('i32'), -2000000000);
    assert.equal(g.metadata.get('f32'), 0.5);
    assert.equal(g.metadata.get('f64'), Math.PI);
    assert.equal(g.metadata.get('u64'), 2n ** 60n);
    assert.equal(g.metadata.get('i64'), -5);
    assert.equal(g.metadata.get('bool'), true);
    assert.equal(metaString(g, 'str'), 'héllo ▁ 世界');
    assert.deepEqual(metaArray(g, 'arr.str'), ['a', '', 'ccc']);
    assert.deepEqual([...(metaArray(g, 'arr.f32') as Float32Array)], [1.5, -2, 3]);
    assert.ok(metaArray(g, 'arr.i32') instanceof Int32Array);
    assert.deepEqual(metaArray(g, 'arr.bool'), [true, false]);
    assert.deepEqual([...(metaArray(g, 'arr.nested')[0] as Uint8Array)], [1, 2]);
    assert.equal(g.tensors.length, 2);
    const [ta, tb] = g.tensors;
    assert.deepEqual(ta.dims, [3, 2]);
    assert.equal(ta.nbytes, 24);
    assert.equal(tb.type, GGMLType.Q4_0);
    assert.equal(tb.nbytes, 54);
    assert.equal(ta.offset % alignment, 0);
    assert.equal(tb.offset % alignment, 0);
    assert.deepEqual(readTensorBytes(g, ta), a);
    assert.deepEqual(readTensorBytes(g, tb), b);
    assert.deepEqual(readTensorBytes(g, tb, 5, 7), b.subarray(5, 12));
    assert.equal(g.fileSize % alignment, 0);
    assert.throws(() => readTensorBytes(g, tb, 50, 10), /outside its 54 bytes/);
    assert.throws(() => metaNumber(g, 'nope'), /missing metadata "nope"/);
    assert.equal(metaNumber(g, 'nope', 7), 7);
  }
});

test(`reads the ${VOCABS.length} vocabulary files (llama.cpp's and ours) like node-llama-cpp does, and rewrites them losslessly`, async () => {
  for (const path of VOCABS.map(vocabPath)) {
    const f = basename(path);
    const g = readGGUF(path);
    const theirs = await readGgufFileInfo(path, { readTensorInfo: true, ignoreKeys: [] });
    assert.equal(g.version, theirs.version);
    assert.equal(g.tensors.length, Number(theirs.tensorCount));
    assert.equal(metaString(g, 'general.architecture'), theirs.metadata.general.architecture);
    const tokens = metaArray(g, 'tokenizer.ggml.tokens') as string[];
    assert.deepEqual(tokens, (theirs.metadata as any).tokenizer.ggml.tokens, f);
    const copy = join(tmp, f);
    writeGGUF(copy, { metadata: metadataEntries(g), tensors: [] });
    const g2 = readGGUF(copy);
    assert.deepEqual(g2.metadata, g.metadata, f);
  }
});

function expectError(bytes: Uint8Array, pattern: RegExp, label: string) {
  const p = join(tmp, 'bad.gguf');
  writeFileSync(p, bytes);
  assert.throws(() => readGGUF(p), (e: unknown) => {
    assert.ok(e instanceof GGUFError, `${label}: ${String(e)}`);
    assert.match((e as Error).message, pattern, label);
    assert.ok((e as Error).message.includes(p), `${label}: message names the file`);
    return true;
  });
}

test('every truncation of a valid file is a clear error, never a crash', () => {
  const { path } = sampleFile();
  const full = readFileSync(path);
  const g = readGGUF(path);
  const dataEnd = Math.max(...g.tensors.map((t) => t.offset + t.nbytes));
  // Bytes past the last tensor are alignment padding; any cut before them must be caught.
  for (let n = 0; n < dataEnd; n++) {
    const cut = full.subarray(0, n);
    expectError(cut, /truncated|past the end|runs past|short read/, `cut at ${n}`);
  }
});

test('hostile headers: magic, version, counts, lengths, dims, types, offsets, overlaps', () => {
  const { path } = sampleFile();
  const full = readFileSync(path);
  const g = readGGUF(path);
  const patch = (at: number, write: (b: Buffer) => void) => { const b = Buffer.from(full); write(b.subarray(at)); return b; };

  expectError(patch(0, (b) => b.write('GGML')), /not a GGUF file/, 'magic');
  expectError(patch(4, (b) => b.writeUInt32LE(1)), /unsupported GGUF version 1/, 'version 1');
  expectError(patch(4, (b) => b.writeUInt32LE(4)), /unsupported GGUF version 4/, 'version 4');
  expectError(patch(8, (b) => b.writeBigUInt64LE(2n ** 40n)), /tensor_count/, 'tensor count');
  expectError(patch(16, (b) => b.writeBigUInt64LE(2n ** 62n)), /metadata_kv_count/, 'kv count');
  // First key's length.
  expectError(patch(24, (b) => b.writeBigUInt64LE(2n ** 63n)), /length of metadata key/, 'key length');
  // A string value's length: find "héllo" and patch the u64 before it.
  const strAt = full.indexOf(Buffer.from('héllo')) - 8;
  expectError(patch(strAt, (b) => b.writeBigUInt64LE(2n ** 50n)), /length of metadata "str"/, 'string length');
  const arrAt = full.indexOf(Buffer.from('arr.f32')) + 7 + 4 + 4;
  expectError(patch(arrAt, (b) => b.writeBigUInt64LE(2n ** 61n)), /length of metadata "arr.f32"/, 'array length');
  const typeAt = full.indexOf(Buffer.from('u16')) + 3;
  expectError(patch(typeAt, (b) => b.writeUInt32LE(99)), /unknown value type 99/, 'value type');

  // Tensor infos: locate tensor "b" (name, n_dims, dims, type, offset).
  const bName = full.lastIndexOf(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x62]));
  const nDimsAt = bName + 9;
  expectError(patch(nDimsAt, (b) => b.writeUInt32LE(9)), /n_dims = 9/, 'n_dims');
  expectError(patch(nDimsAt + 4, (b) => b.writeBigUInt64LE(0n)), /dims\[0\] is 0/, 'zero dim');
  expectError(patch(nDimsAt + 4, (b) => b.writeBigUInt64LE(2n ** 40n)), /dims|overflow|past the end/, 'huge dim');
  expectError(patch(nDimsAt + 4, (b) => { b.writeBigUInt64LE(2n ** 31n * 32n); b.writeBigUInt64LE(2n ** 31n, 8); }), /overflows/, 'overflow');
  expectError(patch(nDimsAt + 4, (b) => b.writeBigUInt64LE(33n)), /not a multiple of the Q4_0 block size/, 'block size');
  expectError(patch(nDimsAt + 20, (b) => b.writeUInt32LE(77)), /unknown ggml type 77/, 'ggml type');
  expectError(patch(nDimsAt + 24, (b) => b.writeBigUInt64LE(2n ** 50n)), /past the end/, 'offset past EOF');
  expectError(patch(nDimsAt + 24, (b) => b.writeBigUInt64LE(BigInt(g.fileSize))), /past the end/, 'data past EOF');
  expectError(patch(nDimsAt + 24, (b) => b.writeBigUInt64LE(3n)), /not aligned/, 'misaligned');
  expectError(patch(nDimsAt + 24, (b) => b.writeBigUInt64LE(0n)), /overlap/, 'overlap');
});

test('random corruption never crashes or hangs', () => {
  const { path } = sampleFile();
  const full = readFileSync(path);
  let seed = (Date.now() & 0xffff) + 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(full);
    const flips = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const p = join(tmp, 'fuzz.gguf');
    writeFileSync(p, b);
    try {
      readGGUF(p);
    } catch (e) {
      assert.ok(e instanceof GGUFError, `seed ${seed}: ${(e as Error).stack}`);
      // Corrupted names and keys are quoted escaped and capped: no control byte reaches a terminal.
      const m = (e as Error).message;
      assert.doesNotMatch(m, /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u, `seed ${seed}: ${JSON.stringify(m)}`);
      assert.ok(m.length < p.length + 2000, `seed ${seed}: ${m.length} characters`);
    }
  }
});

test('missing file is a clear error', () => {
  assert.throws(() => readGGUF(join(tmp, 'nope.gguf')), /nope\.gguf: cannot open/);
});

test('a directory is a clear error that names it', () => {
  assert.throws(() => readGGUF(tmp), (e: unknown) => e instanceof GGUFError && e.message === `${tmp}: cannot open: it is a directory`);
  assert.throws(() => readGGUF('/dev/null'), /\/dev\/null: cannot open: it is not a regular file/);
});
