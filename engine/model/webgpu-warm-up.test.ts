// WebGpuModel.warmUp: after it, no step a request can take (prefill chunks and their ends of any
// size, keystroke re-runs, decode over split keys, verification steps, device sampling) dispatches a
// pipeline for the first time, which is where lavapipe compiles it; nothing is compiled after the
// load either. For each kernel set on this adapter: the CPU kernels with int8 and with float
// products, and the GPU kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GGMLType } from '../gguf/ggml.js';
import { readGGUF } from '../gguf/gguf.js';
import { Dispatch, Gpu } from '../gpu/gpu.js';
import { PREFILL_CHUNK, WebGpuModel, type WebGpuLoadOptions } from './webgpu-model.js';
import { fixtureModel } from '../../test/support/fixtures.js';

const N_CTX = PREFILL_CHUNK + 200;

const CASES: { what: string; type: GGMLType; opts: Partial<WebGpuLoadOptions> }[] = [
  { what: 'CPU kernels, int8 products', type: GGMLType.Q8_0, opts: { kernels: 'cpu', int8: true } },
  { what: 'CPU kernels, float products', type: GGMLType.F32, opts: { kernels: 'cpu', int8: false } },
  { what: 'GPU kernels, steps queued ahead', type: GGMLType.Q8_0, opts: { kernels: 'gpu', int8: false, ahead: true } },
];

for (const c of CASES) {
  test(`warm-up: no pipeline is first dispatched or compiled after it (${c.what})`, { timeout: 600_000 }, async () => {
    const g = readGGUF(fixtureModel({ arch: 'qwen2', vocab: 'qwen2', type: c.type, seed: 5 }));
    const m = await WebGpuModel.load(g, { nCtx: N_CTX, nSeq: 2, device: { f16: false }, ...c.opts });
    try {
      const ran = await m.warmUp();
      assert.ok(ran > 0, 'the warm-up dispatched the pipelines');
      assert.equal(m.seqLength(0), 0, 'the warm-up leaves the caches empty');
      const first = Dispatch.firstUses, compiled = Gpu.compiled;
      const toks = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + n) % 1000);
      // Steps of every size up to past the largest shape switch, and a whole chunk plus a rest.
      for (let n = 1; n <= 70; n++) await m.forward(0, toks(n), 0);
      await m.forwardGreedy(0, toks(PREFILL_CHUNK + 150), 0);
      // Decode at a long context (keys split on the GPU kernels) and keystroke re-runs.
      let pos = PREFILL_CHUNK + 150;
      for (let i = 0; i < 3; i++) await m.forwardGreedy(0, [i + 1], pos++);
      await m.forward(1, toks(3), 0);
      await m.forwardGreedy(0, [5, 6], pos - 1);
      pos++;
      for (let n = 2; n <= m.maxVerifyTokens; n++) {
        await m.forwardGreedyAll(0, toks(n), pos - n);
        await m.forwardAll(1, toks(n), 3);
      }
      assert.equal(Dispatch.firstUses - first, 0, 'pipelines dispatched for the first time after the warm-up');
      assert.equal(Gpu.compiled - compiled, 0, 'pipelines compiled after the load');
    } finally {
      m.dispose();
    }
  });
}
