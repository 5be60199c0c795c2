// The inference process end to end: forked by the client, on the reference backend with a tiny
// qwen2 fixture. Answers are checked against greedy decoding done here with the reference model,
// and prefill counts against the token prefix the cache must already hold.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readGGUF } from '../engine/gguf/gguf.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { ChatTemplate, fallbackTemplate, renderChat, specialTokens } from '../engine/prompt/chat-template.js';
import { commonPrefix } from '../engine/process/slot.js';
import { InferenceClient, type ExitInfo } from '../engine/process/client.js';
import { GREEDY, PROTOCOL_VERSION, type DoneResponse, type ErrorResponse, type LoadReport, type Response, type Sampling } from '../engine/process/protocol.js';
import { ReferenceModel } from '../engine/model/reference.js';
import { loadConfig } from '../engine/model/model.js';
import { Sampler } from '../engine/model/sampler.js';
import { greedy, serverBundle, tinyChatModel, tinyModel, withChatTemplate } from './support/inference-fixtures.js';
import { fixtureModel } from './support/fixtures.js';
import { npmTemplate } from './support/templates.js';
import { GGMLType } from '../engine/gguf/ggml.js';

const N_CTX = 512;
let serverPath: string;
let model: string;
let tok: Tokenizer;
let template: ChatTemplate;
let client: InferenceClient;

const enc = (s: string) => tok.encode(s, { addBos: false, parseSpecial: false });
/** The prompt the server must lay out for a short document (no trimming, no file name). */
function fimPrompt(prefix: string, suffix: string): number[] {
  const cut = prefix.lastIndexOf('\n') + 1;
  return [tok.fim.pre!, ...enc(prefix.slice(0, cut)), tok.fim.suf!, ...enc(suffix), tok.fim.mid!, ...enc(prefix.slice(cut))];
}
function chatPrompt(messages: { role: 'system' | 'user' | 'assistant'; content: string }[], t = template): number[] {
  return tok.encode(renderChat(t, messages, { ...specialTokens(tok), addGenerationPrompt: true }), { addBos: false, parseSpecial: true });
}
function done(r: DoneResponse | ErrorResponse): DoneResponse {
  assert.equal(r.type, 'done', r.type === 'error' ? `${r.code}: ${r.message}` : '');
  return r as DoneResponse;
}

before(async () => {
  serverPath = await serverBundle();
  model = tinyChatModel();
  const g = readGGUF(model);
  tok = Tokenizer.fromGGUF(g);
  template = new ChatTemplate(g.metadata.get('tokenizer.chat_template') as string);
  client = new InferenceClient({ serverPath, restartDelayMs: 50 });
  client.on('log', (l) => process.stderr.write(`[server] ${l}\n`));
  await client.start();
});

after(async () => {
  await client?.close();
});

test('requests before a load are refused; the load reports the model', async () => {
  const r = await client.complete({ prefix: 'x', suffix: '', maxTokens: 2 }).result;
  assert.equal(r.type, 'error');
  assert.equal((r as ErrorResponse).code, 'not-loaded');
  await assert.rejects(client.count(['x']), (e: Error & { code?: string }) => e.code === 'not-loaded' && /no model is loaded/.test(e.message));
  const report: LoadReport = await client.load({ model, backend: 'reference', nCtx: N_CTX });
  assert.equal(report.backend, 'reference');
  assert.equal(report.nCtx, N_CTX);
  assert.equal(report.nSeq, 2);
  assert.equal(report.role, 'complete');
  assert.equal(report.arch, 'qwen2');
  assert.ok(report.fim && report.chat);
  await assert.rejects(client.load({ model: '/nonexistent/model.gguf', backend: 'reference', nCtx: N_CTX }), (e: Error & { code?: string }) => e.code === 'load-failed' && /nonexistent/.test(e.message));
  await client.load({ model, backend: 'reference', nCtx: N_CTX });
});

