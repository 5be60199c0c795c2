// The inference process on the product path: WebGPU (lavapipe in CI). Load progress arrives in
// bytes, warm reuse prefills one token per keystroke, and answers match the reference model, with
// speculative decoding and without.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readGGUF } from '../engine/gguf/gguf.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { InferenceClient } from '../engine/process/client.js';
import type { DoneResponse } from '../engine/process/protocol.js';
import { greedy, serverBundle, tinyModel } from './support/inference-fixtures.js';

test('webgpu: byte progress, warm reuse across keystrokes, reference answers', async () => {
  const model = tinyModel();
  const tok = Tokenizer.fromGGUF(readGGUF(model));
  const enc = (s: string) => tok.encode(s, { addBos: false, parseSpecial: false });
  const client = new InferenceClient({ serverPath: await serverBundle() });
  client.on('log', (l) => process.stderr.write(`[server] ${l}\n`));
  const progress: [number, number][] = [];
  client.on('progress', (a, b) => progress.push([a, b]));
  try {
    await client.start();
    // The start-up probe: a buffer written, copied and mapped back on this runtime (real Node here).
    const probe = await client.probe();
    assert.equal(probe.node, process.version);
    assert.equal(probe.electron, undefined);
    assert.equal(probe.platform, process.platform);
    assert.ok(probe.adapter.length > 0 && probe.ms > 0, JSON.stringify(probe));
    // Over the memory limit: refused before anything is allocated, naming what it needs and has.
    await assert.rejects(client.load({ model, backend: 'webgpu', nCtx: 256, maxDeviceBytes: 1 << 20 }),
      (e: Error & { code?: string }) => e.code === 'out-of-memory' && /needs .* of device memory .* but 0\.00 GiB is available/.test(e.message));
    assert.equal(progress.length, 0);
    const report = await client.load({ model, backend: 'webgpu', nCtx: 256 });
    assert.equal(report.backend, 'webgpu');
    assert.equal(report.device, probe.adapter);
    assert.equal(report.fileType, 'all F32');
    assert.ok(report.kvBytes > 0 && report.weightBytes > 0);
    assert.ok(progress.length >= 2, `${progress.length} progress messages`);
    const total = progress[0][1];
    assert.ok(progress.every(([a, b], i) => b === total && a <= b && (i === 0 || a >= progress[i - 1][0])));
    assert.equal(progress[progress.length - 1][0], total);

    const line = '    return a';
    for (let i = line.length - 1; i <= line.length; i++) {
      const prefix = 'def add(a, b):\n' + line.slice(0, i);
      const r = (await client.complete({ prefix, suffix: '\n', maxTokens: 4 }).result) as DoneResponse;
      assert.equal(r.type, 'done', JSON.stringify(r));
      const prompt = [tok.fim.pre!, ...enc('def add(a, b):\n'), tok.fim.suf!, ...enc('\n'), tok.fim.mid!, ...enc(line.slice(0, i))];
      assert.equal(r.timings.promptTokens, prompt.length);
      if (i === line.length) assert.ok(r.timings.prefillTokens <= 2, `a keystroke prefilled ${r.timings.prefillTokens}`);
      assert.equal(r.text, (await greedy(model, prompt, 4)).text);
    }
    // Speculative decoding (verification steps on the CPU kernels) changes nothing but the steps.
    const prefix = 'def f(a):\n    return a\n\ndef g(a):\n    return a\n\ndef h(a):\n    ';
    const prompt = [tok.fim.pre!, ...enc(prefix.slice(0, prefix.lastIndexOf('\n') + 1)), tok.fim.suf!, ...enc('\n'), tok.fim.mid!, ...enc('    ')];
    const want = await greedy(model, prompt, 32);
    for (const speculate of [0, 15]) {
      const r = (await client.complete({ prefix, suffix: '\n', maxTokens: 32, speculate }).result) as DoneResponse;
      assert.equal(r.type, 'done', JSON.stringify(r));
      assert.equal(r.text, want.text, `speculate ${speculate}`);
      if (speculate === 0) assert.equal(r.timings.draftTokens, 0);
    }
  } finally {
    await client.close();
  }
});

test("webgpu: the kernels run once before 'loaded', so the first completion compiles nothing", { timeout: 600_000 }, async () => {
  const model = tinyModel();
  const client = new InferenceClient({ serverPath: await serverBundle() });
  client.on('log', (l) => process.stderr.write(`[server] ${l}\n`));
  try {
    await client.start();
    const report = await client.load({ model, backend: 'webgpu', nCtx: 1024 });
    assert.ok(report.warmUpMs !== undefined && report.warmUpMs > 0 && report.warmUpMs < report.loadMs, JSON.stringify(report));
    const loaded = (await client.stats()).pipelines;
    assert.ok(loaded.compiled > 0 && loaded.firstUses > 0, JSON.stringify(loaded));
    // A long first prompt (a chunk and its rest), speculation, a keystroke, alternatives, a pre-load and chat's slot.
    const prefix = Array.from({ length: 40 }, (_, i) => `def f${i}(a):\n    return a + ${i}\n`).join('') + 'def g(a):\n    ';
    for (const o of [{ prefix, speculate: 15 }, { prefix: prefix + 'r' }, { prefix: prefix + 're', alternatives: 3 }, { prefix: prefix + 'ret', maxTokens: 0 }]) {
      const r = await client.complete({ suffix: '\n', maxTokens: 12, ...o }).result;
      assert.equal(r.type, 'done', JSON.stringify(r));
    }
    const after = (await client.stats()).pipelines;
    assert.deepEqual(after, loaded, 'pipelines compiled or first dispatched by the requests after loading');
  } finally {
    await client.close();
  }
});
