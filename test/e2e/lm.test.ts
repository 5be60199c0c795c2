// Hearth's model in VS Code's language model API, in a real VS Code (code-server) with the VSIX and
// the tiny qwen2 fixture: a second extension (test/e2e/lm-fixture) finds it with
// vscode.lm.selectChatModels({ vendor: 'hearth' }), counts tokens, streams an answer, cancels one
// and is refused a tool call. One editor session. Screenshots go to .artifacts/e2e/lm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Editor, type TestEvent } from './harness.js';
import { tinyModel } from '../support/inference-fixtures.js';
import { readGGUF } from '../../engine/gguf/gguf.js';
import { Tokenizer } from '../../engine/tokenizer/tokenizer.js';

const VSIX = resolve('.artifacts/hearth-linux-x64.vsix');
const CONTEXT = 1024, CHAT_MAX = 300;
// QUIET_SETTINGS has chat.disableAIFeatures: VS Code 1.139 still lists the model to extensions
// (checked with it false too: the same results), and asks no consent of the fixture.
const SETTINGS = () => ({ 'hearth.modelPath': tinyModel(), 'hearth.contextSize': CONTEXT, 'hearth.chat.maxTokens': CHAT_MAX });

let editor: Editor | undefined;
let fixtureDir: string | undefined;

before(async () => {
  const r = spawnSync('npm', ['run', 'package'], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `npm run package failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  assert.ok(existsSync(VSIX), `npm run package did not write ${VSIX}`);
  // Installed as a VSIX too: beside an installed VSIX, VS Code drops an extension folder that its
  // extensions.json does not list (the harness's extensionFolders).
  fixtureDir = mkdtempSync(join(tmpdir(), 'hearth-lm-fixture-'));
  cpSync('test/e2e/lm-fixture', fixtureDir, { recursive: true });
  const fixture = join(fixtureDir, 'lm-fixture.vsix');
  const v = spawnSync(resolve('node_modules/.bin/vsce'), ['package', '--out', fixture, '--allow-missing-repository', '--skip-license'], { cwd: fixtureDir, encoding: 'utf8', timeout: 120_000 });
  assert.equal(v.status, 0, `vsce package of the fixture failed:\n${v.stdout}\n${v.stderr}`);
  editor = await Editor.start({ name: 'lm', vsix: [VSIX, fixture], files: { 'a.py': 'x = 1\n' }, settings: SETTINGS() });
  await editor.openFile('a.py');
  await editor.waitForStatus('Hearth: ready', 300_000);
  await editor.waitForEvent((e) => e.t === 'lm-fixture-ready', 'the fixture extension active', 60_000);
}, { timeout: 1_200_000 });

after(async () => {
  await editor?.stop();
  if (fixtureDir) rmSync(fixtureDir, { recursive: true, force: true });
});

test('another extension finds the model, counts its tokens, streams an answer, cancels one and is refused a tool call', { timeout: 600_000 }, async () => {
  const e = editor!;
  const g = readGGUF(tinyModel());
  const tok = Tokenizer.fromGGUF(g);
  const from = e.events().length;
  const next = (t: string, timeoutMs = 180_000): Promise<TestEvent> =>
    e.waitForEvent((ev) => ev.t === t || ev.t === 'lm-error', `the fixture's ${t}`, timeoutMs, from).then((ev) => {
      assert.notEqual(ev.t, 'lm-error', String(ev.message));
      return ev;
    });
  await e.runCommand("LM Fixture: Use Hearth's Model");

  const { models } = await next('lm-models', 60_000) as unknown as { models: { id: string; name: string; vendor: string; family: string; version: string; maxInputTokens: number }[] };
  assert.equal(models.length, 1, `one Hearth model listed: ${JSON.stringify(models)}`);
  const [m] = models;
  assert.equal(m.vendor, 'hearth');
  assert.equal(m.name, g.metadata.get('general.name') ?? tinyModel().split('/').pop());
  assert.equal(m.id, tinyModel().split('/').pop()!.replace(/\.gguf$/, ''));
  assert.equal(m.family, 'qwen2');
  assert.equal(m.maxInputTokens, CONTEXT - Math.min(CHAT_MAX, CONTEXT / 2), 'the context less what an answer may take');

  const count = await next('lm-count');
  const want = tok.encode(String(count.text), { addBos: false, parseSpecial: false }).length;
  assert.ok(want > 10);
  assert.equal(count.tokens, want, "countTokens is the model's tokenizer's count");
  assert.equal(count.message, want, 'a message counts its text');

  const answer = await next('lm-answer');
  const fragments = answer.fragments as string[];
  assert.ok(fragments.length > 1, `the answer streamed in fragments: ${JSON.stringify(fragments)}`);
  assert.ok(fragments.join('').length > 0);

  const cancelled = await next('lm-cancelled');
  assert.equal(cancelled.before, 3);
  assert.equal(cancelled.error, undefined, `cancelling ends the stream without an error: ${String(cancelled.error)}`);
  // Fragments Hearth reported before the cancel reached it still arrive: VS Code relays each one
  // through the workbench, and the tiny model makes a token in a few ms (a loaded 2-core CI machine
  // queued 22). Hearth reports none past the cancel; the process stops well short of the answer's cap.
  assert.ok(Number(cancelled.after) < 60, `a few fragments at most after the cancel (${String(cancelled.after)})`);
  assert.ok(Number(cancelled.endedMs) < 30_000, `the stream ended ${String(cancelled.endedMs)} ms after the cancel`);

  const refused = await next('lm-refused');
  assert.match(String(refused.message), /message 2 \(assistant\) holds a tool call \(readFile\): Hearth's local model takes text only/);
  // Hearth's log tells the cancelled request from finished ones.
  let generated = -1;
  await e.waitFor(() => e.extensionLog(200).some((l) => (generated = Number(/language model request: 1 messages, \d+ prompt tokens, (\d+) generated, cancelled/.exec(l)?.[1] ?? -1)) >= 0), 'the cancelled request in the log', 30_000);
  assert.ok(generated >= 3 && generated < Number(cancelled.before) + Number(cancelled.after) + 60, `the inference process stopped generating (${generated} tokens of up to ${CHAT_MAX})`);
  await e.screenshot('after-requests');
});

test('with no model set, nothing is listed and nothing is thrown at the caller', { timeout: 300_000 }, async () => {
  const e = editor!;
  e.writeSettings({ ...SETTINGS(), 'hearth.modelPath': '' });
  await e.waitForStatus('Hearth: no model', 120_000);
  const from = e.events().length;
  await e.runCommand("LM Fixture: Use Hearth's Model");
  const ev = await e.waitForEvent((x) => x.t === 'lm-models' || x.t === 'lm-error', "the fixture's model list", 60_000, from);
  assert.equal(ev.t, 'lm-models', String(ev.message));
  assert.deepEqual(ev.models, []);
  await e.screenshot('no-model');
});