test('count: each text\'s tokens with the model\'s tokenizer (special-token text as plain text), answered while a chat streams', async () => {
  const texts = ['def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n', '', 'é😀 naïve', '<|im_start|>user'];
  const want = texts.map((t) => enc(t).length);
  assert.ok(want[0] > 10 && want[3] > 1, `the fixture's tokenizer splits the texts (${want})`);
  assert.deepEqual(await client.count(texts), want);
  // A count sent during a long answer comes back before the answer ends.
  let counted: number[] | undefined;
  let tokensBeforeCount = -1, tokens = 0;
  const long = client.chat({ messages: [{ role: 'user', content: 'Tell a long story.' }], maxTokens: 200 }, () => {
    tokens++;
    if (tokens === 1) void client.count([texts[0]]).then((c) => { counted = c; tokensBeforeCount = tokens; });
  });
  const r = done(await long.result);
  assert.deepEqual(counted, [want[0]]);
  assert.ok(tokensBeforeCount < r.timings.decodeTokens, `the count came after ${tokensBeforeCount} of ${r.timings.decodeTokens} tokens`);
});

test('each request prefills exactly the tokens its slot lacks, and answers as the reference model does', async () => {
  const suffix = '\n\nprint(add(1, 2))\n';
  const steps: { prefix: string; cache?: boolean }[] = [
    { prefix: 'def add(a, b):\n    re' },
    { prefix: 'def add(a, b):\n    ret' }, // one keystroke on the cursor line
    { prefix: 'def add(a, b):\n    return a + b\n' }, // a new line
    { prefix: 'def add(a, b):\n    return a + b\n' }, // the same prompt again
    { prefix: 'def add(a, b):\n    return a + b\n', cache: false },
  ];
  let held: number[] = [];
  const prefilled: number[] = [];
  for (const [i, s] of steps.entries()) {
    const prompt = fimPrompt(s.prefix, suffix);
    const tokens: number[] = [];
    const r = done(await client.complete({ prefix: s.prefix, suffix, maxTokens: 4, cache: s.cache }, (t) => tokens.push(t.token)).result);
    const reuse = s.cache === false ? 0 : Math.min(commonPrefix(held, prompt), prompt.length - 1);
    assert.equal(r.timings.promptTokens, prompt.length, `step ${i}`);
    assert.equal(r.timings.reusedTokens, reuse, `step ${i}`);
    assert.equal(r.timings.prefillTokens, prompt.length - reuse, `step ${i}`);
    prefilled.push(r.timings.prefillTokens);
    assert.equal(r.reason, 'length');
    assert.equal(r.timings.decodeTokens, 4);
    // The slot now holds the prompt and every generated token but the last (never fed back).
    held = [...prompt, ...tokens.slice(0, -1)];
    const stats = await client.stats();
    assert.equal(stats.slots.find((x) => x.name === 'complete')!.tokens, held.length, `step ${i}`);
    if (i === 0) {
      const want = await greedy(model, prompt, 4);
      assert.deepEqual(tokens, want.tokens);
      assert.equal(r.text, want.text);
    }
  }
  // A keystroke on the cursor line re-runs a token or two; a repeated prompt only its last token.
  assert.ok(prefilled[1] <= 2 && prefilled[3] === 1 && prefilled[4] === fimPrompt(steps[4].prefix, suffix).length, prefilled.join(' '));
});

test('context chunks go first and stay cached; a prefill-only request pre-loads them; the answer is the reference model\'s', async () => {
  const context = [{ name: 'util.py', text: 'def double(x):\n    return 2 * x\n' }, { name: 'clipboard', text: 'total = double(21)\n' }];
  const head = context.flatMap((c) => [tok.fim.sep!, ...enc(`${c.name}\n${c.text}`)]);
  const suffix = '\n';
  const prefix = 'import util\nprint(';
  const preload = done(await client.complete({ prefix, suffix, context, maxTokens: 0 }).result);
  assert.equal(preload.reason, 'length');
  assert.equal(preload.text, '');
  assert.equal(preload.timings.decodeTokens, 0);
  const prompt = [...head, ...fimPrompt(prefix, suffix)];
  assert.equal(preload.timings.promptTokens, prompt.length);
  const stats = await client.stats();
  assert.equal(stats.slots.find((x) => x.name === 'complete')!.tokens, prompt.length, 'the whole prompt is cached');

  // The next keystroke finds the context, the document and the cursor line cached.
  const r = done(await client.complete({ prefix: prefix + 'u', suffix, context, maxTokens: 4 }).result);
  const typed = [...head, ...fimPrompt(prefix + 'u', suffix)];
  assert.equal(r.timings.promptTokens, typed.length);
  assert.ok(r.timings.prefillTokens <= 2, `prefilled ${r.timings.prefillTokens}`);
  assert.equal(r.text, (await greedy(model, typed, 4)).text);
});

