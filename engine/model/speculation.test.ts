// Draft lookup, the draft policy, and decoding with drafts against plain decoding on both backends
// (the verification steps themselves are checked on every parity fixture in test/speculate.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readGGUF } from '../gguf/gguf.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { openBackend } from './open.js';
import { Sampler } from './sampler.js';
import { DraftPolicy, NGRAM_MAX, Speculator, lookupDraft } from './speculation.js';
import { tinyModel } from '../../test/support/inference-fixtures.js';

test('a draft is what followed the latest earlier occurrence of the longest matching n-gram', () => {
  // ... 1 2 3 [4 5] ... 9 1 2 3 [6 7] ... 1 2 3: the latest "1 2 3" was followed by 6 7.
  const t = [1, 2, 3, 4, 5, 0, 9, 1, 2, 3, 6, 7, 8, 1, 2, 3];
  assert.deepEqual(lookupDraft(t, 3), { tokens: [6, 7, 8], match: 3 });
  assert.deepEqual(lookupDraft(t, 1), { tokens: [6], match: 3 });
  // A longer match wins over a later shorter one: "5 0" occurs once, "0" later too.
  assert.deepEqual(lookupDraft([4, 5, 0, 7, 0, 8, 5, 0], 2), { tokens: [7, 0], match: 2 });
  // Only an n-gram of one token matches.
  assert.deepEqual(lookupDraft([9, 3, 8, 3], 4), { tokens: [8, 3, 8, 3], match: 1 });
  // At most NGRAM_MAX tokens are looked up: the latest 4-gram wins over an earlier 5-gram.
  const five = [1, 2, 3, 4, 5, 60, 2, 3, 4, 5, 70, 1, 2, 3, 4, 5];
  assert.equal(NGRAM_MAX, 4);
  assert.deepEqual(lookupDraft(five, 1), { tokens: [70], match: 4 });
  // The match is followed back past the n-gram (up to 32 tokens): a repeated line matches whole.
  const line = Array.from({ length: 40 }, (_, i) => 100 + i);
  assert.deepEqual(lookupDraft([...line, ...line.slice(0, 10)], 2), { tokens: [110, 111], match: 10 });
  assert.deepEqual(lookupDraft([...line, 7, ...line], 1), { tokens: [7], match: 32 });
});

test('a draft that runs into the end goes on with itself, and none is found without a match', () => {
  // "a b c a b c a b": the latest "b c a b" (with the "a" before it) continues "c a b", then repeats.
  assert.deepEqual(lookupDraft([1, 2, 3, 1, 2, 3, 1, 2], 7), { tokens: [3, 1, 2, 3, 1, 2, 3], match: 5 });
  assert.deepEqual(lookupDraft([7, 7], 3), { tokens: [7, 7, 7], match: 1 });
  assert.deepEqual(lookupDraft([1, 2, 3, 4], 4), { tokens: [], match: 0 });
  assert.deepEqual(lookupDraft([5], 4), { tokens: [], match: 0 });
  assert.deepEqual(lookupDraft([], 4), { tokens: [], match: 0 });
  assert.deepEqual(lookupDraft([7, 7], 0), { tokens: [], match: 0 });
});

test('the policy checks every draft token where a step costs the same whatever its size', () => {
  const p = new DraftPolicy(16);
  // Nothing measured: steps are taken to cost alike, so drafts get tried.
  assert.equal(p.length(8, 1), 8);
  for (let n = 1; n <= 16; n++) p.timed(n, 5);
  assert.equal(p.length(8, 1), 8);
  assert.equal(p.length(40, 2), 15, 'at most maxTokens - 1');
  assert.equal(p.length(0, 2), 0);
});

test('where steps cost more with more tokens, the policy drafts less, and what it learns moves it', () => {
  const p = new DraftPolicy(16);
  // A CPU: each token in a step costs 60% of a one-token step more.
  for (let n = 1; n <= 16; n++) p.timed(n, 10 + 6 * (n - 1));
  // The prior (p = 1/2): a draft token adds 6 ms for half a token at best; one token costs 10 ms.
  assert.equal(p.acceptance(1), 0.5);
  assert.equal(p.length(8, 1), 0);
  // Drafts after matches of 2-3 tokens that are always kept: worth checking all of them.
  for (let i = 0; i < 30; i++) p.outcome(3, 8, 8);
  assert.ok(p.acceptance(3) > 0.95, `${p.acceptance(3)}`);
  assert.equal(p.length(8, 3), 8);
  // ... while 1-grams stay at the prior, and refused drafts drive it down.
  assert.equal(p.length(8, 1), 0);
  for (let i = 0; i < 40; i++) p.outcome(3, 8, 0);
  assert.ok(p.acceptance(3) < 0.2, `${p.acceptance(3)}`);
  assert.equal(p.length(8, 3), 0);
  // Matches of 1, 2-3, 4-7, 8-15 and 16 or more tokens each learn their own.
  p.outcome(9, 4, 4);
  assert.equal(p.acceptance(9), p.acceptance(15));
  assert.notEqual(p.acceptance(9), p.acceptance(7));
  assert.notEqual(p.acceptance(9), p.acceptance(16));
  assert.equal(p.acceptance(16), p.acceptance(400));
});

