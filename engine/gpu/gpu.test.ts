// The device wrapper: errors surface as errors (never hangs), uploads stream in bounded chunks, and
// tensors split into parts that fit a binding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GGMLType, rowBytes } from '../gguf/ggml.js';
import { Gpu, GpuError, submitPass } from './gpu.js';
import { allocTensor, splitRows, tensorDeviceBytes, tensorFromBytes, Uploader } from './gpu-tensor.js';
import { freshSeed, rng } from '../../test/support/gpu-util.js';

test('device: features and limits as requested, and optional features can be left off', async () => {
  const gpu = await Gpu.create();
  try {
    assert.ok(gpu.limits.maxStorageBufferBindingSize >= 128 << 20);
    assert.ok(gpu.limits.maxBufferSize >= gpu.limits.maxStorageBufferBindingSize);
    assert.equal(gpu.f16, gpu.device.features.has('shader-f16'));
    assert.equal(gpu.subgroups, gpu.device.features.has('subgroups'));
  } finally {
    gpu.destroy();
  }
  const plain = await Gpu.create({ f16: false, subgroups: false });
  try {
    assert.equal(plain.f16, false);
    assert.equal(plain.subgroups, false);
    assert.ok(!plain.device.features.has('shader-f16') && !plain.device.features.has('subgroups'));
  } finally {
    plain.destroy();
  }
});

test('a shader that does not compile names the kernel and the line', async () => {
  const gpu = await Gpu.create();
  try {
    await assert.rejects(gpu.pipeline({ label: 'broken', code: '@compute @workgroup_size(1)\nfn main() {\n  let x: u32 = 1.5;\n}\n' }), (e: unknown) => {
      assert.ok(e instanceof GpuError);
      assert.match(e.message, /kernel "broken" failed to compile/);
      assert.match(e.message, /line 3: .*\n\s+let x: u32 = 1\.5;/);
      return true;
    });
    // The failure does not poison later work.
    gpu.check();
  } finally {
    gpu.destroy();
  }
});

test('a validation error in submitted work rejects the next read', async () => {
  const gpu = await Gpu.create();
  try {
    const b = gpu.buffer('b', 64, 'scratch');
    const gone = gpu.buffer('gone', 64, 'scratch');
    gpu.release(gone);
    const enc = gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(gone, 0, b, 0, 64);
    gpu.device.queue.submit([enc.finish()]);
    await assert.rejects(gpu.read(b, 0, 64), (e: unknown) => e instanceof GpuError && /WebGPU error: .*destroyed/is.test(e.message));
  } finally {
    gpu.destroy();
  }
});

test('losing the device rejects pending and later reads', async () => {
  const gpu = await Gpu.create();
  const b = gpu.buffer('b', 1 << 20, 'scratch');
  const pending = gpu.read(b, 0, 1 << 20);
  // As a driver reset would: the device goes away under a pending map.
  gpu.device.destroy();
  const lost = (e: unknown) => e instanceof GpuError && e.code === 'device-lost' && /GPU device lost/.test(e.message);
  await assert.rejects(pending);
  await assert.rejects(gpu.done(), lost);
  await assert.rejects(gpu.read(b, 0, 4), lost);
  assert.throws(() => submitPass(gpu, 'after loss', () => gpu.check()), lost);
});

test('buffers over the device limit are refused with the sizes', async () => {
  const gpu = await Gpu.create();
  try {
    assert.throws(() => gpu.buffer('huge', gpu.limits.maxBufferSize + 1, 'scratch'), /buffer "huge" needs \d+ bytes, over the device's maxBufferSize \d+/);
  } finally {
    gpu.destroy();
  }
});

test('tensors split into whole-row parts within the binding limit', () => {
  const parts = splitRows('t', 1000, 34 * 3, 4096);
  assert.equal(parts.reduce((a, p) => a + p.rows, 0), 1000);
  parts.forEach((p, i) => {
    assert.equal(p.firstRow, i === 0 ? 0 : parts[i - 1].firstRow + parts[i - 1].rows);
    assert.ok(Math.ceil((p.rows * 102 + 4) / 16) * 16 <= 4096);
  });
  assert.throws(() => splitRows('wide', 2, 5000, 4096), /tensor "wide": one row is 5000 bytes, over the device's storage binding limit of 4096 bytes/);
  assert.equal(tensorDeviceBytes('t', GGMLType.Q8_0, [96, 1000], 4096), parts.reduce((a, p) => a + Math.ceil((p.rows * 102 + 4) / 16) * 16, 0));
  assert.throws(() => tensorDeviceBytes('odd', GGMLType.Q4_0, [33, 2], 4096), /tensor "odd" \(Q4_0, 33 x 2\): .*not a multiple of the block size 32/);
});

test('streamed uploads land byte for byte, split or not', async () => {
  const gpu = await Gpu.create();
  try {
    const seed = freshSeed();
    const rand = rng(seed);
    const cols = 96, rows = 301;
    const bytes = Uint8Array.from({ length: rowBytes(GGMLType.Q8_0, cols) * rows }, () => Math.floor(rand() * 256));
    for (const maxPartBytes of [undefined, 5000]) {
      const t = await tensorFromBytes(gpu, 'w', GGMLType.Q8_0, [cols, rows], bytes, { maxPartBytes });
      let off = 0;
      for (const p of t.parts) {
        const got = new Uint8Array(await gpu.read(p.buffer, 0, p.rows * t.rowBytes));
        assert.deepEqual(got, bytes.subarray(off, off + got.length), `part at row ${p.firstRow}, seed ${seed}`);
        off += got.length;
      }
      assert.equal(off, bytes.length);
    }
    // Chunks that do not divide the part, and a window that forces waits.
    const t = allocTensor(gpu, 'w2', GGMLType.Q8_0, [cols, rows]);
    const reads: number[] = [];
    const up = new Uploader(gpu, 1000, 3000);
    await up.upload(t, (s, n) => (reads.push(n), bytes.subarray(s, s + n)));
    await up.flush();
    assert.ok(reads.every((n) => n <= 1000));
    assert.deepEqual(new Uint8Array(await gpu.read(t.parts[0].buffer, 0, bytes.length)), bytes);
  } finally {
    gpu.destroy();
  }
});
