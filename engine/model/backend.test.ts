// Both backends refuse the same options and steps with one error class and one message, and stay
// usable after a refused step.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { GGMLType } from '../gguf/ggml.js';
import { readGGUF } from '../gguf/gguf.js';
import { BackendInputError, type Backend, type BackendName } from './backend.js';
import { openBackend } from './open.js';
import { fixtureModel } from '../../test/support/fixtures.js';

const g = readGGUF(fixtureModel({ arch: 'llama', vocab: 'llama-spm', type: GGMLType.F32 }));
const names: BackendName[] = ['reference', 'webgpu'];
const backends = new Map<BackendName, Backend>();
after(() => {
  for (const b of backends.values()) b.dispose();
});

/** The error `f` rejects with: a BackendInputError (a RangeError) naming the file. */
async function refusal(what: string, f: () => Promise<unknown>): Promise<string> {
  const e = await f().then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof BackendInputError && e instanceof RangeError, `${what}: ${String(e)}`);
  assert.ok(e.message.startsWith(`${g.path}: `), e.message);
  return e.message;
}

test('bad options are refused alike by both backends', async () => {
  const cases: [string, { nCtx: number; nSeq: number }, RegExp][] = [
    ['nCtx 0', { nCtx: 0, nSeq: 1 }, /nCtx 0 must be a positive integer, at most 16777216$/],
    ['nCtx 2.5', { nCtx: 2.5, nSeq: 1 }, /nCtx 2\.5 must be a positive integer/],
    ['nCtx 2^24 + 1', { nCtx: 2 ** 24 + 1, nSeq: 1 }, /nCtx 16777217 must be a positive integer, at most 16777216$/],
    ['nSeq 0', { nCtx: 8, nSeq: 0 }, /nSeq 0 must be an integer in 1\.\.256$/],
    ['nSeq 257', { nCtx: 8, nSeq: 257 }, /nSeq 257 must be an integer in 1\.\.256$/],
  ];
  for (const [what, o, re] of cases) {
    const messages = await Promise.all(names.map((n) => refusal(`${n}, ${what}`, () => openBackend(g, n, o))));
    assert.match(messages[0], re, what);
    assert.equal(messages[1], messages[0], what);
  }
});

test('bad steps are refused alike by both backends, which keep working', async () => {
  for (const n of names) backends.set(n, await openBackend(g, n, { nCtx: 8, nSeq: 2 }));
  const steps: [string, (b: Backend) => Promise<unknown>, RegExp][] = [
    ['a position past the cache', (b) => b.forward(0, [3], 3), /position 3 is outside 0\.\.2 \(sequence 0 holds 2 tokens\)$/],
    ['a token past the vocabulary', (b) => b.forward(0, [32000], 2), /token 32000 is outside the vocabulary 0\.\.31999$/],
    ['a negative token', (b) => b.forwardGreedy(0, [-1], 2), /token -1 is outside the vocabulary/],
    ['a sequence past nSeq', (b) => b.forward(2, [1], 0), /sequence 2 is outside 0\.\.1$/],
    ['past the context', (b) => b.forward(0, [1, 2, 3, 4, 5, 6, 7], 2), /positions 2\.\.8 exceed the context of 8$/],
    ['no tokens', (b) => b.forwardGreedy(0, [], 2), /no tokens to evaluate$/],
  ];
  for (const b of backends.values()) await b.forward(0, [1, 2], 0);
  for (const [what, f, re] of steps) {
    const messages: string[] = [];
    for (const n of names) messages.push(await refusal(`${n}, ${what}`, () => f(backends.get(n)!)));
    assert.match(messages[0], re, what);
    assert.equal(messages[1], messages[0], what);
  }
  // The refused steps cached nothing: each still holds two tokens and goes on from there.
  for (const [n, b] of backends) {
    assert.match(await refusal(n, () => b.forward(0, [3], 3)), /sequence 0 holds 2 tokens/);
    assert.equal((await b.forward(0, [3], 2)).length, 32000, n);
  }
});
