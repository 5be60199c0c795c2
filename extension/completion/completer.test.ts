// Completions end to end under plain Node: the engine host runs the real inference process on
// WebGPU with the tiny qwen2 fixture (real FIM tokens), and the completer drives it the way the
// provider does. The fixture's answers are arbitrary text, so answers are checked against what
// the same server returns for the same prompt, and behaviour by the requests the server counts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { serverBundle, tinyModel } from '../../test/support/inference-fixtures.js';
import { DEFAULTS, type HearthConfig } from '../config.js';
import { EngineHost } from '../engine-host.js';
import { Completer, type CompletionRequest } from './completer.js';
import { ContextRing } from './context.js';
import { postProcess } from './post-process.js';
import { Windows } from './window.js';

let host: EngineHost;
let completer: Completer;
const ring = new ContextRing();
const config: HearthConfig = { ...DEFAULTS, maxTokens: 6, debounceMs: 20, timeBudgetMs: 5000 };
const windows = new Windows();
const requests: { promptTokens: number; prefillTokens: number; reason: string; background: boolean }[] = [];

/** A request for `text` with the cursor at the end of `before` (text = before + after). */
function at(before: string, after = '\n', current = () => true): CompletionRequest {
  const text = before + after;
  const lines = text.split('\n');
  const line = before.split('\n').length - 1;
  const doc = { lineCount: lines.length, lineAt: (i: number) => ({ text: lines[i] }) };
  const r = windows.take('file:///work/app.py', doc, line, before.length - before.lastIndexOf('\n') - 1);
  assert.ok(r.ok);
  const w = r.window;
  return {
    key: { doc: 'file:///work/app.py', anchor: w.anchor, prefix: w.prefix, suffix: w.suffix }, window: w, fileName: 'app.py', language: 'python',
    insertSpaces: true, tabSize: 4, isCurrent: current,
  };
}

/** Requests the completer sent for what the user asked (not its own look-ahead), once the server is idle. */
async function foreground(): Promise<number> {
  await new Promise((r) => setTimeout(r, 10));
  while ((await host.ready!.stats()).active > 0) await new Promise((r) => setTimeout(r, 10));
  return requests.filter((r) => !r.background).length;
}

async function serverRequests(): Promise<number> {
  return (await host.ready!.stats()).requests;
}

before(async () => {
  host = new EngineHost({ serverPath: await serverBundle(), bundledDir: '/nonexistent', client: { restartDelayMs: 50 } });
  await host.configure({ modelPath: tinyModel(), chatModelPath: '', nodePath: '', contextSize: 1024, idleUnloadMinutes: 0 });
  assert.equal(host.state.kind, 'ready', JSON.stringify(host.state));
  completer = new Completer(() => config, () => host.ready, ring);
  completer.on('request', (r) => requests.push(r));
});

after(async () => {
  await host?.dispose();
});

test('a completion is what the server answers for the prompt, post-processed; typing through it needs no request', async () => {
  const doc = 'import os\n\ndef main():\n    path = os.'; 
  const items = await completer.provide(at(doc));
  assert.ok(items && items.length === 1, JSON.stringify(items));
  // The same prompt straight to the server gives the same text.
  const direct = await host.ready!.complete({ prefix: doc, suffix: '\n', fileName: 'app.py', language: 'python', context: [], maxTokens: 6, lineBudgetMs: 5000 }).result;
  assert.equal(direct.type, 'done');
  assert.equal(items[0], postProcess(direct.type === 'done' ? direct.text : '', { linePrefix: '    path = os.', lineSuffix: '', nextLines: [''], insertSpaces: true, tabSize: 4, maxLines: 10 }, direct.type === 'done' ? direct.reason : 'eos').text);

  const n = await foreground();
  const all = await serverRequests();
  const shown: boolean[] = [];
  completer.on('shown', (s) => shown.push(s.cached));
  const s = items[0];
  for (let k = 1; k < Math.min(4, s.length); k++) {
    const typed = await completer.provide(at(doc + s.slice(0, k)));
    assert.deepEqual(typed, [s.slice(k)], `after typing ${k} characters`);
  }
  // Backspace: the earlier suggestion again.
  assert.deepEqual(await completer.provide(at(doc)), [s]);
  assert.equal(await foreground(), n, 'no request while typing through');
  assert.ok((await serverRequests()) <= all + 1, 'at most one look-ahead');
  assert.ok(shown.every((c) => c));
  completer.removeAllListeners('shown');
});

