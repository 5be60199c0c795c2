// The completer's handling of a streamed answer, against a scripted engine (the real server's tiny
// fixture never writes multi-line code): the suggestion shows as soon as it is complete, the rest of
// the stream becomes the next suggestion, and the stream is cancelled once that one is complete too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompleteOptions, DoneResponse, GenerationHandle } from '../../engine/process/index.js';
import { DEFAULTS } from '../config.js';
import { Completer, type CompletionRequest, type Engine } from './completer.js';
import { ContextRing } from './context.js';
import { Windows } from './window.js';

/** Streams `pieces` one per `ms`, as the inference process streams tokens. */
class ScriptedEngine implements Engine {
  sent: CompleteOptions[] = [];
  streamed = 0;
  cancelled = false;
  constructor(private readonly pieces: string[], private readonly ms = 5) {}

  complete(opts: CompleteOptions, onToken?: (t: { text: string }) => void): GenerationHandle {
    this.sent.push(opts);
    let stop = false;
    const result = (async (): Promise<DoneResponse> => {
      let text = '';
      for (const p of this.pieces) {
        if (stop) break;
        await new Promise((r) => setTimeout(r, this.ms));
        text += p;
        this.streamed++;
        onToken?.({ text: p });
      }
      const timings = { promptTokens: 10, prefillTokens: 1, reusedTokens: 9, trimmedChars: 0, prefillMs: 1, ttftMs: 1, decodeTokens: this.streamed, decodeTokPerS: 100, decodeSteps: this.streamed, draftTokens: 0, draftAccepted: 0, totalMs: 10 };
      return { type: 'done', id: 'c1', reason: stop ? 'cancelled' : 'eos', text, timings };
    })();
    return { id: 'c1', result, cancel: () => { stop = true; this.cancelled = true; } };
  }
}

function at(before: string, after = '\n'): CompletionRequest {
  const lines = (before + after).split('\n');
  const line = before.split('\n').length - 1;
  const r = new Windows().take('file:///a.py', { lineCount: lines.length, lineAt: (i) => ({ text: lines[i] }) }, line, before.length - before.lastIndexOf('\n') - 1);
  assert.ok(r.ok);
  return { key: { doc: 'file:///a.py', anchor: 0, prefix: r.window.prefix, suffix: r.window.suffix }, window: r.window, fileName: 'a.py', language: 'python', insertSpaces: true, tabSize: 4, isCurrent: () => true };
}

test('shown as soon as the block ends; the rest of the stream is the suggestion after accepting', async () => {
  // The function body, then a new top-level function (the next suggestion), then more after that.
  const pieces = ['\n', '    return', ' a + b', '\n', '\n', 'def', ' sub(a, b):', '\n', '    return a - b', '\n', '\n', 'print', '(1)', '\n', 'x', ' = 1', '\n'];
  const engine = new ScriptedEngine(pieces, 20);
  const c = new Completer(() => ({ ...DEFAULTS, debounceMs: 0 }), () => engine, new ContextRing());
  const doc = 'def add(a, b):';
  const items = await c.provide(at(doc));
  assert.deepEqual(items, ['\n    return a + b']);
  // Shown when "def" arrived: the stream was still going.
  assert.ok(engine.streamed < pieces.length, `${engine.streamed} of ${pieces.length} pieces streamed when shown`);
  assert.equal(engine.sent[0].lineBudgetMs, DEFAULTS.timeBudgetMs);
  assert.equal(engine.sent[0].maxTokens, DEFAULTS.maxTokens);
  assert.equal(engine.sent[0].speculate, undefined, 'speculative decoding as the server decides');
  while (!engine.cancelled && engine.streamed < pieces.length) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30));
  // Once the next suggestion (up to "print") was complete too, the stream was stopped.
  assert.ok(engine.cancelled && engine.streamed < pieces.length, `${engine.streamed} streamed`);
  const next = await c.provide(at(doc + '\n    return a + b'));
  assert.deepEqual(next, ['\n\ndef sub(a, b):\n    return a - b']);
  assert.equal(engine.sent.length, 1, 'the next suggestion came from the same stream');
});

test('text after the cursor: one line, shown at its newline, the stream cancelled at once', async () => {
  const engine = new ScriptedEngine(['a', ', b', ')', '\n', 'more', '\n']);
  const c = new Completer(() => ({ ...DEFAULTS, debounceMs: 0 }), () => engine, new ContextRing());
  assert.deepEqual(await c.provide(at('f(', ')\n')), ['a, b']);
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(engine.cancelled);
  assert.equal(engine.streamed, 4);
});

test('hearth.completion.speculative off: requests ask for plain decoding', async () => {
  const engine = new ScriptedEngine(['a', ', b', ')', '\n']);
  const c = new Completer(() => ({ ...DEFAULTS, debounceMs: 0, speculative: false }), () => engine, new ContextRing());
  assert.deepEqual(await c.provide(at('f(', ')\n')), ['a, b']);
  assert.equal(engine.sent[0].speculate, 0);
});
