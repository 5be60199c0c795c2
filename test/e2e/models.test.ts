// The first run in a real VS Code (code-server), installed from the VSIX: no hearth.modelPath, a
// GGUF already on disk in a hearth.modelDirs folder, and the Hugging Face Hub played by the fake Hub
// on loopback (HF_ENDPOINT; its resolve URLs redirect to a CDN on 127.0.0.2) with every curated
// repository, the recommended one serving the tiny fixture model. One editor session: the first-run
// prompt and "no model" in the status bar; the picker lists the model on disk first, then the
// catalog with download sizes and memory; a catalog pick downloads under a progress notification
// with bytes, a Cancel keeps no model, the next pick resumes with an HTTP Range request, as does the
// one after a crash of the extension host mid-download (the first-run prompt not raised again); the model
// loads from the Hub cache layout and completes Python; picking the model on disk switches to it
// without a download. Screenshots go to .artifacts/e2e/models.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Editor } from './harness.js';
import * as dom from './workbench-dom.js';
import { tinyChatModel, tinyModel } from '../support/inference-fixtures.js';
import { FakeHub, type FakeRepo } from '../support/fake-hub.js';
import { CATALOG, defaultEntry } from '../../engine/models/catalog.js';
import { humanBytes } from '../../extension/format.js';

const VSIX = resolve('.artifacts/hearth-linux-x64.vsix');
const FILE = 'shapes.py';
const START = `"""Area helpers."""


def square(side):
    return side * side


`;
const LINES = ['def rectangle(width, height):\n', 'area = width', '\nreturn area', '\n\n\ndef cube(side):\n', 'volume = side'];
/** What the software adapter gets recommended, and so what is downloaded. */
const ENTRY = defaultEntry('completion', true);
const COMMIT = 'c0ffee'.padEnd(40, '0');
/** A catalog row with its download size from the Hub (not the row saying the Hub is being asked). */
const SIZED = /\d [KMG]iB download/;
const PROMPT = 'Hearth completes code with a local model';

let editor: Editor | undefined;
let hub: FakeHub;
let tmp: string;
let hfHome: string;
let onDisk: string;
let served: Buffer;
/** Hub requests before the on-disk pick. */
let hubBefore = 0;

/** A recognisable small body per catalog file other than ENTRY: their sizes are what the picker must show. */
const stand = (i: number) => Buffer.alloc((i + 1) * 3 * 1024 + 17, i);

function hubRepos(): FakeRepo[] {
  const repos = new Map<string, FakeRepo>();
  CATALOG.forEach((e, i) => {
    const r = repos.get(e.repo) ?? { repo: e.repo, commit: COMMIT, files: [] };
    r.files.push({ path: e.file, content: e.id === ENTRY.id ? served : stand(i) });
    repos.set(e.repo, r);
  });
  return [...repos.values()];
}

const snapshot = () => join(hfHome, 'hub', `models--${ENTRY.repo.replace('/', '--')}`, 'snapshots', COMMIT, ENTRY.file);
const blobs = () => join(hfHome, 'hub', `models--${ENTRY.repo.replace('/', '--')}`, 'blobs');

/** hearth.modelPath as written by the extension (user or remote-machine settings), or undefined. */
function modelPathSetting(e: Editor): string | undefined {
  for (const scope of ['Machine', 'User']) {
    const f = join(e.userData, scope, 'settings.json');
    if (!existsSync(f)) continue;
    // VS Code writes plain JSON here; the harness writes it without comments too.
    const v = JSON.parse(readFileSync(f, 'utf8'))['hearth.modelPath'];
    if (typeof v === 'string' && v) return v;
  }
  return undefined;
}

/**
 * Opens the completion model picker from the menu behind the status bar item (Hearth: Menu: for
 * "Hearth: Pick Model" the command palette lists "Hearth: Pick Chat Model" first, as it sorts
 * matches alphabetically; the no-GPU notice may cover the item itself) and waits until the catalog's
 * sizes are in; returns every row, read by walking the list.
 */
