// Downloads against a loopback server that behaves like the Hub (test/support/fake-hub.ts): the
// redirect to a CDN host that never sees the token, Range resumption within a call and after a
// restart, checksums, 401/403/404, 429 with Retry-After, a full disk, cancelling, and the cache
// reused so that no completed file is fetched twice and nothing partial is ever at the snapshot path.
import { test, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pullFile, type DownloadProgress, type PullOptions } from './download.js';
import { HubCache } from './hub-cache.js';
import { HubError } from './hub-error.js';
import { FakeHub, gitOid, sha256 } from '../../test/support/fake-hub.js';

const COMMIT = 'c0ffee'.padEnd(40, '0');
const REPO = 'Qwen/Qwen2.5-Coder-0.5B-GGUF';
const FILE = 'qwen2.5-coder-0.5b-q8_0.gguf';
const TOKEN = 'hf_secret_token';

/** Seeded bytes, different per seed. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

const big = bytes(3 << 20, 1);
const readme = Buffer.from('# a model card kept in git\n');
const wrong = bytes(1 << 20, 2);

let hub: FakeHub;
let dir: string;

const REPOS = [
  { repo: REPO, commit: COMMIT, files: [{ path: FILE, content: big }, { path: 'README.md', content: readme, git: true }, { path: 'sub/other.gguf', content: bytes(1000, 3) }] },
  { repo: 'Qwen/corrupt', commit: COMMIT, files: [{ path: 'm.gguf', content: wrong, served: Buffer.from(wrong).fill(7, 500_000, 500_001) }] },
  { repo: 'meta/gated', commit: COMMIT, token: TOKEN, files: [{ path: 'g.gguf', content: bytes(200_000, 4) }] },
  { repo: 'Qwen/long', commit: COMMIT, files: [{ path: 'l.gguf', content: bytes(100_000, 5), served: bytes(150_000, 5) }] },
];

// Each test gets its own servers and cache directory, closed and removed when it ends.
beforeEach(async () => {
  hub = await FakeHub.start(REPOS);
  dir = mkdtempSync(join(tmpdir(), 'hearth-dl-'));
});
afterEach(async () => {
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

function opts(extra: PullOptions = {}): PullOptions {
  return { endpoint: hub.url, cacheDir: dir, token: null, env: {}, retryDelayMs: 5, ...extra };
}

const cache = () => new HubCache(dir);
const snapshot = (repo = REPO, file = FILE) => cache().snapshotPath(repo, COMMIT, file);

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<HubError> {
  let err: HubError | undefined;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HubError, String(e));
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    err = e;
    return true;
  });
  return err!;
}

test('a pull follows the redirect to the CDN host, which never sees the token, and lays out the Hub cache', async () => {
  const r = await pullFile(REPO, FILE, opts({ token: TOKEN }));
  assert.equal(r.path, snapshot());
  assert.deepEqual(readFileSync(r.path), big);
  assert.equal(r.commit, COMMIT);
  assert.equal(r.sha256, sha256(big));
  assert.equal(r.sizeBytes, big.length);
  assert.equal(r.downloadedBytes, big.length);
  assert.equal(r.cached, false);
  // models--Qwen--Qwen2.5-Coder-0.5B-GGUF/{blobs/<sha256>, snapshots/<commit>/<file> -> ../../blobs/<sha256>, refs/main}
  const repoDir = join(dir, 'models--Qwen--Qwen2.5-Coder-0.5B-GGUF');
  assert.ok(lstatSync(r.path).isSymbolicLink());
  assert.equal(readlinkSync(r.path), join('..', '..', 'blobs', sha256(big)));
  assert.equal(statSync(join(repoDir, 'blobs', sha256(big))).size, big.length);
  assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
  assert.ok(!existsSync(cache().partialPath(REPO, sha256(big))));
  const hubReqs = hub.requests.filter((q) => q.host === 'hub');
  const cdnReqs = hub.requests.filter((q) => q.host === 'cdn');
  assert.ok(hubReqs.length >= 3 && hubReqs.every((q) => q.authorization === `Bearer ${TOKEN}`), 'the Hub gets the token');
  assert.equal(cdnReqs.length, 1);
  assert.equal(cdnReqs[0].authorization, undefined, 'the CDN never sees the token');
});

test('a completed download is never fetched again: by branch only the API is asked, by commit nothing', async () => {
  await pullFile(REPO, FILE, opts());
  hub.requests.length = 0;
  const again = await pullFile(REPO, FILE, opts());
  assert.equal(again.cached, true);
  assert.equal(again.downloadedBytes, 0);
  assert.equal(hub.count('hub', '/resolve/'), 0);
  assert.equal(hub.count('cdn'), 0);
  hub.requests.length = 0;
  const pinned = await pullFile(REPO, FILE, opts({ revision: COMMIT }));
  assert.equal(pinned.path, snapshot());
  assert.equal(pinned.sha256, sha256(big));
  assert.equal(hub.requests.length, 0);
});

test('a body cut off midway is resumed with a Range request in the same call', async () => {
  hub.fault({ on: 'cdn', cutAfter: 1 << 20 });
  const r = await pullFile(REPO, FILE, opts());
  assert.deepEqual(readFileSync(r.path), big);
  const cdn = hub.requests.filter((q) => q.host === 'cdn');
  assert.equal(cdn.length, 2);
  assert.equal(cdn[0].range, undefined);
  assert.match(cdn[1].range ?? '', /^bytes=\d+-$/);
  const from = Number(/=(\d+)-/.exec(cdn[1].range!)![1]);
  assert.ok(from > 0 && from <= 1 << 20);
  assert.equal(r.downloadedBytes, big.length);
});

test('after a failed run the next run re-hashes the partial file and fetches only the rest', async () => {
  hub.fault({ on: 'cdn', cutAfter: 1 << 20 });
  const err = await rejects(pullFile(REPO, FILE, opts({ retries: 0 })), 'network', /connection broke at \d+ of 3145728 bytes/);
  const part = cache().partialPath(REPO, sha256(big));
  assert.equal(err.detail.partialPath, part);
  const kept = statSync(part).size;
  assert.ok(kept > 0 && kept <= 1 << 20);
  assert.ok(!existsSync(snapshot()), 'nothing at the snapshot path');
  assert.ok(!existsSync(cache().blobPath(REPO, sha256(big))));
  hub.requests.length = 0;
  const seen: DownloadProgress[] = [];
  const r = await pullFile(REPO, FILE, opts({ onProgress: (p) => seen.push(p) }));
  assert.deepEqual(readFileSync(r.path), big);
  assert.equal(r.downloadedBytes, big.length - kept);
  assert.deepEqual(hub.requests.filter((q) => q.host === 'cdn').map((q) => q.range), [`bytes=${kept}-`]);
  assert.equal(seen[0].phase, 'resuming');
  assert.ok(seen.some((p) => p.phase === 'resuming' && p.receivedBytes === kept));
  assert.ok(seen.every((p) => p.resumedFromBytes === kept));
  assert.equal(seen.at(-1)!.phase, 'done');
});

test('a partial file whose bytes were corrupted fails the checksum after resuming, and is discarded', async () => {
  hub.fault({ on: 'cdn', cutAfter: 1 << 20 });
  await rejects(pullFile(REPO, FILE, opts({ retries: 0 })), 'network');
  const part = cache().partialPath(REPO, sha256(big));
  const b = readFileSync(part);
  b[100] ^= 0xff;
  writeFileSync(part, b);
  await rejects(pullFile(REPO, FILE, opts()), 'checksum', /SHA-256 is [0-9a-f]{64}, the Hub lists [0-9a-f]{64}; the download was discarded/);
  assert.ok(!existsSync(part));
  assert.ok(!existsSync(snapshot()));
});

test('a file whose bytes do not match the Hub\'s SHA-256 is discarded with both hashes named', async () => {
  const err = await rejects(pullFile('Qwen/corrupt', 'm.gguf', opts()), 'checksum');
  assert.ok(err.message.includes(sha256(wrong)), err.message);
  assert.ok(!existsSync(cache().partialPath('Qwen/corrupt', sha256(wrong))));
  assert.ok(!existsSync(cache().blobPath('Qwen/corrupt', sha256(wrong))));
  assert.ok(!existsSync(snapshot('Qwen/corrupt', 'm.gguf')));
});

test('a server that sends more bytes than the Hub lists: discarded', async () => {
  await rejects(pullFile('Qwen/long', 'l.gguf', opts()), 'checksum', /sent more than the 100000 bytes the Hub lists; the download was discarded/);
  assert.ok(!existsSync(cache().partialPath('Qwen/long', sha256(bytes(100_000, 5)))));
  assert.ok(!existsSync(snapshot('Qwen/long', 'l.gguf')));
});

test('an exception from the progress callback ends the download; it is not taken for a broken connection', async () => {
  hub.fault({ on: 'cdn', pieceDelayMs: 5 });
  await assert.rejects(pullFile(REPO, FILE, opts({ onProgress: (p) => { if (p.receivedBytes > 0) throw new Error('from the callback'); } })), /from the callback/);
  assert.equal(hub.count('cdn'), 1);
  assert.ok(!existsSync(snapshot()));
});

test('a Range the server ignores restarts from the first byte', async () => {
  hub.fault({ on: 'cdn', cutAfter: 500_000 });
  hub.fault({ on: 'cdn', ignoreRange: true });
  const r = await pullFile(REPO, FILE, opts());
  assert.deepEqual(readFileSync(r.path), big);
});

test('files kept in git are verified by their git blob id; files in folders land in folders', async () => {
  const r = await pullFile(REPO, 'README.md', opts());
  assert.deepEqual(readFileSync(r.path), readme);
  assert.equal(r.sha256, undefined);
  assert.ok(existsSync(cache().blobPath(REPO, gitOid(readme))));
  const sub = await pullFile(REPO, 'sub/other.gguf', opts());
  assert.equal(sub.path, join(dir, 'models--Qwen--Qwen2.5-Coder-0.5B-GGUF', 'snapshots', COMMIT, 'sub', 'other.gguf'));
  assert.equal(readFileSync(sub.path).length, 1000);
});

test('404s: a missing file names the GGUFs there are; a missing repository or revision says not found', async () => {
  await rejects(pullFile(REPO, 'nope.gguf', opts()), 'not-found', /no file "nope.gguf"; its GGUF files: qwen2.5-coder-0.5b-q8_0.gguf, sub\/other.gguf/);
  await rejects(pullFile('nobody/nothing', FILE, opts()), 'not-found', /nobody\/nothing@main: not found .*\(401\); if it is private, set HF_TOKEN/);
  const e = await rejects(pullFile(REPO, FILE, opts({ revision: 'v9' })), 'not-found', /\(404\)/);
  assert.ok(!e.message.includes('\t') && e.message.length < 600 && e.message.includes('…'), 'server text is sanitised and bounded');
  assert.equal(hub.count('cdn'), 0);
});

test('gated repositories: 401 without a token, 403 with a wrong one, and the token goes to the Hub only', async () => {
  await rejects(pullFile('meta/gated', 'g.gguf', opts()), 'unauthorized', /needs a token: set HF_TOKEN.*gated repository/);
  await rejects(pullFile('meta/gated', 'g.gguf', opts({ token: 'hf_wrong' })), 'forbidden', /access denied \(403\)/);
  hub.requests.length = 0;
  const r = await pullFile('meta/gated', 'g.gguf', opts({ token: undefined, env: { HF_TOKEN: TOKEN } }));
  assert.equal(readFileSync(r.path).length, 200_000);
  assert.ok(hub.requests.filter((q) => q.host === 'hub').every((q) => q.authorization === `Bearer ${TOKEN}`));
  assert.ok(hub.requests.filter((q) => q.host === 'cdn').every((q) => q.authorization === undefined));
});

test('429: waits as Retry-After says, a bounded number of times', async () => {
  hub.fault({ on: 'api', retryAfter: '1' });
  hub.fault({ on: 'cdn', retryAfter: '0' });
  const t0 = performance.now();
  const r = await pullFile(REPO, FILE, opts());
  assert.ok(performance.now() - t0 >= 950, 'waited for Retry-After');
  assert.deepEqual(readFileSync(r.path), big);

  rmSync(dir, { recursive: true, force: true });
  hub.fault({ on: 'resolve', retryAfter: '3600' });
  const long = await rejects(pullFile(REPO, FILE, opts()), 'rate-limited', /wait 3600 s, over the 60 s limit/);
  assert.equal(long.detail.retryAfterMs, 3_600_000);
  hub.fault({ on: 'api', retryAfter: '0', times: 10 });
  await rejects(pullFile(REPO, FILE, opts({ rateLimitRetries: 2 })), 'rate-limited', /after 2 retries/);
});

test('5xx answers are retried, then reported', async () => {
  hub.fault({ on: 'cdn', status: 503 });
  const r = await pullFile(REPO, FILE, opts());
  assert.deepEqual(readFileSync(r.path), big);
  rmSync(dir, { recursive: true, force: true });
  hub.fault({ on: 'resolve', status: 500, times: 3 });
  await rejects(pullFile(REPO, FILE, opts({ retries: 2 })), 'http', /500/);
});

test('cancelling keeps the partial file, never a snapshot; the next call resumes it', async () => {
  hub.fault({ on: 'cdn', pieceDelayMs: 15 });
  const ac = new AbortController();
  const seen: DownloadProgress[] = [];
  const p = pullFile(REPO, FILE, opts({
    signal: ac.signal,
    onProgress: (q) => {
      seen.push(q);
      assert.ok(!existsSync(snapshot()), 'no snapshot while downloading');
      if (q.receivedBytes > 1 << 20) ac.abort();
    },
  }));
  const err = await rejects(p, 'aborted', /cancelled at \d+ of 3145728 bytes; the partial file is kept/);
  const downloading = seen.filter((q) => q.phase === 'downloading');
  assert.ok(downloading.some((q) => q.bytesPerSecond > 0 && q.etaSeconds !== undefined && q.etaSeconds > 0), 'speed and ETA reported');
  const kept = statSync(err.detail.partialPath!).size;
  assert.ok(kept > 1 << 20 && kept < big.length, String(kept));
  assert.ok(!existsSync(snapshot()));
  hub.requests.length = 0;
  const r = await pullFile(REPO, FILE, opts());
  assert.deepEqual(readFileSync(r.path), big);
  assert.equal(r.downloadedBytes, big.length - kept);
  assert.deepEqual(hub.requests.filter((q) => q.host === 'cdn').map((q) => q.range), [`bytes=${kept}-`]);
});

test('two pulls of one file in one process download it once', async () => {
  const [a, b] = await Promise.all([pullFile(REPO, FILE, opts()), pullFile(REPO, FILE, opts())]);
  assert.equal(a.path, b.path);
  assert.equal(hub.count('cdn'), 1);
  assert.deepEqual(readFileSync(a.path), big);
});

test('a download another live process holds is refused as busy', async () => {
  const c = cache();
  const lockDir = join(dir, '.locks', HubCache.folder(REPO));
  mkdirSync(lockDir, { recursive: true });
  writeFileSync(join(lockDir, `${sha256(big)}.hearth.lock`), `${process.ppid} other`);
  await rejects(pullFile(REPO, FILE, opts()), 'busy', /another process \(pid \d+\) is downloading/);
  assert.ok(!existsSync(c.partialPath(REPO, sha256(big))));
});

test('offline: HF_HUB_OFFLINE uses the cache only; an unreachable Hub falls back to the cache', async () => {
  await rejects(pullFile(REPO, FILE, opts({ env: { HF_HUB_OFFLINE: '1' } })), 'offline', /not in the cache/);
  assert.equal(hub.requests.length, 0);
  await pullFile(REPO, FILE, opts());
  hub.requests.length = 0;
  const off = await pullFile(REPO, FILE, opts({ env: { HF_HUB_OFFLINE: '1' } }));
  assert.equal(off.cached, true);
  assert.equal(hub.requests.length, 0);
  const down = await pullFile(REPO, FILE, opts({ endpoint: 'http://127.0.0.1:9', retries: 0 }));
  assert.equal(down.path, snapshot());
  await rejects(pullFile(REPO, 'README.md', opts({ endpoint: 'http://127.0.0.1:9', retries: 0 })), 'network', /ECONNREFUSED/);
});

test('the file list is read across pages', async () => {
  hub.pageSize = 2;
  const r = await pullFile(REPO, 'sub/other.gguf', opts());
  assert.equal(readFileSync(r.path).length, 1000);
  assert.equal(hub.count('hub', '/tree/'), 2);
});

test('bad repository ids and paths are refused before any request', async () => {
  for (const [repo, file] of [['../etc', FILE], ['a/b/c', FILE], ['a--b/c', FILE], [REPO, '../x.gguf'], [REPO, '/abs.gguf'], [REPO, 'a\\b.gguf'], [REPO, 'C:x']]) {
    await rejects(pullFile(repo, file, opts()), 'bad-argument');
  }
  await rejects(pullFile(REPO, FILE, opts({ revision: '../main' })), 'bad-argument');
  assert.equal(hub.requests.length, 0);
});

// A small tmpfs makes a real full disk; mounting needs root, so elsewhere this test says it skipped.
const mnt = mkdtempSync(join(tmpdir(), 'hearth-tmpfs-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]).status === 0;
after(() => {
  if (mounted) spawnSync('umount', [mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

test('a full disk: refused before starting when too small; a disk that fills mid-way keeps the partial file, which resumes', { skip: mounted ? false : 'mount -t tmpfs is not permitted here (needs root)' }, async () => {
  const small = join(mnt, 'small');
  mkdirSync(small);
  const filler = join(mnt, 'filler');
  writeFileSync(filler, Buffer.alloc(2 << 20));
  const e = await rejects(pullFile(REPO, FILE, opts({ cacheDir: small })), 'disk-space', /needs 3\.0 MiB of free disk space in .*, \d+\.\d MiB is free/);
  assert.ok(e.detail.freeBytes! < big.length);
  assert.equal(hub.count('cdn'), 0, 'nothing downloaded');
  assert.ok(!existsSync(new HubCache(small).partialPath(REPO, sha256(big))), 'nothing written');
  rmSync(filler);

  // Room at the check, then something else fills the disk while the body streams.
  hub.fault({ on: 'cdn', before: () => writeFileSync(filler, Buffer.alloc(2 << 20)) });
  const w = await rejects(pullFile(REPO, FILE, opts({ cacheDir: small })), 'disk-write', /the disk is full \(ENOSPC\); the partial file is kept/);
  const c = new HubCache(small);
  assert.ok(!existsSync(c.snapshotPath(REPO, COMMIT, FILE)));
  assert.ok(!existsSync(c.blobPath(REPO, sha256(big))));
  const kept = statSync(w.detail.partialPath!).size;
  assert.ok(kept > 0 && kept < big.length, String(kept));
  rmSync(filler);
  hub.requests.length = 0;
  const r = await pullFile(REPO, FILE, opts({ cacheDir: small }));
  assert.deepEqual(readFileSync(r.path), big);
  assert.deepEqual(hub.requests.filter((q) => q.host === 'cdn').map((q) => q.range), [`bytes=${kept}-`]);
});
