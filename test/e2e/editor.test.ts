// The end-to-end harness itself, without Hearth: code-server starts, a Python file opens, typing
// reaches the document (on screen and on disk), ghost text of a fixed provider (test/e2e/ghost-fixture)
// is read back exactly and Tab inserts it, screenshots are written, and stopping leaves no process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Editor } from './harness.js';

let editor: Editor | undefined;
const START = 'import os\n\n\ndef main():\n    pass\n';

before(async () => {
  editor = await Editor.start({ name: 'editor', files: { 'main.py': START }, extensionFolders: ['test/e2e/ghost-fixture'] });
}, { timeout: 600_000 });

after(async () => {
  await editor?.stop();
});

test('a Python file opens, typed keys reach the document, the screenshot shows it', { timeout: 300_000 }, async () => {
  const e = editor!;
  await e.openFile('main.py');
  assert.equal(await e.visibleText(), START);
  await e.press('Control+End');
  await e.type('print(os.getcwd())');
  await e.waitFor(async () => (await e.visibleText()).endsWith('\nprint(os.getcwd())'), 'the typed line on screen', 30_000);
  assert.equal(await e.fileText('main.py'), `${START}print(os.getcwd())`);
  const shot = await e.screenshot('python-file-typed');
  assert.ok(existsSync(shot) && statSync(shot).size > 10_000, `${shot} is a real screenshot`);
});

test('ghost text is read exactly, is not part of the text, and Tab inserts it', { timeout: 300_000 }, async () => {
  const e = editor!;
  await e.waitForEvent((ev) => ev.t === 'fixture-ready', 'the ghost-text fixture extension to register its provider');
  await e.press('Enter');
  await e.type('x = ');
  assert.equal(await e.waitForGhostText(60_000), '41 + 1  # fixture');
  assert.ok((await e.visibleText()).endsWith('\nx = '), 'ghost text is not read as document text');
  await e.startGhostWatch();
  await sleep(1_000);
  const w = await e.stopGhostWatch();
  assert.deepEqual(w.texts, ['41 + 1  # fixture'], 'the frame watch reads the ghost text as ghostText() does');
  assert.ok(w.frames >= 10 && w.blankFrames === 0, `${w.frames} frames, ${w.blankFrames} blank`);
  await e.screenshot('one-line-ghost-text');
  await e.press('Tab');
  await e.waitFor(async () => (await e.ghostText()) === null, 'the ghost text to go after Tab', 30_000);
  assert.equal(await e.fileText('main.py'), `${START}print(os.getcwd())\nx = 41 + 1  # fixture`);

  await e.press('Enter');
  await e.type('def f():');
  assert.equal(await e.waitForGhostText(60_000), '\n    a = 1\n    return a');
  await e.screenshot('multi-line-ghost-text');
  await e.press('Tab');
  await e.waitFor(async () => (await e.ghostText()) === null, 'the ghost text to go after Tab', 30_000);
  assert.equal(await e.fileText('main.py'), `${START}print(os.getcwd())\nx = 41 + 1  # fixture\ndef f():\n    a = 1\n    return a`);
});

test('stopping kills code-server and everything it started', { timeout: 60_000 }, async () => {
  const e = editor!;
  assert.ok(e.groupPids().length >= 2, 'code-server and its extension host run in their own process group');
  await e.stop();
  editor = undefined;
  assert.deepEqual(e.groupPids(), []);
});
