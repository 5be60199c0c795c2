import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu/gpu.js';
import { GGMLType, typeName, typeTraits } from '../engine/gguf/ggml.js';
import { dequantize, quantize } from '../engine/gguf/quant.js';
import { INT8_LAYOUTS, int8Regions, tensorFromBytes, type TensorLayout } from '../engine/gpu/gpu-tensor.js';
import { Embedding } from './embed.js';
import { GPU_DEQUANT_TYPES } from './dequant.js';
import { assertClose, freshSeed, poisoned, randomF32, readF32, rng, storage } from '../test/support/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

// Every type the decoders handle (and the int8 layout of those that have one), with odd row counts
// and odd block counts per row; the table is split into parts of a few rows to cover tensors over
// the binding limit.
const cases: [GGMLType, TensorLayout][] = [...[...GPU_DEQUANT_TYPES].map((t) => [t, 'raw'] as [GGMLType, TensorLayout]), ...[...INT8_LAYOUTS.keys()].map((t) => [t, 'int8'] as [GGMLType, TensorLayout])];
for (const [type, layout] of cases) {
  test(`embedding lookup from ${typeName(type)} rows (${layout} layout) matches dequantize`, async () => {
    const seed = freshSeed();
    const rand = rng(seed);
    const bs = typeTraits(type)!.blockSize;
    const cols = bs === 1 ? 97 : bs * 3;
    const vocab = 37;
    const bytes = quantize(type, randomF32(cols * vocab, rand, 2));
    const rowBytes = bytes.length / vocab;
    // int8 parts hold whole groups of 8 rows: two groups each here.
    const maxPartBytes = layout === 'raw' ? rowBytes * 10 + 32 : int8Regions(type, 16, cols).bytes + 32;
    const table = await tensorFromBytes(gpu, 'token_embd.weight', type, [cols, vocab], bytes, { layout, maxPartBytes });
    assert.equal(table.parts.length, layout === 'raw' ? 4 : 3);
    const ids = [0, vocab - 1, 10, 9, 20, 30, 10, Math.floor(rand() * vocab)];
    const tokens = storage(gpu, 'tokens', new Uint32Array(ids));
    const out = poisoned(gpu, 'out', ids.length * cols * 4);
    const embed = await Embedding.create(gpu, table, tokens, out);
    submitPass(gpu, 'embed', (pass) => embed.record(pass, ids.length));
    const got = await readF32(gpu, out, ids.length * cols);
    const want = new Float32Array(ids.length * cols);
    ids.forEach((id, t) => want.set(dequantize(type, bytes.subarray(id * rowBytes, (id + 1) * rowBytes), cols), t * cols));
    // The decoders reproduce ggml's float operations, so the results are exact.
    assertClose(got, want, { abs: 0 }, `${typeName(type)} seed ${seed}`);
  });
}
