// The chat webview's script (dist/chat.js) in a real browser (Debian's chromium via playwright-core),
// on its real page (extension/chat/html.ts, CSP included) with a stand-in for VS Code's
// acquireVsCodeApi that records what the page posts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chatHtml, makeNonce } from '../extension/chat/html.js';
import type { ToHost, ToWebview, Turn } from '../extension/chat/messages.js';

// The browser's globals, as the page functions below see them (this file is compiled without the DOM lib).
declare const window: any, document: any, requestAnimationFrame: (f: () => void) => number;

const CHROMIUM = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';
let browser: Browser;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-chat-'));
  copyFileSync(resolve('dist/chat.js'), join(dir, 'chat.js'));
  copyFileSync(resolve('media/chat.css'), join(dir, 'chat.css'));
  const page = (csp: boolean) => {
    let html = chatHtml({ cspSource: 'file:', nonce: makeNonce(), scriptUri: 'chat.js', styleUri: 'chat.css' });
    if (!csp) html = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '');
    return html;
  };
  writeFileSync(join(dir, 'chat.html'), page(true));
  writeFileSync(join(dir, 'nocsp.html'), page(false));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(file = 'chat.html'): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => {
    const w = window as unknown as { posted: unknown[]; state: unknown; acquireVsCodeApi: () => unknown };
    w.posted = [];
    w.acquireVsCodeApi = () => ({ postMessage: (m: unknown) => w.posted.push(m), getState: () => w.state, setState: (s: unknown) => { w.state = s; } });
  });
  await page.goto(pathToFileURL(join(dir, file)).href);
  await page.waitForFunction(() => (window as unknown as { posted: { type: string }[] }).posted.some((m) => m.type === 'ready'));
  assert.deepEqual(errors, []);
  return page;
}

// Resolves once the page has handled the message: its own listener, added at load, runs before this one.
const send = (page: Page, m: ToWebview) => page.evaluate((msg) => new Promise<void>((resolve) => {
  window.addEventListener('message', () => resolve(), { once: true });
  window.postMessage(msg, '*');
}), m);
const posted = (page: Page) => page.evaluate(() => (window as unknown as { posted: ToHost[] }).posted);
const answer = (id: string, text = ''): Turn => ({ id, role: 'assistant', text, status: 'streaming' });

async function stream(page: Page, id: string, text: string): Promise<void> {
  for (const piece of text.match(/[\s\S]{1,7}/g) ?? []) await send(page, { type: 'delta', id, text: piece });
}

test('an answer streams as markdown; a code block is highlighted once its fence closes', async () => {
  const page = await open();
  await send(page, { type: 'turn', turn: { id: 'u1', role: 'user', text: 'How do I add?', status: 'done' } });
  await send(page, { type: 'turn', turn: answer('a1') });
  await stream(page, 'a1', 'Use **a function**:\n\n```python\ndef add(a, b):\n    return a + b\n');
  // The fence is still open: plain text, no highlighting yet, no action buttons.
  assert.equal(await page.locator('.turn.assistant strong').textContent(), 'a function');
  assert.equal(await page.locator('.turn.assistant .hljs-keyword').count(), 0);
  assert.match((await page.locator('.turn.assistant pre').textContent()) ?? '', /def add\(a, b\):\n {4}return a \+ b/);
  await stream(page, 'a1', '```\n\nThat is all.');
  await send(page, { type: 'end', id: 'a1', status: 'done' });
  assert.ok(await page.locator('.turn.assistant .hljs-keyword').count() >= 2, 'def and return are highlighted');
  assert.equal(await page.locator('.turn.assistant .code-lang').textContent(), 'python');
  assert.equal(await page.locator('.turn.assistant p').last().textContent(), 'That is all.');
  assert.equal(await page.locator('#send').textContent(), 'Send');
  await page.close();
});

