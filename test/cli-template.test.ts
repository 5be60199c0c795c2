// `hearth template`: the exact chat prompt for a conversation on stdin, from the file's own template
// or the built-in one for its architecture (said once on stderr); bad input exits 2, a template
// that fails exits 1, each with one line naming what failed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { GGMLType } from '../engine/gguf/ggml.js';
import { fixtureModel } from './support/fixtures.js';
import { bundle, tinyChatModel, tinyModel, withChatTemplate } from './support/inference-fixtures.js';

let cli = '';

before(async () => {
  cli = await bundle('engine/cli/cli.ts', 'hearth');
});

function hearth(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr.split('\n').filter((l) => l) };
}

const convo = JSON.stringify([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hi.' }]);
const CHATML = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n';

test("the file's own template: the exact prompt text, or {prompt} with --json, nothing on stderr", () => {
  const model = tinyChatModel();
  const r = hearth(['template', '--model', model], convo);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.deepEqual(r.err, []);
  assert.equal(r.out, CHATML);
  const j = hearth(['template', '--model', model, '--json'], convo);
  assert.equal(j.code, 0, j.err.join('\n'));
  assert.equal(j.out, JSON.stringify({ prompt: CHATML }) + '\n');
});

test('without a template: the built-in one for the architecture and vocabulary, said once on stderr', () => {
  const cases: [string, string, string][] = [
    [tinyModel(), 'chatml', CHATML],
    [fixtureModel({ arch: 'llama', vocab: 'llama-spm', type: GGMLType.F32 }), 'llama2', '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nSay hi. [/INST]'],
    [fixtureModel({ arch: 'llama', vocab: 'deepseek-coder', type: GGMLType.F32 }), 'deepseek-coder',
      '<｜begin▁of▁sentence｜>Be brief.### Instruction:\nSay hi.\n### Response:\n'],
  ];
  for (const [model, fallback, prompt] of cases) {
    const r = hearth(['template', '--model', model, '--json'], convo);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.err, [`hearth: ${model} has no tokenizer.chat_template; using the built-in ${fallback} template`]);
    assert.deepEqual(JSON.parse(r.out), { prompt });
  }
});

test('bad input exits 2, a failing template 1, each with one line saying what failed', () => {
  const model = tinyChatModel();
  const raising = withChatTemplate(tinyModel(), "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}");
  const cases: [string[], string, number, RegExp][] = [
    [['template', '--model', model], 'not json', 2, /^hearth: stdin must be a JSON array of \{"role": string, "content": string\}: /],
    [['template', '--model', model], '[]', 2, /at least one message/],
    [['template', '--model', model], '[{"role": "user"}]', 2, /message 0 is \{"role":"user"\}/],
    [['template'], convo, 2, /missing --model/],
    [['template', '--model', model, '--temp', '1'], convo, 2, /unknown option --temp/],
    [['template', '--model', '/nonexistent.gguf'], convo, 1, /nonexistent\.gguf/],
    [['template', '--model', raising], convo, 1, new RegExp(`^hearth: tokenizer.chat_template of ${raising}: the template raised an error: "one message only"$`)],
  ];
  for (const [args, input, code, line] of cases) {
    const r = hearth(args, input);
    assert.equal(r.code, code, `${args.join(' ')} < ${input}: ${r.err.join('\n')}`);
    assert.equal(r.out, '');
    assert.equal(r.err.length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(r.err)}`);
    assert.match(r.err[0], line);
  }
});