test('alternatives branch at the first token: the best first, each the reference model\'s continuation', async () => {
  const prefix = 'def fib(n):\n    if n < 2:\n        return ';
  const suffix = '\n';
  const prompt = fimPrompt(prefix, suffix);
  const r = done(await client.complete({ prefix, suffix, maxTokens: 3, alternatives: 3 }).result);
  assert.equal(r.alternatives?.length, 2);
  assert.equal(r.text, (await greedy(model, prompt, 3)).text);
  // The first tokens are the prompt's top three, in order; each continues greedily.
  const g = readGGUF(model);
  const ref = (await import('../engine/model/reference.js')).ReferenceModel.load(g, { nCtx: N_CTX });
  const logits = await ref.forward(0, prompt, 0);
  ref.dispose();
  const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 3);
  for (const [k, first] of order.slice(1).entries()) {
    const rest = await greedy(model, [...prompt, first], 2);
    assert.equal(r.alternatives![k], tok.decode([first, ...rest.tokens]), `alternative ${k + 1}`);
  }
  assert.equal(new Set([r.text, ...r.alternatives!]).size, 3);
});

test('speculative decoding changes nothing but the steps: the same tokens, greedy and sampled, with it off, on by default and at most', async () => {
  const prefix = 'def f(a):\n    return a\n\ndef g(a):\n    return a\n\ndef h(a):\n    ', suffix = '\n';
  for (const sampling of [{}, { temperature: 0.8, seed: 5, repeatPenalty: 1.1 }]) {
    const runs = [];
    for (const speculate of [0, undefined, 15]) {
      const tokens: number[] = [];
      const r = done(await client.complete({ prefix, suffix, maxTokens: 32, sampling, speculate }, (t) => tokens.push(t.token)).result);
      runs.push({ speculate, tokens, r });
      const t = r.timings;
      // Whether drafts are checked depends on what steps cost (DraftPolicy); the counts always add up.
      if (r.reason === 'length') assert.equal(t.decodeTokens, 1 + t.decodeSteps + t.draftAccepted, `speculate ${speculate}: each step gives one token and the drafts it kept`);
      assert.ok(t.draftAccepted <= t.draftTokens);
    }
    assert.equal(runs[0].r.timings.draftTokens, 0);
    for (const x of runs.slice(1)) {
      assert.deepEqual(x.tokens, runs[0].tokens, `speculate ${x.speculate}, ${JSON.stringify(sampling)}`);
      assert.equal(x.r.text, runs[0].r.text);
      assert.equal(x.r.reason, runs[0].r.reason);
    }
  }
});

test('line budget: once spent, generation ends at the next token with a newline', async () => {
  // The tiny model's answers are arbitrary: sample (seeded, so both runs draw the same tokens) until one has a newline.
  let found = false;
  const prefix = 'def f(a):\n    ';
  for (let seed = 1; seed <= 30 && !found; seed++) {
    const sampling = { temperature: 1.5, topK: 0, topP: 1, seed };
    const full = done(await client.complete({ prefix, suffix: '\n', maxTokens: 48, sampling }).result);
    const tokens: string[] = [];
    const cut = done(await client.complete({ prefix, suffix: '\n', maxTokens: 48, sampling, lineBudgetMs: 0 }, (t) => tokens.push(t.text)).result);
    const nl = full.text.indexOf('\n');
    if (nl < 0) {
      assert.notEqual(cut.reason, 'time');
      continue;
    }
    found = true;
    assert.equal(cut.reason, 'time');
    assert.ok(tokens.at(-1)!.includes('\n') && !tokens.slice(0, -1).some((t) => t.includes('\n')), JSON.stringify(tokens));
    assert.equal(cut.text, full.text.slice(0, cut.text.length));
    assert.ok(cut.text.length > nl, 'the newline is kept');
  }
  assert.ok(found, 'no seed gave an answer with a newline');
});

