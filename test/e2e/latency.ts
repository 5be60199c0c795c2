// `npm run bench:editor`: keystroke-to-ghost-text latency in a real VS Code (code-server), with the
// VSIX `npm run package` built and the Qwen2.5-Coder-0.5B-shape fixture (Q4_0, as `npm run bench`
// writes it into .cache/bench). A scripted session types a Python file word by word at a typist's
// pace, pausing after each word as people do; the page times every keydown to the first editor
// update that draws a new ghost text. Prints one JSON object:
//   pause_latency_ms   p50/p95 over the keystrokes that end a word (the user waits there);
//   key_latency_ms     p50/p95 over every keystroke answered before the next one (type-through hits count);
//   shown_latency_ms   the extension's own request-to-shown times (HEARTH_TEST_LOG `shown` events);
//   prefill_tokens     tokens run per completion request that reached the model (HEARTH_TEST_LOG `request` events).
// Options: --model FILE, --file SOURCE (typed instead of the built-in script), --delay MS (between keys,
// default 90), --pause MS (longest wait for a suggestion after a word, default 20000), --max-tokens N
// (hearth.completion.maxTokens, default 16: random weights seldom end a line, so the fixture's
// suggestions would run to the extension's 128-token cap, which a real model's line end and time
// budget cut short).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GGMLType } from '../../engine/gguf/ggml.js';
import { fixtureModel, QWEN25_CODER_0_5B } from '../support/fixtures.js';
import { Editor } from './harness.js';

const SCRIPT = `def moving_average(values, window):
    if window <= 0:
        raise ValueError(window)
    result = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        if i + 1 >= window:
            result.append(total / window)
    return result
`;
const CONTEXT = `"""Time series helpers."""
import math


def mean(values):
    return sum(values) / len(values)


`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function stats(xs: number[]): { n: number; p50: number | null; p95: number | null; mean: number | null } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : null);
  const r = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return { n: s.length, p50: r(q(0.5)), p95: r(q(0.95)), mean: r(s.length ? s.reduce((a, b) => a + b, 0) / s.length : null) };
}

const model = resolve(arg('model') ?? fixtureModel({ ...QWEN25_CODER_0_5B, type: GGMLType.Q4_0 }, resolve('.cache/bench')));
const script = arg('file') ? readFileSync(arg('file')!, 'utf8') : SCRIPT;
const delayMs = Number(arg('delay') ?? 90);
const pauseMs = Number(arg('pause') ?? 20000);
const maxTokens = Number(arg('max-tokens') ?? 16);
const vsix = resolve('.artifacts/hearth-linux-x64.vsix');

const editor = await Editor.start({
  name: 'latency', vsix: [vsix], files: { 'series.py': CONTEXT },
  // The document ends up exactly the script: nothing is auto-indented or auto-closed.
  settings: { 'hearth.modelPath': model, 'hearth.completion.maxTokens': maxTokens, 'editor.autoIndent': 'none', 'editor.autoClosingBrackets': 'never', 'editor.autoClosingQuotes': 'never', 'editor.autoSurround': 'never' },
});
try {
  await editor.openFile('series.py');
  await editor.waitForStatus('Hearth: ready', 600_000);
  await editor.press('Control+End');
  const startEvents = editor.events().length;
  await editor.startKeyWatch();
  // Words and the spaces or newline after them: a pause follows each.
  const words = script.match(/\s*\S+/g) ?? [];
  const pauseKeys: number[] = [];
  let typed = 0;
  for (const w of words) {
    await editor.type(w, { delayMs });
    typed += w.length;
    pauseKeys.push(typed - 1);
    const end = Date.now() + pauseMs;
    while (Date.now() < end && (await editor.keyLatencies())[typed - 1]?.ghostMs == null) await sleep(50);
  }
  await sleep(500);
  const keys = await editor.stopKeyWatch();
  if (keys.length !== typed) throw new Error(`${keys.length} keydowns for ${typed} characters typed`);
  const events = editor.events().slice(startEvents);
  const requests = events.filter((e) => e.t === 'request');
  // Requests superseded during the debounce never reach the model (no prompt: prefixTokens 0).
  const ran = requests.filter((e) => Number(e.prefixTokens) > 0);
  const prefill = ran.map((e) => Number(e.prefillTokens ?? Number(e.prefixTokens) - Number(e.reusedTokens)));
  const pauses = pauseKeys.map((i) => keys[i]);
  console.log(JSON.stringify({
    model, keystrokes: keys.length, words: words.length, delay_ms: delayMs, pause_ms: pauseMs, max_tokens: maxTokens,
    pause_latency_ms: stats(pauses.filter((k) => k.ghostMs !== null).map((k) => k.ghostMs!)),
    pauses_without_ghost: pauses.filter((k) => k.ghostMs === null).length,
    key_latency_ms: stats(keys.filter((k, i) => k.ghostMs !== null && (i + 1 >= keys.length || k.at + k.ghostMs < keys[i + 1].at)).map((k) => k.ghostMs!)),
    shown_latency_ms: stats(events.filter((e) => e.t === 'shown').map((e) => Number(e.latencyMs))),
    requests: requests.length, requests_run: ran.length,
    prefill_tokens: stats(prefill),
  }));
} finally {
  await editor.stop();
}
