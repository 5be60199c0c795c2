import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sampler, argmax, defaultSampling, type Sampling } from './sampler.js';
import { rng as mulberry32 } from '../../test/support/rng.js';


const randomLogits = (rnd: () => number, n: number) => Float32Array.from({ length: n }, () => (rnd() - 0.5) * 20);
const params = (p: Partial<Sampling>): Sampling => ({ ...defaultSampling, ...p });

/**
 * What the filters should leave, written out plainly from llama.cpp's definitions: penalized logits,
 * the k largest (lower id first on ties), the shortest prefix with softmax mass >= topP, those with
 * probability >= minP * max, then softmax at the temperature.
 */
function expectedDistribution(logits: number[], history: number[], p: Sampling): Map<number, number> {
  const l = [...logits];
  const recent = p.repeatLastN < 0 ? history : history.slice(Math.max(0, history.length - p.repeatLastN));
  for (const t of new Set(p.repeatLastN === 0 ? [] : recent)) l[t] = l[t] <= 0 ? l[t] * p.repeatPenalty : l[t] / p.repeatPenalty;
  let ids = l.map((_, i) => i).sort((a, b) => l[b] - l[a] || a - b);
  if (p.topK > 0) ids = ids.slice(0, p.topK);
  const softmax = (xs: number[]) => { const m = Math.max(...xs); const e = xs.map((v) => Math.exp(v - m)); const s = e.reduce((a, b) => a + b); return e.map((v) => v / s); };
  const pr = softmax(ids.map((i) => l[i]));
  let cum = 0, keep = ids.length;
  for (let i = 0; i < ids.length; i++) { cum += pr[i]; if (cum >= p.topP) { keep = i + 1; break; } }
  ids = ids.slice(0, keep);
  const pMax = pr[0];
  ids = ids.filter((_, i) => pr[i] >= p.minP * pMax);
  const final = softmax(ids.map((i) => l[i] / p.temperature));
  return new Map(ids.map((id, i) => [id, final[i]]));
}

function assertFrequencies(s: Sampler, logits: Float32Array, history: number[], want: Map<number, number>, draws: number): void {
  const counts = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const t = s.sample(logits, history);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  for (const [t, c] of counts) assert.ok(want.has(t), `token ${t} drawn ${c} times but should have been filtered out`);
  for (const [t, p] of want) {
    const freq = (counts.get(t) ?? 0) / draws;
    const sigma = Math.sqrt((p * (1 - p)) / draws);
    assert.ok(Math.abs(freq - p) <= 5 * sigma + 1e-9, `token ${t}: frequency ${freq} vs probability ${p} (5 sigma = ${5 * sigma})`);
  }
}

test('greedy: argmax of the logits, lowest id on ties, for any temperature <= 0', () => {
  const rnd = mulberry32(1);
  for (let trial = 0; trial < 50; trial++) {
    const logits = randomLogits(rnd, 1 + Math.floor(rnd() * 300));
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    const s = new Sampler(params({ temperature: trial % 2 ? 0 : -1, seed: trial }));
    assert.equal(s.sample(logits, []), best);
  }
  const ties = Float32Array.of(-1, 3, 0, 3, 3);
  assert.equal(new Sampler(params({ temperature: 0 })).sample(ties, []), 1);
  assert.equal(new Sampler(params({ temperature: 0 })).sample(Float32Array.of(-Infinity, -Infinity), []), 0);
});

test('greedy (what the device picks itself) is the argmax of the raw logits: no temperature and no penalty', () => {
  const logits = Float32Array.of(1, 4, 3.9, -2);
  const history = [1, 1, 0];
  for (const [p, greedy] of [
    [{ temperature: 0 }, true], [{ temperature: -1, repeatPenalty: 1.5, repeatLastN: 0 }, true],
    [{ temperature: 0.5 }, false], [{ temperature: 0, repeatPenalty: 1.5 }, false],
  ] as [Partial<Sampling>, boolean][]) {
    const s = new Sampler(params(p));
    assert.equal(s.greedy, greedy, JSON.stringify(p));
    if (greedy) assert.equal(s.sample(logits, history), argmax(logits), JSON.stringify(p));
  }
  // The penalty moves the pick off the raw argmax: why a penalized greedy sampler is not greedy.
  assert.equal(new Sampler(params({ temperature: 0, repeatPenalty: 1.5 })).sample(logits, history), 2);
});

test('top-k = 1 picks the greedy token at any temperature', () => {
  const rnd = mulberry32(2);
  const s = new Sampler(params({ topK: 1, topP: 1, minP: 0, temperature: 5, seed: 9 }));
  const g = new Sampler(params({ temperature: 0 }));
  for (let trial = 0; trial < 50; trial++) {
    const logits = randomLogits(rnd, 500);
    if (trial === 0) logits.fill(1); // all tied: lowest id
    assert.equal(s.sample(logits, []), g.sample(logits, []));
  }
});