test('code-block buttons post Copy, Insert and Open with the code and its language', async () => {
  const page = await open();
  await send(page, { type: 'snapshot', busy: false, notices: [], turns: [{ id: 'a', role: 'assistant', status: 'done', text: 'x\n\n```ts\nconst a = 1;\nconst b = "<b>";\n```\n' }] });
  for (const cls of ['copy', 'insert', 'open']) await page.locator(`.code-${cls}`).click();
  const code = 'const a = 1;\nconst b = "<b>";';
  assert.deepEqual((await posted(page)).filter((m) => m.type !== 'ready'), [
    { type: 'copy', code }, { type: 'insert', code }, { type: 'open', code, language: 'ts' },
  ]);
  await page.close();
});

test('Enter sends, Shift+Enter adds a line, Escape and the Stop button stop', async () => {
  const page = await open();
  const input = page.locator('#input');
  await input.click();
  await page.keyboard.type('first line');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('second');
  await page.keyboard.press('Enter');
  assert.equal(await input.inputValue(), '');
  await send(page, { type: 'turn', turn: answer('a') });
  assert.equal(await page.locator('#send').textContent(), 'Stop');
  await page.keyboard.press('Enter'); // busy, nothing typed: nothing happens
  assert.equal(await page.locator('#notices .notice').count(), 0);
  await page.keyboard.type('next question');
  await page.keyboard.press('Enter'); // busy: not sent, kept, and the user is told why, once
  await page.keyboard.press('Enter');
  assert.equal(await input.inputValue(), 'next question');
  assert.deepEqual(await page.locator('#notices .notice').allTextContents(), ['Hearth is still answering: Escape stops it, then Enter sends your message.']);
  await page.keyboard.press('Escape');
  await send(page, { type: 'end', id: 'a', status: 'stopped' });
  assert.equal(await page.locator('#notices .notice').count(), 0, 'the hint goes when the answer ends');
  await send(page, { type: 'turn', turn: answer('b') });
  await page.locator('#send').click();
  assert.deepEqual((await posted(page)).filter((m) => m.type !== 'ready'), [
    { type: 'send', text: 'first line\nsecond' }, { type: 'stop' }, { type: 'stop' },
  ]);
  await page.close();
});

const HOSTILE = [
  '<img src=x onerror="window.pwned=1">',
  '<script>window.pwned=2</script>',
  '[click me](javascript:window.pwned=3)',
  '<a href="javascript:window.pwned=4">raw link</a>',
  '![pic](javascript:window.pwned=5)',
  '![remote](https://example.com/track.png)',
  '<iframe srcdoc="<script>parent.pwned=6</script>"></iframe>',
  '<svg onload="window.pwned=7"></svg>',
  '[data](data:text/html,<script>alert(1)</script>)',
  '```html\n<img src=x onerror="window.pwned=8">\n```',
  '<details open ontoggle="window.pwned=9">x</details>',
].join('\n\n');

for (const file of ['chat.html', 'nocsp.html']) {
  test(`hostile model output renders as text or inert (${file === 'chat.html' ? 'with the CSP' : 'even without the CSP'})`, async () => {
    const page = await open(file);
    if (file === 'nocsp.html') {
      // The detector works: the same markup injected as HTML does run on this page.
      await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<img id="control" src="x" onerror="window.control=1">'));
      await page.waitForFunction(() => (window as unknown as { control?: number }).control === 1);
      await page.evaluate(() => document.getElementById('control')!.remove());
    }
    await send(page, { type: 'turn', turn: answer('h') });
    await stream(page, 'h', HOSTILE);
    await send(page, { type: 'end', id: 'h', status: 'done' });
    for (const a of await page.locator('.turn a').all()) await a.click({ modifiers: [] }).catch(() => undefined);
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    const body = page.locator('.turn.assistant .turn-body');
    for (const tag of ['img', 'script', 'iframe', 'svg', 'details']) assert.equal(await body.locator(tag).count(), 0, `no <${tag}>`);
    assert.equal(await body.locator('[onerror], [onload], [ontoggle], [style]').count(), 0);
    for (const href of await body.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))) assert.ok(href === null || /^https?:/.test(href), `href ${href}`);
    const text = (await body.textContent()) ?? '';
    assert.match(text, /<img src=x onerror="window.pwned=1">/, 'raw HTML shows as text');
    assert.match(text, /<script>window.pwned=2<\/script>/);
    assert.match(text, /\[image: remote\]/, 'an image becomes its alt text: nothing is fetched');
    await page.close();
  });
}

