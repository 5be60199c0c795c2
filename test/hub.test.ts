// `hearth pull` and `hearth models` end to end: the bundled CLI against a loopback fake Hub
// (HF_ENDPOINT) with the cache in a temporary HF_HUB_CACHE and HOME: the path printed last, progress
// on stderr, the cache reused, errors in one line, a file size limit hit mid-download (ulimit -f) and
// Ctrl-C, each resumed by the next pull; then the pulled model listed by `hearth models`.
import { test, before, after, afterEach, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub, sha256 } from './support/fake-hub.js';
import { bundle } from './support/inference-fixtures.js';
import { writeTinyModel } from './support/tiny-gguf.js';

const COMMIT = 'feed'.padEnd(40, '0');
const REPO = 'Qwen/Qwen2.5-Coder-0.5B-GGUF';
const FILE = 'qwen2.5-coder-0.5b-q8_0.gguf';
const TOKEN = 'hf_cli_token';

const tmp = mkdtempSync(join(tmpdir(), 'hearth-hub-cli-'));
let cli = '';
let hub: FakeHub;
let model: Buffer;
let home: string, cache: string;

before(async () => {
  cli = await bundle('engine/cli/cli.ts', 'hearth-hub');
  // A real GGUF of a few MiB (so a throttled download can be interrupted midway).
  writeTinyModel(join(tmp, 'served.gguf'), { name: 'served-model', nEmbd: 256, nHead: 4, nHeadKv: 2, nFf: 512, nLayer: 2, fileType: 0 });
  model = readFileSync(join(tmp, 'served.gguf'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));
// Each test gets its own fake Hub, closed when it ends, and its own HOME and cache.
beforeEach(async () => {
  hub = await FakeHub.start([
    { repo: REPO, commit: COMMIT, files: [{ path: FILE, content: model }] },
    { repo: 'meta/gated', commit: COMMIT, token: TOKEN, files: [{ path: 'g.gguf', content: Buffer.alloc(1000, 3) }] },
  ]);
  home = mkdtempSync(join(tmp, 'home-'));
  cache = join(home, 'hf-cache');
});
afterEach(() => hub.close());

interface Run { code: number | null; signal: NodeJS.Signals | null; out: string; err: string[] }

/** Runs the CLI (optionally under a shell prefix such as a ulimit); `onErr` sees each stderr line. */
function hearth(args: string[], o: { env?: Record<string, string>; shell?: string; onErr?: (line: string, kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<Run> {
  const env = { PATH: process.env.PATH ?? '', HOME: home, HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, ...o.env };
  const child = o.shell
    ? spawn('bash', ['-c', `${o.shell}; exec "$0" "$@"`, process.execPath, cli, ...args], { env })
    : spawn(process.execPath, [cli, ...args], { env });
  let out = '', errBuf = '';
  const err: string[] = [];
  child.stdout.on('data', (b: Buffer) => (out += b));
  child.stderr.on('data', (b: Buffer) => {
    errBuf += b;
    let nl;
    while ((nl = errBuf.indexOf('\n')) >= 0) {
      const line = errBuf.slice(0, nl);
      errBuf = errBuf.slice(nl + 1);
      err.push(line);
      o.onErr?.(line, (s) => child.kill(s));
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer);
    if (errBuf) err.push(errBuf);
    resolve({ code, signal, out, err });
  }));
}

const lastLine = (s: string) => s.trim().split('\n').at(-1)!;
const snapshot = () => join(cache, 'models--Qwen--Qwen2.5-Coder-0.5B-GGUF', 'snapshots', COMMIT, FILE);

test('pull prints the local path last, progress on stderr; the second pull downloads nothing', async () => {
  const r = await hearth(['pull', REPO, FILE]);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.equal(lastLine(r.out), snapshot());
  assert.deepEqual(readFileSync(snapshot()), model);
  assert.ok(r.err.some((l) => l.includes(`${FILE}: done`)), r.err.join('\n'));
  assert.equal(hub.count('cdn'), 1);

  hub.reset();
  const again = await hearth(['pull', REPO, FILE, '--json']);
  assert.equal(again.code, 0, again.err.join('\n'));
  const j = JSON.parse(lastLine(again.out));
  assert.deepEqual(j, { path: snapshot(), repo: REPO, file: FILE, revision: 'main', commit: COMMIT, sha256: sha256(model), size_bytes: model.length, downloaded_bytes: 0, cached: true });
  assert.equal(hub.count('cdn'), 0);
  assert.equal(hub.count('hub', '/resolve/'), 0);
  const pinned = await hearth(['pull', REPO, FILE, '--revision', COMMIT], { env: { HF_ENDPOINT: 'http://127.0.0.1:9' } });
  assert.equal(pinned.code, 0, 'a commit in the cache needs no network');
  assert.equal(lastLine(pinned.out), snapshot());
});

test('models lists the pulled file from the Hub cache and the folders given, with what could not be read', async () => {
  assert.equal((await hearth(['pull', REPO, FILE])).code, 0);
  const dir = join(home, 'mine');
  mkdirSync(dir);
  writeTinyModel(join(dir, 'chat.gguf'), { fim: false, chatTemplate: '{{ x }}' });
  writeFileSync(join(dir, 'broken.gguf'), model.subarray(0, 100));
  const r = await hearth(['models', '--json', '--dir', dir]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const j = JSON.parse(lastLine(r.out)) as { models: Record<string, unknown>[]; skipped: { path: string; reason: string }[] };
  assert.deepEqual(j.models.map((m) => [m.source, m.label, m.name, m.fim, m.chat_template, m.loadable]), [
    ['hub', `${REPO}/${FILE}`, 'served-model', true, false, true],
    ['folder', 'chat.gguf', 'tiny-qwen2', false, true, true],
  ]);
  assert.deepEqual(j.models[0].hub, { repo: REPO, commit: COMMIT, file: FILE });
  assert.equal(j.models[0].path, snapshot());
  assert.equal(j.models[0].size_bytes, model.length);
  assert.deepEqual(j.skipped.map((s) => s.path), [join(dir, 'broken.gguf')]);
  assert.match(j.skipped[0].reason, /truncated/);
  const text = await hearth(['models', '--dir', dir]);
  assert.equal(text.code, 0);
  assert.match(text.out, new RegExp(`^hub +qwen2 +all F32 .* fim +${REPO}/${FILE}  ${snapshot()}$`, 'm'));
  assert.ok(text.err.some((l) => l.startsWith(`hearth: models: skipped ${join(dir, 'broken.gguf')}: `)));
});

test('errors: one line on stderr, exit 1 (2 for bad arguments); the token reaches the Hub, never the CDN', async () => {
  const missing = await hearth(['pull', REPO, 'nope.gguf']);
  assert.equal(missing.code, 1);
  assert.deepEqual(missing.err, [`hearth: ${REPO}@main: no file "nope.gguf"; its GGUF files: ${FILE}`]);
  const gated = await hearth(['pull', 'meta/gated', 'g.gguf']);
  assert.equal(gated.code, 1);
  assert.equal(gated.err.length, 1);
  assert.match(gated.err[0], /needs a token: set HF_TOKEN/);
  hub.reset();
  const ok = await hearth(['pull', 'meta/gated', 'g.gguf'], { env: { HF_TOKEN: TOKEN } });
  assert.equal(ok.code, 0, ok.err.join('\n'));
  assert.ok(hub.requests.filter((q) => q.host === 'hub').every((q) => q.authorization === `Bearer ${TOKEN}`));
  assert.ok(hub.requests.filter((q) => q.host === 'cdn').length === 1 && hub.requests.filter((q) => q.host === 'cdn').every((q) => q.authorization === undefined));
  for (const args of [['pull'], ['pull', REPO], ['pull', REPO, FILE, '--nope'], ['pull', REPO, FILE, '--revision'], ['pull', '../x', FILE], ['models', '--dir']]) {
    const r = await hearth(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err.join('\n')}`);
    assert.equal(r.err.length, 1, args.join(' '));
  }
});

test('a file size limit hit mid-download fails cleanly; the next pull resumes from the partial file', async () => {
  assert.ok(model.length > 96 * 1024, `the served model is ${model.length} bytes`);
  const r = await hearth(['pull', REPO, FILE], { shell: 'ulimit -f 64' });
  assert.equal(r.code, 1, r.err.join('\n'));
  assert.match(r.err.at(-1)!, /the file size limit was reached \(EFBIG\); the partial file is kept/);
  assert.ok(!existsSync(snapshot()));
  const part = join(cache, 'models--Qwen--Qwen2.5-Coder-0.5B-GGUF', 'blobs', `${sha256(model)}.incomplete`);
  assert.equal(statSync(part).size, 64 * 1024);
  hub.reset();
  const again = await hearth(['pull', REPO, FILE]);
  assert.equal(again.code, 0, again.err.join('\n'));
  assert.deepEqual(hub.requests.filter((q) => q.host === 'cdn').map((q) => q.range), [`bytes=${64 * 1024}-`]);
  assert.deepEqual(readFileSync(snapshot()), model);
});

test('Ctrl-C keeps the partial file and exits 130; the next pull resumes it', async () => {
  hub.fault({ on: 'cdn', pieceDelayMs: 40 });
  const r = await hearth(['pull', REPO, FILE, '--json'], {
    onErr: (line, kill) => {
      if (!line.startsWith('{')) return;
      const p = JSON.parse(line) as { phase: string; received_bytes: number };
      if (p.phase === 'downloading' && p.received_bytes > 0) kill('SIGINT');
    },
  });
  assert.equal(r.code, 130, r.err.join('\n'));
  assert.match(r.err.at(-1)!, /cancelled at \d+ of \d+ bytes; the partial file is kept/);
  assert.ok(!existsSync(snapshot()));
  const part = join(cache, 'models--Qwen--Qwen2.5-Coder-0.5B-GGUF', 'blobs', `${sha256(model)}.incomplete`);
  const kept = statSync(part).size;
  assert.ok(kept > 0 && kept < model.length);
  hub.reset();
  const again = await hearth(['pull', REPO, FILE]);
  assert.equal(again.code, 0, again.err.join('\n'));
  assert.ok(again.err.some((l) => l.includes('checking the partial download')), again.err.join('\n'));
  assert.deepEqual(hub.requests.filter((q) => q.host === 'cdn').map((q) => q.range), [`bytes=${kept}-`]);
  assert.deepEqual(readFileSync(snapshot()), model);
  truncateSync(snapshot(), 0);
  // The snapshot is the blob (a link): a damaged blob is not silently trusted as the cached file.
  const check = await hearth(['pull', REPO, FILE, '--json']);
  assert.equal(check.code, 0);
  assert.equal(JSON.parse(lastLine(check.out)).cached, false);
  assert.deepEqual(readFileSync(snapshot()), model);
});

test('the extension\'s surface (engine/process/index.ts) loads and checks a fit without loading Dawn', async () => {
  const out = join(tmp, 'surface.cjs');
  // As build.mjs bundles the extension: CommonJS, packages external.
  await build({ entryPoints: ['engine/process/index.ts'], bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', loader: { '.wgsl': 'text' }, outfile: out, logLevel: 'warning' });
  const gguf = join(tmp, 'served.gguf');
  const script = `const M = require('node:module'); const load = M._load;
    M._load = function (req, ...rest) { if (req === 'webgpu') throw new Error('webgpu was loaded'); return load.call(this, req, ...rest); };
    const h = require(${JSON.stringify(out)});
    const r = h.checkFit(${JSON.stringify(gguf)}, { nCtx: 512, device: { software: true } });
    console.log(JSON.stringify({ total: r.totalBytes, catalog: h.CATALOG.length, exports: ['pullFile', 'discoverModels', 'catalogFiles', 'estimateFit', 'HubError', 'InferenceClient'].every((k) => k in h) }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.total > model.length);
  assert.equal(j.catalog, 16);
  assert.equal(j.exports, true);
});
