// The memo through a JSON store (what VS Code's global state is) and the real discovery: a second
// run reads no header; a changed file is read again; entries of files gone are dropped; a corrupt
// store is ignored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverModels } from '../../engine/process/index.js';
import { writeTinyModel } from '../../test/support/tiny-gguf.js';
import { HeaderMemo, MEMO_KEY } from './header-memo.js';
import { JsonMemento } from '../../test/support/json-memento.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-memo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('headers are remembered across runs by path, size and mtime', async () => {
  const a = join(dir, 'a.gguf'), b = join(dir, 'b.gguf');
  writeTinyModel(a, { name: 'model a' });
  writeTinyModel(b, { name: 'model b' });
  for (const f of [a, b]) utimesSync(f, 1_700_000_000, 1_700_000_000);
  const store = new JsonMemento();
  const roots = [{ source: 'folder' as const, dir }];
  const run = async () => {
    const memo = new HeaderMemo(store);
    const d = await discoverModels({ roots, memo });
    await memo.save();
    return d;
  };
  const first = await run();
  assert.deepEqual(first.models.map((m) => m.name).sort(), ['model a', 'model b']);
  assert.equal(Object.keys(store.get<object>(MEMO_KEY)!).length, 2);

  // Overwritten with junk of the same size and mtime: the remembered header is used, so nothing is read.
  const size = statSync(a).size;
  writeFileSync(a, Buffer.alloc(size, 0x20));
  utimesSync(a, 1_700_000_000, 1_700_000_000);
  const second = await run();
  assert.deepEqual(second.models, first.models);

  // A newer mtime: read again; a deleted file: forgotten.
  utimesSync(a, 1_700_000_000, 1_700_000_100);
  rmSync(b);
  const third = await run();
  assert.deepEqual(third.models, []);
  assert.match(third.skipped[0].reason, /not a GGUF file/);
  assert.deepEqual(Object.keys(store.get<object>(MEMO_KEY)!), [a]);

  // A corrupt store: ignored, headers read.
  store.data.set(MEMO_KEY, JSON.stringify({ [a]: { size: 'big' }, x: null }));
  writeTinyModel(a, { name: 'model a again' });
  assert.deepEqual((await run()).models.map((m) => m.name), ['model a again']);
  store.data.set(MEMO_KEY, '[1, 2]');
  assert.deepEqual((await run()).models.map((m) => m.name), ['model a again']);
});
