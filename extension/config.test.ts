import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULTS, KEYS, enabledFor, globallyEnabled, readConfig } from './config.js';

test('settings: defaults, values taken, wrong ones refused by name', () => {
  assert.deepEqual(readConfig(() => undefined), { config: DEFAULTS, problems: [] });
  const values: Record<string, unknown> = {
    modelPath: ' /m/q.gguf ', contextSize: 4096, 'completion.maxTokens': 64, 'completion.maxLines': 3.5, 'completion.debounceMs': -1,
    'completion.speculative': 'no', enable: { '*': true, markdown: false, python: 'yes' },
    'chat.maxTokens': 0, chatModelPath: '~/chat.gguf', modelDirs: ['/models', 7, ' ', ' ~/more '], idleUnloadMinutes: -5,
  };
  const { config, problems } = readConfig((k) => values[k]);
  assert.equal(config.modelPath, '/m/q.gguf');
  assert.equal(config.contextSize, 4096);
  assert.equal(config.maxTokens, 64);
  assert.equal(config.maxLines, DEFAULTS.maxLines);
  assert.equal(config.debounceMs, DEFAULTS.debounceMs);
  assert.equal(config.speculative, true);
  assert.deepEqual(config.enable, { '*': true, markdown: false });
  assert.equal(config.chatModelPath, '~/chat.gguf');
  assert.deepEqual(config.modelDirs, ['/models', '~/more']);
  assert.equal(config.idleUnloadMinutes, 30);
  assert.equal(config.chatMaxTokens, DEFAULTS.chatMaxTokens);
  assert.equal(readConfig((k) => (k === 'chat.maxTokens' ? 4096 : undefined)).config.chatMaxTokens, 4096);
  assert.deepEqual(problems, [
    'hearth.modelDirs entries must be folder paths, got 7',
    'hearth.modelDirs entries must be folder paths, got " "',
    'hearth.idleUnloadMinutes must be an integer in 0..10080, got -5; using 30',
    'hearth.completion.maxLines must be an integer in 1..200, got 3.5; using 10',
    'hearth.completion.debounceMs must be an integer in 0..5000, got -1; using 40',
    'hearth.chat.maxTokens must be an integer in 1..16384, got 0; using 1024',
    'hearth.completion.speculative must be true or false, got "no"; using true',
    'hearth.enable["python"] must be true or false, got "yes"',
  ]);
  assert.deepEqual(readConfig((k) => (k === 'modelDirs' ? '/one' : undefined)).problems, ['hearth.modelDirs must be a list of folders, got "/one"']);
});

test('speculative decoding: on unless turned off', () => {
  assert.equal(readConfig(() => undefined).config.speculative, true);
  assert.equal(readConfig((k) => (k === 'completion.speculative' ? false : undefined)).config.speculative, false);
});

test('per-language enable: its own entry, else "*"', () => {
  const c = { ...DEFAULTS, enable: { '*': false, python: true } };
  assert.equal(enabledFor(c, 'python'), true);
  assert.equal(enabledFor(c, 'markdown'), false);
  assert.equal(globallyEnabled(c), false);
  assert.equal(enabledFor({ ...DEFAULTS, enable: {} }, 'go'), true);
});

test('package.json declares every setting, with defaults as config.ts; paths apply from User, Remote and Workspace settings', () => {
  const props = JSON.parse(readFileSync('package.json', 'utf8')).contributes.configuration.properties as Record<string, { default: unknown; scope?: string; ignoreSync?: boolean }>;
  for (const [field, key] of Object.entries(KEYS)) {
    const p = props[`hearth.${key}`];
    assert.ok(p, `hearth.${key} is contributed`);
    assert.deepEqual(p.default, DEFAULTS[field as keyof typeof DEFAULTS], `hearth.${key}'s default`);
    // 'machine' and 'machine-overridable' values in User settings are dropped in a remote window
    // (code-server's, SSH, containers): a model path set there was ignored. 'application' would
    // refuse Workspace settings. Paths are this machine's: Settings Sync leaves them alone.
    assert.ok(p.scope === undefined || p.scope === 'window' || p.scope === 'resource', `hearth.${key} has scope ${p.scope}`);
    if (['modelPath', 'chatModelPath', 'modelDirs', 'nodePath'].includes(field)) assert.equal(p.ignoreSync, true, `hearth.${key} is not synced`);
  }
});
