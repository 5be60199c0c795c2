import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusView, shortMessage, type StatusInput } from './state.js';

const base: StatusInput = { engine: { kind: 'ready' }, enabled: true, language: 'python', languageEnabled: true, generating: false };
const view = (o: Partial<StatusInput>) => statusView({ ...base, ...o });

test('every state has the label end-to-end tests read and a text that names Hearth', () => {
  const cases: [Partial<StatusInput>, string, string][] = [
    [{}, 'ready', '$(check) Hearth'],
    [{ generating: true }, 'generating', '$(loading~spin) Hearth'],
    [{ engine: { kind: 'loading', loadedBytes: 42, totalBytes: 100 } }, 'loading 42%', '$(sync~spin) Hearth 42%'],
    [{ engine: { kind: 'starting' } }, 'loading 0%', '$(sync~spin) Hearth 0%'],
    [{ engine: { kind: 'restarting' } }, 'restarting', '$(sync~spin) Hearth restarting'],
    [{ engine: { kind: 'no-model' } }, 'no model', '$(warning) Hearth'],
    [{ engine: { kind: 'unloaded', minutes: 30 } }, 'unloaded', '$(debug-pause) Hearth'],
    [{ engine: { kind: 'error', message: 'model file not found: /x.gguf\nmore detail' } }, 'error: model file not found: /x.gguf', '$(error) Hearth'],
    [{ enabled: false, languageEnabled: false }, 'disabled', '$(circle-slash) Hearth'],
    [{ languageEnabled: false }, 'disabled for python', '$(circle-slash) Hearth'],
  ];
  for (const [o, state, text] of cases) {
    const v = view(o);
    assert.equal(v.state, state);
    assert.equal(v.label, `Hearth: ${state}`);
    assert.equal(v.text, text);
  }
  // "*" off but this language explicitly on: it runs here.
  assert.equal(view({ enabled: false, languageEnabled: true }).state, 'ready');
  // No editor: the engine's state.
  assert.equal(view({ language: undefined, languageEnabled: false }).state, 'ready');
});

test('the tooltip has the model, its quant, the last latency and speed', () => {
  const v = view({ model: { name: 'Qwen2.5 Coder 1.5B', fileType: 'Q4_0', file: '/m/q.gguf', device: 'llvmpipe' }, last: { latencyMs: 123.4, tokPerS: 45.67 } });
  assert.match(v.tooltip, /Qwen2\.5 Coder 1\.5B \(Q4_0\)/);
  assert.match(v.tooltip, /123 ms, 45\.7 tok\/s/);
  assert.match(view({ chatModel: { name: 'Qwen2.5 Coder 1.5B Instruct', fileType: 'Q8_0' } }).tooltip, /\nChat model: Qwen2\.5 Coder 1\.5B Instruct \(Q8_0\)\n/);
  assert.equal(shortMessage('x'.repeat(100)).length, 80);
  assert.match(view({ engine: { kind: 'unloaded', minutes: 30 } }).tooltip, /unloaded after 30 minutes without use \(hearth\.idleUnloadMinutes\).*the next keystroke loads it again/);
});
