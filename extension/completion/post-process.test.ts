import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indentWidth, postProcess, reindent, type PostContext } from './post-process.js';

const ctx = (o: Partial<PostContext> = {}): PostContext => ({ linePrefix: '', lineSuffix: '', nextLines: [], insertSpaces: true, tabSize: 4, maxLines: 10, ...o });

test('indentation: widths with tab stops, rewritten to the editor style', () => {
  assert.equal(indentWidth('\t  x', 4), 6);
  assert.equal(indentWidth('  \tx', 4), 4);
  assert.equal(reindent('\t\tx = 1', true, 4), '        x = 1');
  assert.equal(reindent('      y', false, 4), '\t  y');
  assert.equal(reindent('z', false, 4), 'z');
});

test('text after the cursor: one line, without what follows the cursor already', () => {
  const c = ctx({ linePrefix: 'print(', lineSuffix: ')' });
  assert.deepEqual(postProcess('a, b)\nfoo()', c), { text: 'a, b', complete: true, consumed: 5 });
  assert.equal(postProcess('a, b', c, 'eos').text, 'a, b');
  // Still streaming the only line: not complete yet.
  assert.equal(postProcess('a, b', c).complete, false);
  // Closing characters the suffix starts with are dropped; other overlaps are not.
  assert.equal(postProcess('x])', ctx({ linePrefix: 'f(a[', lineSuffix: ']):' }), 'eos').text, 'x');
  assert.equal(postProcess('a, b', ctx({ linePrefix: 'f(', lineSuffix: 'b)' }), 'eos').text, 'a, b');
  assert.equal(postProcess(')', c, 'eos').text, '', 'only the suffix again');
});

test('the block ends where indentation drops below the cursor line, or after a blank line at its level', () => {
  const c = ctx({ linePrefix: '    ', nextLines: [] });
  const r = postProcess('x = 1\n    return x\nprint(x)\n', c);
  assert.deepEqual(r, { text: 'x = 1\n    return x', complete: true, consumed: 'x = 1\n    return x'.length });
  // Decided as soon as the dedented line shows its first character.
  assert.equal(postProcess('x = 1\n    y = 2\nd', c).complete, true);
  assert.equal(postProcess('x = 1\n    y = 2\n  ', c).complete, false);
  const top = ctx({ linePrefix: 'def f():' });
  assert.equal(postProcess('\n    return 1\n\ndef g():\n    pass', top).text, '\n    return 1');
  // A suggestion that starts on a new line sets its own level: from the end of a body, the next function.
  assert.equal(postProcess('\n\ndef sub(a, b):\n    return a - b\n\nprint(1)', ctx({ linePrefix: '    return a + b' })).text, '\n\ndef sub(a, b):\n    return a - b');
  // A top-level statement right after the cursor line is still part of the suggestion.
  assert.equal(postProcess('\nimport sys\nimport re', ctx({ linePrefix: 'import os' }), 'eos').text, '\nimport sys\nimport re');
});

test('a line that repeats the next line of the document ends the suggestion', () => {
  const c = ctx({ linePrefix: 'function f() {', nextLines: ['', '}', 'f();'] });
  assert.equal(postProcess('\n  return 1;\n}\n', c).text, '\n  return 1;');
  // An inner closing brace at another indentation is not the document's.
  assert.equal(postProcess('\n  if (x) {\n    y();\n  }\n}', c, 'eos').text, '\n  if (x) {\n    y();\n  }');
  // A one-line suggestion that completes the cursor line into the next line is a repeat.
  assert.equal(postProcess('urn x', ctx({ linePrefix: '    ret', nextLines: ['    return x'] }), 'eos').text, '');
});

test('line cap, time and length cuts, trailing blank lines, CRLF, tabs', () => {
  const many = Array.from({ length: 30 }, (_, i) => `x${i} = ${i}`).join('\n');
  const r = postProcess(many, ctx({ maxLines: 3 }));
  assert.equal(r.text, 'x0 = 0\nx1 = 1\nx2 = 2');
  assert.equal(r.complete, true);
  assert.equal(many.slice(r.consumed).startsWith('\nx3 = 3'), true);
  // A time or length cut drops the partial last line, never a single first line.
  assert.equal(postProcess('a = 1\nb = 2\nc = ', ctx(), 'time').text, 'a = 1\nb = 2');
  assert.equal(postProcess('a = fo', ctx(), 'length').text, 'a = fo');
  assert.equal(postProcess('a = 1\n\n\n', ctx(), 'eos').text, 'a = 1');
  assert.equal(postProcess('a = 1\r\n    b = 2\r\n', ctx({ linePrefix: '    ' }), 'eos').text, 'a = 1\n    b = 2');
  assert.equal(postProcess('if x:\n        y()', ctx({ linePrefix: '\t', insertSpaces: false }), 'eos').text, 'if x:\n\t\ty()');
  assert.equal(postProcess('   \n  ', ctx(), 'eos').text, '');
  assert.deepEqual(postProcess('', ctx(), 'eos'), { text: '', complete: true, consumed: 0 });
});
