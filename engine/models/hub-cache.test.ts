// The Hugging Face cache layout: where it is on each platform and with each variable, folder names,
// refs, snapshot links, what counts as cached, and the cross-process download lock.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubCache, hfHome, hubCacheDir } from './hub-cache.js';
import { HubError } from './hub-error.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the cache directory on Linux, macOS and Windows, as huggingface_hub computes it', () => {
  const linux = { platform: 'linux' as const, home: '/home/u' };
  const mac = { platform: 'darwin' as const, home: '/Users/u' };
  const win = { platform: 'win32' as const, home: 'C:\\Users\\u' };
  assert.equal(hubCacheDir({ ...linux, env: {} }), '/home/u/.cache/huggingface/hub');
  assert.equal(hubCacheDir({ ...mac, env: {} }), '/Users/u/.cache/huggingface/hub');
  assert.equal(hubCacheDir({ ...win, env: {} }), 'C:\\Users\\u\\.cache\\huggingface\\hub');
  assert.equal(hubCacheDir({ ...linux, env: { XDG_CACHE_HOME: '/xdg' } }), '/xdg/huggingface/hub');
  assert.equal(hubCacheDir({ ...linux, env: { HF_HOME: '/data/hf', XDG_CACHE_HOME: '/xdg' } }), '/data/hf/hub');
  assert.equal(hubCacheDir({ ...win, env: { HF_HOME: 'D:\\hf' } }), 'D:\\hf\\hub');
  assert.equal(hubCacheDir({ ...linux, env: { HF_HOME: '/data/hf', HF_HUB_CACHE: '/fast/hub' } }), '/fast/hub');
  assert.equal(hubCacheDir({ ...linux, env: { HUGGINGFACE_HUB_CACHE: '/old/hub' } }), '/old/hub');
  assert.equal(hubCacheDir({ ...linux, env: { HF_HUB_CACHE: '~/hub' } }), '/home/u/hub');
  assert.equal(hfHome({ ...mac, env: {} }), '/Users/u/.cache/huggingface');
});

test('folder names, refs and snapshot links', () => {
  assert.equal(HubCache.folder('Qwen/Qwen2.5-Coder-1.5B-GGUF'), 'models--Qwen--Qwen2.5-Coder-1.5B-GGUF');
  assert.equal(HubCache.repoOf('models--Qwen--Qwen2.5-Coder-1.5B-GGUF'), 'Qwen/Qwen2.5-Coder-1.5B-GGUF');
  assert.equal(HubCache.repoOf('datasets--a--b'), undefined);
  assert.equal(HubCache.repoOf('models--a'), undefined);
  const c = new HubCache(join(dir, 'layout'));
  const commit = '1'.repeat(40), sha = 'f'.repeat(64);
  c.writeRef('o/r', 'refs/pr/1', commit);
  assert.equal(c.readRef('o/r', 'refs/pr/1'), commit);
  assert.equal(readFileSync(join(c.repoDir('o/r'), 'refs', 'refs', 'pr', '1'), 'utf8'), commit);
  assert.equal(c.readRef('o/r', 'main'), undefined);
  assert.equal(c.readRef('o/r', commit), commit, 'a commit is its own ref');
  c.writeRef('o/r', 'main', commit);
  assert.equal(c.cached('o/r', 'main', 'd/m.gguf'), undefined);
  mkdirSync(join(c.repoDir('o/r'), 'blobs'), { recursive: true });
  writeFileSync(c.blobPath('o/r', sha), 'weights');
  const p = c.link('o/r', commit, 'd/m.gguf', sha);
  assert.equal(p, join(c.repoDir('o/r'), 'snapshots', commit, 'd', 'm.gguf'));
  assert.equal(readlinkSync(p), join('..', '..', '..', 'blobs', sha));
  assert.equal(readFileSync(p, 'utf8'), 'weights');
  assert.equal(c.link('o/r', commit, 'd/m.gguf', sha), p, 'linking again is a no-op');
  assert.equal(c.cached('o/r', 'main', 'd/m.gguf'), p);
  assert.equal(c.cached('o/r', 'main', 'd/m.gguf', 7), p);
  assert.equal(c.cached('o/r', 'main', 'd/m.gguf', 8), undefined, 'wrong size is not cached');
  assert.equal(c.hasBlob('o/r', sha, 7), true);
  rmSync(c.blobPath('o/r', sha));
  assert.equal(c.cached('o/r', 'main', 'd/m.gguf'), undefined, 'a dangling link is not cached');
  assert.equal(c.hasBlob('o/r', sha, 7), false);
  writeFileSync(join(c.repoDir('o/r'), 'refs', 'main'), 'not a commit');
  assert.equal(c.readRef('o/r', 'main'), undefined);
});

test('the download lock: one holder; a dead holder\'s lock is taken over; only the holder releases it', () => {
  const c = new HubCache(join(dir, 'locks'));
  const sha = 'e'.repeat(64);
  const release = c.lock('o/r', sha);
  assert.throws(() => c.lock('o/r', sha), (e: unknown) => e instanceof HubError && e.code === 'busy' && e.message.includes(`pid ${process.pid}`));
  release();
  const lockPath = join(c.root, '.locks', 'models--o--r', `${sha}.hearth.lock`);
  assert.ok(!existsSync(lockPath));
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(lockPath, `${dead} x`);
  c.lock('o/r', sha)();
  writeFileSync(lockPath, 'garbage');
  const r2 = c.lock('o/r', sha);
  writeFileSync(lockPath, `${process.ppid} other`);
  r2();
  assert.ok(existsSync(lockPath), 'a lock another process took is not removed');
  assert.throws(() => c.lock('o/r', sha), (e: unknown) => e instanceof HubError && e.code === 'busy');
  writeFileSync(lockPath, `${process.pid} an-earlier-process-with-this-pid`);
  c.lock('o/r', sha)();
});
