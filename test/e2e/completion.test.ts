// Hearth in a real VS Code (code-server), installed from the VSIX `npm run package` builds, with the
// project's demonstration model (test/tiny-model: trained on code, with FIM tokens): ghost text
// that is code appears while typing and Tab inserts exactly it; typing through a suggestion never blanks
// it; moving the cursor away drops it; a kill -9 of the inference process shows as a restart and the
// next completion works; a bad hearth.modelPath gives one clear error and typing goes on; the Node
// shipped in the VSIX runs the inference process. Screenshots of each step go to .artifacts/e2e/completion.
//
// The model is tiny and its continuations are only code-like, so tests type until a suggestion of
// the shape they need shows (a few lines at most), instead of expecting particular words.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Editor, NODE24, type TestEvent } from './harness.js';

const VSIX = resolve('.artifacts/hearth-linux-x64.vsix');
const FILE = 'stats.py';
const START = `"""Small statistics helpers."""
import math


def mean(values):
    return sum(values) / len(values)


def variance(values):
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)


`;
// Lines typed until a suggestion shows: no brackets or quotes, so nothing is auto-closed after the
// cursor and it stays at the end of the document.
const LINES = ['def spread(values):\n', 'low = min', '\nhigh = max', '\nwidth = high - low', '\nreturn width', '\n\n\ndef total(values):\n', 'result = 0'];

let editor: Editor | undefined;
let model: string;
/** The settings of every test; short suggestions keep the runs quick on a software GPU. */
const settings = (over: Record<string, unknown> = {}) => ({ 'hearth.modelPath': model, 'hearth.completion.maxTokens': 16, ...over });
const pidsSeen = new Set<number>();

/** Types LINES from `from` on until a suggestion satisfying `accept` shows; returns it and where typing stopped. */
async function typeUntilGhost(e: Editor, accept: (g: string) => boolean, what: string, from = 0): Promise<{ ghost: string; next: number }> {
  const tried: string[] = [];
  for (let i = from; i < from + LINES.length; i++) {
    const line = LINES[i % LINES.length];
    await e.type(line);
    try {
      // The first answer after the load may wait for a warm-up; later ones are quick.
      const ghost = await e.waitForGhostText(tried.length ? 30_000 : 120_000, `${what} after typing ${JSON.stringify(line)}`);
      if (accept(ghost)) return { ghost, next: i + 1 };
      tried.push(`${JSON.stringify(line)} -> ${JSON.stringify(ghost)}`);
    } catch (err) {
      tried.push(`${JSON.stringify(line)} -> none (${(err as Error).message.split('\n')[0]})`);
    }
  }
  throw new Error(`no ${what} while typing ${LINES.length} lines:\n  ${tried.join('\n  ')}\n${await e.diagnostics()}`);
}

function serverPids(e: Editor, from = 0): number[] {
  const pids = e.events().slice(from).filter((ev: TestEvent) => ev.t === 'serverPid').map((ev) => Number(ev.pid));
  for (const p of pids) pidsSeen.add(p);
  return pids;
}

const exe = (pid: number) => realpathSync(`/proc/${pid}/exe`);
const alive = (pid: number) => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return false;
  }
};

