// Every message shape survives the trip through JSON (what the IPC channel does) unchanged, and
// malformed messages are refused with an error that names the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROTOCOL_VERSION, ProtocolError, isFinal, parseRequest, parseResponse, type Request, type Response,
} from './protocol.js';

const trip = (m: unknown) => JSON.parse(JSON.stringify(m));

const requests: Request[] = [
  { type: 'hello', version: PROTOCOL_VERSION },
  { type: 'load', id: 'l1', model: '/models/qwen.gguf', backend: 'webgpu', nCtx: 4096 },
  { type: 'load', id: 'l2', model: 'C:\\models\\m.gguf', backend: 'reference', nCtx: 16, maxDeviceBytes: 8e9 },
  { type: 'load', id: 'l3', model: '/models/chat.gguf', backend: 'webgpu', nCtx: 4096, role: 'chat' },
  { type: 'unload', id: 'u1', role: 'chat' },
  { type: 'complete', id: 'c1', prefix: 'def f(x):\n    return ', suffix: '\n\nprint(f(2))\n', maxTokens: 64 },
  {
    type: 'complete', id: 'c2', prefix: 'é😀\u0000', suffix: '', fileName: 'src/a.ts', language: 'typescript', maxTokens: 1,
    stop: ['\n\n', '}'], timeBudgetMs: 250.5, cache: false, sampling: { temperature: 0.7, topK: 20, topP: 0.9, seed: 42 }, speculate: 0,
  },
  {
    type: 'complete', id: 'c3', prefix: 'x = ', suffix: '', maxTokens: 0, lineBudgetMs: 500, alternatives: 3, repoName: 'demo',
    context: [{ name: 'src/a.py', text: 'def a():\n    pass\n' }, { name: 'clipboard', text: '' }],
  },
  { type: 'probe', id: 'p1' },
  { type: 'explain', id: 'e1', code: 'x = 1', language: 'python', maxTokens: 256, sampling: { temperature: 0 }, speculate: 15 },
  { type: 'explain', id: 'e2', code: 'y', maxTokens: 8, sampling: { temperature: 0, minP: 0.1, repeatPenalty: 1.1, repeatLastN: -1 } },
  { type: 'chat', id: 'h1', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: '' }], maxTokens: 512 },
  { type: 'cancel', id: 'h1' },
  { type: 'count', id: 'n1', texts: ['def f():', '', '<|im_start|>é😀'] },
  { type: 'count', id: 'n2', texts: [] },
  { type: 'stats', id: 's1' },
  { type: 'shutdown', id: 'x1' },
];

const timings = { promptTokens: 10, prefillTokens: 3, reusedTokens: 7, trimmedChars: 0, prefillMs: 1.5, ttftMs: 2.25, decodeTokens: 4, decodeTokPerS: 100, decodeSteps: 2, draftTokens: 3, draftAccepted: 2, totalMs: 9 };
const report = {
  model: '/m.gguf', role: 'complete' as const, name: 'fixture', arch: 'qwen2', fileType: 'Q4_0', backend: 'reference' as const, device: 'cpu', nCtx: 2048, nSeq: 2,
  nVocab: 151643, nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2,
  fileBytes: 1e6, weightBytes: 9e5, kvBytes: 65536, scratchBytes: 0, loadMs: 12.5, fim: true, chat: false,
};
const responses: Response[] = [
  { type: 'hello', version: PROTOCOL_VERSION, pid: 1234 },
  { type: 'progress', id: 'l1', loadedBytes: 10, totalBytes: 100 },
  { type: 'loaded', id: 'l1', report },
  { type: 'loaded', id: 'l2', report: { ...report, role: 'chat', chat: true, chatFallback: 'chatml' } },
  { type: 'unloaded', id: 'u1', role: 'chat', freed: true },
  { type: 'token', id: 'c1', token: 151643, text: '' },
  { type: 'token', id: 'c1', token: 5, text: 'é' },
  { type: 'done', id: 'c1', reason: 'superseded', text: 'ab', timings },
  { type: 'done', id: 'c2', reason: 'eos', text: '', timings: { ...timings, ttftMs: -1 } },
  { type: 'done', id: 'c3', reason: 'time', text: 'a\n', timings, alternatives: ['b', ''] },
  { type: 'probe', id: 'p1', report: { node: 'v22.23.2', platform: 'linux', arch: 'x64', adapter: 'llvmpipe', software: true, ms: 12 } },
  { type: 'probe', id: 'p2', report: { node: 'v20.0.0', electron: '37.2.0', platform: 'darwin', arch: 'arm64', adapter: 'Apple M2', software: false, ms: 3 } },
  { type: 'error', id: 'h1', code: 'context-overflow', message: 'too long', needed: 5000, available: 4096 },
  { type: 'error', id: null, code: 'device-lost', message: 'lost' },
  { type: 'stats', id: 's1', stats: { pid: 1, uptimeMs: 5, model: report, chatModel: { ...report, role: 'chat' }, slots: [{ name: 'complete', tokens: 12 }], requests: 3, active: 0, prefillTokens: 40, reusedTokens: 9, rssBytes: 1e8, pipelines: { compiled: 40, firstUses: 38 } } },
  { type: 'stats', id: 's2', stats: { pid: 1, uptimeMs: 5, model: null, chatModel: null, slots: [], requests: 0, active: 0, prefillTokens: 0, reusedTokens: 0, rssBytes: 1e8, pipelines: { compiled: 0, firstUses: 0 } } },
  { type: 'count', id: 'n1', counts: [4, 0, 7] },
  { type: 'bye', id: 'x1' },
];

