import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeServerArgs, demoSettings, listeningUrl, parseDemoArgs, progressLine, SAMPLE_FILES } from './plan.js';

test('demo arguments: --model, --port, --help; wrong ones named', () => {
  assert.deepEqual(parseDemoArgs([]), { port: 8080, help: false });
  assert.deepEqual(parseDemoArgs(['--model', 'm.gguf', '--port', '0']), { model: 'm.gguf', port: 0, help: false });
  assert.equal(parseDemoArgs(['-h']).help, true);
  assert.throws(() => parseDemoArgs(['--model']), /--model needs a value/);
  assert.throws(() => parseDemoArgs(['--port', '--model']), /--port needs a value/);
  assert.throws(() => parseDemoArgs(['--port', '70000']), /--port 70000 must be a port number/);
  assert.throws(() => parseDemoArgs(['--gpu']), /unknown argument "--gpu"/);
});

test('settings: the model set, what the user chose in the demo kept unless --model says otherwise', () => {
  const fresh = demoSettings({}, '/m/default.gguf', false);
  assert.equal(fresh['hearth.modelPath'], '/m/default.gguf');
  assert.equal(fresh['security.workspace.trust.enabled'], false);
  const chosen = { 'hearth.modelPath': '/m/picked.gguf', 'editor.fontSize': 16 };
  assert.equal(demoSettings(chosen, '/m/default.gguf', false)['hearth.modelPath'], '/m/picked.gguf');
  assert.equal(demoSettings(chosen, '/m/given.gguf', true)['hearth.modelPath'], '/m/given.gguf');
  assert.equal(demoSettings(chosen, '/m/given.gguf', true)['editor.fontSize'], 16);
});

test('code-server listens on 127.0.0.1 only, without a password; its address is read from its output', () => {
  const a = codeServerArgs({ node: 'n', entry: 'e.js', config: 'c.yaml', userData: 'u', extensions: 'x', workspace: 'w' }, 8080);
  assert.equal(a[a.indexOf('--bind-addr') + 1], '127.0.0.1:8080');
  assert.equal(a[a.indexOf('--auth') + 1], 'none');
  assert.equal(a.at(-1), 'w');
  assert.equal(listeningUrl('[2026-12-01T00:00:00.000Z] info  HTTP server listening on http://127.0.0.1:41234/'), 'http://127.0.0.1:41234');
  assert.equal(listeningUrl('info  Session server listening on /tmp/x.sock'), undefined);
});

test('the progress line and the sample workspace', () => {
  assert.equal(progressLine(42.7, '650 MiB of 1.53 GiB', 10), '[####------]  42% 650 MiB of 1.53 GiB');
  assert.equal(progressLine(100, 'done', 4), '[####] 100% done');
  assert.deepEqual(Object.keys(SAMPLE_FILES).sort(), ['README.md', 'fib.py', 'shapes.ts']);
});
