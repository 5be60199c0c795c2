// The chat session against the real inference process (reference backend, tiny chat fixture):
// streamed answers, Stop, context overflow, a killed process, and the stored transcript.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceClient } from '../engine/process/index.js';
import { ChatSession, type TranscriptStore } from '../extension/chat/session.js';
import type { ToWebview, Turn } from '../extension/chat/messages.js';
import { serverBundle, tinyChatModel } from './support/inference-fixtures.js';

const N_CTX = 256;
let client: InferenceClient;
let model: string;

before(async () => {
  model = tinyChatModel();
  client = new InferenceClient({ serverPath: await serverBundle(), restartDelayMs: 50 });
  await client.start();
  await client.load({ model, backend: 'reference', nCtx: N_CTX });
});

after(async () => {
  await client?.close();
});

function session(store?: TranscriptStore, maxTokens = 24, saveEveryMs?: number) {
  const s = new ChatSession({ engine: async () => client, store, maxTokens, sampling: { temperature: 0 }, saveEveryMs });
  const seen: ToWebview[] = [];
  s.onMessage((m) => seen.push(m));
  return { s, seen };
}

const deltas = (seen: ToWebview[], id: string) => seen.filter((m): m is Extract<ToWebview, { type: 'delta' }> => m.type === 'delta' && m.id === id).map((m) => m.text).join('');

test('an answer streams token by token and ends with the text the deltas add up to', async () => {
  const { s, seen } = session();
  await s.send('Write a function that adds two numbers.');
  const [user, answer] = s.transcript;
  assert.equal(user.role, 'user');
  assert.equal(answer.role, 'assistant');
  assert.equal(answer.status, 'done');
  assert.ok(answer.text.length > 0);
  assert.equal(deltas(seen, answer.id), answer.text);
  assert.ok(seen.filter((m) => m.type === 'delta').length > 1, 'more than one delta');
  assert.deepEqual(seen.at(-1), { type: 'end', id: answer.id, status: 'done', note: 'The answer reached the token limit.' });
  // Greedy: the same question in a new session gets the same answer.
  const again = session();
  await again.s.send('Write a function that adds two numbers.');
  assert.equal(again.s.transcript[1].text, answer.text);
});

test('Stop ends the answer at the next token and keeps its text; the next question works', async () => {
  const { s, seen } = session(undefined, 200);
  const unsubscribe = s.onMessage((m) => { if (m.type === 'delta' && deltas(seen, m.id).length > 0) s.stop(); });
  await s.send('Tell me a long story.');
  unsubscribe.dispose();
  const answer = s.transcript[1];
  assert.equal(answer.status, 'stopped');
  assert.ok(answer.text.length > 0);
  assert.ok(seen.filter((m) => m.type === 'delta').length < 10, 'stopped within a few tokens');
  await s.send('And another?');
  assert.equal(s.transcript[3].status, 'done');
});

test('a conversation over the context drops its oldest turns with a notice; a message over it is refused with the counts', async () => {
  const { s, seen } = session(undefined, 8);
  const long = 'word '.repeat(70);
  for (let i = 0; i < 4; i++) await s.send(`${i}: ${long}`);
  const notices = seen.filter((m) => m.type === 'notice').map((m) => (m as { text: string }).text);
  assert.ok(notices.some((n) => /oldest messages? (is|are) no longer sent/.test(n)), notices.join('\n'));
  assert.ok(s.transcript.filter((t) => t.role === 'assistant').every((t) => t.status === 'done'), JSON.stringify(s.transcript.map((t) => t.status)));
  await s.send('x '.repeat(400));
  const last = s.transcript.at(-1)!;
  assert.equal(last.status, 'error');
  assert.match(last.note ?? '', /\d+ tokens.*context of 256 tokens/);
});

test('a killed inference process marks the answer interrupted, keeps its text, and the next question works', async () => {
  const { s } = session(undefined, 400);
  let killed = false;
  s.onMessage((m) => { if (m.type === 'delta' && !killed) { killed = true; process.kill(client.pid!, 'SIGKILL'); } });
  await s.send('Count to one hundred.');
  const answer = s.transcript[1];
  assert.equal(answer.status, 'interrupted');
  assert.ok(answer.text.length > 0);
  await new Promise<void>((resolve) => client.once('loaded', () => resolve()));
  await s.send('Still there?');
  assert.equal(s.transcript[3].status, 'done');
  assert.ok(s.transcript[3].text.length > 0);
});

test('the transcript is stored; a new session restores it and marks a cut-off answer interrupted; New chat clears it', async () => {
  let stored: Turn[] | undefined;
  const store: TranscriptStore = { load: () => stored, save: (t) => { stored = structuredClone(t); } };
  const { s } = session(store);
  await s.send('hello');
  assert.equal(stored?.length, 2);
  stored![1] = { ...stored![1], status: 'streaming' };
  const restored = session(store);
  const snap = restored.s.snapshot();
  assert.equal(snap.type, 'snapshot');
  assert.deepEqual((snap as { turns: Turn[] }).turns.map((t) => [t.role, t.status, t.note]), [['user', 'done', undefined], ['assistant', 'interrupted', 'the window closed while it streamed']]);
  restored.s.newChat();
  assert.deepEqual(stored, []);
  assert.deepEqual(restored.seen.at(-1), { type: 'snapshot', turns: [], busy: false, notices: [] });
});

test('an answer is stored while it streams: a window closed mid-answer keeps the question and the text so far, marked interrupted', async () => {
  let stored: Turn[] | undefined;
  const store: TranscriptStore = { load: () => stored, save: (t) => { stored = structuredClone(t); } };
  const { s } = session(store, 200, 0);
  let restored: Turn[] | undefined;
  let text = '';
  s.onMessage((m) => {
    if (m.type !== 'delta' || restored) return;
    text += m.text;
    // The window goes away here: a new session (as after a reload) reads the store.
    if (text.length > 3) restored = session(store).s.transcript.map((t) => ({ ...t }));
  });
  await s.send('Tell me a story.');
  assert.ok(restored, 'the answer streamed more than three characters');
  assert.deepEqual(restored.map((t) => [t.role, t.status]), [['user', 'done'], ['assistant', 'interrupted']]);
  assert.equal(restored[0].text, 'Tell me a story.');
  assert.equal(restored[1].text, text, 'the text streamed so far is stored');
});

test('Stop while the model is still loading ends the answer at once', { timeout: 30_000 }, async () => {
  const s = new ChatSession({ engine: () => new Promise<never>(() => {}) });
  const sent = s.send('hello');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.busy, true, 'waiting for the engine');
  s.stop();
  await sent;
  assert.deepEqual(s.transcript.map((t) => [t.role, t.status]), [['user', 'done'], ['assistant', 'stopped']]);
  assert.equal(s.busy, false);
});

test('a send while an answer streams is refused with a notice, not queued silently', async () => {
  const { s, seen } = session(undefined, 16);
  const first = s.send('one');
  await s.send('two');
  await first;
  assert.equal(s.transcript.filter((t) => t.role === 'user').length, 1);
  assert.ok(seen.some((m) => m.type === 'notice' && /still streaming/.test(m.text)));
});