test('the same seed gives the same sequence; other seeds differ', () => {
  const rnd = mulberry32(3);
  const logits = Float32Array.from({ length: 100 }, () => rnd());
  const run = (seed: number) => {
    const s = new Sampler(params({ topK: 0, topP: 1, minP: 0, temperature: 1, seed }));
    return Array.from({ length: 200 }, () => s.sample(logits, []));
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
  assert.notDeepEqual(run(0), run(0xffffffff));
});

test('empirical frequencies match the filtered softmax (top-k, top-p, min-p, temperature)', () => {
  // Logit order differs from id order so sorting matters.
  const logits = [0.5, 2.0, -1, 1.5, 2.0, -3, 1.0, 0.0, -2, 1.2, -0.5, 0.8];
  const cases: Partial<Sampling>[] = [
    { topK: 0, topP: 1, minP: 0, temperature: 1 },
    { topK: 5, topP: 1, minP: 0, temperature: 0.7 },
    { topK: 0, topP: 0.8, minP: 0, temperature: 1.3 },
    { topK: 0, topP: 1, minP: 0.3, temperature: 0.9 },
    { topK: 8, topP: 0.9, minP: 0.1, temperature: 0.6 },
    { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8 },
    { topK: 0, topP: 0, minP: 0, temperature: 1 }, // top-p 0 keeps just the most likely token
  ];
  cases.forEach((c, i) => {
    const p = params({ ...c, seed: 100 + i });
    const want = expectedDistribution(logits, [], p);
    assertFrequencies(new Sampler(p), Float32Array.from(logits), [], want, 20000);
  });
});

test('repetition penalty: llama.cpp semantics over the last repeatLastN tokens', () => {
  const logits = Float32Array.of(3, 2.9, -1, -1.05, 0);
  // Token 0 (positive) is divided, token 2 (negative) multiplied: greedy moves to token 1, 3 beats 2.
  const g = new Sampler(params({ temperature: 0, repeatPenalty: 1.5, repeatLastN: 64 }));
  assert.equal(g.sample(logits, [0, 2]), 1);
  assert.equal(g.sample(Float32Array.of(-1, -1.2), [0]), 1);
  // Only the window counts: token 0 is outside the last 2 history entries.
  const w = new Sampler(params({ temperature: 0, repeatPenalty: 1.5, repeatLastN: 2 }));
  assert.equal(w.sample(logits, [0, 4, 4]), 0);
  // 0 disables, -1 means the whole history.
  assert.equal(new Sampler(params({ temperature: 0, repeatPenalty: 1.5, repeatLastN: 0 })).sample(logits, [0]), 0);
  assert.equal(new Sampler(params({ temperature: 0, repeatPenalty: 1.5, repeatLastN: -1 })).sample(logits, [0, ...new Array(1000).fill(4)]), 1);
  // The input logits are left alone.
  assert.deepEqual(logits, Float32Array.of(3, 2.9, -1, -1.05, 0));

  // A token repeated in the window is penalized once, not once per occurrence; check the whole
  // distribution against the expected one.
  const base = [1, 2, 0.5, -0.5, 1.5, -2];
  const history = [1, 1, 1, 3, 5, 4];
  const p = params({ topK: 0, topP: 1, minP: 0, temperature: 1, repeatPenalty: 1.3, repeatLastN: 5, seed: 77 });
  const want = expectedDistribution(base, history, p);
  assertFrequencies(new Sampler(p), Float32Array.from(base), history, want, 20000);
  const once = Math.exp(2 / 1.3), thrice = Math.exp(2 / 1.3 ** 3);
  assert.ok(Math.abs(want.get(1)! / want.get(0)! - once / Math.exp(1)) < 1e-9 && once !== thrice);
});

test('a large vocabulary with top-k keeps exactly the k largest logits', () => {
  const rnd = mulberry32(4);
  const n = 50000, k = 7;
  const logits = Float32Array.from({ length: n }, () => rnd() * 4);
  const top = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, k);
  logits[top[k - 1] + 1 < n ? top[k - 1] + 1 : top[k - 1] - 1] = logits[top[k - 1]]; // a tie at the boundary
  const sorted = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b).slice(0, k);
  const s = new Sampler(params({ topK: k, topP: 1, minP: 0, temperature: 3, seed: 5 }));
  const seen = new Set<number>();
  for (let i = 0; i < 3000; i++) seen.add(s.sample(logits, []));
  assert.deepEqual([...seen].sort((a, b) => a - b), [...sorted].sort((a, b) => a - b));
});

test('bad input is rejected with a clear error', () => {
  assert.throws(() => new Sampler(params({ topP: 1.5 })), /topP = 1.5 must be in \[0, 1\]/);
  assert.throws(() => new Sampler(params({ topK: 1.5 })), /topK = 1.5/);
  assert.throws(() => new Sampler(params({ minP: -0.1 })), /minP/);
  assert.throws(() => new Sampler(params({ temperature: NaN })), /temperature/);
  assert.throws(() => new Sampler(params({ repeatPenalty: 0 })), /repeatPenalty/);
  assert.throws(() => new Sampler(params({ repeatLastN: -2 })), /repeatLastN/);
  assert.throws(() => new Sampler(params({ seed: 2 ** 32 })), /seed/);
  const s = new Sampler(params({ repeatPenalty: 1.1 }));
  assert.throws(() => s.sample(new Float32Array(0), []), /empty logits/);
  assert.throws(() => s.sample(Float32Array.of(0, NaN), []), /logit 1 of 2 is NaN/);
  assert.throws(() => s.sample(Float32Array.of(0, 1), [0, 2]), /history token 2 \(position 1\) is outside the vocabulary of 2/);
  assert.throws(() => s.sample(Float32Array.of(-Infinity, -Infinity), []), /all 2 logits are -Infinity/);
});