test('chat and completion keep separate slots: neither evicts the other', async () => {
  const messages = [{ role: 'user' as const, content: 'Write a function that adds two numbers.' }];
  const prompt = chatPrompt(messages);
  const c1 = done(await client.chat({ messages, maxTokens: 6 }).result);
  const want = await greedy(model, prompt, 6);
  assert.equal(c1.text, want.text);
  assert.equal(c1.timings.promptTokens, prompt.length);

  const prefix = 'class Stack:\n    def push(self, x):\n        self.items.app';
  const a = done(await client.complete({ prefix, suffix: '\n', maxTokens: 3 }).result);
  const c2 = done(await client.chat({ messages, maxTokens: 6 }).result);
  assert.equal(c2.timings.prefillTokens, 1, 'the chat slot still holds the whole conversation');
  assert.equal(c2.text, c1.text);
  const b = done(await client.complete({ prefix: prefix + 'e', suffix: '\n', maxTokens: 3 }).result);
  assert.ok(a.timings.prefillTokens > 10);
  assert.ok(b.timings.prefillTokens <= 3, `completion after a chat prefilled ${b.timings.prefillTokens}`);

  // Explain goes through the chat template and the chat slot.
  const code = 'def add(a, b):\n    return a + b\n';
  const ex = done(await client.explain({ code, language: 'python', maxTokens: 3 }).result);
  assert.equal(ex.reason, 'length');
  assert.ok(ex.timings.promptTokens > enc(code).length + 10);
  const stats = await client.stats();
  assert.equal(stats.slots.find((x) => x.name === 'chat')!.tokens, ex.timings.promptTokens + 2);
});

test('a completion that arrives during a chat runs first; the chat resumes unchanged', async () => {
  const messages = [{ role: 'user' as const, content: 'Explain recursion in one sentence.' }];
  const want = await greedy(model, chatPrompt(messages), 12);
  const order: string[] = [];
  let completion: Promise<DoneResponse | ErrorResponse> | undefined;
  const chat = client.chat({ messages, maxTokens: 12 }, () => {
    completion ??= client.complete({ prefix: 'let x = ', suffix: ';\n', maxTokens: 3 }).result.then((r) => (order.push('completion'), r));
  });
  const c = done(await chat.result.then((r) => (order.push('chat'), r)));
  done(await completion!);
  assert.deepEqual(order, ['completion', 'chat']);
  assert.equal(c.text, want.text);
});

test('storm: hundreds of rapid completions end with exactly one answer each, the last one complete', async () => {
  const finals = new Map<string, number>();
  const late: string[] = [];
  const onMessage = (r: Response) => {
    if (r.type === 'hello' || r.id === null) return;
    if (finals.has(r.id)) late.push(`${r.type} after the final message of ${r.id}`);
    if (r.type === 'done' || r.type === 'error') finals.set(r.id, (finals.get(r.id) ?? 0) + 1);
  };
  client.on('message', onMessage);
  const base = 'function fib(n) {\n  if (n < 2) return n;\n  return ';
  const text = 'fib(n - 1) + fib(n - 2);\n}\n'.repeat(12);
  const handles = [];
  for (let i = 1; i <= 300; i++) handles.push(client.complete({ prefix: base + text.slice(0, i), suffix: '\n', maxTokens: 6 }));
  const results = await Promise.all(handles.map((h) => h.result));
  client.off('message', onMessage);
  assert.deepEqual(late, []);
  for (const h of handles) assert.equal(finals.get(h.id), 1, `${h.id} got ${finals.get(h.id)} final messages`);
  const last = done(results.pop()!);
  assert.equal(last.reason, 'length');
  for (const r of results) assert.equal(done(r).reason, 'superseded');
  const want = await greedy(model, fimPrompt(base + text.slice(0, 300), '\n'), 6);
  assert.equal(last.text, want.text);
  const stats = await client.stats();
  assert.equal(stats.active, 0, 'no request left open in the server');
  assert.equal(client.inFlight, 0, 'no request left open in the client');
});

test('cancel stops a chat at a token boundary with reason cancelled', async () => {
  let n = 0;
  const h = client.chat({ messages: [{ role: 'user', content: 'Count to one hundred.' }], maxTokens: 200 }, () => {
    if (++n === 2) h.cancel();
  });
  const r = done(await h.result);
  assert.equal(r.reason, 'cancelled');
  // The cancel lands a token or two after it was sent, never 200 tokens later.
  assert.ok(r.timings.decodeTokens >= 2 && r.timings.decodeTokens < 10, `${r.timings.decodeTokens} tokens`);
});

