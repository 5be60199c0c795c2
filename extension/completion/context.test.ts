import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContextRing, RING, isContextSource, linesAround } from './context.js';

const block = (tag: string, n = 5) => Array.from({ length: n }, (_, i) => `${tag}_${i} = compute(${i})`);

test('chunks queue, then join the ring one at a time, oldest first; the ring is bounded', () => {
  const r = new ContextRing({ ...RING, chunks: 2 });
  assert.ok(r.offer('a.py', block('a')));
  assert.ok(r.offer('b.py', block('b')));
  assert.deepEqual(r.chunks(), [], 'nothing joins before a commit');
  assert.equal(r.pending, 2);
  const v = r.version;
  assert.ok(r.commit());
  assert.equal(r.version, v + 1);
  assert.deepEqual(r.chunks(), [{ name: 'a.py', text: block('a').join('\n') + '\n' }]);
  r.commit();
  r.offer('c.py', block('c'));
  r.commit();
  assert.deepEqual(r.chunks().map((c) => c.name), ['b.py', 'c.py']);
  assert.equal(r.commit(), false);
  assert.deepEqual(r.chunks('c.py').map((c) => c.name), ['b.py'], 'the file being completed is left out');
});

test('small, repeated and near-duplicate chunks; bounded in lines and characters', () => {
  const r = new ContextRing();
  assert.equal(r.offer('a.py', ['x = 1', '', 'y = 2', '']), false, 'two non-blank lines');
  assert.ok(r.offer('a.py', block('a', 30)));
  assert.equal(r.offer('a.py', block('a', 30)), false);
  r.commit();
  // 30 of 31 distinct lines in common: the newer chunk replaces the older one.
  const near = [...block('a', 30), 'added = 2'];
  const v = r.version;
  assert.ok(r.offer('a.py', near));
  assert.equal(r.version, v + 1, 'the similar chunk left the ring');
  assert.deepEqual(r.chunks(), []);
  r.commit();
  assert.equal(r.chunks()[0].text, near.join('\n') + '\n');
  const long = Array.from({ length: 100 }, (_, i) => `line_${i} = ${'v'.repeat(300)}`);
  r.offer('big.py', long);
  r.commit();
  const big = r.chunks().find((c) => c.name === 'big.py')!;
  assert.ok(big.text.length <= RING.chunkChars && big.text.split('\n').length - 1 <= RING.chunkLines);
});

test('linesAround: centred, clipped at both ends', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `l${i}`);
  const d = { lineCount: lines.length, lineAt: (i: number) => ({ text: lines[i] }) };
  assert.deepEqual(linesAround(d, 50, 4), ['l48', 'l49', 'l50', 'l51']);
  assert.deepEqual(linesAround(d, 1, 4), ['l0', 'l1', 'l2', 'l3']);
  assert.deepEqual(linesAround(d, 99, 4), ['l96', 'l97', 'l98', 'l99']);
  assert.equal(linesAround({ lineCount: 2, lineAt: (i) => ({ text: `s${i}` }) }, 0, 4).length, 2);
});

test('context sources: files and untitled documents open in a tab, never VS Code documents or its settings files', () => {
  const ok = (scheme: string, path: string, inTab = true) => isContextSource({ scheme, path, inTab });
  assert.ok(ok('file', '/work/app/src/main.py'));
  assert.ok(ok('untitled', 'Untitled-1'));
  assert.ok(ok('file', 'C:\\work\\app\\main.ts'));
  // What got into a code-server session's prompts: the User and remote settings, rewritten and saved by VS Code.
  assert.ok(!ok('file', '/tmp/e2e/user-data/User/settings.json', false), 'saved without being open');
  assert.ok(!ok('file', '/tmp/e2e/user-data/Machine/settings.json'));
  assert.ok(!ok('file', '/work/app/.vscode/launch.json'));
  assert.ok(!ok('file', '/work/app/.vscode/tasks.json'));
  assert.ok(!ok('file', '/work/app/app.code-workspace'));
  assert.ok(!ok('file', '/work/app/main.py', false), 'a file no editor tab shows');
  for (const scheme of ['output', 'vscode-userdata', 'vscode-scm', 'vscode-settings', 'webview-panel', 'git', 'vscode-notebook-cell', 'comment', 'debug']) {
    assert.ok(!ok(scheme, '/x/y.py'), scheme);
  }
});