test('a newer request supersedes the one in flight; an aborted one is cancelled; a stale answer is not shown', async () => {
  const long: HearthConfig = { ...config, maxTokens: 400 };
  const c = new Completer(() => long, () => host.ready, ring);
  const seen: string[] = [];
  c.on('request', (r) => seen.push(r.reason));
  const a = c.provide(at('x = [1, 2, 3]\ny = '));
  await new Promise((r) => setTimeout(r, 200));
  const b = c.provide(at('x = [1, 2, 3]\nz = '));
  assert.equal(await a, undefined);
  assert.ok((await b)?.length);
  assert.equal(seen[0], 'cancelled', seen.join(' '));

  // Aborted during the debounce: nothing is sent at all.
  await foreground();
  const n = await serverRequests();
  const ctrl = new AbortController();
  const p = c.provide(at('w = '), { signal: ctrl.signal });
  ctrl.abort();
  assert.equal(await p, undefined);
  assert.equal(await serverRequests(), n);

  // The cursor moved meanwhile: nothing shown, but the answer is kept for when it comes back.
  let current = true;
  const stale = c.provide(at('v = ', '\n', () => current));
  current = false;
  assert.equal(await stale, undefined);
  assert.ok((await c.provide(at('v = ')))?.length, 'cached');
});

test('manual trigger: several alternatives in one request', async () => {
  const items = await completer.provide(at('def add(a, b):\n    return '), { manual: true });
  assert.ok(items && items.length >= 2 && new Set(items).size === items.length, JSON.stringify(items));
  // Asking again finds them cached; bypassing the cache asks the server again.
  const n = await foreground();
  assert.deepEqual(await completer.provide(at('def add(a, b):\n    return '), { manual: true }), items);
  assert.equal(await foreground(), n);
  await completer.provide(at('def add(a, b):\n    return '), { manual: true, noCache: true });
  assert.equal(await foreground(), n + 1);
});

test('after a one-line suggestion is shown, the next one is computed ahead and shown at once after accepting', async () => {
  const doc = 'total = 0\nfor i in range(10):\n    total += ';
  const done = new Promise<void>((resolve) => completer.on('request', (r) => r.background && resolve()));
  const items = await completer.provide(at(doc));
  assert.ok(items?.length && !items[0].includes('\n'));
  await done;
  const n = await foreground();
  const next = await completer.provide(at(doc + items[0]));
  assert.ok(next?.length, 'the suggestion after accepting is cached');
  assert.equal(await foreground(), n);
});

test('context chunks are pre-loaded while idle: the next keystroke prefills a token or two', async () => {
  ring.offer('util.py', ['def helper(x):', '    """Doubles x."""', '    return 2 * x', '', 'def other(y):', '    return y - 1']);
  ring.commit();
  const doc = 'from util import helper\n\nvalue = helper(';
  const req = at(doc, ')\n');
  const preloaded = once(host.ready!, 'message');
  completer.preload(req);
  await preloaded;
  // Wait for the pre-load to finish (its done message), then type.
  while ((await host.ready!.stats()).active > 0) await new Promise((r) => setTimeout(r, 20));
  requests.length = 0;
  await completer.provide(at(doc + '2', ')\n'), { manual: false });
  const r = requests.find((x) => !x.background)!;
  assert.ok(r && r.prefillTokens <= 3, `prefilled ${r?.prefillTokens} of ${r?.promptTokens}`);
  assert.ok(r.promptTokens > 30, 'the prompt carries the chunk');
});

test('kill -9 mid-request: no suggestion, the host shows the restart, the next completion works', async () => {
  const c = new Completer(() => ({ ...config, maxTokens: 200 }), () => host.ready, ring);
  const states: string[] = [];
  host.on('state', (s) => states.push(s.kind));
  const pid = host.pid!;
  const p = c.provide(at('data = {"a": 1, "b": '));
  await new Promise((r) => setTimeout(r, 150));
  process.kill(pid, 'SIGKILL');
  assert.equal(await p, undefined);
  while (host.state.kind !== 'ready') await new Promise((r) => setTimeout(r, 50));
  assert.ok(states.includes('restarting'), states.join(' '));
  assert.notEqual(host.pid, pid);
  assert.ok((await c.provide(at('data = {"a": 1, "c": ')))?.length);
});

test('no suggestion from the cache once the model is gone, nor after it is back', async () => {
  let up = true;
  const c = new Completer(() => config, () => (up ? host.ready : undefined), ring);
  const doc = 'def area(w, h):\n    return w';
  const items = await c.provide(at(doc));
  assert.ok(items?.length && items[0].length > 1, JSON.stringify(items));
  await foreground();
  assert.deepEqual(await c.provide(at(doc + items[0][0])), [items[0].slice(1)], 'typing through: from the cache');
  // The process died, or the model failed to load: what it wrote is not shown, typed through or not.
  up = false;
  const n = await serverRequests();
  assert.equal(await c.provide(at(doc + items[0][0])), undefined);
  assert.equal(await c.provide(at(doc)), undefined);
  up = true;
  assert.equal(c.cache.size, 0, 'the cache was emptied');
  await c.provide(at(doc));
  assert.ok((await serverRequests()) > n, 'the model back: a new request, not the old answer');
  await foreground();
});