before(async () => {
  const r = spawnSync('npm', ['run', 'package'], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `npm run package failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  assert.ok(existsSync(VSIX), `npm run package did not write ${VSIX}`);
  model = resolve('test/tiny-model/tiny-code-q8_0.gguf');
  editor = await Editor.start({ name: 'completion', vsix: [VSIX], files: { [FILE]: START }, settings: settings() });
  await editor.openFile(FILE);
  await editor.waitForStatus('Hearth: ready', 300_000);
  await editor.screenshot('ready');
}, { timeout: 1_200_000 });

after(async () => {
  if (editor) serverPids(editor);
  await editor?.stop();
  const left = [...pidsSeen].filter(alive);
  assert.deepEqual(left, [], `inference processes still alive after the editor stopped: ${left.join(', ')}`);
});

let next = 0;

const PYTHON_WORDS = new Set(['def', 'return', 'for', 'in', 'if', 'else', 'while', 'import', 'from', 'class', 'self', 'None', 'True', 'False', 'and', 'or', 'not', 'len', 'sum', 'min', 'max', 'range', 'print']);

/** Code a user would recognise: some word of it is a Python keyword or builtin, or a name the file already uses. */
function codeLike(ghost: string, file: string): boolean {
  const names = new Set(file.match(/[A-Za-z_]\w*/g) ?? []);
  return (ghost.match(/[A-Za-z_]\w*/g) ?? []).some((w) => PYTHON_WORDS.has(w) || (w.length > 2 && names.has(w)));
}

test('typing in a Python file shows ghost text that is code; Tab inserts exactly it', { timeout: 600_000 }, async () => {
  const e = editor!;
  await e.press('Control+End');
  const r = await typeUntilGhost(e, (g) => g.trim().length > 0 && codeLike(g, START + LINES.join('')), 'ghost text that is code');
  next = r.next;
  const before = await e.visibleText();
  await e.screenshot('ghost-text');
  await e.press('Tab');
  await e.waitFor(async () => (await e.visibleText()) !== before, 'Tab to insert the suggestion', 30_000);
  await e.screenshot('after-tab');
  assert.equal(await e.fileText(FILE), before + r.ghost, 'the document changed by exactly the suggestion');
  assert.ok(e.events().some((ev) => ev.t === 'shown'), 'the extension reported a shown suggestion');
});

test('typing through a suggestion keeps showing the rest, never blank', { timeout: 600_000 }, async () => {
  const e = editor!;
  await e.press('Control+End');
  // A suggestion starting with a word: its first characters can be typed without auto-closing or indenting.
  const r = await typeUntilGhost(e, (g) => /^[\p{L}\p{N}_]{2}/u.test(g), 'a suggestion starting with a word', next);
  next = r.next;
  const k = Math.min(3, /^[\p{L}\p{N}_]+/u.exec(r.ghost)![0].length);
  await e.screenshot('before-type-through');
  await e.startGhostWatch();
  await e.type(r.ghost.slice(0, k), { delayMs: 150 });
  await sleep(300);
  const w = await e.stopGhostWatch();
  await e.screenshot('after-type-through');
  assert.ok(w.frames >= 10, `only ${w.frames} frames drawn while typing`);
  assert.equal(w.blankFrames, 0, `typing ${JSON.stringify(r.ghost.slice(0, k))} through ${JSON.stringify(r.ghost)} blanked the ghost text in ${w.blankFrames} of ${w.frames} frames; shown: ${JSON.stringify(w.texts)}`);
  assert.equal(await e.ghostText(), r.ghost.slice(k), 'the rest of the suggestion stays');
});

test('moving the cursor away drops the suggestion', { timeout: 300_000 }, async () => {
  const e = editor!;
  const shown = await e.ghostText() ?? (await typeUntilGhost(e, (g) => g.trim().length > 0, 'ghost text', next)).ghost;
  await e.press('ArrowUp');
  await e.waitFor(async () => (await e.ghostText()) === null, 'the ghost text to go when the cursor moved up', 10_000);
  await e.startGhostWatch();
  await sleep(2_000);
  const w = await e.stopGhostWatch();
  await e.screenshot('cursor-moved-away');
  assert.ok(!w.texts.includes(shown), `the old suggestion came back at the new position: ${JSON.stringify(w.texts)}`);
  await e.press('Control+End');
});

test('kill -9 of the inference process: the status bar shows the restart, the next completion works', { timeout: 600_000 }, async () => {
  const e = editor!;
  const pids = serverPids(e);
  assert.ok(pids.length > 0, 'the extension reported its inference process (serverPid event)');
  const pid = pids[pids.length - 1];
  assert.ok(alive(pid), `inference process ${pid} runs`);
  assert.equal(exe(pid), realpathSync(NODE24), "in code-server the inference process runs on the extension host's own Node");
  await e.startStatusWatch();
  const from = e.events().length;
  process.kill(pid, 'SIGKILL');
  try {
    await e.waitForStatus((l) => l.startsWith('Hearth: restarting'), 15_000);
    await e.screenshot('restarting');
  } catch {
    // The restart can be shorter than a poll; the status watch below still saw it.
  }
  await e.waitForEvent((ev) => ev.t === 'serverPid' && ev.pid !== pid, 'a new inference process after kill -9', 180_000, from);
  await e.waitForStatus('Hearth: ready', 300_000);
  const seen = await e.statusSeen();
  const restarting = seen.findIndex((l) => l.startsWith('Hearth: restarting'));
  assert.ok(restarting >= 0 && seen.indexOf('Hearth: ready', restarting) > restarting, `status bar labels after the kill: ${JSON.stringify(seen)}`);
  assert.ok(!alive(pid));
  const shownBefore = e.events().filter((ev) => ev.t === 'shown').length;
  await e.press('Control+End');
  const r = await typeUntilGhost(e, (g) => g.trim().length > 0, 'ghost text after the restart', next);
  next = r.next;
  await e.screenshot('completion-after-restart');
  assert.ok(e.events().filter((ev) => ev.t === 'shown').length > shownBefore);
});

test('a bad hearth.modelPath shows one clear error and the editor stays responsive', { timeout: 600_000 }, async () => {
  const e = editor!;
  const bad = join(e.workspace, 'no-such-model.gguf');
  e.writeSettings(settings({ 'hearth.modelPath': bad }));
  const label = await e.waitForStatus((l) => l.startsWith('Hearth: error'), 120_000);
  assert.match(label, /^Hearth: error: \S/, 'the status bar says what is wrong');
  const mentions = (notes: string[]) => notes.filter((n) => n.includes('no-such-model.gguf'));
  await e.waitFor(async () => mentions(await e.notifications()).length > 0, 'a notification naming the bad model file', 60_000);
  await e.screenshot('bad-model-path');

  await e.press('Control+End');
  const typed = 'after_error = 1';
  const t0 = Date.now();
  await e.type(`\n${typed}`);
  await e.waitFor(async () => (await e.visibleText()).trimEnd().endsWith(typed), 'the line typed after the error on screen', 10_000);
  const echoMs = Date.now() - t0;
  await sleep(3_000);
  assert.equal(await e.ghostText(), null, 'no suggestion without a model');
  await e.runCommand('Notifications: Show Notifications');
  await sleep(1_000);
  await e.screenshot('notifications-after-bad-model-path');
  const center = mentions(await e.page.locator('.notifications-center .notification-list-item-message').allTextContents());
  assert.equal(center.length, 1, `one notification about the bad file, not a storm: ${JSON.stringify(center)}`);
  await e.press('Escape');
  assert.ok(echoMs < 10_000, `typing echoed in ${echoMs} ms`);
});

test('setting a good hearth.modelPath again loads it and completions come back', { timeout: 600_000 }, async () => {
  const e = editor!;
  e.writeSettings(settings());
  await e.waitForStatus('Hearth: ready', 300_000);
  await e.press('Control+End');
  await typeUntilGhost(e, (g) => g.trim().length > 0, 'ghost text after the model came back', next);
  await e.screenshot('model-reloaded');
});

test('hearth.nodePath set to the Node shipped in the VSIX runs the inference process on it', { timeout: 600_000 }, async () => {
  const e = editor!;
  const ext = readdirSync(e.extensionsDir).find((d) => d.startsWith('hearth.hearth-'));
  assert.ok(ext, `the VSIX is installed in ${e.extensionsDir}: ${readdirSync(e.extensionsDir).join(', ')}`);
  const nodes: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n === 'node' && readFileSync(p).subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) nodes.push(p);
    }
  };
  walk(join(e.extensionsDir, ext));
  assert.equal(nodes.length, 1, `one Node binary in the installed VSIX: ${JSON.stringify(nodes)}`);
  const from = e.events().length;
  e.writeSettings(settings({ 'hearth.nodePath': nodes[0] }));
  const ev = await e.waitForEvent((x) => x.t === 'serverPid', 'an inference process on the shipped Node', 180_000, from);
  await e.waitForStatus('Hearth: ready', 300_000);
  assert.equal(exe(Number(ev.pid)), realpathSync(nodes[0]));
  await e.press('Control+End');
  await typeUntilGhost(e, (g) => g.trim().length > 0, 'ghost text from the shipped Node', next);
  await e.screenshot('shipped-node');
});
