// Verification steps (Backend.forwardAll, forwardGreedyAll) on every parity fixture, on both
// backends: each row of a step of several tokens is bit for bit the logits one-token steps give,
// a step after a refused draft overwrites its cache entries, and so speculative decoding's output is
// token for token plain greedy decoding's. On WebGPU, the device's default kernel family (the CPU
// family on software adapters: int8 and row products, two-pass attention) and, on a software
// adapter, GPUs' family too (matvec per token with the norms and adds folded in, decode attention
// splitting each token's keys as its one-token step would), also past the position where decode
// attention starts splitting keys. Decoding with looked-up drafts through the inference process is
// compared with plain decoding in test/server.test.ts (reference) and test/server-webgpu.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readGGUF } from '../engine/gguf/gguf.js';
import { Gpu } from '../engine/gpu/gpu.js';
import { BackendInputError, MAX_VERIFY_TOKENS, type Backend } from '../engine/model/backend.js';
import { loadConfig } from '../engine/model/model.js';
import { ReferenceModel } from '../engine/model/reference.js';
import { WebGpuModel } from '../engine/model/webgpu-model.js';
import { Sampler } from '../engine/model/sampler.js';
import { verifyDraft } from '../engine/model/speculation.js';
import { fixtureModel } from './support/fixtures.js';
import { argmax, parityCases, parityPrompt } from './support/parity-cases.js';
import { benchTokens } from '../engine/cli/bench.js';

/** One-token steps taken as the plain path. */
const STEPS = 9;

/** Where the two arrays differ first, or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** `rows` rows of n-vocab logits, each bit for bit the plain path's logits after that token. */
function assertRows(what: string, rows: Float32Array, plain: Float32Array[], nVocab: number): void {
  assert.equal(rows.length, plain.length * nVocab, what);
  plain.forEach((want, r) => {
    const i = firstDifference(rows.subarray(r * nVocab, (r + 1) * nVocab), want);
    assert.equal(i, -1, `${what}, row ${r}: logit ${i} is ${rows[r * nVocab + i]}, a one-token step gives ${want[i]}`);
  });
}

async function check(b: Backend, ids: number[], what: string): Promise<void> {
  const V = b.config.nVocab, P = ids.length;
  // The plain path: the prompt, then one-token steps fed their own greedy picks g[0..].
  const logits: Float32Array[] = [await b.forward(0, ids, 0)];
  const g = [argmax(logits[0])];
  for (let i = 1; i <= STEPS; i++) {
    logits.push(await b.forward(0, [g[i - 1]], P + i - 1));
    g.push(argmax(logits[i]));
  }
  // logits[i] follows g[i - 1] at P + i - 1; a step of g[a..b) at P + a gives logits[a + 1..b + 1).
  await b.forward(0, ids, 0);
  assertRows(`${what}: g[0..6)`, await b.forwardAll(0, g.slice(0, 6), P), logits.slice(1, 7), V);
  // A draft refused at its third token: the first two picks are the model's own.
  const wrong = (g[4] + 1) % V;
  const picks = await b.forwardGreedyAll(0, [g[2], g[3], wrong, g[5]], P + 2);
  assert.deepEqual([...picks.subarray(0, 2)], [g[3], g[4]], `${what}: picks of a refused draft`);
  assert.equal(picks[2], argmax((await b.forwardAll(0, [wrong], P + 4))), `${what}: the pick after the refused token`);
  // The refused tokens' entries are overwritten: from P + 4 on, everything is the plain path again.
  assertRows(`${what}: g[4..8) after the refusal`, await b.forwardAll(0, g.slice(4, 8), P + 4), logits.slice(5, 9), V);
  assert.deepEqual([...await b.forwardGreedyAll(0, [g[7]], P + 7)], [g[8]], `${what}: a one-row step`);
  const i = firstDifference(await b.forward(0, [g[8]], P + 8), logits[9]);
  assert.equal(i, -1, `${what}: a one-token step after verification steps differs at logit ${i}`);

  // A right draft is kept whole, greedy and sampled with a seed (one draw per token, as plain
  // decoding draws), and the sampler goes on as the plain path's does.
  await b.forward(0, ids, 0);
  assert.deepEqual(await verifyDraft(b, 0, g[0], g.slice(1, 6), P), { tokens: g.slice(1, 7), accepted: 5 }, `${what}: a right draft`);
  const sampling = { temperature: 0.9, seed: 11, repeatPenalty: 1.1 };
  const plainSampler = new Sampler(sampling);
  const s = [plainSampler.sample(await b.forward(0, ids, 0), ids)];
  for (let i = 1; i <= 7; i++) s.push(plainSampler.sample(await b.forward(0, [s[i - 1]], P + i - 1), [...ids, ...s]));
  const sampler = new Sampler(sampling);
  assert.equal(sampler.sample(await b.forward(0, ids, 0), ids), s[0]);
  const history = [...ids, s[0]];
  assert.deepEqual(await verifyDraft(b, 0, s[0], s.slice(1, 6), P, sampler, history), { tokens: s.slice(1, 7), accepted: 5 }, `${what}: a right draft, sampled`);
  assert.deepEqual(history, [...ids, s[0]], `${what}: the history as it came`);
  assert.equal(sampler.sample(await b.forward(0, [s[6]], P + 6), [...ids, ...s.slice(0, 7)]), s[7], `${what}: sampling after the draft`);

}

