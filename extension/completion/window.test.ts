import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS, Windows, looksBinary, withSelected, type TextLines } from './window.js';

const doc = (text: string): TextLines => {
  const lines = text.split('\n');
  return { lineCount: lines.length, lineAt: (i) => ({ text: lines[i] }) };
};

test('a small document: everything before and after the cursor, the cursor line split', () => {
  const w = new Windows().take('a', doc('import os\ndef f():\n    ret\n\nf()'), 2, 7);
  assert.ok(w.ok);
  assert.deepEqual(w.window, {
    prefix: 'import os\ndef f():\n    ret', suffix: '\n\nf()\n', linePrefix: '    ret', lineSuffix: '', nextLines: ['', 'f()'], anchor: 0,
  });
});

test('the prefix window start stays put while it fits, then jumps to refill 3/4', () => {
  const limits = { ...LIMITS, prefixLines: 40 };
  const lines = Array.from({ length: 200 }, (_, i) => `x${i} = ${i}`);
  const d = doc(lines.join('\n'));
  const w = new Windows();
  const anchors: number[] = [];
  for (let line = 30; line < 120; line++) {
    const r = w.take('a', d, line, 0, limits);
    assert.ok(r.ok);
    assert.ok(line - r.window.anchor <= 40);
    assert.equal(r.window.prefix, lines.slice(r.window.anchor, line).join('\n') + '\n');
    if (anchors.at(-1) !== r.window.anchor) anchors.push(r.window.anchor);
  }
  // 90 lines typed: a move every 11 lines (the window refills to 30 of 40), not one per line.
  assert.deepEqual(anchors, [0, 11, 22, 33, 44, 55, 66, 77, 88]);
});

test('bounded in characters: a huge line before the cursor is left out; a huge cursor line gets nothing', () => {
  const big = 'y'.repeat(200_000);
  const d = doc(`a = 1\n${big}\nb = 2\nc = 3\n${big}`);
  const r = new Windows().take('a', d, 3, 5);
  assert.ok(r.ok);
  assert.equal(r.window.prefix, 'b = 2\nc = 3');
  assert.equal(r.window.suffix, '\n');
  const single = doc('z'.repeat(5 << 20));
  const s = new Windows().take('b', single, 0, 100);
  assert.ok(!s.ok);
  assert.match(s.reason, /line 1 has 5242880 characters \(over 8000\)/);
});

test('binary text: NULs or mostly replacement and control characters', () => {
  assert.equal(looksBinary('def f():\n\treturn 1\n'), false);
  assert.equal(looksBinary('PK\u0003\u0004\u0000\u0000'), true);
  assert.equal(looksBinary('\ufffd\ufffdELF\ufffd\u0001\u0002\ufffd'), true);
  assert.equal(looksBinary('naïve café ✓'), false);
});

test('the suggest widget\'s selected entry is completed from, as if inserted over its range', () => {
  const line = '    self.ap(x)';
  const r = new Windows().take('a', doc(`class A:\n${line}\n`), 1, 11);
  assert.ok(r.ok);
  // "ap" is being replaced by the entry "append" (columns 9..11), the cursor after "ap".
  const w = withSelected(r.window, line, 11, { start: 9, end: 11, text: 'append' });
  assert.equal(w.prefix, 'class A:\n    self.append');
  assert.equal(w.linePrefix, '    self.append');
  assert.equal(w.lineSuffix, '(x)');
  assert.equal(w.suffix, '(x)\n\n');
});
