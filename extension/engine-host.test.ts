// The engine host against the real inference process on WebGPU (lavapipe here), with the tiny qwen2
// fixture: the probe, byte progress, the llama.cpp-style report, and every bad input told once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGUFValueType, readGGUF, readTensorBytes } from '../engine/gguf/gguf.js';
import { metadataEntries, writeGGUF } from '../engine/gguf/gguf-writer.js';
import { serverBundle, tinyModel } from '../test/support/inference-fixtures.js';
import { EngineHost, type Problem } from './engine-host.js';
import type { EngineState } from './state.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-host-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The tiny model relabelled as an architecture the engine does not run. */
function otherArch(model: string): string {
  const g = readGGUF(model);
  const path = join(dir, 'mamba.gguf');
  writeGGUF(path, {
    metadata: metadataEntries(g).map((e) => (e.key === 'general.architecture' ? { key: e.key, type: GGUFValueType.STRING, value: 'mamba' } : e)),
    tensors: g.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(g, t) })),
  });
  return path;
}

test('engine host: probe, progress in bytes, report; bad input is one clear problem each, then it recovers', async () => {
  const model = tinyModel();
  const host = new EngineHost({ serverPath: await serverBundle(), bundledDir: join(dir, 'no-node'), maxDeviceBytes: 64 << 20, client: { restartDelayMs: 50 } });
  const states: EngineState[] = [];
  const problems: Problem[] = [];
  const logs: string[] = [];
  host.on('state', (s) => states.push(s));
  host.on('problem', (p) => problems.push(p));
  host.on('log', (_l, m) => logs.push(m));
  const settings = { modelPath: '', nodePath: '', contextSize: 256 };
  const kind = () => host.state.kind;
  try {
    await host.configure(settings);
    assert.equal(kind(), 'no-model');
    assert.ok(logs.some((l) => /GPU read-back works on .*Node v\d+/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /inference runtime: .* \(extension host, Node v/.test(l)));

    await host.configure({ ...settings, modelPath: join(dir, 'missing.gguf') });
    await host.configure({ ...settings, modelPath: join(dir, 'missing.gguf') });
    const notGguf = join(dir, 'notes.gguf');
    writeFileSync(notGguf, 'these are my notes, not a model\n');
    await host.configure({ ...settings, modelPath: notGguf });
    await host.configure({ ...settings, modelPath: otherArch(model) });
    // Needs more than the 64 MiB this host may use: the server says how much, before allocating.
    await host.configure({ ...settings, modelPath: model, contextSize: 32768 });
    assert.deepEqual(problems.map((p) => p.kind), ['no-model', 'model', 'model', 'model', 'model']);
    assert.match(problems[0].message, /no model configured: set hearth\.modelPath/);
    assert.match(problems[1].message, /model file not found: .*missing\.gguf \(hearth\.modelPath\)/);
    assert.match(problems[2].message, /could not load notes\.gguf: .*GGUF/i);
    assert.match(problems[3].message, /could not load mamba\.gguf: .*architecture "mamba" is not supported/);
    assert.match(problems[4].message, /does not fit in GPU memory \(needs [\d.]+ MiB, 64\.0 MiB available\): pick a smaller quantization or lower hearth\.contextSize/);
    assert.equal(kind(), 'error');

    const progress: number[] = [];
    host.on('state', (s) => s.kind === 'loading' && progress.push(s.loadedBytes));
    await host.configure({ ...settings, modelPath: model });
    assert.equal(kind(), 'ready');
    assert.ok(host.ready);
    assert.ok(progress.length >= 2 && progress.every((b, i) => i === 0 || b >= progress[i - 1]), progress.join(' '));
    assert.equal(host.report!.arch, 'qwen2');
    for (const re of [/llm_load_print_meta: arch\s+= qwen2/, /llm_load_print_meta: file type = all F32/, /load_tensors: webgpu backend on .*KV cache/, /probe: GPU read-back on/]) {
      assert.ok(logs.some((l) => re.test(l)), `${re} in the log`);
    }
    // The same error again after a success is told again (it is news again).
    const before = problems.length;
    await host.configure({ ...settings, modelPath: join(dir, 'missing.gguf') });
    assert.equal(problems.length, before + 1);

    // A model that moves away under a loaded engine: reloading says so; putting it back recovers.
    await host.configure({ ...settings, modelPath: model });
    assert.equal(kind(), 'ready');
    const moved = model + '.moved';
    renameSync(model, moved);
    try {
      await host.configure({ ...settings, modelPath: model, contextSize: 512 });
      assert.equal(kind(), 'error');
    } finally {
      renameSync(moved, model);
    }
    await host.configure({ ...settings, modelPath: model, contextSize: 512 });
    assert.equal(kind(), 'ready');
    assert.equal(host.report!.nCtx, 512);
  } finally {
    await host.dispose();
  }
});

test('engine host: no usable runtime is one clear message saying what to install or set', async () => {
  const host = new EngineHost({
    serverPath: await serverBundle(), bundledDir: join(dir, 'no-node'), execPath: '/opt/vscode/code',
    versions: { ...process.versions, electron: '37.2.0' } as NodeJS.ProcessVersions, env: { PATH: join(dir, 'empty') },
  });
  const problems: Problem[] = [];
  host.on('problem', (p) => problems.push(p));
  await host.configure({ modelPath: '', nodePath: '', contextSize: 256 });
  await host.configure({ modelPath: 'x.gguf', nodePath: '', contextSize: 256 });
  const kind = () => host.state.kind;
  assert.equal(problems.length, 1);
  assert.equal(problems[0].kind, 'runtime');
  assert.match(problems[0].message, /Electron 37\.2\.0.*install Node\.js 20 or newer .*hearth\.nodePath/);
  assert.equal(kind(), 'error');
  await host.dispose();
});