test('verification steps refuse more tokens than maxVerifyTokens: 16 on the reference and the CPU kernels, 8 on GPUs\'', async () => {
  const g = readGGUF(fixtureModel(parityCases()[0].opts));
  const ref = ReferenceModel.load(g, { nCtx: 64 });
  assert.equal(ref.maxVerifyTokens, MAX_VERIFY_TOKENS);
  const tooMany = Array.from({ length: MAX_VERIFY_TOKENS + 1 }, (_, i) => i + 1);
  await assert.rejects(ref.forwardAll(0, tooMany, 0), (e: unknown) => e instanceof BackendInputError && /takes at most 16 tokens, got 17$/.test(e.message));
  for (const kernels of ['cpu', 'gpu'] as const) {
    const gpu = await WebGpuModel.load(g, { nCtx: 64, kernels, int8: false, device: { f16: false } });
    try {
      const most = kernels === 'cpu' ? MAX_VERIFY_TOKENS : 8;
      assert.equal(gpu.maxVerifyTokens, most);
      await assert.rejects(gpu.forwardGreedyAll(0, tooMany.slice(0, most + 1), 0), new RegExp(`takes at most ${most} tokens, got ${most + 1}$`));
    } finally {
      gpu.dispose();
    }
  }
});

/** The WebGPU configurations checked: the device's defaults and, on a software adapter, GPUs' kernels (f32 KV). */
async function webgpuModels(path: string, nCtx: number): Promise<{ what: string; load: () => Promise<WebGpuModel> }[]> {
  const probe = await Gpu.create();
  const software = probe.info.software;
  probe.destroy();
  const configs = [{}, ...(software ? [{ kernels: 'gpu' as const, int8: false, device: { f16: false } }] : [])];
  return configs.map((o) => ({
    what: `webgpu ${JSON.stringify(o)}`,
    load: () => WebGpuModel.load(path, { nCtx, ...o }),
  }));
}

async function checkWebGpu(path: string, ids: number[], nCtx: number, t: { diagnostic: (s: string) => void }): Promise<void> {
  for (const m of await webgpuModels(path, nCtx)) {
    const gpu = await m.load();
    try {
      const r = gpu.report();
      const what = `webgpu (${r.kernels} kernels${r.int8 ? ', int8' : ''}, ${r.f16Kv ? 'f16' : 'f32'} KV)`;
      assert.equal(gpu.maxVerifyTokens, r.kernels === 'cpu' ? MAX_VERIFY_TOKENS : 8, what);
      await check(gpu, ids, what);
      t.diagnostic(`${what}: identical`);
    } finally {
      gpu.dispose();
    }
  }
}

for (const c of parityCases()) {
  test(`verification steps are one-token steps, bit for bit: ${c.label}`, async (t) => {
    const path = fixtureModel(c.opts);
    const ids = parityPrompt(c);
    await check(ReferenceModel.load(readGGUF(path), { nCtx: 64 }), ids, 'reference');
    await checkWebGpu(path, ids, 64, t);
  });
}

test('verification steps at position 600, where GPUs\' decode attention splits the keys differently for each token', async (t) => {
  const c = parityCases().find((x) => x.label === 'qwen2 Q8_0')!;
  // Splits of at least 64 keys: 9 of 67 for the first token, of 68 from the fourth (keys 604 on).
  const path = fixtureModel(c.opts);
  await checkWebGpu(path, benchTokens(600, 3, loadConfig(readGGUF(path)).nVocab), 1024, t);
});
