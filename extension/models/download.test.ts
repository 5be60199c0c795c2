// The download as the extension shows it, against the fake Hub on loopback (test/support/fake-hub.ts):
// progress in percent with bytes, speed and time left; Cancel keeps the partial file and the next
// pick resumes it with a Range request; a file already downloaded is not fetched again; and each
// Hub error becomes one message that says what to do.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubError } from '../../engine/process/index.js';
import { FakeHub } from '../../test/support/fake-hub.js';
import { downloadErrorMessage, downloadModel, proxySettings, type DownloadOptions } from './download.js';

const COMMIT = 'ab'.repeat(20);
const REPO = 'Qwen/Qwen2.5-Coder-0.5B-GGUF';
const FILE = 'qwen2.5-coder-0.5b-q8_0.gguf';
const content = Buffer.alloc(2 << 20);
for (let i = 0; i < content.length; i++) content[i] = (i * 2654435761) >>> 24;

let hub: FakeHub;
let dir: string;
beforeEach(async () => {
  hub = await FakeHub.start([
    { repo: REPO, commit: COMMIT, files: [{ path: FILE, content }] },
    { repo: 'Qwen/broken', commit: COMMIT, files: [{ path: 'm.gguf', content: content.subarray(0, 1000), served: Buffer.alloc(1000, 1) }] },
    { repo: 'meta/gated', commit: COMMIT, token: 'hf_x', files: [{ path: 'g.gguf', content: content.subarray(0, 1000) }] },
  ]);
  dir = mkdtempSync(join(tmpdir(), 'hearth-ext-dl-'));
});
afterEach(async () => {
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

function options(extra: Partial<DownloadOptions> = {}): DownloadOptions & { reports: { increment?: number; message?: string }[] } {
  const reports: { increment?: number; message?: string }[] = [];
  return { endpoint: hub.url, cacheDir: dir, token: null, env: {}, retryDelayMs: 5, progress: { report: (p) => reports.push(p) }, reports, ...extra };
}

test('progress: percent increments adding up to 100, bytes, speed and time left; a second pick finds it in the cache', async () => {
  hub.fault({ on: 'cdn', pieceDelayMs: 15 });
  const o = options();
  const r = await downloadModel({ repo: REPO, file: FILE }, o);
  assert.equal(r.kind, 'done');
  if (r.kind !== 'done') return;
  assert.deepEqual(readFileSync(r.result.path), content);
  assert.equal(o.reports.reduce((s, p) => s + (p.increment ?? 0), 0), 100);
  assert.ok(o.reports.every((p) => (p.increment ?? 0) >= 0));
  assert.ok(o.reports.some((p) => /^[\d.]+ [KM]iB of 2\.0 MiB · [\d.]+ [KM]iB\/s · \d+ (s|min)( \d+ s)? left$/.test(p.message ?? '')), JSON.stringify(o.reports));
  assert.equal(o.reports.at(-1)!.message, '2.0 MiB, checksum verified');

  const again = options();
  const cdn = hub.count('cdn');
  const r2 = await downloadModel({ repo: REPO, file: FILE }, again);
  assert.ok(r2.kind === 'done' && r2.result.cached && r2.result.downloadedBytes === 0);
  assert.equal(hub.count('cdn'), cdn, 'not fetched twice');
});

test('cancel keeps the partial file and says so; the next pick resumes it from there', async () => {
  hub.fault({ on: 'cdn', pieceDelayMs: 20 });
  const ac = new AbortController();
  const o = options({ signal: ac.signal });
  o.progress = { report: (p) => { o.reports.push(p); if (/^1\.\d MiB of/.test(p.message ?? '')) ac.abort(); } };
  const r = await downloadModel({ repo: REPO, file: FILE }, o);
  assert.equal(r.kind, 'cancelled', JSON.stringify(r));
  assert.match((r as { message: string }).message, /^the download of qwen2\.5-coder-0\.5b-q8_0\.gguf was cancelled at 1\.\d MiB of 2\.0 MiB; what was downloaded is kept, and picking the model again resumes it$/);
  const blobs = join(dir, 'models--Qwen--Qwen2.5-Coder-0.5B-GGUF', 'blobs');
  const partial = readdirSync(blobs).filter((f) => f.endsWith('.incomplete'));
  assert.equal(partial.length, 1);

  hub.reset();
  const o2 = options();
  const r2 = await downloadModel({ repo: REPO, file: FILE }, o2);
  assert.ok(r2.kind === 'done', JSON.stringify(r2));
  assert.deepEqual(readFileSync(r2.result.path), content);
  assert.ok(r2.result.downloadedBytes < content.length && r2.result.downloadedBytes > 0, `${r2.result.downloadedBytes} bytes fetched`);
  assert.ok(hub.requests.some((q) => q.host === 'cdn' && /^bytes=\d+-$/.test(q.range ?? '')), 'resumed with a Range request');
  assert.match(o2.reports[0].message!, /^checking the 1\.\d MiB downloaded before/);
  assert.ok(o2.reports.some((p) => /\(resumed at 1\.\d MiB\)$/.test(p.message ?? '')));
  assert.equal(o2.reports.reduce((s, p) => s + (p.increment ?? 0), 0), 100);
  assert.ok(!existsSync(join(blobs, partial[0])), 'the partial file became the blob');
});

test('errors: gated, checksum, offline, unreachable, each one message with what to do', async () => {
  const gated = await downloadModel({ repo: 'meta/gated', file: 'g.gguf' }, options());
  assert.ok(gated.kind === 'failed' && gated.code === 'unauthorized');
  assert.match(gated.message, /^meta\/gated is gated: .*401.*set HF_TOKEN/);

  const bad = await downloadModel({ repo: 'Qwen/broken', file: 'm.gguf' }, options());
  assert.ok(bad.kind === 'failed' && bad.code === 'checksum');
  assert.match(bad.message, /^m\.gguf was downloaded but did not match the Hub's checksum, so it was deleted: .*Pick the model again/);
  assert.deepEqual(readdirSync(join(dir, 'models--Qwen--broken', 'blobs')), [], 'nothing partial is kept');

  const offline = await downloadModel({ repo: REPO, file: FILE }, options({ env: { HF_HUB_OFFLINE: '1' } }));
  assert.ok(offline.kind === 'failed' && offline.code === 'offline');
  assert.match(offline.message, /is not in the cache .*HF_HUB_OFFLINE is set: unset HF_HUB_OFFLINE to download it/);

  // A Hub that went away: its port now refuses connections.
  const url = hub.url;
  await hub.close();
  hub = await FakeHub.start([]);
  const down = await downloadModel({ repo: REPO, file: FILE }, options({ endpoint: url, retries: 0 }));
  assert.ok(down.kind === 'failed' && down.code === 'network', JSON.stringify(down));
  assert.match(down.message, /^could not download qwen2\.5-coder-0\.5b-q8_0\.gguf: .*ECONNREFUSED.*http\.proxy/);
});

test('the disk-space message carries the numbers; the proxy comes from VS Code, else the environment', () => {
  const e = new HubError('disk-space', 'Qwen/x/m.gguf: needs 1530.0 MiB of free disk space in /cache, 12.0 MiB is free', { neededBytes: 1530 << 20, freeBytes: 12 << 20 });
  assert.equal(downloadErrorMessage(e, { repo: 'Qwen/x', file: 'm.gguf' }),
    'not enough disk space to download m.gguf: Qwen/x/m.gguf: needs 1530.0 MiB of free disk space in /cache, 12.0 MiB is free. Free some space (or set HF_HUB_CACHE to a folder on another disk) and pick the model again');
  const settings = (v: Record<string, unknown>) => (k: 'proxy' | 'noProxy') => v[k];
  assert.deepEqual(proxySettings(settings({ proxy: 'http://proxy:3128', noProxy: ['localhost', '.corp'] }), { HTTPS_PROXY: 'http://env:1', NO_PROXY: 'a, b' }),
    { proxy: 'http://proxy:3128', noProxy: ['localhost', '.corp', 'a', 'b'] });
  assert.deepEqual(proxySettings(settings({ proxy: ' ' }), { https_proxy: 'http://env:1' }), { proxy: 'http://env:1', noProxy: undefined });
  assert.deepEqual(proxySettings(settings({}), {}), { proxy: undefined, noProxy: undefined });
});