test('limits: stop strings, time budget, trimmed long documents, refused long chats', async () => {
  const prefix = 'import math\n\ndef area(r):\n    return ';
  const full = done(await client.complete({ prefix, suffix: '\n', maxTokens: 10 }).result);
  const k = Math.floor(full.text.length / 2);
  const stop = full.text.slice(k, k + 2);
  const stopped = done(await client.complete({ prefix, suffix: '\n', maxTokens: 10, stop: ['@@never@@', stop] }).result);
  assert.equal(stopped.reason, 'stop');
  assert.equal(stopped.text, full.text.slice(0, full.text.indexOf(stop)));

  const timed = done(await client.complete({ prefix, suffix: '\n', maxTokens: 400, timeBudgetMs: 30, cache: false }).result);
  assert.equal(timed.reason, 'time');
  assert.ok(timed.timings.decodeTokens < 100, `${timed.timings.decodeTokens} tokens in a 30 ms budget`);

  const lines = Array.from({ length: 3000 }, (_, i) => `x${i} = ${i} * ${i}\n`).join('');
  const long = done(await client.complete({ prefix: lines + 'y = ', suffix: lines, maxTokens: 8 }).result);
  assert.ok(long.timings.trimmedChars > lines.length, `trimmed ${long.timings.trimmedChars}`);
  assert.ok(long.timings.promptTokens <= N_CTX - 8, `${long.timings.promptTokens} prompt tokens`);
  assert.equal(long.reason, 'length');

  const chat = await client.chat({ messages: [{ role: 'user', content: 'word '.repeat(N_CTX) }], maxTokens: 8 }).result;
  assert.equal(chat.type, 'error');
  const e = chat as ErrorResponse;
  assert.equal(e.code, 'context-overflow');
  assert.equal(e.available, N_CTX);
  assert.ok(e.needed! > N_CTX && /over the context of 512 tokens/.test(e.message));
});

test('sampling options reach the sampler: penalized greedy and seeded hot answers are the host Sampler\'s on the reference logits', async () => {
  const prefix = 'def f(x):\n    return x', suffix = '\n';
  const prompt = fimPrompt(prefix, suffix);
  const cases: Partial<Sampling>[] = [
    { temperature: 0, repeatPenalty: 1.5, repeatLastN: -1 },
    { temperature: 0.9, topK: 20, topP: 0.9, minP: 0.02, seed: 7 },
  ];
  for (const sampling of cases) {
    const tokens: number[] = [];
    done(await client.complete({ prefix, suffix, maxTokens: 6, sampling }, (t) => tokens.push(t.token)).result);
    // The same Sampler over the reference's logits, fed the same history.
    const sampler = new Sampler({ ...GREEDY, ...sampling });
    const ref = ReferenceModel.load(readGGUF(model), { nCtx: N_CTX });
    const want: number[] = [], history = [...prompt];
    for (let input = prompt, pos = 0; want.length < 6; input = [want[want.length - 1]]) {
      const next = sampler.sample(await ref.forward(0, input, pos), history);
      pos += input.length;
      if (tok.isEog(next)) break;
      want.push(next);
      history.push(next);
    }
    assert.deepEqual(tokens, want, JSON.stringify(sampling));
    // Neither is the plain greedy answer: the options changed what was picked.
    assert.notDeepEqual(want, (await greedy(model, prompt, 6)).tokens, JSON.stringify(sampling));
  }
});

