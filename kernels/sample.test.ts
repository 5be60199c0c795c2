import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { SampleParams } from '../engine/model/backend.js';
import { Gpu, submitPass } from '../engine/gpu/gpu.js';
import { sampleLogits } from '../engine/model/sampler.js';
import { DeviceSampler, FALLBACK, TOP_K_MAX } from './sample.js';
import { freshSeed, readU32, rng, storage } from '../test/support/gpu-util.js';

const gpu = await Gpu.create();
after(() => gpu.destroy());

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Normal logits with a few dominant tokens (as a confident model's), ties included. */
function peakedLogits(n: number, rand: () => number, peaks: number): Float32Array {
  const l = Float32Array.from({ length: n }, () => gauss(rand) * 2);
  for (let i = 0; i < peaks; i++) l[Math.floor(rand() * n)] = 10 + gauss(rand);
  l[n - 1] = l[Math.floor(n / 2)]; // a tie somewhere
  return l;
}

async function deviceSample(s: DeviceSampler, p: SampleParams): Promise<number> {
  submitPass(gpu, 'sample', (pass) => s.record(pass, p));
  return (await readU32(gpu, s.result, 1))[0];
}

test('greedy picks the first largest logit', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  for (const n of [7, 4097, 151936]) {
    const logits = peakedLogits(n, rand, 3);
    // Two copies of the maximum: the lower id wins, as in the reference.
    const top = Math.floor(rand() * (n - 1));
    logits[top] = logits[n - 1] = 50;
    const s = await DeviceSampler.create(gpu, storage(gpu, 'logits', logits), n);
    const greedy = { temperature: 0, topK: 0, topP: 1, uniform: 0.5 };
    assert.equal(await deviceSample(s, greedy), sampleLogits(logits, greedy), `n ${n}, seed ${seed}`);
  }
});

const configs: { n: number; p: Omit<SampleParams, 'uniform'>; peaks: number }[] = [
  { n: 100, p: { temperature: 0.8, topK: 40, topP: 0.95 }, peaks: 0 },
  { n: 5003, p: { temperature: 1.3, topK: TOP_K_MAX, topP: 1 }, peaks: 0 },
  { n: 5003, p: { temperature: 0.7, topK: 1, topP: 0.5 }, peaks: 2 },
  { n: 70001, p: { temperature: 0.5, topK: 0, topP: 0.9 }, peaks: 20 },
  { n: 151936, p: { temperature: 1, topK: 0, topP: 1 }, peaks: 40 },
  { n: 151936, p: { temperature: 0.9, topK: 50, topP: 0.8 }, peaks: 5 },
];

for (const cfg of configs) {
  test(`top-k ${cfg.p.topK}, top-p ${cfg.p.topP}, temperature ${cfg.p.temperature} over ${cfg.n} logits matches the reference`, async () => {
    const seed = freshSeed();
    const rand = rng(seed);
    const logits = peakedLogits(cfg.n, rand, cfg.peaks);
    const s = await DeviceSampler.create(gpu, storage(gpu, 'logits', logits), cfg.n);
    assert.ok(s.supports({ ...cfg.p, uniform: 0 }));
    // Without top-k the device leaves a draw to the host exactly when it needs more than the best
    // TOP_K_MAX: the top-p cut falls beyond them, or the drawn token ranks beyond them.
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
    const rank = new Map(order.slice(0, 4 * TOP_K_MAX).map((id, r) => [id, r]));
    let topPKeep = 0;
    if (cfg.p.topP < 1) {
      const w = order.map((id) => Math.exp((logits[id] - logits[order[0]]) / cfg.p.temperature));
      const total = w.reduce((a, b) => a + b, 0);
      for (let cum = 0; cum < cfg.p.topP; ) cum += w[topPKeep++] / total;
    }
    // Draws in a long tail sit within 1e-5 of a boundary and are skipped: draw until 6 are checked.
    let checked = 0;
    for (let i = 0; i < 60 && checked < 6; i++) {
      const u = rand();
      // f32 on the device and float64 in the reference may disagree right at a CDF boundary.
      const want = sampleLogits(logits, { ...cfg.p, uniform: u });
      if (sampleLogits(logits, { ...cfg.p, uniform: Math.max(0, u - 1e-5) }) !== want || sampleLogits(logits, { ...cfg.p, uniform: Math.min(1, u + 1e-5) }) !== want) continue;
      checked++;
      const host = cfg.p.topK === 0 && (cfg.p.topP < 1 ? topPKeep > TOP_K_MAX : (rank.get(want) ?? Infinity) >= TOP_K_MAX);
      assert.equal(await deviceSample(s, { ...cfg.p, uniform: u }), host ? FALLBACK : want, `uniform ${u}, seed ${seed}`);
    }
    assert.ok(checked >= 3, `seed ${seed}: only ${checked} draws away from CDF boundaries`);
  });
}

test('without top-k, a flat distribution is left to the host', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const n = 9000;
  const logits = Float32Array.from({ length: n }, () => rand() * 0.1);
  const s = await DeviceSampler.create(gpu, storage(gpu, 'logits', logits), n);
  assert.equal(await deviceSample(s, { temperature: 1, topK: 0, topP: 0.95, uniform: 0.5 }), FALLBACK, `seed ${seed}`);
  // The best 128 hold about 128/9000 of the mass: a small uniform lands among them, a large one does not.
  const p = { temperature: 1, topK: 0, topP: 1 };
  assert.equal(await deviceSample(s, { ...p, uniform: 0.001 }), sampleLogits(logits, { ...p, uniform: 0.001 }), `seed ${seed}`);
  assert.equal(await deviceSample(s, { ...p, uniform: 0.5 }), FALLBACK, `seed ${seed}`);
  assert.equal(s.supports({ temperature: 1, topK: TOP_K_MAX + 1, topP: 1, uniform: 0 }), false);
  assert.equal(s.supports({ temperature: 1, topK: n, topP: 1, uniform: 0 }), true);
});