async function openPicker(e: Editor): Promise<string[]> {
  await e.runCommand('Hearth: Menu');
  // Typed before the menu replaces the palette, the filter would go to the palette.
  await e.waitFor(async () => (await e.page.evaluate(dom.quickPickRows)).some((r) => r.aria.includes('Completion Model…')), 'the Hearth menu', 30_000);
  await choose(e, 'Completion Model', (a) => a.includes('Completion Model…'));
  await e.waitFor(async () => {
    const rows = await e.page.evaluate(dom.quickPickRows);
    return rows.some((r) => SIZED.test(r.aria)) && rows.some((r) => r.aria.includes('local-coder.gguf'));
  }, 'the picker with the models on disk and the Hub\'s download sizes', 60_000);
  // ArrowDown moves the focus (and the rows in view) one entry on, and wraps to the top after the last.
  const rows = new Map<number, string>();
  const focusedNow = async () => {
    const now = await e.page.evaluate(dom.quickPickRows);
    for (const r of now) rows.set(r.index, r.aria);
    return now.find((r) => r.focused)?.index ?? -1;
  };
  let last = await focusedNow();
  for (let step = 0; step < 60; step++) {
    await e.press('ArrowDown');
    let focused = last;
    await e.waitFor(async () => (focused = await focusedNow()) !== last, 'the picker\'s focus to move down', 10_000);
    if (focused < last) break;
    last = focused;
  }
  return [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([, a]) => a);
}

/** Filters the open picker to `text` and accepts the row it focuses, which must satisfy `want`. */
async function choose(e: Editor, text: string, want: (aria: string) => boolean): Promise<string> {
  await e.page.keyboard.type(text);
  let row: dom.QuickPickRow | undefined;
  await e.waitFor(async () => !!(row = (await e.page.evaluate(dom.quickPickRows)).find((r) => r.focused)) && want(row.aria), `the picker row for ${JSON.stringify(text)}`, 30_000);
  await e.press('Enter');
  return row!.aria;
}

/** The progress notification of the download, or undefined. */
async function progressMessage(e: Editor): Promise<string | undefined> {
  return (await e.notifications()).find((n) => n.includes(`downloading ${ENTRY.label}`));
}

/** Types LINES until a suggestion shows; returns it. */
async function typeUntilGhost(e: Editor, what: string): Promise<string> {
  const tried: string[] = [];
  for (const line of LINES) {
    await e.type(line);
    try {
      // The first answer after a load may wait for lavapipe's kernel compiles.
      return await e.waitForGhostText(tried.length ? 30_000 : 180_000, `${what} after typing ${JSON.stringify(line)}`);
    } catch (err) {
      tried.push(`${JSON.stringify(line)} -> none (${(err as Error).message.split('\n')[0]})`);
    }
  }
  throw new Error(`no ${what} while typing ${LINES.length} lines:\n  ${tried.join('\n  ')}\n${await e.diagnostics()}`);
}