test('drafts declined sixteen times in a row: the next one checks a token anyway, so the estimate can recover', () => {
  const p = new DraftPolicy(16);
  for (let n = 1; n <= 16; n++) p.timed(n, 10 + 20 * (n - 1));
  const got = Array.from({ length: 34 }, () => p.length(8, 5));
  assert.deepEqual(got.map((d, i) => (d ? i : -1)).filter((i) => i >= 0), [15, 31]);
  assert.ok(got.every((d) => d <= 1));
  // Another match length keeps its own count; a draft worth checking resets it.
  assert.equal(p.length(8, 1), 0);
});

test('step costs: unmeasured sizes are interpolated, and one slow step moves an estimate at most twofold', () => {
  const p = new DraftPolicy(16);
  for (let i = 0; i < 30; i++) p.outcome(4, 8, 6);
  // Measured: 1 token 10 ms, 9 tokens 50 ms; between them the policy interpolates (5 ms a token).
  // With p = 0.85, d draft tokens give (1 - p^(d+1)) / (1 - p) tokens for 10 + 5d ms: best at d = 2
  // (0.128 tokens/ms; 0.123 at 1, 0.127 at 3).
  p.timed(1, 10);
  p.timed(9, 50);
  assert.ok(Math.abs(p.acceptance(4) - 0.847) < 1e-3, `${p.acceptance(4)}`);
  assert.equal(p.length(8, 4), 2);
  // A spike of 1000 ms on the one-token step moves its estimate to 12.5 ms (a quarter of the way to double), no more: then d = 3.
  p.timed(1, 1000);
  assert.equal(p.length(8, 4), 3);
  const q = new DraftPolicy(16);
  for (let i = 0; i < 30; i++) q.outcome(4, 8, 6);
  q.timed(1, 10 + 0.25 * 10);
  q.timed(9, 50);
  assert.equal(p.length(8, 4), q.length(8, 4));
  // Bad timings are ignored.
  p.timed(0, 5);
  p.timed(17, 5);
  p.timed(3, NaN);
  p.timed(3, -1);
  assert.equal(p.length(8, 4), q.length(8, 4));
});

/** A policy that checks every draft token (what it costs aside), so drafts are kept wherever the text repeats. */
class EveryDraft extends DraftPolicy {
  override length(available: number): number {
    return Math.min(available, this.maxTokens - 1);
  }
}

test('decoding with drafts gives the tokens of plain decoding, greedy and sampled with a seed, drafts kept or not', async () => {
  const path = tinyModel();
  const tok = Tokenizer.fromGGUF(readGGUF(path));
  // The tiny model's greedy answer here falls into repeats that drafts predict.
  const prompt = tok.encode('<|fim_prefix|>def f(a):\n    return a\n\ndef g(a):\n    return a\n\ndef h(a):\n    <|fim_suffix|>\n<|fim_middle|>', { addBos: false, parseSpecial: true });
  const N = 40;
  for (const backend of ['reference', 'webgpu'] as const) {
    const b = await openBackend(readGGUF(path), backend, { nCtx: 128, nSeq: 1 });
    try {
      for (const sampling of [{ temperature: 0 }, { temperature: 0.8, seed: 3, repeatPenalty: 1.1 }]) {
        const run = async (most: number) => {
          const sampler = new Sampler(sampling);
          const h = [...prompt];
          h.push(sampler.greedy ? await b.forwardGreedy(0, prompt, 0) : sampler.sample(await b.forward(0, prompt, 0), h));
          const ran: number[] = [...prompt];
          const spec = new Speculator(b, sampler, { seq: 0, most, policy: new EveryDraft(b.maxVerifyTokens), ran: (pos, t) => ran.splice(pos, Infinity, ...t) });
          while (h.length < prompt.length + N) h.push(...await spec.next(h[h.length - 1], h.length - 1, h, prompt.length + N - h.length - 1));
          // What the steps left in the cache is the answer but its last token.
          assert.deepEqual(ran, h.slice(0, -1));
          return { tokens: h.slice(prompt.length), spec };
        };
        const plain = await run(0), fast = await run(8);
        const what = `${backend}, ${JSON.stringify(sampling)}`;
        assert.deepEqual(fast.tokens, plain.tokens, what);
        assert.equal(plain.spec.steps, N - 1);
        assert.equal(plain.spec.drafted, 0);
        assert.equal(fast.spec.steps + fast.spec.accepted, N - 1, what);
        assert.ok(fast.spec.accepted >= 10 && fast.spec.accepted < fast.spec.drafted, `${what}: ${fast.spec.accepted} of ${fast.spec.drafted} draft tokens kept`);
      }
    } finally {
      b.dispose();
    }
  }
});
