// Hearth's chat in a real VS Code (code-server), installed from the VSIX, with the tiny qwen2 fixture
// (no chat template: the built-in ChatML one; its answers are random text, but real model output,
// streamed token by token). One editor session: Explain Selection on a selected function opens the
// chat view and streams into it; Stop stops it; a typed question gets a streamed answer while a
// completion typed in the editor still shows as ghost text; Escape stops that one; the transcript
// survives hiding the view; a kill -9 of the inference process mid-answer keeps the partial answer,
// marked interrupted, and the next question is answered; so does reloading the window mid-answer;
// New chat clears the transcript. Screenshots go to .artifacts/e2e/chat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Editor } from './harness.js';
import { ChatPanel, lastAnswer, type DrawnChat } from './chat-panel.js';
import * as dom from './workbench-dom.js';
import { tinyModel } from '../support/inference-fixtures.js';

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
// Lines typed (during an answer) until a suggestion shows; no brackets or quotes, so nothing is
// auto-closed after the cursor.
const LINES = ['def spread(values):\n', 'low = min', '\nhigh = max', '\nwidth = high - low', '\nreturn width'];

let editor: Editor | undefined;
let chat: ChatPanel;
// Answers long enough to watch them stream, stop them and type a completion meanwhile; short
// suggestions keep completions quick on a software GPU.
const SETTINGS = () => ({ 'hearth.modelPath': tinyModel(), 'hearth.completion.maxTokens': 16, 'hearth.chat.maxTokens': 4096 });
const pidsSeen = new Set<number>();

const alive = (pid: number) => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return false;
  }
};

function serverPids(e: Editor): number[] {
  const pids = e.events().filter((ev) => ev.t === 'serverPid').map((ev) => Number(ev.pid));
  for (const p of pids) pidsSeen.add(p);
  return pids;
}

/** Waits for the last answer to have text, then for it to grow; returns the two samples. */
async function waitForGrowth(what: string, timeoutMs = 180_000): Promise<[DrawnChat, DrawnChat]> {
  const first = await chat.waitFor((c) => (lastAnswer(c)?.text.length ?? 0) > 0 && lastAnswer(c)!.status === 'streaming', `${what}: text in the answer`, timeoutMs);
  // Drawn text: markdown may restyle the open paragraph's end as tokens arrive, not what came before.
  const before = lastAnswer(first)!.text.trimEnd();
  const second = await chat.waitFor((c) => lastAnswer(c)!.text.trimEnd().length > before.length, `${what}: the answer to grow past ${before.length} characters`, 60_000);
  const after = lastAnswer(second)!.text;
  const kept = before.slice(0, Math.ceil(before.length / 2));
  assert.ok(after.startsWith(kept), `${what}: the answer grows at its end (${JSON.stringify(before.slice(-40))} then ${JSON.stringify(after.slice(0, before.length + 40).slice(-80))})`);
  return [first, second];
}

/** After a stop: the answer says Stopped, the button is Send again, and the text stays as it is. */
async function assertStopped(what: string): Promise<string> {
  const c = await chat.waitFor((x) => lastAnswer(x)?.status === 'stopped' && x.sendLabel === 'Send', `${what}: the answer stopped and Send back`, 30_000);
  const a = lastAnswer(c)!;
  assert.match(a.statusLine, /^Stopped\./);
  await sleep(2_000);
  const later = lastAnswer(await chat.read())!;
  assert.equal(later.text, a.text, `${what}: the answer stopped growing`);
  return a.text;
}

/** The turns as role/status/text, to compare the transcript before and after the view is redrawn. */
const turns = (c: DrawnChat | null) => (c?.turns ?? []).map((t) => ({ role: t.role, status: t.status, text: t.text, label: t.label }));

