import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextLine, nextWord } from './words.js';

test('next word: identifiers whole, punctuation runs apart, blanks and a new line with the word after them', () => {
  const parts: string[] = [];
  let s = 'self.total_count += compute(x, y)\n    return café_über';
  while (s) {
    const w = nextWord(s);
    assert.ok(w.length > 0);
    parts.push(w);
    s = s.slice(w.length);
  }
  assert.deepEqual(parts, ['self', '.', 'total_count', ' +=', ' compute', '(', 'x', ',', ' y', ')', '\n    return', ' café_über']);
  assert.equal(nextWord('$el.value'), '$el');
  assert.equal(nextWord('  \t'), '  \t');
});

test('next line: the rest of this line, or the next line when this one has nothing left', () => {
  assert.equal(nextLine('x + 1)\n    y = 2'), 'x + 1)');
  assert.equal(nextLine('\n    y = 2\n    z'), '\n    y = 2');
  assert.equal(nextLine('  \n\tz'), '  \n\tz');
  assert.equal(nextLine('last'), 'last');
});
