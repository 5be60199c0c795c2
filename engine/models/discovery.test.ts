// Discovery on fake trees of each layout (Hub cache, llama.cpp's cache, LM Studio old and new,
// Ollama manifests and blobs, user folders), with truncated, hostile, split and foreign files, and
// the standard places computed for Linux, macOS and Windows.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GGMLType } from '../gguf/ggml.js';
import { GGUFValueType } from '../gguf/gguf.js';
import { writeGGUF } from '../gguf/gguf-writer.js';
import { discoverModels, modelRoots, type Described, type DiscoveryMemo } from './discovery.js';
import { writeTinyModel, type TinyModelOptions } from '../../test/support/tiny-gguf.js';

const home = mkdtempSync(join(tmpdir(), 'hearth-disc-'));
after(() => rmSync(home, { recursive: true, force: true }));

function model(path: string, o: TinyModelOptions = {}): string {
  mkdirSync(dirname(path), { recursive: true });
  writeTinyModel(path, o);
  return path;
}

test('the standard places on Linux, macOS and Windows', () => {
  const dirs = (o: Parameters<typeof modelRoots>[0]) => modelRoots(o).map((r) => `${r.source} ${r.dir}`);
  assert.deepEqual(dirs({ platform: 'linux', home: '/home/u', env: {}, extraDirs: ['/models'] }), [
    'hub /home/u/.cache/huggingface/hub',
    'llama.cpp /home/u/.cache/llama.cpp',
    'lm-studio /home/u/.lmstudio/models',
    'lm-studio /home/u/.cache/lm-studio/models',
    'ollama /home/u/.ollama/models',
    'ollama /usr/share/ollama/.ollama/models',
    'folder /models',
  ]);
  assert.deepEqual(dirs({ platform: 'darwin', home: '/Users/u', env: {} }), [
    'hub /Users/u/.cache/huggingface/hub',
    'llama.cpp /Users/u/Library/Caches/llama.cpp',
    'lm-studio /Users/u/.lmstudio/models',
    'lm-studio /Users/u/.cache/lm-studio/models',
    'ollama /Users/u/.ollama/models',
  ]);
  assert.deepEqual(dirs({ platform: 'win32', home: 'C:\\Users\\u', env: { LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' } }), [
    'hub C:\\Users\\u\\.cache\\huggingface\\hub',
    'llama.cpp C:\\Users\\u\\AppData\\Local\\llama.cpp',
    'lm-studio C:\\Users\\u\\.lmstudio\\models',
    'lm-studio C:\\Users\\u\\.cache\\lm-studio\\models',
    'ollama C:\\Users\\u\\.ollama\\models',
  ]);
  assert.deepEqual(dirs({ platform: 'win32', home: 'C:\\Users\\u', env: {} })[1], 'llama.cpp C:\\Users\\u\\AppData\\Local\\llama.cpp');
  assert.deepEqual(dirs({ platform: 'linux', home: '/home/u', env: { XDG_CACHE_HOME: '/xdg', LLAMA_CACHE: '/lc', OLLAMA_MODELS: '/om', HF_HUB_CACHE: '/hc' } }), [
    'hub /hc', 'llama.cpp /lc', 'lm-studio /home/u/.lmstudio/models', 'lm-studio /home/u/.cache/lm-studio/models', 'ollama /om',
  ]);
  assert.equal(dirs({ platform: 'linux', home: '/home/u', env: { XDG_CACHE_HOME: '/xdg' } })[1], 'llama.cpp /xdg/llama.cpp');
});

test('every layout is found and described; broken files are skipped with the reason, never thrown', async () => {
  // Hub cache: one blob, linked from two snapshots (listed once).
  const hubRoot = join(home, '.cache', 'huggingface', 'hub');
  const repoDir = join(hubRoot, 'models--Qwen--Qwen2.5-Coder-0.5B-GGUF');
  const blob = model(join(repoDir, 'blobs', 'x'), { name: 'Qwen2.5 Coder 0.5B', fileType: 7, type: GGMLType.Q8_0, nCtxTrain: 32768 });
  const sha = createHash('sha256').update(readFileSync(blob)).digest('hex');
  const blobPath = join(repoDir, 'blobs', sha);
  writeFileSync(blobPath, readFileSync(blob));
  rmSync(blob);
  const [c1, c2] = ['1'.repeat(40), '2'.repeat(40)];
  for (const c of [c1, c2]) {
    mkdirSync(join(repoDir, 'snapshots', c), { recursive: true });
    symlinkSync(join('..', '..', 'blobs', sha), join(repoDir, 'snapshots', c, 'qwen2.5-coder-0.5b-q8_0.gguf'));
  }
  writeFileSync(join(repoDir, 'blobs', `${'9'.repeat(64)}.incomplete`), 'partial');
  // llama.cpp's old flat cache, with its etag files beside.
  const llama = join(home, '.cache', 'llama.cpp');
  model(join(llama, 'ggml-org_Qwen2.5-Coder-1.5B-Q8_0-GGUF_qwen2.5-coder-1.5b-q8_0.gguf'), { name: 'llama-cache' });
  writeFileSync(join(llama, 'ggml-org_Qwen2.5-Coder-1.5B-Q8_0-GGUF_qwen2.5-coder-1.5b-q8_0.gguf.json'), '{}');
  // LM Studio, new and old places; a chat model without FIM tokens.
  model(join(home, '.lmstudio', 'models', 'lmstudio-community', 'Chat-GGUF', 'chat-Q4_K_M.gguf'), { fim: false, chatTemplate: '{{ messages }}', fileType: 15 });
  model(join(home, '.cache', 'lm-studio', 'models', 'old', 'm', 'old.gguf'), { arch: 'llama' });
  // Ollama: manifests -> blobs.
  const ollama = join(home, '.ollama', 'models');
  const oblob = 'a'.repeat(64);
  model(join(ollama, 'blobs', `sha256-${oblob}`), { name: 'ollama-model' });
  const manifest = (layers: unknown) => JSON.stringify({ schemaVersion: 2, layers });
  const man = (host: string, ns: string, name: string, tag: string, body: string) => {
    mkdirSync(join(ollama, 'manifests', host, ns, name), { recursive: true });
    writeFileSync(join(ollama, 'manifests', host, ns, name, tag), body);
  };
  man('registry.ollama.ai', 'library', 'qwen2.5-coder', '1.5b', manifest([{ mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'b'.repeat(64)}` }, { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${oblob}` }]));
  man('hf.co', 'someone', 'repo-gguf', 'latest', manifest([{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${oblob}` }]));
  man('registry.ollama.ai', 'library', 'broken', 'latest', '{not json');
  man('registry.ollama.ai', 'library', 'gone', 'latest', manifest([{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${'c'.repeat(64)}` }]));
  man('registry.ollama.ai', 'library', 'evil', 'latest', manifest([{ mediaType: 'application/vnd.ollama.image.model', digest: 'sha256:../../../../etc/passwd' }]));
  // A user folder: nested, truncated, hostile, foreign, split, unsupported, a dangling link.
  const extra = join(home, 'my models');
  model(join(extra, 'deep', 'er', 'good.gguf'), { name: 'good' });
  const cut = model(join(extra, 'truncated.gguf'));
  truncateSync(cut, Math.floor(statSync(cut).size / 2));
  const hostile = Buffer.alloc(24);
  hostile.write('GGUF', 0, 'latin1');
  hostile.writeUInt32LE(3, 4);
  hostile.writeBigUInt64LE(1n << 60n, 8);
  writeFileSync(join(extra, 'hostile.gguf'), hostile);
  writeFileSync(join(extra, 'notes.gguf'), 'these are not weights');
  writeGGUF(join(extra, 'big-00001-of-00002.gguf'), { metadata: [{ key: 'general.architecture', type: GGUFValueType.STRING, value: 'qwen2' }, { key: 'split.count', type: GGUFValueType.UINT16, value: 2 }], tensors: [] });
  writeGGUF(join(extra, 'big-00002-of-00002.gguf'), { metadata: [{ key: 'split.count', type: GGUFValueType.UINT16, value: 2 }], tensors: [] });
  writeGGUF(join(extra, 'gemma.gguf'), { metadata: [{ key: 'general.architecture', type: GGUFValueType.STRING, value: 'gemma3' }], tensors: [] });
  symlinkSync(join(extra, 'nowhere.gguf'), join(extra, 'dangling.gguf'));
  // Reached twice: through the folder and through a link into the Hub cache.
  symlinkSync(blobPath, join(extra, 'linked-to-hub.gguf'));

  const roots = modelRoots({ platform: 'linux', home, env: {}, extraDirs: [extra] }).filter((r) => r.dir.startsWith(home));
  const { models, skipped } = await discoverModels({ roots });
  const by = (label: string) => {
    const m = models.find((x) => x.label === label);
    assert.ok(m, `${label} in ${models.map((x) => x.label).join(', ')}`);
    return m;
  };

  const hub = by('Qwen/Qwen2.5-Coder-0.5B-GGUF/qwen2.5-coder-0.5b-q8_0.gguf');
  assert.equal(models.filter((m) => m.source === 'hub').length, 1, 'one blob, listed once');
  assert.deepEqual(hub.hub, { repo: 'Qwen/Qwen2.5-Coder-0.5B-GGUF', commit: c1, file: 'qwen2.5-coder-0.5b-q8_0.gguf' });
  assert.equal(hub.path, join(repoDir, 'snapshots', c1, 'qwen2.5-coder-0.5b-q8_0.gguf'));
  assert.deepEqual([hub.name, hub.architecture, hub.quant, hub.fim, hub.chatTemplate, hub.contextLength, hub.loadable], ['Qwen2.5 Coder 0.5B', 'qwen2', 'Q8_0', true, false, 32768, true]);
  assert.equal(hub.sizeBytes, statSync(blobPath).size);
  assert.deepEqual(hub.shape, { nVocab: 7, nEmbd: 32, nLayer: 1, nHead: 2, nHeadKv: 1, headDim: 16, nFf: 64, nCtxTrain: 32768 });

  const lc = by('ggml-org_Qwen2.5-Coder-1.5B-Q8_0-GGUF_qwen2.5-coder-1.5b-q8_0.gguf');
  assert.deepEqual([lc.source, lc.name, lc.quant], ['llama.cpp', 'llama-cache', 'F32']);

  const chat = by('lmstudio-community/Chat-GGUF/chat-Q4_K_M.gguf');
  assert.deepEqual([chat.source, chat.fim, chat.chatTemplate, chat.quant, chat.loadable], ['lm-studio', false, true, 'Q4_K - Medium', true]);
  assert.equal(by('old/m/old.gguf').architecture, 'llama');

  const o1 = by('qwen2.5-coder:1.5b');
  assert.deepEqual([o1.source, o1.path, o1.name, o1.loadable], ['ollama', join(ollama, 'blobs', `sha256-${oblob}`), 'ollama-model', true]);
  assert.ok(!models.some((m) => m.label === 'hf.co/someone/repo-gguf:latest'), 'the same blob is listed once');

  assert.equal(by('deep/er/good.gguf').source, 'folder');
  const splitModel = by('big-00001-of-00002.gguf');
  assert.equal(splitModel.loadable, false);
  assert.match(splitModel.problem!, /split into 2 files/);
  assert.ok(!models.some((m) => m.label === 'big-00002-of-00002.gguf'));
  const gemma = by('gemma.gguf');
  assert.equal(gemma.loadable, false);
  assert.match(gemma.problem!, /architecture "gemma3" is not supported|tokenizer/);
  assert.ok(!models.some((m) => m.label === 'linked-to-hub.gguf'), 'a link to a file already found is not listed again');

  const reason = (end: string) => {
    const s = skipped.find((x) => x.path.endsWith(end));
    assert.ok(s, `${end} skipped, in ${JSON.stringify(skipped)}`);
    return s.reason;
  };
  assert.match(reason('truncated.gguf'), /truncated|past the end of the file/);
  assert.match(reason('hostile.gguf'), /tensor_count = 1152921504606846976 needs at least/);
  assert.match(reason('notes.gguf'), /not a GGUF file/);
  assert.match(reason('dangling.gguf'), /missing/);
  assert.match(reason(join('broken', 'latest')), /broken:latest: the manifest is not JSON/);
  assert.match(reason(`sha256-${'c'.repeat(64)}`), /gone:latest: the file is missing/);
  assert.match(reason(join('evil', 'latest')), /no sha256 digest/);
  assert.ok(!skipped.some((s) => s.path.includes('.incomplete')) && !models.some((m) => m.path.includes('.incomplete')), 'partial downloads are not models');
  assert.equal(models.length, 8);
});

test('the number of headers read is bounded', async () => {
  const dir = join(home, 'many');
  for (let i = 0; i < 4; i++) model(join(dir, `m${i}.gguf`));
  const r = await discoverModels({ roots: [{ source: 'folder', dir }], maxFiles: 2 });
  assert.equal(r.models.length, 2);
  assert.equal(r.skipped.filter((s) => /more than 2 GGUF files/.test(s.reason)).length, 2);
  assert.deepEqual(await discoverModels({ roots: [{ source: 'folder', dir: join(home, 'does-not-exist') }] }), { models: [], skipped: [] });
});

test('a memo of headers: a file with the same path, size and mtime is not read again; a changed one is', async () => {
  const dir = join(home, 'memo');
  const a = model(join(dir, 'a.gguf'), { name: 'first' });
  // Whole seconds, so setting the same mtime again gives the same mtimeMs.
  const T = 1_700_000_000;
  utimesSync(a, T, T);
  writeFileSync(join(dir, 'junk.gguf'), 'not a model');
  const store = new Map<string, { key: string; d: Described }>();
  let gets = 0, sets = 0;
  const memo: DiscoveryMemo = {
    get: (p, size, mtimeMs) => {
      gets++;
      const e = store.get(p);
      return e?.key === `${size}:${mtimeMs}` ? e.d : undefined;
    },
    set: (p, size, mtimeMs, d) => {
      sets++;
      store.set(p, { key: `${size}:${mtimeMs}`, d });
    },
  };
  const roots = [{ source: 'folder' as const, dir }];
  const first = await discoverModels({ roots, memo });
  assert.deepEqual([first.models.map((m) => m.name), first.skipped.length, gets, sets], [['first'], 1, 2, 2]);

  // Other bytes of the same size and mtime: the memo answers, so the header is not read.
  const bytes = readFileSync(a);
  writeFileSync(a, Buffer.alloc(bytes.length, 0x41));
  utimesSync(a, T, T);
  const second = await discoverModels({ roots, memo });
  assert.deepEqual(second.models, first.models);
  assert.deepEqual(second.skipped, first.skipped);
  assert.equal(sets, 2, 'nothing read again');

  // A newer mtime: read again (now it is not a GGUF file).
  utimesSync(a, T, T + 5);
  const third = await discoverModels({ roots, memo });
  assert.deepEqual(third.models, []);
  assert.match(third.skipped.find((x) => x.path === a)!.reason, /not a GGUF file/);
  assert.equal(sets, 3);

  // A remembered model found under another name keeps the new name and source.
  writeFileSync(a, bytes);
  utimesSync(a, T, T);
  store.clear();
  await discoverModels({ roots, memo });
  const linked = join(home, 'memo-links');
  mkdirSync(linked, { recursive: true });
  symlinkSync(a, join(linked, 'renamed.gguf'));
  const fourth = await discoverModels({ roots: [{ source: 'lm-studio', dir: linked }], memo });
  assert.deepEqual(fourth.models.map((m) => [m.label, m.source, m.path, m.name]), [['renamed.gguf', 'lm-studio', join(linked, 'renamed.gguf'), 'first']]);
});
