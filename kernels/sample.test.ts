import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu, submitPass } from '../engine/gpu/gpu.js';
import { Sampler } from '../engine/model/sampler.js';
import { GreedySampler } from './sample.js';
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

async function devicePick(s: GreedySampler): Promise<number> {
  submitPass(gpu, 'sample', (pass) => s.record(pass));
  return (await readU32(gpu, s.result, 1))[0];
}

test('greedy picks the first largest logit, as the host sampler does', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const host = new Sampler({ temperature: 0 });
  for (const n of [7, 4097, 151936]) {
    const logits = peakedLogits(n, rand, 3);
    // Two copies of the maximum: the lower id wins, as on the host.
    const top = Math.floor(rand() * (n - 1));
    logits[top] = logits[n - 1] = 50;
    const s = await GreedySampler.create(gpu, storage(gpu, 'logits', logits), n);
    assert.equal(await devicePick(s), host.sample(logits, []), `n ${n}, seed ${seed}`);
    assert.equal(await devicePick(s), top, `n ${n}, seed ${seed}`);
  }
});

test('each row of a verification step gets its own pick; the rows past those asked for are left alone', async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const host = new Sampler({ temperature: 0 });
  for (const n of [7, 4097, 151936]) {
    const rows = 5;
    const logits = new Float32Array(rows * n);
    for (let r = 0; r < rows; r++) logits.set(peakedLogits(n, rand, 3), r * n);
    // The same maximum at a lower id in the next row: each row reads only its own logits.
    logits[n + 1] = logits[2 * n - 1] = 60;
    const s = await GreedySampler.create(gpu, storage(gpu, 'logits', logits), n, rows);
    gpu.write(s.result, new Uint32Array(rows).fill(0xffffffff));
    submitPass(gpu, 'sample', (pass) => s.record(pass, rows - 1));
    const got = [...await readU32(gpu, s.result, rows)];
    const want = Array.from({ length: rows - 1 }, (_, r) => host.sample(logits.subarray(r * n, (r + 1) * n), []));
    assert.deepEqual(got, [...want, 0xffffffff], `n ${n}, seed ${seed}`);
    assert.equal(got[1], 1, `n ${n}, seed ${seed}`);
    assert.throws(() => s.record({} as GPUComputePassEncoder, rows + 1), /6 rows to pick from, but it was made for 1\.\.5/);
  }
});
