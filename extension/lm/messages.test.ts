// The language model API's messages mapped for the inference process, the model's limits from its
// load report, and the token counter's batching and memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadReport } from '../../engine/process/index.js';
import { TokenCounter, UnsupportedInput, messageText, modelInfo, toChatMessages } from './messages.js';

// The shapes of VS Code's part classes (LanguageModelTextPart, ...ToolCallPart, ...ToolResultPart, ...DataPart).
const text = (value: string) => ({ value });
const toolCall = { callId: 'c1', name: 'readFile', input: { path: 'a.ts' } };
const toolResult = { callId: 'c1', content: [text('file text')] };
const image = { mimeType: 'image/png', data: new Uint8Array(4) };

test('user, assistant and system messages map to chat messages, text parts joined', () => {
  assert.deepEqual(toChatMessages([
    { role: 3, content: [text('Be brief.')] },
    { role: 1, content: [text('What is '), text('a closure?')], name: 'me' },
    { role: 2, content: [text('A function with its scope.')] },
    { role: 1, content: [] },
  ]), [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is a closure?' },
    { role: 'assistant', content: 'A function with its scope.' },
    { role: 'user', content: '' },
  ]);
});

test('tool calls, tool results, images and unknown roles are refused, saying what and where', () => {
  const refused = (content: unknown[], role = 1) => {
    try {
      toChatMessages([{ role: 1, content: [text('hi')] }, { role, content }]);
    } catch (e) {
      assert.ok(e instanceof UnsupportedInput);
      return e.message;
    }
    assert.fail('not refused');
  };
  assert.match(refused([text('x'), toolCall], 2), /^message 2 \(assistant\) holds a tool call \(readFile\): Hearth's local model takes text only \(no tool calls, tool results or images\)$/);
  assert.match(refused([toolResult]), /message 2 \(user\) holds a tool result/);
  assert.match(refused([image]), /message 2 \(user\) holds an image \(image\/png\)/);
  assert.match(refused([{ mimeType: 'application/json', data: new Uint8Array(1) }]), /holds a data part \(application\/json\)/);
  assert.match(refused([{ value: { tsx: true } }]), /holds a part that is not text/);
  assert.match(refused(['raw string']), /holds a string/);
  assert.match(refused([text('x')], 7), /^message 2 has role 7: Hearth's local model takes user, assistant and system messages$/);
  assert.throws(() => toChatMessages([]), /the request has no messages/);
});

test('a message\'s counted text is its text parts', () => {
  assert.equal(messageText({ role: 1, content: [text('a'), toolCall, text('b')] }), 'ab');
});

const report = (o: Partial<LoadReport> = {}): LoadReport => ({
  model: '/models/qwen2.5-coder-0.5b-instruct-q8_0.gguf', role: 'complete', name: 'Qwen2.5 Coder 0.5B Instruct', arch: 'qwen2', fileType: 'Q8_0',
  backend: 'webgpu', device: 'llvmpipe', nCtx: 8192, nSeq: 2, nVocab: 151936, nLayer: 24, nEmbd: 896, nHead: 14, nHeadKv: 2,
  fileBytes: 1, weightBytes: 1, kvBytes: 1, scratchBytes: 0, loadMs: 1, fim: true, chat: true, ...o,
});

test('the model\'s information: its name, file, and limits that add up to its context', () => {
  const i = modelInfo(report(), 1024);
  assert.equal(i.id, 'qwen2.5-coder-0.5b-instruct-q8_0');
  assert.equal(i.name, 'Qwen2.5 Coder 0.5B Instruct');
  assert.equal(i.family, 'qwen2');
  assert.equal(i.version, 'Q8_0');
  assert.equal(i.maxOutputTokens, 1024);
  assert.equal(i.maxInputTokens, 8192 - 1024);
  assert.deepEqual(i.capabilities, { imageInput: false, toolCalling: false });
  // A small context: answers get half of it at most.
  const small = modelInfo(report({ nCtx: 512, name: '', model: 'C:\\m\\tiny.GGUF' }), 4096);
  assert.deepEqual([small.id, small.name, small.maxInputTokens, small.maxOutputTokens], ['tiny', 'tiny.GGUF', 256, 256]);
});

test('token counts: one request per tick for distinct texts, kept per model, dropped when the model changes', async () => {
  const requests: string[][] = [];
  const c = new TokenCounter(async (texts) => {
    requests.push(texts);
    return texts.map((t) => t.length);
  });
  assert.deepEqual(await Promise.all([c.tokens('m1', 'abc'), c.tokens('m1', 'de'), c.tokens('m1', 'abc')]), [3, 2, 3]);
  assert.deepEqual(requests, [['abc', 'de']]);
  assert.equal(await c.tokens('m1', 'de'), 2);
  assert.equal(requests.length, 1, 'a known count is not asked again');
  assert.equal(await c.tokens('m2', 'de'), 2);
  assert.deepEqual(requests.at(-1), ['de'], 'another model counts afresh');
  // More texts than one request may carry go in several.
  const many = Array.from({ length: 1500 }, (_, i) => `t${i}`);
  assert.deepEqual(await Promise.all(many.map((t) => c.tokens('m2', t))), many.map((t) => t.length));
  assert.deepEqual(requests.slice(-2).map((r) => r.length), [1024, 476]);
});

test('a failed count rejects every call of its batch, and the next call asks again', async () => {
  let fail = true;
  const c = new TokenCounter(async (texts) => {
    if (fail) throw new Error('no model is loaded');
    return texts.map(() => 1);
  });
  const r = await Promise.allSettled([c.tokens('m', 'a'), c.tokens('m', 'b')]);
  assert.deepEqual(r.map((x) => x.status), ['rejected', 'rejected']);
  fail = false;
  assert.equal(await c.tokens('m', 'a'), 1);
});
