// The fit messages from real fit reports (engine/models/fit.ts) of a tiny GGUF written here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFit, estimateFit } from '../../engine/process/index.js';
import { writeTinyModel } from '../../test/support/tiny-gguf.js';
import { fitProblem, fitSummary, softwareNotice } from './fit-messages.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-fitmsg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const model = join(dir, 'tiny.gguf');
writeTinyModel(model, { nEmbd: 256, nHead: 4, nHeadKv: 2, nLayer: 4, nFf: 512, nCtxTrain: 32768 });

test('a model that does not fit: the numbers, the largest context that does, and what to set', () => {
  const big = checkFit(model, { nCtx: 32768, device: { software: true }, budgetBytes: 2 ** 40 });
  assert.equal(fitProblem(big, 'hearth.modelPath'), undefined, 'it fits a huge budget');
  const small = checkFit(model, { nCtx: 1024, device: { software: false } });
  const budget = small.totalBytes + 1;
  const r = checkFit(model, { nCtx: 32768, device: { software: false }, budgetBytes: budget });
  assert.equal(r.fits, false);
  const m = fitProblem(r, 'hearth.modelPath')!;
  assert.match(m, /^tiny\.gguf \(hearth\.modelPath\) does not fit: at hearth\.contextSize 32768 it needs [\d.]+ MiB \(weights [\d.]+ [KM]iB, KV cache [\d.]+ MiB for 2 × 32768 tokens, scratch [\d.]+ [KM]iB\) and [\d.]+ [KM]iB of GPU memory is available; the largest context that fits is (\d+) tokens: set hearth\.contextSize to (\d+), or pick a smaller model or quantization$/);
  const [, most, suggest] = /is (\d+) tokens: set hearth\.contextSize to (\d+)/.exec(m)!.map(Number);
  assert.ok(most >= 1024 && most < 32768, m);
  assert.ok(suggest % 256 === 0 && suggest <= most && most - suggest < 256);
  // The suggestion really fits; a context one token over the largest does not.
  assert.equal(checkFit(model, { nCtx: suggest, budgetBytes: budget }).fits, true);
  assert.equal(checkFit(model, { nCtx: most + 1, budgetBytes: budget }).fits, false);

  const none = checkFit(model, { nCtx: 4096, device: { software: true }, budgetBytes: 1000 });
  assert.match(fitProblem(none, 'hearth.chatModelPath')!, /of free system memory \(no GPU: it runs on the CPU\) is available; not even a 256-token context fits: pick a smaller model or quantization$/);
  assert.equal(fitProblem(checkFit(model, { nCtx: 4096, device: { software: false } }), 'hearth.modelPath'), undefined, 'unknown GPU memory: nothing to say');
});

test('picker summaries: estimate or exact, fits or not, unknown budget', () => {
  const shape = { nVocab: 151936, nEmbd: 896, nLayer: 24, nHead: 14, nHeadKv: 2, headDim: 64, nFf: 4864, nCtxTrain: 32768 };
  const est = estimateFit('qwen.gguf', 531 << 20, shape, { nCtx: 8192, device: { software: false } });
  assert.match(fitSummary(est), /^needs about [\d.]+ [MG]iB at 8192 tokens of context$/);
  const soft = estimateFit('qwen.gguf', 531 << 20, shape, { nCtx: 8192, device: { software: true }, budgetBytes: 4 * 2 ** 30 });
  assert.match(fitSummary(soft), /: fits in 4\.00 GiB of free system memory \(no GPU: it runs on the CPU\)$/);
  const tight = estimateFit('qwen.gguf', 531 << 20, shape, { nCtx: 32768, device: { software: false }, budgetBytes: 700 << 20 });
  assert.match(fitSummary(tight), /: does not fit in 700\.0 MiB of GPU memory \(up to \d+ tokens would\)$/);
  assert.match(fitSummary(checkFit(model, { nCtx: 512 })), /^needs [\d.]+ [KM]iB at 512 tokens/);
});

test('the software notice says no GPU, the adapter, the expected speed and what to install', () => {
  const n = softwareNotice('llvmpipe (LLVM 19.1.7, 256 bits)');
  assert.match(n, /^no GPU was found: the only WebGPU adapter is llvmpipe \(LLVM 19\.1\.7, 256 bits\), a software one/);
  assert.match(n, /about 10 tokens\/s on lavapipe/);
  assert.match(n, /Vulkan on Linux, Metal on macOS, Direct3D 12 on Windows/);
});
