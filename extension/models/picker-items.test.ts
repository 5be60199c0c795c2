// The picker's entries from real inputs: models discovered in a temporary Hub cache and folder (one
// of them downloaded from the fake Hub under a catalog name), and the catalog with sizes from the
// fake Hub's file list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOG, catalogFiles, discoverModels, pullFile, type CatalogFile, type FoundModel } from '../../engine/process/index.js';
import { FakeHub } from '../../test/support/fake-hub.js';
import { writeTinyModel } from '../../test/support/tiny-gguf.js';
import { HubError } from '../../engine/process/index.js';
import { pickerItems, pickerPlaceholder, pickerTitle, type PickerInput } from './picker-items.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-picker-'));
const cache = join(dir, 'hub'), folder = join(dir, 'models');
let hub: FakeHub;
let found: FoundModel[];
let catalog: CatalogFile[];
const COMMIT = 'cd'.repeat(20);
const qwen05 = CATALOG.find((e) => e.id === 'qwen2.5-coder-0.5b-q8_0')!;
const qwen15 = CATALOG.find((e) => e.id === 'qwen2.5-coder-1.5b-q8_0')!;

before(async () => {
  mkdirSync(folder, { recursive: true });
  writeTinyModel(join(folder, 'coder.gguf'), { name: 'my coder' });
  writeTinyModel(join(folder, 'chatty.gguf'), { name: 'chat only', fim: false, chatTemplate: '{{ messages }}' });
  const tiny = join(dir, 'tiny.gguf');
  writeTinyModel(tiny, { name: 'catalog 0.5B' });
  const file = (id: string, content: Buffer) => ({ path: `${id}.gguf`, content });
  const big = Buffer.alloc(1_234_567, 1);
  hub = await FakeHub.start([
    { repo: qwen05.repo, commit: COMMIT, files: [file('qwen2.5-coder-0.5b-q8_0', readFileSync(tiny)), file('qwen2.5-coder-0.5b-q4_k_m', big)] },
    { repo: qwen15.repo, commit: COMMIT, files: [file('qwen2.5-coder-1.5b-q8_0', big), file('qwen2.5-coder-1.5b-q4_k_m', big)] },
  ]);
  const o = { endpoint: hub.url, token: null, env: {}, retries: 0 };
  await pullFile(qwen05.repo, qwen05.file, { ...o, cacheDir: cache });
  catalog = await catalogFiles({ ...o, entries: CATALOG.filter((e) => e.repo === qwen05.repo || e.repo === qwen15.repo || e.id.startsWith('qwen2.5-coder-3b-q8')) });
  found = (await discoverModels({ roots: [{ source: 'hub', dir: cache }, { source: 'folder', dir: folder }] })).models;
});
after(async () => {
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

const input = (o: Partial<PickerInput>): PickerInput => ({ role: 'completion', found, catalog, nCtx: 8192, device: { software: false, adapter: 'NVIDIA H200' }, current: '', completionModel: '', ...o });

test('completion: models on disk first, the catalog after with sizes and memory, the recommended one starred, "Choose a file…" last', () => {
  const coder = join(folder, 'coder.gguf');
  const items = pickerItems(input({ current: coder }));
  const labels = items.map((x) => (x.separator ? `--${x.label}` : x.label));
  assert.deepEqual(labels, [
    '--On this computer (1 other GGUF file cannot complete code: see the log)',
    'Qwen2.5-Coder 0.5B (Q8_0)',
    '$(check) my coder',
    '--Download from Hugging Face',
    'Qwen2.5-Coder 0.5B (Q4_K_M)',
    '$(star-full) Qwen2.5-Coder 1.5B (Q8_0)',
    'Qwen2.5-Coder 1.5B (Q4_K_M)',
    'Qwen2.5-Coder 3B (Q8_0)',
    '--',
    '$(folder-opened) Choose a file…',
  ]);
  const cached = items[1];
  assert.deepEqual(cached.action, { kind: 'file', path: found.find((m) => m.source === 'hub')!.path });
  assert.match(cached.description!, /^F32 · [\d.]+ KiB · Hugging Face cache$/);
  assert.match(cached.detail!, /^Qwen\/Qwen2\.5-Coder-0\.5B-GGUF\/qwen2\.5-coder-0\.5b-q8_0\.gguf — needs about [\d.]+ [KM]iB at 8192 tokens of context$/);
  const rec = items[5];
  assert.equal(rec.description, '1.2 MiB download');
  assert.match(rec.detail!, /^Qwen\/Qwen2\.5-Coder-1\.5B-GGUF — recommended for this computer — needs about [\d.]+ MiB at 8192 tokens of context$/);
  assert.equal(rec.action?.kind, 'download');
  assert.equal(rec.action?.kind === 'download' && rec.action.entry.sizeBytes, 1_234_567);
  const unknown = items[7];
  assert.equal(unknown.description, 'size unknown');
  assert.match(unknown.detail!, /the Hub did not say: .*not found/);
  assert.deepEqual(items.at(-1)!.action, { kind: 'browse' });
});

test('chat: sharing the completion model comes first; the Instruct models; any loadable model on disk', () => {
  const items = pickerItems(input({ role: 'chat', completionModel: '/m/coder.gguf', catalog: catalog.concat(CATALOG.filter((e) => e.id === 'qwen2.5-coder-0.5b-instruct-q8_0').map((e) => ({ ...e, sizeBytes: 600 << 20 }))) }));
  assert.deepEqual(items[0], { label: '$(check) Use the completion model', description: 'coder.gguf', detail: 'one model in memory for both; set a chat model for better answers (an Instruct model)', action: { kind: 'shared' } });
  // The Hub file is a completion model: on disk it is listed by its own name, not a chat catalog entry's.
  assert.deepEqual(items.filter((x) => x.action?.kind === 'file').map((x) => x.label).sort(), ['catalog 0.5B', 'chat only', 'my coder']);
  assert.deepEqual(items.filter((x) => x.action?.kind === 'download').map((x) => x.label), ['Qwen2.5-Coder 0.5B Instruct (Q8_0)']);
  assert.equal(pickerItems(input({ role: 'chat', current: '/m/chat.gguf' }))[0].label, 'Use the completion model');
});

test('a software adapter: said in the placeholder, the memory checked against free system memory, the small model recommended', () => {
  const items = pickerItems(input({ device: { software: true, adapter: 'llvmpipe' }, budgetBytes: 8 * 2 ** 30, catalog: catalog.concat(CATALOG.filter((e) => e.id === 'qwen2.5-coder-0.5b-q4_k_m')) }));
  const q4 = items.find((x) => x.label.includes('0.5B (Q4_K_M)'))!;
  assert.match(q4.detail!, /fits in 8\.00 GiB of free system memory \(no GPU: it runs on the CPU\)$/);
  assert.ok(!items.some((x) => x.label.startsWith('$(star-full)')), 'the recommended 0.5B Q8_0 is already on disk, so no download is starred');
  assert.equal(pickerTitle('completion', { software: true, adapter: 'llvmpipe' }), 'Hearth: Completion Model — no GPU (llvmpipe is a software adapter): models run on the CPU, small ones recommended');
  assert.equal(pickerTitle('chat', { software: false, adapter: 'Apple M2' }), 'Hearth: Chat Model — GPU: Apple M2');
  assert.equal(pickerPlaceholder('chat', 4096), 'Pick the model that chats · memory needed at 4096 tokens of context (hearth.contextSize)');
  const waiting = pickerItems(input({ catalog: undefined }));
  assert.ok(waiting.some((x) => /Asking the Hub for the download sizes/.test(x.label)));
});

test('the Hub unreachable is said once; the file set now is listed even where discovery does not look', () => {
  const err = new HubError('network', 'https://huggingface.co/api/models/x: ENOTFOUND huggingface.co');
  const offline = CATALOG.filter((e) => e.role === 'completion').map((e) => ({ ...e, error: err }));
  const items = pickerItems(input({ catalog: offline, found: [], current: '/elsewhere/mine.gguf' }));
  assert.deepEqual(items.slice(0, 4).map((x) => x.label), [
    'On this computer', '$(check) mine.gguf', 'Download from Hugging Face', '$(cloud) The Hugging Face Hub cannot be reached: sizes are unknown and downloads will fail until it can',
  ]);
  assert.deepEqual(items[1].action, { kind: 'file', path: '/elsewhere/mine.gguf' });
  assert.equal(items[3].detail, err.message);
  const downloads = items.filter((x) => x.action?.kind === 'download');
  assert.equal(downloads.length, 8);
  assert.ok(downloads.every((x) => x.description === 'size unknown' && !x.detail!.includes('ENOTFOUND')), JSON.stringify(downloads[0]));
  assert.equal(pickerItems(input({ catalog: offline, found: [] }))[1].label, '$(info) No usable GGUF models found');
});

test('while discovery is still looking the picker says so, not that no model was found', () => {
  const looking = pickerItems(input({ found: undefined }));
  assert.deepEqual(looking.slice(0, 2).map((x) => x.label), ['On this computer', '$(sync~spin) Looking for GGUF models on this computer…']);
  assert.equal(looking[1].action, undefined, 'nothing to pick in that row');
  assert.ok(!looking.some((x) => x.label.includes('No usable GGUF models found')));
  const set = pickerItems(input({ found: undefined, current: '/elsewhere/mine.gguf' }));
  assert.deepEqual(set.slice(0, 3).map((x) => x.label), ['On this computer', '$(check) mine.gguf', '$(sync~spin) Looking for GGUF models on this computer…']);
  assert.equal(pickerItems(input({ found: [] }))[1].label, '$(info) No usable GGUF models found');
});
