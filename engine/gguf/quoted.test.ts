// Text from a file is printed escaped and capped: nothing in it reaches a terminal as a control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escaped, quoted, QUOTE_MAX } from './quoted.js';

/** What a terminal would act on or not show. */
const RAW = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

test('control, format and separator characters are escaped as JSON.stringify escapes', () => {
  assert.equal(quoted('\x1b[2J\x1b[31mHACKED!!'), '"\\u001b[2J\\u001b[31mHACKED!!"');
  assert.equal(quoted('a\x00b\rc\nd\te'), '"a\\u0000b\\rc\\nd\\te"');
  assert.equal(quoted('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"');
  // JSON.stringify leaves these alone; a terminal does not: DEL, C1 CSI, a bidi override, separators.
  assert.equal(quoted('\x7f\x9b\u202e\u2028\u2029\u200b'), '"\\u007f\\u009b\\u202e\\u2028\\u2029\\u200b"');
  assert.equal(quoted('\ud800'), '"\\ud800"', 'a lone surrogate');
  for (let c = 0; c < 0x3000; c++) assert.doesNotMatch(quoted(String.fromCharCode(c)), RAW, `U+${c.toString(16)}`);
});

test('printable text, any script, is kept as it is', () => {
  for (const s of ['blk.0.attn_q.weight', 'héllo ▁ 世界', 'Ġthe', '😀 emoji', '']) assert.equal(quoted(s), JSON.stringify(s));
  assert.equal(escaped('qwen2'), 'qwen2');
});

test('long text is cut to a bounded length with an ellipsis, never inside a character', () => {
  assert.equal(quoted('x'.repeat(QUOTE_MAX)), `"${'x'.repeat(QUOTE_MAX)}"`, 'at the limit: whole');
  assert.equal(quoted('x'.repeat(70000)), `"${'x'.repeat(QUOTE_MAX)}…"`);
  const pair = 'a'.repeat(QUOTE_MAX - 1) + '😀tail';
  assert.equal(quoted(pair), `"${'a'.repeat(QUOTE_MAX - 1)}…"`, 'the surrogate pair is not split');
  assert.ok(quoted('\x1b'.repeat(70000)).length <= 6 * QUOTE_MAX + 3, 'escapes count, but stay bounded');
  assert.equal(escaped('abcdef', 3), 'abc…');
});