test('every request round-trips through JSON unchanged', () => {
  for (const r of requests) assert.deepEqual(parseRequest(trip(r)), r, r.type);
});

test('every response round-trips through JSON unchanged', () => {
  for (const r of responses) assert.deepEqual(parseResponse(trip(r)), r, r.type);
});

test('final messages are loaded, unloaded, done, error, stats, count and bye', () => {
  assert.deepEqual(responses.map(isFinal), [false, false, true, true, true, false, false, true, true, true, true, true, true, true, true, true, true, true]);
});

test('malformed requests are refused naming the field', () => {
  const bad: [unknown, RegExp][] = [
    [null, /must be an object/],
    [{ type: 'fly' }, /unknown request type "fly"/],
    [{ type: 'complete', id: 'c', prefix: 1, suffix: '', maxTokens: 4 }, /field "prefix" must be a string/],
    [{ type: 'chat', id: 'h', messages: [{ role: 'user', content: 'x' }], maxTokens: 0 }, /field "maxTokens" must be an integer in 1\.\./],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: -1 }, /field "maxTokens" must be an integer in 0\.\./],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, alternatives: 9 }, /field "alternatives" must be an integer in 1\.\.8/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, context: [{ name: 'a' }] }, /context\[0\]: field "text"/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, context: 'x' }, /field "context" must be at most 64 chunks/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 2.5 }, /maxTokens/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, stop: [''] }, /field "stop"/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, stop: new Array(17).fill('x') }, /at most 16/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, timeBudgetMs: -1 }, /timeBudgetMs/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, sampling: { topP: 2 } }, /topP/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, sampling: { minP: -0.5 } }, /field "minP" must be a finite number in 0\.\.1/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, sampling: { repeatPenalty: 0 } }, /field "repeatPenalty" must be a number in \(0, 100\]/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, sampling: { repeatLastN: -2 } }, /field "repeatLastN" must be an integer in -1\.\./],
    [{ type: 'complete', prefix: '', suffix: '', maxTokens: 4 }, /field "id" must be a string/],
    [{ type: 'complete', id: 'c', prefix: '', suffix: '', maxTokens: 4, speculate: 16 }, /field "speculate" must be an integer in 0\.\.15/],
    [{ type: 'chat', id: 'h', messages: [{ role: 'user', content: 'x' }], maxTokens: 4, speculate: -1 }, /field "speculate" must be an integer in 0\.\.15/],
    [{ type: 'load', id: 'l', model: 'm', backend: 'cuda', nCtx: 128 }, /field "backend" must be one of webgpu, reference/],
    [{ type: 'load', id: 'l', model: 'm', backend: 'webgpu', nCtx: 1 << 30 }, /nCtx/],
    [{ type: 'load', id: 'l', model: 'm', backend: 'webgpu', nCtx: 128, role: 'embed' }, /field "role" must be one of complete, chat/],
    [{ type: 'unload', id: 'u' }, /unload request: field "role" must be one of complete, chat/],
    [{ type: 'chat', id: 'h', messages: [], maxTokens: 4 }, /field "messages" must be 1\.\./],
    [{ type: 'chat', id: 'h', messages: [{ role: 'tool', content: 'x' }], maxTokens: 4 }, /messages\[0\]: field "role"/],
    [{ type: 'count', id: 'n', texts: 'abc' }, /count request: field "texts" must be at most 1024 strings, got "abc"/],
    [{ type: 'count', id: 'n', texts: ['a', 3] }, /count request: field "texts"/],
    [{ type: 'count', id: 'n', texts: new Array(1025).fill('') }, /at most 1024 strings, got an array of 1025/],
  ];
  for (const [m, re] of bad) assert.throws(() => parseRequest(m), (e: Error) => e instanceof ProtocolError && re.test(e.message), JSON.stringify(m));
});

test('malformed responses are refused', () => {
  assert.throws(() => parseResponse({ type: 'done', id: 'c', reason: 'bored', text: '', timings }), /field "reason" must be one of/);
  assert.throws(() => parseResponse({ type: 'error', id: 'c', code: 'oops', message: '' }), /field "code"/);
  assert.throws(() => parseResponse({ type: 'token', id: 'c', token: -1, text: '' }), /field "token"/);
  assert.throws(() => parseResponse({ type: 'unloaded', id: 'u', role: 'chat' }), /field "freed" must be a boolean/);
  assert.throws(() => parseResponse({ type: 'count', id: 'n', counts: [1, -1] }), /count response: field "counts"/);
  assert.throws(() => parseResponse({ type: 'count', id: 'n', counts: [1.5] }), /count response: field "counts"/);
  assert.throws(() => parseResponse({ type: 'loaded', id: 'l', report: { ...report, role: undefined } }), /load report: field "role"/);
  assert.throws(() => parseResponse({ type: 'done', id: 'c', reason: 'eos', text: '', timings: { ...timings, prefillMs: 'x' } }), /timings: field "prefillMs"/);
  assert.throws(() => parseResponse({ type: 'done', id: 'c', reason: 'eos', text: '', timings: { ...timings, draftAccepted: undefined } }), /timings: field "draftAccepted"/);
});
