// The first-run prompt's memory, through a JSON store as VS Code's global state keeps it: shown on
// the first activation only, also by a second FirstRun on the same store (a restarted extension host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIRST_RUN_KEY, FirstRun } from './first-run.js';
import type { MementoLike } from './models/header-memo.js';

class JsonMemento implements MementoLike {
  data = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  update(key: string, value: unknown): Thenable<void> {
    this.data.set(key, JSON.stringify(value));
    return Promise.resolve();
  }
}

test('the first-run prompt is taken once per store, across activations', () => {
  const store = new JsonMemento();
  const first = new FirstRun(store);
  assert.equal(first.take(), true);
  assert.equal(first.take(), false);
  assert.equal(new FirstRun(store).take(), false, 'a restarted extension host does not prompt again');
  assert.equal(store.get(FIRST_RUN_KEY), true);
  assert.equal(new FirstRun(new JsonMemento()).take(), true, 'a fresh machine is prompted');
});
