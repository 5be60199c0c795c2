// The engine host against the real inference process on WebGPU (lavapipe here), with the tiny qwen2
// fixture: the probe, byte progress, the llama.cpp-style report, the fit check before loading, every
// bad input told once, the software adapter said once; and, on the reference backend, a chat model
// beside the completion model and the idle unload with the reload on the next use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGUFValueType, readGGUF, readTensorBytes } from '../engine/gguf/gguf.js';
import { metadataEntries, writeGGUF } from '../engine/gguf/gguf-writer.js';
import { serverBundle, tinyChatModel, tinyModel } from '../test/support/inference-fixtures.js';
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
  const settings = { modelPath: '', chatModelPath: '', nodePath: '', contextSize: 256, idleUnloadMinutes: 0 };
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
    // Needs more than the 64 MiB this host may use: said with the numbers and the context that fits, and not loaded.
    const loadsBefore = logs.filter((l) => l.startsWith('loading ')).length;
    await host.configure({ ...settings, modelPath: model, contextSize: 32768 });
    assert.equal(logs.filter((l) => l.startsWith('loading ')).length, loadsBefore, 'no load was tried');
    // A software adapter (lavapipe) is said once, plainly; a GPU is not mentioned.
    const slow = problems.filter((p) => p.kind === 'slow');
    if (host.probe!.software) {
      assert.equal(slow.length, 1);
      assert.match(slow[0].message, /^no GPU was found: the only WebGPU adapter is .*, a software one, so the model runs on the CPU and completions will be slow \(a 0\.5B model decodes about 10 tokens\/s/);
    } else {
      assert.equal(slow.length, 0);
    }
    problems.splice(0, problems.length, ...problems.filter((p) => p.kind !== 'slow'));
    assert.deepEqual(problems.map((p) => p.kind), ['no-model', 'model', 'model', 'model', 'model']);
    assert.match(problems[0].message, /no model configured: pick one \(Hearth: Pick Model\) or set hearth\.modelPath/);
    assert.match(problems[1].message, /model file not found: .*missing\.gguf \(hearth\.modelPath\)/);
    assert.match(problems[2].message, /could not load notes\.gguf: .*GGUF/i);
    assert.match(problems[3].message, /could not load mamba\.gguf: .*architecture "mamba" is not supported/);
    assert.match(problems[4].message, /\.gguf \(hearth\.modelPath\) does not fit: at hearth\.contextSize 32768 it needs [\d.]+ MiB \(weights .*, KV cache [\d.]+ MiB for 2 × 32768 tokens, scratch .*\) and 64\.0 MiB of .* is available; the largest context that fits is \d+ tokens: set hearth\.contextSize to \d+/);
    assert.equal(kind(), 'error');
    const [, fits] = /set hearth\.contextSize to (\d+)/.exec(problems[4].message)!;
    await host.configure({ ...settings, modelPath: model, contextSize: Number(fits) });
    assert.equal(kind(), 'ready', 'the context the message suggests loads');

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
  await host.configure({ modelPath: '', chatModelPath: '', nodePath: '', contextSize: 256, idleUnloadMinutes: 0 });
  await host.configure({ modelPath: 'x.gguf', chatModelPath: '', nodePath: '', contextSize: 256, idleUnloadMinutes: 0 });
  const kind = () => host.state.kind;
  assert.equal(problems.length, 1);
  assert.equal(problems[0].kind, 'runtime');
  assert.match(problems[0].message, /Electron 37\.2\.0.*install Node\.js 20 or newer .*hearth\.nodePath/);
  assert.equal(kind(), 'error');
  await host.dispose();
});

test('engine host: a chat model beside the completion model; unset, chat shares the completion model; idle unload frees both, the next use loads each again', async () => {
  const model = tinyModel(), chatModel = tinyChatModel();
  const host = new EngineHost({ serverPath: await serverBundle(), bundledDir: join(dir, 'no-node'), backend: 'reference', probe: false, client: { restartDelayMs: 50 } });
  const problems: Problem[] = [];
  const logs: string[] = [];
  host.on('problem', (p) => problems.push(p));
  host.on('log', (_l, m) => logs.push(m));
  const settings = { modelPath: model, chatModelPath: chatModel, nodePath: '', contextSize: 256, idleUnloadMinutes: 0 };
  const loaded = async () => (await host.ready!.stats());
  // Read through functions: the states change behind TypeScript's narrowing.
  const kind = (): string => host.state.kind, chatKind = (): string => host.chatState.kind;
  try {
    await host.configure(settings);
    assert.equal(kind(), 'ready');
    assert.equal(chatKind(), 'ready');
    let st = await loaded();
    assert.equal(st.model?.model, model);
    assert.equal(st.chatModel?.model, chatModel);
    assert.equal(host.chatReport?.role, 'chat');
    const client = await host.whenChatReady();
    const answer = await client.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 2 }).result;
    assert.equal(answer.type, 'done', JSON.stringify(answer));

    // The same file for both: one model.
    await host.configure({ ...settings, chatModelPath: model });
    assert.equal(chatKind(), 'none');
    assert.equal((await loaded()).chatModel, null);
    await host.configure({ ...settings, chatModelPath: join(dir, 'missing-chat.gguf') });
    assert.equal(chatKind(), 'error');
    assert.equal(kind(), 'ready', 'a broken chat model leaves completions alone');
    assert.equal(problems.at(-1)?.kind, 'chat-model');
    assert.match(problems.at(-1)!.message, /chat model file not found: .*missing-chat\.gguf \(hearth\.chatModelPath\)/);
    await assert.rejects(host.whenChatReady(), /chat model file not found/);
    await host.configure({ ...settings, chatModelPath: '' });
    assert.equal(chatKind(), 'none');
    assert.equal(await host.whenChatReady(), host.ready, 'chat goes to the completion model');

    // Idle unload after a (tiny) idle period: both freed; each comes back when used.
    await host.configure({ ...settings, idleUnloadMinutes: 0.01 });
    assert.equal(chatKind(), 'ready');
    const states: string[] = [];
    host.on('state', (s) => states.push(s.kind));
    const deadline = Date.now() + 10_000;
    while ((kind() !== 'unloaded' || chatKind() !== 'unloaded') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(host.state, { kind: 'unloaded', minutes: 0.01 });
    assert.deepEqual(host.chatState, { kind: 'unloaded', minutes: 0.01 });
    assert.equal(host.ready, undefined);
    assert.ok(logs.some((l) => /unloaded the completion model and the chat model after 0\.01 minutes without use \(hearth\.idleUnloadMinutes\)/.test(l)), logs.join('\n'));
    // A keystroke: nothing to complete with yet, the model loads (with progress), then it is ready.
    await host.configure({ ...settings, idleUnloadMinutes: 0 });
    await host.configure({ ...settings, idleUnloadMinutes: 0.01 });
    await waitUnloaded(host);
    states.length = 0;
    assert.equal(host.forCompletion(), undefined);
    const ready = await host.whenReady();
    assert.ok(states.includes('loading') && states.at(-1) === 'ready', states.join(' '));
    st = await ready.stats();
    assert.equal(st.model?.model, model);
    assert.equal(st.chatModel, null, 'a keystroke loads only the completion model');
    assert.equal(chatKind(), 'unloaded');
    const chatClient = await host.whenChatReady();
    assert.equal((await chatClient.stats()).chatModel?.model, chatModel, 'a chat message loads the chat model');
  } finally {
    await host.dispose();
  }
});

async function waitUnloaded(host: EngineHost): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((host.state.kind as string) !== 'unloaded' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(host.state.kind, 'unloaded');
}
