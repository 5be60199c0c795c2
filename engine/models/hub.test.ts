// The Hub API client: endpoint and token from the environment as huggingface_hub reads them, resolve
// URLs, the file list, and file lists a hostile server could send.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ENDPOINT, hubEndpoint, hubToken, listFiles, repoCommit, resolveUrl } from './hub.js';
import { HubError } from './hub-error.js';
import { FakeHub, sha256 } from '../../test/support/fake-hub.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-hub-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('HF_ENDPOINT and HF_TOKEN as huggingface_hub and llama.cpp read them', () => {
  assert.equal(hubEndpoint({}), DEFAULT_ENDPOINT);
  assert.equal(hubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.com/' }), 'https://hf-mirror.com');
  assert.throws(() => hubEndpoint({ HF_ENDPOINT: 'ftp://x' }), (e: unknown) => e instanceof HubError && e.code === 'bad-argument');
  assert.throws(() => hubEndpoint({ HF_ENDPOINT: 'not a url' }), (e: unknown) => e instanceof HubError && e.code === 'bad-argument');
  const home = join(dir, 'home');
  assert.equal(hubToken({}, home), undefined);
  mkdirSync(join(home, '.cache', 'huggingface'), { recursive: true });
  writeFileSync(join(home, '.cache', 'huggingface', 'token'), 'hf_from_login\n');
  assert.equal(hubToken({}, home), 'hf_from_login');
  mkdirSync(join(dir, 'hfhome'));
  writeFileSync(join(dir, 'hfhome', 'token'), 'hf_in_hf_home');
  assert.equal(hubToken({ HF_HOME: join(dir, 'hfhome') }, home), 'hf_in_hf_home');
  writeFileSync(join(dir, 'tokfile'), 'hf_at_path');
  assert.equal(hubToken({ HF_TOKEN_PATH: join(dir, 'tokfile') }, home), 'hf_at_path');
  assert.equal(hubToken({ HUGGING_FACE_HUB_TOKEN: 'hf_old' }, home), 'hf_old');
  assert.equal(hubToken({ HF_TOKEN: ' hf_env ', HUGGING_FACE_HUB_TOKEN: 'hf_old' }, home), 'hf_env');
});

test('resolve URLs encode each path segment and the revision', () => {
  assert.equal(resolveUrl('https://huggingface.co', 'o/r', 'main', 'd/a b#1.gguf'), 'https://huggingface.co/o/r/resolve/main/d/a%20b%231.gguf');
  assert.equal(resolveUrl('https://h', 'o/r', 'refs/pr/1', 'm.gguf'), 'https://h/o/r/resolve/refs%2Fpr%2F1/m.gguf');
});

test('the file list: sizes and SHA-256 for LFS files, git oids for the rest, folders skipped', async () => {
  const commit = 'b'.repeat(40);
  const big = Buffer.alloc(5000, 1), small = Buffer.from('text');
  const hub = await FakeHub.start([{ repo: 'o/r', commit, files: [{ path: 'm.gguf', content: big }, { path: 'README.md', content: small, git: true }] }]);
  try {
    const o = { endpoint: hub.url, token: null, env: {} };
    assert.equal(await repoCommit('o/r', 'main', o), commit);
    assert.equal(await repoCommit('o/r', commit, o), commit);
    assert.equal(hub.count('hub', '/revision/'), 1, 'a commit needs no request');
    const files = await listFiles('o/r', commit, o);
    assert.deepEqual(files.map((f) => [f.path, f.size, f.sha256]), [['m.gguf', 5000, sha256(big)], ['README.md', 4, undefined]]);
    assert.match(files[1].gitOid, /^[0-9a-f]{40}$/);
  } finally {
    await hub.close();
  }
});

test('hostile file lists are refused with the reason', async () => {
  let answer = '';
  let link: string | undefined;
  const s = http.createServer((_q, res) => res.writeHead(200, link ? { link } : {}).end(answer));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const o = { endpoint: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, token: 'hf_t', env: {}, retries: 0 };
  const oid = 'c'.repeat(40);
  const cases: [string, RegExp][] = [
    ['not json', /did not answer with JSON/],
    ['{"a":1}', /did not give a file list/],
    [JSON.stringify([{ type: 'file', path: '../../etc/passwd', oid, size: 1 }]), /must be a relative path/],
    [JSON.stringify([{ type: 'file', path: 'm.gguf', oid, lfs: { oid: 'zz', size: 1 } }]), /lfs entry without a SHA-256/],
    [JSON.stringify([{ type: 'file', path: 'm.gguf', oid, size: -1 }]), /has no size/],
    [JSON.stringify([{ type: 'file', path: 'm.gguf', size: 1 }]), /has no git oid/],
  ];
  try {
    for (const [body, re] of cases) {
      answer = body;
      await assert.rejects(listFiles('o/r', 'main', o), (e: unknown) => e instanceof HubError && (e.code === 'bad-response' || e.code === 'bad-argument') && re.test(e.message), body);
    }
    // A next page on another host would receive the token: refused.
    answer = '[]';
    link = '<http://127.0.0.2:1/api/models/o/r/tree/main?cursor=1>; rel="next"';
    await assert.rejects(listFiles('o/r', 'main', o), (e: unknown) => e instanceof HubError && /next page on another host/.test(e.message));
    link = undefined;
    answer = JSON.stringify({ sha: 'short' });
    await assert.rejects(repoCommit('o/r', 'main', o), (e: unknown) => e instanceof HubError && /gave no commit id/.test(e.message));
  } finally {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});