test('a chat model beside the completion model: chat uses it, completion keeps its own; restarts reload both; unloading frees each role', async () => {
  // Other weights, same vocabulary and template: the same prompts, different answers.
  const other = withChatTemplate(fixtureModel({ arch: 'qwen2', vocab: 'qwen2', type: GGMLType.F32, nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, seed: 11 }), npmTemplate('qwen3').source);
  const messages = [{ role: 'user' as const, content: 'Name a sorting algorithm.' }];
  const prompt = chatPrompt(messages);
  const fromMain = await greedy(model, prompt, 6), fromOther = await greedy(other, prompt, 6);
  assert.notEqual(fromMain.text, fromOther.text, 'the fixtures must answer differently for this test to tell them apart');
  const prefix = 'def square(x):\n    return ';
  const wantCompletion = (await greedy(model, fimPrompt(prefix, '\n'), 4)).text;

  const r = await client.load({ model: other, backend: 'reference', nCtx: N_CTX, role: 'chat' });
  assert.equal(r.role, 'chat');
  assert.equal(r.nSeq, 1, 'a chat model holds one sequence');
  let stats = await client.stats();
  assert.equal(stats.model?.model, model);
  assert.equal(stats.chatModel?.model, other);
  assert.equal(done(await client.chat({ messages, maxTokens: 6 }).result).text, fromOther.text);
  const again = done(await client.chat({ messages, maxTokens: 6 }).result);
  assert.equal(again.timings.prefillTokens, 1, 'the chat model keeps its own slot');
  assert.equal(done(await client.complete({ prefix, suffix: '\n', maxTokens: 4 }).result).text, wantCompletion);
  stats = await client.stats();
  assert.deepEqual(stats.slots.map((x) => x.name), ['complete', 'chat']);
  assert.equal(stats.slots[1].tokens, again.timings.promptTokens + again.timings.decodeTokens - (again.reason === 'length' ? 1 : 0), 'the chat slot listed is the chat model\'s');

  // Replacing the chat model ends the chat running on it; completions answer meanwhile.
  let reload: Promise<LoadReport> | undefined;
  const long = client.chat({ messages: [{ role: 'user', content: 'Tell a long story.' }], maxTokens: 300 }, () => {
    reload ??= client.load({ model: other, backend: 'reference', nCtx: N_CTX, role: 'chat' });
  });
  const cut = await long.result;
  assert.ok(cut.type === 'error' && cut.code === 'unloaded' && cut.message.includes(other), JSON.stringify(cut));
  const during = client.complete({ prefix, suffix: '\n', maxTokens: 4 }).result;
  assert.equal((await reload!).role, 'chat');
  assert.equal(done(await during).text, wantCompletion);

  // A restart brings both back, each for its role.
  const roles: string[] = [];
  const onLoaded = (x: LoadReport) => roles.push(`${x.role}:${x.model}`);
  client.on('loaded', onLoaded);
  const bothBack = new Promise<void>((res) => client.on('loaded', () => roles.length === 2 && res()));
  process.kill(client.pid!, 'SIGKILL');
  await bothBack;
  client.off('loaded', onLoaded);
  assert.deepEqual(roles.sort(), [`chat:${other}`, `complete:${model}`]);
  assert.equal(done(await client.chat({ messages, maxTokens: 6 }).result).text, fromOther.text);

  // Without the chat model, chat falls back to the completion model.
  assert.equal(await client.unload('chat'), true);
  assert.equal(await client.unload('chat'), false);
  stats = await client.stats();
  assert.equal(stats.chatModel, null);
  assert.equal(done(await client.chat({ messages, maxTokens: 6 }).result).text, fromMain.text);

  // Unloading the completion model leaves nothing to answer with, until it is loaded again.
  assert.equal(await client.unload('complete'), true);
  const refused = await client.complete({ prefix, suffix: '\n', maxTokens: 2 }).result;
  assert.ok(refused.type === 'error' && refused.code === 'not-loaded', JSON.stringify(refused));
  assert.equal((await client.stats()).model, null);
  await client.load({ model, backend: 'reference', nCtx: N_CTX });
  assert.equal(done(await client.complete({ prefix, suffix: '\n', maxTokens: 4 }).result).text, wantCompletion);
});

test('kill -9 mid-stream: the request gets an error, the process restarts, reloads and answers correctly', async () => {
  const pid = client.pid!;
  const prefix = 'def greet(name):\n    return "Hello, " + ';
  const exited = once(client, 'exit') as Promise<[ExitInfo]>;
  const reloaded = once(client, 'loaded') as Promise<[LoadReport]>;
  const h = client.complete({ prefix, suffix: '\n', maxTokens: 100 }, () => process.kill(pid, 'SIGKILL'));
  const r = await h.result;
  assert.equal(r.type, 'error');
  assert.equal((r as ErrorResponse).code, 'process-exited');
  assert.match((r as ErrorResponse).message, /killed by SIGKILL/);
  const [info] = await exited;
  assert.equal(info.signal, 'SIGKILL');
  assert.equal(info.pid, pid);
  assert.ok(info.restartInMs !== undefined);
  const [report] = await reloaded;
  assert.equal(report.model, model);
  assert.notEqual(client.pid, pid);
  const again = done(await client.complete({ prefix, suffix: '\n', maxTokens: 5 }).result);
  const want = await greedy(model, fimPrompt(prefix, '\n'), 5);
  assert.equal(again.text, want.text);
  assert.equal(again.timings.reusedTokens, 0, 'a fresh process starts with an empty cache');
});

