// The client's process supervision, against real processes that misbehave: one that dies at once
// (restarts back off, then the client gives up and answers everything) and one that never says hello.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceClient, type ExitInfo, type ServerError } from './client.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-client-'));
const script = (name: string, src: string) => {
  const p = join(dir, name);
  writeFileSync(p, src);
  return p;
};

test('a process that keeps dying is restarted with doubling delays, then the client gives up', async () => {
  const serverPath = script('dies.mjs', "process.stderr.write('cannot start: broken install\\n'); process.exit(3);\n");
  const client = new InferenceClient({ serverPath, restartDelayMs: 20, maxRestarts: 3, restartWindowMs: 60_000 });
  const exits: ExitInfo[] = [];
  client.on('exit', (i) => exits.push(i));
  const fatal = new Promise<ServerError>((r) => client.on('fatal', r));
  const started = client.start().then(() => 'ready', (e: ServerError) => e.code);
  const r = await client.complete({ prefix: 'x', suffix: '', maxTokens: 1 }).result;
  const e = await fatal;
  assert.equal(await started, 'process-exited');
  assert.equal(e.code, 'process-exited');
  assert.match(e.message, /died 4 times .* giving up/);
  assert.match(e.message, /exited with code 3/);
  assert.deepEqual(exits.map((x) => x.restartInMs), [20, 40, 80, undefined]);
  assert.ok(exits.every((x) => x.code === 3 && x.reason === 'crashed' && /broken install/.test(x.stderr)));
  // The request never reached a live process, and still got its one answer.
  assert.ok(r.type === 'error' && r.code === 'process-exited');
  assert.equal(client.inFlight, 0);
  const late = await client.complete({ prefix: 'x', suffix: '', maxTokens: 1 }).result;
  assert.ok(late.type === 'error' && late.code === 'process-exited');
  await client.close();
});

test('a process that never says hello is killed and replaced', async () => {
  const serverPath = script('silent.mjs', 'setInterval(() => {}, 1000);\n');
  const client = new InferenceClient({ serverPath, helloTimeoutMs: 200, restartDelayMs: 10, maxRestarts: 1 });
  const exits: ExitInfo[] = [];
  client.on('exit', (i) => exits.push(i));
  const fatal = new Promise<ServerError>((r) => client.on('fatal', r));
  await assert.rejects(client.start(), /giving up/);
  await fatal;
  assert.deepEqual(exits.map((x) => x.signal), ['SIGKILL', 'SIGKILL']);
  await client.close();
});

test('a process that lost its GPU device (exit 75) is reported as such and restarted without backoff', async () => {
  const serverPath = script('lost.mjs', "process.stderr.write('GPU device lost: the driver was reset\\n'); process.exit(75);\n");
  const client = new InferenceClient({ serverPath, restartDelayMs: 20, maxRestarts: 2, restartWindowMs: 60_000 });
  const exits: ExitInfo[] = [];
  client.on('exit', (i) => exits.push(i));
  const fatal = new Promise<ServerError>((r) => client.on('fatal', r));
  await assert.rejects(client.start());
  const e = await fatal;
  assert.match(e.message, /GPU device/);
  assert.ok(exits.every((x) => x.code === 75 && x.reason === 'device-lost' && /driver was reset/.test(x.stderr)), JSON.stringify(exits));
  assert.deepEqual(exits.map((x) => x.restartInMs), [20, 20, undefined]);
  await client.close();
});

test("Dawn's limit notices on the process's stderr are dropped; its own lines are kept", async () => {
  const notice = (kind: string) => `Warning: maxDynamic${kind}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.`;
  const serverPath = script('noisy.mjs', `process.stderr.write(${JSON.stringify(`${notice('Uniform')}\n${notice('Storage')}\ncannot start: no model\n`)}); process.stderr.write('last words'); process.exit(3);\n`);
  const client = new InferenceClient({ serverPath, restartDelayMs: 10, maxRestarts: 1 });
  const logs: string[] = [];
  const exits: ExitInfo[] = [];
  client.on('log', (l) => logs.push(l));
  client.on('exit', (i) => exits.push(i));
  const fatal = new Promise<ServerError>((r) => client.on('fatal', r));
  await assert.rejects(client.start());
  const e = await fatal;
  assert.deepEqual(logs, ['cannot start: no model', 'last words', 'cannot start: no model', 'last words']);
  assert.ok(exits.every((x) => x.stderr === 'cannot start: no model\nlast words\n'), JSON.stringify(exits));
  assert.doesNotMatch(e.message, /artificially/);
  await client.close();
});
