// The fit check: the same bytes the GPU model plans (checked against a real load on this machine's
// adapter), the largest context that fits, the budget defaults, and estimates before download.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLType } from '../gguf/ggml.js';
import { readGGUF } from '../gguf/gguf.js';
import { Gpu, OutOfMemoryError } from '../gpu/gpu.js';
import { WebGpuModel } from '../model/webgpu-model.js';
import { loadConfig } from '../model/model.js';
import { checkFit, estimateFit } from './fit.js';
import { writeTinyModel } from '../../test/support/tiny-gguf.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-fit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function model(name: string, type = GGMLType.Q8_0): string {
  const path = join(dir, name);
  writeTinyModel(path, { type, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nLayer: 2, nCtxTrain: 2048 });
  return path;
}

test('the fit check computes the bytes the GPU model refuses with, on this adapter', async () => {
  const path = model('q8.gguf');
  const gpu = await Gpu.create();
  const device = { software: gpu.info.software, f16: gpu.f16, maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize };
  gpu.destroy();
  for (const nCtx of [64, 1000]) {
    const r = checkFit(path, { nCtx, nSeq: 2, device, budgetBytes: 0 });
    await assert.rejects(WebGpuModel.load(path, { nCtx, nSeq: 2, maxDeviceBytes: 0 }), (e: unknown) => {
      assert.ok(e instanceof OutOfMemoryError);
      assert.equal(r.totalBytes, e.needed, `nCtx ${nCtx}`);
      return true;
    });
    assert.equal(r.fits, false);
    assert.equal(r.weightBytes + r.kvBytes + r.scratchBytes, r.totalBytes);
    assert.equal(r.largestContext, 0);
    assert.match(r.message, /even a 1-position context does not fit/);
  }
});

test('a context that does not fit reports the largest one that does', () => {
  const path = model('q8.gguf');
  const device = { software: false };
  const at1000 = checkFit(path, { nCtx: 1000, device, budgetBytes: 2 ** 40 });
  assert.equal(at1000.fits, true);
  assert.match(at1000.message, /: it fits$/);
  const r = checkFit(path, { nCtx: 2048, device, budgetBytes: at1000.totalBytes });
  assert.equal(r.fits, false);
  assert.equal(r.largestContext, 1000);
  assert.match(r.message, /needs \d+\.\d\d GiB \(weights .*, KV cache .* for 2 x 2048 positions, scratch .*\) but .* is available; the largest context that fits is 1000 positions/);
  // The search reaches past the requested context, up to the training context.
  assert.equal(checkFit(path, { nCtx: 16, device, budgetBytes: at1000.totalBytes }).largestContext, 1000);
  assert.equal(checkFit(path, { nCtx: 16, device, budgetBytes: 2 ** 40 }).largestContext, 2048);
});

test('GPUs: an unknown budget gives no verdict; software adapters: free memory, an f32 cache and int8 weights', () => {
  const path = model('q8.gguf');
  const gpu = checkFit(path, { nCtx: 512, device: { software: false } });
  assert.equal(gpu.budgetBytes, undefined);
  assert.equal(gpu.fits, undefined);
  assert.equal(gpu.largestContext, undefined);
  assert.match(gpu.message, /memory size is unknown/);
  const cpu = checkFit(path, { nCtx: 512, device: { software: true } });
  assert.ok(typeof cpu.budgetBytes === 'number' && cpu.budgetBytes > 0);
  assert.equal(cpu.software, true);
  assert.match(cpu.message, /no GPU: a software adapter runs the model on the CPU/);
  assert.equal(cpu.kvBytes, 2 * gpu.kvBytes, 'f32 cache on software adapters, f16 on GPUs');
  assert.notEqual(cpu.weightBytes, gpu.weightBytes, 'Q8_0 weights take the int8 layout on software adapters');
  const noF16 = checkFit(path, { nCtx: 512, device: { software: false, f16: false } });
  assert.equal(noF16.kvBytes, cpu.kvBytes);
});

test('an estimate before download: the file size as weights, the cache and scratch as the file would give', () => {
  const path = model('f32.gguf', GGMLType.F32);
  const c = loadConfig(readGGUF(path));
  const o = { nCtx: 777, budgetBytes: 2 ** 40, device: { software: false } };
  const exact = checkFit(path, o);
  const est = estimateFit('f32.gguf', statSync(path).size, c, o);
  assert.equal(est.exact, false);
  assert.equal(est.kvBytes, exact.kvBytes);
  assert.equal(est.scratchBytes, exact.scratchBytes);
  assert.equal(est.weightBytes, statSync(path).size);
  assert.match(est.message, /needs about/);
  // Qwen2.5-Coder-1.5B at 8192 positions, 2 sequences, f16: 2 (K, V) x 28 layers x 2 x 2 heads x 8192 x 128 x 2 bytes.
  const shape = { nVocab: 151936, nEmbd: 1536, nLayer: 28, nHead: 12, nHeadKv: 2, headDim: 128, nFf: 8960, nCtxTrain: 32768 };
  const q = estimateFit('qwen2.5-coder-1.5b-q8_0.gguf', 1_646_572_000, shape, { nCtx: 8192, device: { software: false }, budgetBytes: 3 * 2 ** 30 });
  assert.equal(q.kvBytes, 2 * 28 * 2 * 2 * 8192 * 128 * 2);
  assert.equal(q.fits, true);
  const small = estimateFit('qwen2.5-coder-1.5b-q8_0.gguf', 1_646_572_000, shape, { nCtx: 32768, device: { software: false }, budgetBytes: 3 * 2 ** 30 });
  assert.equal(small.fits, false);
  assert.ok(small.largestContext! > 8192 && small.largestContext! < 32768, String(small.largestContext));
});

test('bad contexts are refused with the limit', () => {
  const path = model('q8.gguf');
  assert.throws(() => checkFit(path, { nCtx: 0 }), /nCtx 0 must be an integer in 1\.\./);
  assert.throws(() => checkFit(path, { nCtx: 16, nSeq: 1.5 }), /nSeq 1.5/);
});