before(async () => {
  const r = spawnSync('npm', ['run', 'package'], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `npm run package failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  assert.ok(existsSync(VSIX), `npm run package did not write ${VSIX}`);
  editor = await Editor.start({ name: 'chat', vsix: [VSIX], files: { [FILE]: START }, settings: SETTINGS() });
  chat = new ChatPanel(editor);
  await editor.openFile(FILE);
  await editor.waitForStatus('Hearth: ready', 300_000);
}, { timeout: 1_200_000 });

after(async () => {
  if (editor) serverPids(editor);
  await editor?.stop();
  const left = [...pidsSeen].filter(alive);
  assert.deepEqual(left, [], `inference processes still alive after the editor stopped: ${left.join(', ')}`);
});

test('Explain Selection on a selected function opens the chat view and streams the answer; Stop stops it', { timeout: 600_000 }, async () => {
  const e = editor!;
  assert.equal(await chat.find(), undefined, 'the chat view is not open before the command');
  // Select `def variance` and its two lines (lines 9-11) with the keyboard.
  await e.press('Control+Home');
  for (let i = 0; i < 8; i++) await e.press('ArrowDown');
  for (let i = 0; i < 3; i++) await e.press('Shift+ArrowDown');
  await e.runCommand('Hearth: Explain Selection');
  const clipboard = async () => (await e.notifications()).filter((n) => /clipboard/i.test(n));
  const [first] = await waitForGrowth('Explain Selection');
  const question = first.turns.at(-2)!;
  assert.equal(question.role, 'user');
  assert.equal(question.label, 'Explain selection: stats.py, lines 9-11');
  assert.match(question.text, /def variance\(values\):\n {4}m = mean\(values\)\n {4}return sum/);
  assert.equal(first.sendLabel, 'Stop', 'the send button turns into Stop while the answer streams');
  await e.screenshot('explain-streaming');
  // Selecting reads no clipboard: in a browser each read asks for permission, and a refusal is an error toast.
  assert.deepEqual(await clipboard(), [], 'no clipboard notification after selecting');
  await chat.click('#send');
  await assertStopped('Stop button');
  await e.screenshot('explain-stopped');
});

test('a typed question gets a streamed answer; a completion typed meanwhile shows as ghost text; Escape stops the answer', { timeout: 600_000 }, async () => {
  const e = editor!;
  const before = (await chat.read())!.turns.length;
  await chat.type('What does variance return for one value?\n');
  await chat.waitFor((c) => c.turns.length === before + 2 && c.turns[before].text === 'What does variance return for one value?', 'the question in the transcript', 30_000);
  const [, grown] = await waitForGrowth('typed question');
  assert.equal(grown.input, '', 'Enter sent the message and emptied the box');
  await e.screenshot('question-streaming');

  // Into the editor: the chat answer goes on while completions are asked for and shown.
  await e.page.locator('.editor-group-container.active .monaco-editor .view-lines').click();
  await e.waitFor(() => e.page.evaluate(dom.editorFocused, FILE), 'the editor focused', 30_000);
  await e.press('Control+End');
  const shownBefore = e.events().filter((ev) => ev.t === 'shown').length;
  let ghost: string | null = null;
  const tried: string[] = [];
  for (const line of LINES) {
    await e.type(line);
    try {
      ghost = await e.waitForGhostText(30_000, `ghost text after typing ${JSON.stringify(line)} during a chat answer`);
      break;
    } catch (err) {
      tried.push(`${JSON.stringify(line)}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  assert.ok(ghost, `no ghost text while the chat answered:\n  ${tried.join('\n  ')}\n${await e.diagnostics()}`);
  const during = await chat.read();
  assert.equal(lastAnswer(during)?.status, 'streaming', 'the chat answer was still streaming when the suggestion showed');
  assert.ok(lastAnswer(during)!.text.length > lastAnswer(grown)!.text.length, 'the answer went on growing while completions ran');
  assert.ok(e.events().filter((ev) => ev.t === 'shown').length > shownBefore, 'the extension reported the suggestion shown');
  await e.screenshot('ghost-text-during-answer');
  await e.press('Escape'); // hides the suggestion in the editor; the chat answer goes on

  await chat.click('#input');
  await chat.waitFor((c) => lastAnswer(c)?.status === 'streaming', 'the answer still streaming when Escape is pressed', 10_000);
  await e.press('Escape');
  await assertStopped('Escape');
  await e.screenshot('question-stopped');
  // Ready for the next question: it gets an answer, which Escape stops too.
  await chat.type('And for two values?\n');
  await waitForGrowth('the question after a stop');
  await e.press('Escape');
  await assertStopped('Escape, second time');
});

test('the transcript survives hiding and showing the chat view', { timeout: 300_000 }, async () => {
  const e = editor!;
  const shown = turns(await chat.read());
  assert.ok(shown.length >= 6, JSON.stringify(shown));
  // The Explorer takes the side bar: the chat view is hidden and its page goes away.
  await e.runCommand('View: Show Explorer');
  await e.waitFor(async () => (await chat.find()) === undefined, 'the chat view to be hidden', 30_000);
  await e.page.locator('.part.activitybar [aria-label^="Hearth"]').first().click();
  const back = await chat.waitFor((c) => c.turns.length === shown.length, 'the chat view drawn again with its transcript', 60_000);
  assert.deepEqual(turns(back), shown);
  await e.screenshot('transcript-after-hide-show');
});

test('kill -9 of the inference process mid-answer: the partial answer stays, marked interrupted; the next question is answered', { timeout: 600_000 }, async () => {
  const e = editor!;
  const pid = serverPids(e).at(-1)!;
  assert.ok(pid && alive(pid), `the inference process ${pid} runs`);
  await chat.type('Count to one hundred.\n');
  await waitForGrowth('the answer before the kill');
  process.kill(pid, 'SIGKILL');
  const c = await chat.waitFor((x) => lastAnswer(x)?.status === 'interrupted' && x.sendLabel === 'Send', 'the answer marked interrupted', 60_000);
  const a = lastAnswer(c)!;
  assert.ok(a.text.length > 0, 'the partial answer stays');
  assert.match(a.statusLine, /^Interrupted/);
  await e.screenshot('answer-interrupted');
  await e.waitForStatus('Hearth: ready', 300_000);
  await chat.type('Still there?\n');
  await waitForGrowth('the question after the restart');
  await e.press('Escape');
  await assertStopped('Escape after the restart');
  const all = turns(await chat.read());
  assert.equal(all.at(-3)?.status, 'interrupted', 'the interrupted answer is still marked so');
});

test('reloading the window mid-answer keeps the transcript, the cut-off answer marked interrupted with its text; the old inference process is gone', { timeout: 600_000 }, async () => {
  const e = editor!;
  const shown = turns(await chat.read());
  await chat.type('One more question?\n');
  await waitForGrowth('the answer before the reload');
  await sleep(1_500); // a streaming answer is stored about once a second
  const drawn = lastAnswer(await chat.read())!.text.trimEnd();
  const pidsBefore = serverPids(e);
  await e.runCommand('Developer: Reload Window');
  await sleep(2_000);
  // The side bar shows the chat, not the Explorer: ready is Hearth's status bar item.
  await e.waitForStatus((l) => l.startsWith('Hearth'), 180_000);
  const back = await chat.waitFor((c) => c.turns.length === shown.length + 2, 'the chat view after the reload with its transcript', 180_000);
  assert.deepEqual(turns(back).slice(0, shown.length), shown);
  assert.equal(back.turns.at(-2)!.text, 'One more question?');
  const a = lastAnswer(back)!;
  assert.equal(a.status, 'interrupted');
  assert.match(a.statusLine, /^Interrupted: the window closed/);
  // What was stored is what was drawn, give or take the last second of tokens.
  const kept = a.text.trimEnd();
  const [short, long] = kept.length < drawn.length ? [kept, drawn] : [drawn, kept];
  assert.ok(short.length > 0 && long.startsWith(short.slice(0, Math.ceil(short.length / 2))), `restored ${JSON.stringify(kept.slice(0, 80))}, drawn before the reload ${JSON.stringify(drawn.slice(0, 80))}`);
  await e.screenshot('transcript-after-reload');
  await e.waitFor(() => pidsBefore.every((p) => !alive(p)), `the inference processes from before the reload (${pidsBefore.join(', ')}) to exit`, 60_000);
  // The chat works in the new window.
  await e.waitForStatus('Hearth: ready', 300_000);
  await chat.type('And now?\n');
  await waitForGrowth('the question after the reload');
  await e.press('Escape');
  await assertStopped('Escape after the reload');
});

test("New chat, the view's own + button, clears the transcript", { timeout: 300_000 }, async () => {
  const e = editor!;
  assert.ok((await chat.read())!.turns.length > 0);
  // The one New Chat the view offers: VS Code's title action (the page has no second button).
  await e.page.locator('.part.sidebar .title-actions .action-label[aria-label*="New Chat"]').click();
  const c = await chat.waitFor((x) => x.turns.length === 0, 'an empty transcript after New chat', 30_000);
  assert.ok(c.empty, 'the empty-transcript hint shows again');
  assert.equal(c.sendLabel, 'Send');
  await e.screenshot('new-chat');
});
