import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AROUND_LINES, MAX_FILE_CHARS, MAX_SELECTION_CHARS, askAboutFile, explainSelection } from './explain.js';

const lines = Array.from({ length: 30 }, (_, i) => `line_${i} = ${i}`);

test('Explain selection sends the code with its file, lines, language and the lines around it', () => {
  const q = explainSelection({ fileName: 'src/a.py', languageId: 'python', lines, startLine: 10, endLine: 12 });
  assert.ok(!('error' in q));
  assert.equal(q.label, 'Explain selection: src/a.py, lines 11-13');
  assert.match(q.text, /^Explain what this python code from src\/a.py, lines 11-13 does/);
  assert.ok(q.text.includes('```python\nline_10 = 10\nline_11 = 11\nline_12 = 12\n```'));
  assert.ok(q.text.includes(`line_${10 - AROUND_LINES} =`) && !q.text.includes(`line_${9 - AROUND_LINES} =`));
  assert.ok(q.text.includes(`line_${12 + AROUND_LINES} =`) && !q.text.includes(`line_${13 + AROUND_LINES} =`));
  assert.equal(q.notice, undefined);
});

test('the lines around a selection are sent without the blank lines at their edges', () => {
  const src = ['import math', '', '', 'def mean(v):', '    return sum(v)', '', '', 'def var(v):', '    return v', '', '', 'x = 1', ''];
  const q = explainSelection({ fileName: 's.py', languageId: 'python', lines: src, startLine: 7, endLine: 8 });
  assert.ok(!('error' in q));
  assert.ok(q.text.includes('Before:\n```python\ndef mean(v):\n    return sum(v)\n```'), q.text);
  assert.ok(q.text.includes('After:\n```python\nx = 1\n```'), q.text);
});

test('an empty selection is refused; a huge one is cut at a line end with a notice', () => {
  assert.deepEqual(explainSelection({ fileName: 'a', languageId: 'c', lines: ['', '  '], startLine: 0, endLine: 1 }), { error: 'Select some code to explain first.' });
  const big = Array.from({ length: 5000 }, (_, i) => `x${i} = ${'y'.repeat(20)}`);
  const q = explainSelection({ fileName: 'big.py', languageId: 'python', lines: big, startLine: 0, endLine: 4999 });
  assert.ok(!('error' in q));
  assert.ok(q.text.length < MAX_SELECTION_CHARS + 2000);
  assert.ok(q.notice!.startsWith(`The selection is ${big.join('\n').length.toLocaleString('en')} characters; only its first 575 lines`), q.notice);
  assert.ok(/x\d+ = y{20}\n```/.test(q.text), 'cut at a whole line');
});

test('code containing a fence is wrapped in a longer one', () => {
  const q = explainSelection({ fileName: 'r.md', languageId: 'markdown', lines: ['```js', 'x', '```'], startLine: 0, endLine: 2 });
  assert.ok(!('error' in q) && q.text.includes('~~~~markdown\n```js\nx\n```\n~~~~'));
});

test('Ask about this file sends the file; a long file only the part around the cursor, said in a notice', () => {
  const q = askAboutFile({ fileName: 'a.py', languageId: 'python', lines, cursorLine: 3 }, 'What does it do?');
  assert.ok(!('error' in q));
  assert.ok(q.text.startsWith('Here is a.py:\n\n```python\nline_0 = 0\n') && q.text.endsWith('```\n\nWhat does it do?'));
  const long = Array.from({ length: 20000 }, (_, i) => `v${i} = ${i}`);
  const r = askAboutFile({ fileName: 'l.py', languageId: 'python', lines: long, cursorLine: 15000 }, 'Why?');
  assert.ok(!('error' in r));
  assert.ok(r.text.length <= MAX_FILE_CHARS + 200);
  assert.ok(r.text.includes('\nv15000 = 15000\n'));
  assert.match(r.notice!, /^l.py is [\d,]+ characters; only lines \d+-\d+ \(around the cursor\) were sent\.$/);
  assert.deepEqual(askAboutFile({ fileName: 'a', languageId: 'c', lines, cursorLine: 0 }, ' '), { error: 'Type a question about the file.' });
});