test('the bare process: handshake version check and malformed messages', async () => {
  const child = fork(serverPath, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const messages: Response[] = [];
  child.on('message', (m) => messages.push(m as Response));
  const next = async (): Promise<Response> => {
    while (!messages.length) await new Promise((r) => setTimeout(r, 5));
    return messages.shift()!;
  };
  assert.deepEqual(await next(), { type: 'hello', version: PROTOCOL_VERSION, pid: child.pid });
  child.send({ type: 'complete', id: 'q1', prefix: 7, suffix: '', maxTokens: 1 });
  assert.deepEqual(await next(), { type: 'error', id: 'q1', code: 'bad-request', message: 'complete request: field "prefix" must be a string of at most 67108864 characters, got number 7' });
  child.send({ nonsense: true });
  const e = await next();
  assert.ok(e.type === 'error' && e.id === null && e.code === 'bad-request');
  child.send({ type: 'stats', id: 's' });
  const s = await next();
  assert.ok(s.type === 'stats' && s.stats.model === null && s.stats.active === 0);
  const exit = once(child, 'exit');
  child.send({ type: 'hello', version: PROTOCOL_VERSION + 1 });
  const v = await next();
  assert.ok(v.type === 'error' && v.code === 'version-mismatch');
  assert.deepEqual(await exit, [1, null]);
});

test('a file without a chat template chats through the built-in one, reported; a broken one is refused naming the file', async () => {
  const bare = tinyModel();
  const r = await client.load({ model: bare, backend: 'reference', nCtx: N_CTX });
  assert.ok(r.chat);
  assert.equal(r.chatFallback, 'chatml');
  const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Say hi.' }];
  const prompt = chatPrompt(messages, fallbackTemplate('chatml'));
  const c = done(await client.chat({ messages, maxTokens: 4 }).result);
  assert.equal(c.timings.promptTokens, prompt.length);
  assert.equal(c.text, (await greedy(bare, prompt, 4)).text);

  const broken = withChatTemplate(bare, '{% for m in messages %}');
  const b = await client.load({ model: broken, backend: 'reference', nCtx: N_CTX });
  assert.ok(!b.chat && b.fim && b.chatFallback === undefined, JSON.stringify(b));
  const e = await client.chat({ messages, maxTokens: 4 }).result;
  assert.ok(e.type === 'error' && e.code === 'no-chat-template' && e.message.startsWith(`tokenizer.chat_template of ${broken}: cannot parse`), JSON.stringify(e));
  done(await client.complete({ prefix: 'x = ', suffix: '', maxTokens: 2 }).result);

  const raising = withChatTemplate(bare, "{{ raise_exception('tools only') }}");
  await client.load({ model: raising, backend: 'reference', nCtx: N_CTX });
  const x = await client.explain({ code: 'x = 1', maxTokens: 4 }).result;
  assert.ok(x.type === 'error' && x.code === 'template-error' && x.message === `tokenizer.chat_template of ${raising}: the template raised an error: "tools only"`, JSON.stringify(x));
  await client.load({ model, backend: 'reference', nCtx: N_CTX });
});

test('a context past the one the model was trained on is cut to it, and the report says so', async () => {
  const trained = 'test/tiny-model/tiny-code-q8_0.gguf';
  const nCtxTrain = loadConfig(readGGUF(trained)).nCtxTrain;
  assert.equal(nCtxTrain, 256);
  assert.equal((await client.load({ model: trained, backend: 'reference', nCtx: 4096 })).nCtx, nCtxTrain);
  assert.equal((await client.load({ model: trained, backend: 'reference', nCtx: 128 })).nCtx, 128);
  const long = done(await client.complete({ prefix: 'x = 1\n'.repeat(400), suffix: '', maxTokens: 4 }).result);
  assert.ok(long.timings.promptTokens <= nCtxTrain - 4, `a long document is trimmed to the context: ${long.timings.promptTokens} tokens`);
  assert.equal((await client.load({ model, backend: 'reference', nCtx: N_CTX })).nCtx, N_CTX);
});

test('close: the process answers what is in flight, says bye and exits', async () => {
  const h = client.chat({ messages: [{ role: 'user', content: 'Tell a long story.' }], maxTokens: 300 });
  const pid = client.pid!;
  await new Promise((r) => setTimeout(r, 50));
  await client.close();
  const r = await h.result;
  assert.ok(r.type === 'done' && r.reason === 'cancelled', JSON.stringify(r));
  assert.throws(() => process.kill(pid, 0), /ESRCH/);
});
