// The memory of notices said once, through a JSON store as VS Code's global state keeps it: shown on
// the first activation only, also by a second Once on the same store (a restarted extension host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIRST_RUN, Once } from './once.js';
import { JsonMemento } from '../test/support/json-memento.js';

test('a notice is taken once per store, across activations; each notice on its own', () => {
  const store = new JsonMemento();
  const once = new Once(store);
  assert.equal(once.take(FIRST_RUN), true);
  assert.equal(once.take(FIRST_RUN), false);
  assert.equal(new Once(store).take(FIRST_RUN), false, 'a restarted extension host does not prompt again');
  assert.equal(once.take('slow:llvmpipe'), true, 'another notice is its own');
  assert.equal(once.take('slow:llvmpipe'), false);
  assert.equal(once.take('slow:SwiftShader'), true, 'another adapter is told again');
  assert.equal(new Once(new JsonMemento()).take(FIRST_RUN), true, 'a fresh machine is prompted');
});
