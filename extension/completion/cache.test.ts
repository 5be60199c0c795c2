import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SuggestionCache, type CacheKey } from './cache.js';

const key = (prefix: string, o: Partial<CacheKey> = {}): CacheKey => ({ doc: 'file:///a.py', anchor: 0, prefix, suffix: '\n', ...o });

test('type-through: typing the start of a suggestion shows the rest; backspace brings it back', () => {
  const c = new SuggestionCache();
  c.put(key('def f():\n    re'), ['turn x + 1', 'turn None']);
  assert.deepEqual(c.lookup(key('def f():\n    re')), { items: ['turn x + 1', 'turn None'], typed: '' });
  assert.deepEqual(c.lookup(key('def f():\n    retu')), { items: ['rn x + 1', 'rn None'], typed: 'tu' });
  assert.deepEqual(c.lookup(key('def f():\n    return x')), { items: [' + 1'], typed: 'turn x' });
  assert.equal(c.lookup(key('def f():\n    return y')), undefined, 'typed past what the suggestion says');
  assert.equal(c.lookup(key('def f():\n    return x + 1')), undefined, 'typed all of it');
  assert.deepEqual(c.lookup(key('def f():\n    ret'))?.items, ['urn x + 1', 'urn None'], 'after backspace');
  assert.equal(c.lookup(key('def f():\n    r')), undefined, 'backspaced before where it was made');
});

test('a different document, anchor or text after the cursor misses; the most specific entry wins', () => {
  const c = new SuggestionCache();
  c.put(key('x = '), ['foo(bar)']);
  assert.equal(c.lookup(key('x = ', { doc: 'file:///b.py' })), undefined);
  assert.equal(c.lookup(key('x = ', { anchor: 3 })), undefined);
  assert.equal(c.lookup(key('x = ', { suffix: ')\n' })), undefined);
  c.put(key('x = foo('), ['baz)']);
  assert.deepEqual(c.lookup(key('x = foo(')), { items: ['baz)'], typed: '' });
  assert.deepEqual(c.lookup(key('x = foo(b')), { items: ['az)'], typed: 'b' });
  // Multi-line suggestions type through a newline too.
  c.put(key('if x:'), ['\n    y()\n    z()']);
  assert.deepEqual(c.lookup(key('if x:\n    y()\n')), { items: ['    z()'], typed: '\n    y()\n' });
});

test('least recently used entries are evicted first; putting the same key replaces it', () => {
  const c = new SuggestionCache(3);
  for (const p of ['a', 'b', 'c']) c.put(key(p), [p + '1']);
  c.lookup(key('a'));
  c.put(key('d'), ['d1']);
  assert.equal(c.size, 3);
  assert.equal(c.lookup(key('b')), undefined);
  assert.ok(c.lookup(key('a')) && c.lookup(key('c')) && c.lookup(key('d')));
  c.put(key('a'), ['a2']);
  assert.deepEqual(c.lookup(key('a'))?.items, ['a2']);
  assert.equal(c.size, 3);
  c.put(key('a'), ['']);
  assert.equal(c.lookup(key('a')), undefined, 'nothing to show is not kept');
});