test('a question Hearth composed shows its code as a code block; a typed one stays as typed', async () => {
  const page = await open();
  await send(page, { type: 'snapshot', busy: false, notices: [], turns: [
    { id: 'u1', role: 'user', text: 'Explain this code from a.py:\n\n```python\ndef f(x):\n    return x * 2\n```', status: 'done', label: 'Explain selection: a.py, lines 1-2' },
    { id: 'u2', role: 'user', text: 'why *this* and ```not``` <b>that</b>?\nsecond line', status: 'done' },
  ] });
  const [composed, typed] = await page.locator('.turn.user .turn-body').all();
  assert.equal(await composed.locator('.code-block code').textContent(), 'def f(x):\n    return x * 2\n');
  assert.doesNotMatch((await composed.textContent()) ?? '', /```/, 'no raw fences');
  assert.equal(await typed.textContent(), 'why *this* and ```not``` <b>that</b>?\nsecond line');
  assert.equal(await typed.locator('*').count(), 0, 'typed text is text, not markup');
  // In a narrow side bar the header wraps whole words: "python" and "Copy" each on one line.
  await page.setViewportSize({ width: 260, height: 600 });
  const oneLine = async (sel: string) => {
    for (const el of await composed.locator(sel).all()) {
      // One client rect per line box of the text.
      const lines = await el.evaluate((e) => { const r = document.createRange(); r.selectNodeContents(e); return r.getClientRects().length; });
      assert.equal(lines, 1, `${sel} "${await el.textContent()}" spans ${lines} lines`);
    }
  };
  await oneLine('.code-lang');
  await oneLine('.code-action');
  await page.close();
});

test('a snapshot redraws the transcript: interrupted answers keep their text and say so', async () => {
  const page = await open();
  await send(page, { type: 'turn', turn: answer('old', 'stale') });
  await send(page, { type: 'snapshot', busy: false, notices: ['Dropped the 2 oldest turns to fit the context.'], turns: [
    { id: 'u', role: 'user', text: 'Explain', status: 'done', label: 'Explain selection: a.py:1-3' },
    { id: 'a', role: 'assistant', text: 'Partial answer', status: 'interrupted' },
    { id: 'a2', role: 'assistant', text: 'Cut', status: 'interrupted', note: 'the inference process was killed by SIGKILL; it restarts' },
    { id: 'a3', role: 'assistant', text: 'Long', status: 'done', note: 'The answer reached the token limit.' },
    { id: 'a4', role: 'assistant', text: 'Short', status: 'done' },
  ] });
  assert.equal(await page.locator('.turn').count(), 5);
  // Why each answer ended, said once: the note, not a generic line before it.
  assert.deepEqual(await page.locator('.turn-status').allTextContents(), [
    'Interrupted.', 'Interrupted: the inference process was killed by SIGKILL; it restarts.', 'The answer reached the token limit.',
  ]);
  assert.equal(await page.locator('.turn-label').textContent(), 'Explain selection: a.py:1-3');
  assert.match((await page.locator('.turn.assistant').first().textContent()) ?? '', /Partial answer[\s\S]*Interrupted/);
  assert.match((await page.locator('#notices').textContent()) ?? '', /Dropped the 2 oldest turns/);
  await page.close();
});

test('an answer that ends early scrolls its status line into view', async () => {
  const page = await open();
  await send(page, { type: 'turn', turn: { id: 'u', role: 'user', text: 'Count', status: 'done' } });
  await send(page, { type: 'turn', turn: answer('a') });
  await stream(page, 'a', Array.from({ length: 60 }, (_, i) => `Line ${i} of the answer.`).join('\n\n'));
  await send(page, { type: 'end', id: 'a', status: 'interrupted', note: 'the inference process exited (SIGKILL)' });
  // Following the answer, the transcript shows its last line: the status line under the answer.
  await page.waitForFunction(() => {
    const t = document.getElementById('transcript');
    const s = document.querySelector('.turn-status').getBoundingClientRect();
    return t.scrollHeight > t.clientHeight && s.bottom <= t.getBoundingClientRect().bottom + 1;
  }, undefined, { timeout: 5_000 });
  await page.close();
});

test('scrolled up by the user, the transcript stays there while the answer streams on', async () => {
  const page = await open();
  await send(page, { type: 'turn', turn: answer('a') });
  await stream(page, 'a', Array.from({ length: 60 }, (_, i) => `Line ${i}.`).join('\n\n'));
  // At the end, with no scroll of ours still queued: then the user's scroll up.
  await page.waitForFunction(() => { const t = document.getElementById('transcript'); return t.scrollTop > 0 && t.scrollTop + t.clientHeight >= t.scrollHeight - 1; });
  await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
  await page.evaluate(() => new Promise((r) => {
    const t = document.getElementById('transcript');
    t.addEventListener('scroll', r, { once: true });
    t.scrollTop = 0;
  }));
  await stream(page, 'a', Array.from({ length: 20 }, (_, i) => `\n\nMore ${i}.`).join(''));
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => document.getElementById('transcript').scrollTop), 0);
  await page.close();
});

test('streaming 2,000 tokens stays linear: each finished block is rendered once', async () => {
  const page = await open();
  await send(page, { type: 'turn', turn: answer('long') });
  const para = (i: number) => `Paragraph ${i} explains *step* ${i} with \`code_${i}\` and more words here.\n\n`;
  const code = (i: number) => '```js\n' + Array.from({ length: 6 }, (_, k) => `const v${i}_${k} = ${k} * ${i};`).join('\n') + '\n```\n\n';
  let text = '';
  for (let i = 0; text.length < 2000 * 6; i++) text += i % 4 === 3 ? code(i) : para(i);
  const tokens = text.match(/[\s\S]{1,6}/g)!;
  assert.ok(tokens.length >= 2000);
  const times: number[] = [];
  for (let i = 0; i < tokens.length; i += 50) {
    const t0 = performance.now();
    await page.evaluate((parts) => { for (const p of parts) window.postMessage({ type: 'delta', id: 'long', text: p }, '*'); return new Promise((r) => setTimeout(r, 0)); }, tokens.slice(i, i + 50));
    times.push((performance.now() - t0) / Math.min(50, tokens.length - i));
  }
  await send(page, { type: 'end', id: 'long', status: 'done' });
  const stats = await page.evaluate(() => ({ blocks: document.querySelectorAll('.turn.assistant .turn-body > p, .turn.assistant .turn-body > .code-block').length }));
  const blocks = text.split('\n\n').filter((b) => b.trim()).length;
  assert.equal(stats.blocks, blocks);
  // Work, not time: the markdown rendered over the whole stream is a small multiple of the answer
  // (each token redraws only the open paragraph), where re-rendering everything would be ~tokens/2 times it.
  const rendered = await page.evaluate(() => (window as unknown as { hearthRendered?: () => number }).hearthRendered?.());
  assert.ok(typeof rendered === 'number', 'the page exposes its render count');
  assert.ok(rendered < 12 * text.length, `rendered ${rendered} chars for a ${text.length}-char answer`);
  const q = tokens.length / 50 / 4;
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const first = mean(times.slice(0, q)), last = mean(times.slice(-q));
  console.log(`# chat streaming: ${tokens.length} tokens, ${first.toFixed(3)} ms/token first quarter, ${last.toFixed(3)} ms/token last quarter, ${rendered} chars rendered for a ${text.length}-char answer`);
  await page.close();
});