before(async () => {
  const r = spawnSync('npm', ['run', 'package'], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `npm run package failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  served = readFileSync(tinyModel());
  tmp = mkdtempSync(join(tmpdir(), 'hearth-e2e-models-'));
  hfHome = join(tmp, 'hf');
  const dir = join(tmp, 'my-models');
  mkdirSync(dir);
  onDisk = join(dir, 'local-coder.gguf');
  copyFileSync(tinyChatModel(), onDisk);
  hub = await FakeHub.start(hubRepos());
  // The editor inherits this process's environment: the Hub is the fake one, the cache is private,
  // and no proxy could carry a request off this machine.
  Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_HOME: hfHome, NO_PROXY: '', no_proxy: '' });
  for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[k];
  editor = await Editor.start({
    name: 'models', vsix: [VSIX], files: { [FILE]: START },
    settings: { 'hearth.modelDirs': [dir], 'hearth.completion.maxTokens': 16 },
  });
  await editor.openFile(FILE);
}, { timeout: 1_200_000 });

after(async () => {
  await editor?.stop();
  await hub?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('first run: the status bar says "no model" and a prompt offers the picker', { timeout: 300_000 }, async () => {
  const e = editor!;
  await e.waitForStatus('Hearth: no model', 180_000);
  await e.waitFor(async () => (await e.notifications()).some((n) => n.includes(PROMPT)), 'the first-run prompt', 60_000);
  await e.screenshot('first-run-prompt');
  const toast = e.page.locator('.notifications-toasts .notification-toast', { hasText: PROMPT });
  await e.page.evaluate(dom.startQuickPickWatch);
  await toast.locator('.monaco-button', { hasText: 'Pick a Model…' }).click();
  await e.waitFor(async () => {
    const rows = await e.page.evaluate(dom.quickPickRows);
    return rows.some((r) => SIZED.test(r.aria)) && rows.some((r) => r.aria.includes('local-coder.gguf'));
  }, 'the picker opened from the prompt, with the model on disk and the Hub\'s sizes', 60_000);
  const seen = await e.page.evaluate(dom.stopQuickPickWatch);
  // The first search reads every header (no memo yet): the picker shows it is still looking, not that there is nothing.
  assert.ok(!seen.some((r) => r.includes('No usable GGUF models found')), `the picker said no models were found while it was still looking:\n${seen.join('\n')}`);
  assert.ok(seen.some((r) => r.includes('Looking for GGUF models on this computer')), `the picker showed it was looking:\n${seen.join('\n')}`);
  const title = await e.page.locator('.quick-input-widget .quick-input-title').textContent();
  assert.match(title ?? '', /Hearth: Completion Model/);
  await e.press('Escape');
  assert.equal(modelPathSetting(e), undefined, 'closing the picker sets nothing');
});

test('the picker lists the model on disk first, then the catalog with download sizes and memory', { timeout: 300_000 }, async () => {
  const e = editor!;
  const rows = await openPicker(e);
  await e.press('Home');
  await e.screenshot('picker');
  const text = rows.join('\n');
  const disk = rows.findIndex((r) => r.includes('hearth.modelDirs') && r.includes('local-coder.gguf'));
  assert.ok(disk >= 0, `the model in hearth.modelDirs is listed:\n${text}`);
  const completion = CATALOG.filter((x) => x.role === 'completion');
  const at = completion.map((x) => rows.findIndex((r) => r.includes(x.label) && r.includes(x.repo)));
  assert.ok(at.every((i) => i > disk), `every completion entry of the catalog is listed after the model on disk:\n${text}`);
  assert.ok(!CATALOG.some((x) => x.role === 'chat' && rows.some((r) => r.includes(x.label))), 'no chat model among the completion models');
  completion.forEach((x, k) => {
    const size = x.id === ENTRY.id ? served.length : stand(CATALOG.indexOf(x)).length;
    assert.ok(rows[at[k]].includes(`${humanBytes(size)} download`), `${x.label} shows its size from the Hub (${humanBytes(size)}): ${rows[at[k]]}`);
    assert.match(rows[at[k]], /needs (about )?[\d.]+ [KMG]iB at \d+ tokens of context/, `${x.label} says the memory it needs: ${rows[at[k]]}`);
  });
  assert.match(rows[at[completion.indexOf(completion.find((x) => x.id === ENTRY.id)!)]], /recommended for this computer/);
  assert.match(rows[rows.length - 1], /Choose a file/, 'Choose a file… is last');
  await e.press('Escape');
});

test('a catalog pick downloads with progress in bytes; Cancel, or a crash, keeps no model; the next pick resumes with Range', { timeout: 600_000 }, async () => {
  const e = editor!;
  hub.reset();
  // 64 KiB every 40 ms: the progress is there to see and Cancel lands mid-way.
  hub.fault({ on: 'cdn', pieceDelayMs: 40 });
  await openPicker(e);
  await choose(e, ENTRY.label, (a) => a.includes(ENTRY.repo));
  let first = '';
  await e.waitFor(async () => /\d+(\.\d)? [KM]iB of [\d.]+ MiB/.test(first = (await progressMessage(e)) ?? ''), 'the download\'s progress notification with bytes', 60_000);
  let later = '';
  const mib = (m: string) => Number(/([\d.]+) MiB of/.exec(m)?.[1] ?? 0);
  await e.waitFor(async () => mib(later = (await progressMessage(e)) ?? '') >= 1 && later !== first, 'the progress to move past 1 MiB', 60_000);
  await e.screenshot('download-progress');
  assert.match(later, /MiB\/s · \d+ s left|left/, `speed and time left: ${later}`);
  await e.page.locator('.notifications-toasts .notification-toast', { hasText: `downloading ${ENTRY.label}` }).locator('.monaco-button', { hasText: 'Cancel' }).click();
  await e.waitFor(async () => (await e.notifications()).some((n) => n.includes('was cancelled') && n.includes('resumes')), 'the cancel notice', 60_000);
  await e.screenshot('download-cancelled');
  assert.ok(!existsSync(snapshot()), 'no snapshot after a cancel');
  const partial = readdirSync(blobs()).filter((f) => f.endsWith('.incomplete'));
  assert.equal(partial.length, 1, `one partial download in ${blobs()}: ${readdirSync(blobs())}`);
  const kept = statSync(join(blobs(), partial[0])).size;
  assert.ok(kept >= 1 << 20 && kept < served.length, `the partial file keeps what arrived: ${kept} of ${served.length} bytes`);
  assert.equal(modelPathSetting(e), undefined, 'a cancelled download sets no model');
  assert.equal(await e.statusLabel(), 'Hearth: no model');
  const firstCdn = hub.requests.filter((q) => q.host === 'cdn');
  assert.equal(firstCdn.length, 1, `one CDN request: ${JSON.stringify(firstCdn)}`);
  assert.equal(firstCdn[0].range, undefined, 'the first attempt starts at byte 0');

  const rangeStart = (from: number) => {
    const cdn = hub.requests.slice(from).filter((q) => q.host === 'cdn');
    assert.equal(cdn.length, 1, `one CDN request resumes it: ${JSON.stringify(cdn)}`);
    assert.equal(hub.requests.slice(from).filter((q) => q.host === 'hub' && q.path.includes('/resolve/')).length, 1);
    return Number(/^bytes=(\d+)-$/.exec(cdn[0].range ?? '')?.[1]);
  };

  // The second attempt is cut short by a crash of the extension host: what it fetched is kept as
  // well, and the lock it leaves does not block the next attempt.
  let from = hub.requests.length;
  hub.fault({ on: 'cdn', pieceDelayMs: 40 });
  await openPicker(e);
  await choose(e, ENTRY.label, (a) => a.includes(ENTRY.repo));
  let resumed = '';
  await e.waitFor(async () => /\(resumed at [\d.]+ MiB\)/.test(resumed = (await progressMessage(e)) ?? '') && mib(resumed) >= kept / (1 << 20) + 1, 'the resumed download to fetch another MiB', 120_000);
  await e.screenshot('download-resumed');
  assert.equal(rangeStart(from), kept, `the second attempt asks for the bytes after the ${kept} kept`);
  // The extension host is the inference process's parent; kill -9 is a crash, which leaves the
  // download's lock behind. VS Code starts a new extension host on its own.
  const serverPid = Number(e.events().filter((ev) => ev.t === 'serverPid').at(-1)!.pid);
  const stat = readFileSync(`/proc/${serverPid}/stat`, 'utf8');
  const extHost = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  assert.match(readFileSync(`/proc/${extHost}/cmdline`, 'utf8'), /extensionHost|bootstrap-fork/, `process ${extHost} is the extension host`);
  const events = e.events().length;
  process.kill(extHost, 'SIGKILL');
  await e.waitForEvent((ev) => ev.t === 'serverPid', 'the inference process of the restarted extension host', 180_000, events);
  await e.waitForStatus('Hearth: no model', 180_000);
  const alive = (pid: number) => {
    try {
      return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
    } catch {
      return false;
    }
  };
  await e.waitFor(() => !alive(serverPid), `the crashed extension host's inference process ${serverPid} to exit`, 30_000);
  // The first-run prompt was shown at the first start; raised again, it would stay after the model loads.
  await sleep(2_000);
  assert.ok(!(await e.notifications()).some((n) => n.includes(PROMPT)), `the first-run prompt came back after the restart: ${JSON.stringify(await e.notifications())}`);
  assert.ok(!existsSync(snapshot()), 'no snapshot after an interrupted download');
  assert.equal(modelPathSetting(e), undefined, 'an interrupted download sets no model');
  const kept2 = statSync(join(blobs(), partial[0])).size;
  assert.ok(kept2 > kept && kept2 < served.length, `the interrupted attempt's bytes are kept: ${kept2} (${kept} before it) of ${served.length}`);

  from = hub.requests.length;
  await openPicker(e);
  await choose(e, ENTRY.label, (a) => a.includes(ENTRY.repo));
  await e.waitForStatus((l) => l.startsWith('Hearth: loading') || l === 'Hearth: ready', 180_000);
  assert.equal(rangeStart(from), kept2, `after the restart, the download resumes after the ${kept2} bytes kept`);
});

test('the downloaded model loads from the Hub cache layout and completes Python', { timeout: 600_000 }, async () => {
  const e = editor!;
  await e.waitForStatus('Hearth: ready', 300_000);
  await e.screenshot('downloaded-model-ready');
  const set = modelPathSetting(e);
  assert.equal(set, snapshot(), 'hearth.modelPath is the snapshot path in the Hub cache');
  assert.match(set!, /models--Qwen--Qwen2\.5-Coder-0\.5B-GGUF\/snapshots\/[0-9a-f]{40}\/qwen2\.5-coder-0\.5b-q8_0\.gguf$/);
  assert.ok(readFileSync(set!).equals(served), 'the file is the one the Hub served');
  assert.deepEqual(readdirSync(blobs()).filter((f) => f.endsWith('.incomplete')), [], 'no partial file is left');
  // The restarted extension host's notifications can take the keyboard focus from the editor.
  await e.openFile(FILE);
  await e.press('Control+End');
  const ghost = await typeUntilGhost(e, 'ghost text from the downloaded model');
  assert.ok(ghost.trim().length > 0);
  await e.screenshot('ghost-text');
});

test('picking the model on disk switches to it without downloading', { timeout: 600_000 }, async () => {
  const e = editor!;
  hubBefore = hub.requests.length;
  const rows = await openPicker(e);
  // The download is now a model on this computer, listed with the catalog's name and not offered again.
  const listed = rows.filter((r) => r.includes(ENTRY.label) || r.includes(ENTRY.file));
  assert.equal(listed.length, 1, `the downloaded model is listed once, as on disk:\n${rows.join('\n')}`);
  assert.match(listed[0], /^check .*Hugging Face cache/, `the downloaded model is listed as on disk and checked as the model set:\n${rows.join('\n')}`);
  await choose(e, 'local-coder', (a) => a.includes('hearth.modelDirs'));
  await e.waitFor(() => modelPathSetting(e) === onDisk, 'hearth.modelPath to be the model on disk', 60_000);
  await e.waitForStatus('Hearth: ready', 300_000);
  const since = hub.requests.slice(hubBefore);
  assert.deepEqual(since.filter((q) => q.host === 'cdn' || q.path.includes('/resolve/')), [], 'nothing downloaded');
  await e.openFile(FILE);
  await e.press('Control+End');
  await typeUntilGhost(e, 'ghost text from the model on disk');
  await e.screenshot('on-disk-model');
});

test('every Hub request went to the fake Hub on loopback', () => {
  const all = hub.requests;
  assert.ok(all.some((q) => q.host === 'hub' && q.path.startsWith('/api/models/')), 'the file lists came from the fake Hub');
  const repos = new Set(CATALOG.map((x) => x.repo));
  for (const r of repos) assert.ok(all.some((q) => q.path.startsWith(`/api/models/${r}/tree/`)), `the picker asked the fake Hub for ${r}`);
  assert.ok(all.every((q) => !q.authorization), 'no token was sent');
});
