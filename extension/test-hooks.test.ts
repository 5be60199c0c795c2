import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestLog } from './test-hooks.js';

test('events are JSON lines in HEARTH_TEST_LOG only when HEARTH_TEST_HOOKS=1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-hooks-'));
  const path = join(dir, 'events.jsonl');
  new TestLog({ HEARTH_TEST_LOG: path }).write({ t: 'serverPid', pid: 1 });
  assert.equal(existsSync(path), false);
  const log = new TestLog({ HEARTH_TEST_HOOKS: '1', HEARTH_TEST_LOG: path });
  log.write({ t: 'serverPid', pid: 42 });
  log.write({ t: 'state', state: 'ready' });
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map(({ at: _at, ...e }) => e), [{ t: 'serverPid', pid: 42 }, { t: 'state', state: 'ready' }]);
  assert.ok(lines.every((l) => typeof l.at === 'number'));
  new TestLog({ HEARTH_TEST_HOOKS: '1', HEARTH_TEST_LOG: join(dir, 'gone', 'x.jsonl') }).write({ t: 'state', state: 'ready' });
});
