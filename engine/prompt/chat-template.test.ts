// Renders the real chat templates in shared/templates; every expected string was derived by reading
// the template by hand (with Hugging Face's trim_blocks / lstrip_blocks environment).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ChatTemplate, TemplateError, renderChat } from './chat-template.js';

const dir = resolve(process.cwd(), '../shared/templates');
const load = (name: string) => new ChatTemplate(readFileSync(resolve(dir, name + '.jinja'), 'utf8'));

const convo = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'What is 2+2?' },
];
const noSystem = convo.slice(1);

test('Qwen2.5 ChatML, with and without a system message', () => {
  const t = load('Qwen-Qwen2.5-7B-Instruct');
  const o = { bosToken: '', eosToken: '<|im_end|>', addGenerationPrompt: true };
  assert.equal(renderChat(t, convo, o),
    '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n' +
    '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(renderChat(t, noSystem.slice(0, 1), { ...o, addGenerationPrompt: false }),
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n');
});

test('Qwen2.5 tools: tojson with Python separators, tool calls and grouped tool responses', () => {
  const t = load('Qwen-Qwen2.5-7B-Instruct');
  const out = t.render({
    tools: [{ type: 'function', function: { name: 'get', parameters: { type: 'object', required: ['x'] } } }],
    messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get', arguments: { x: 1.5, s: 'é"' } } }] },
      { role: 'tool', content: '42' },
      { role: 'tool', content: '43' },
    ],
    add_generation_prompt: true,
  });
  assert.equal(out,
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
    '{"type": "function", "function": {"name": "get", "parameters": {"type": "object", "required": ["x"]}}}' +
    '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\nq<|im_end|>\n' +
    '<|im_start|>assistant\n<tool_call>\n{"name": "get", "arguments": {"x": 1.5, "s": "é\\""}}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\n<tool_response>\n42\n</tool_response>\n<tool_response>\n43\n</tool_response><|im_end|>\n' +
    '<|im_start|>assistant\n');
});

test('DeepSeek R1 distill: namespace, system prompt up front, <think> stripped from history', () => {
  const t = load('deepseek-ai-DeepSeek-R1-Distill-Qwen-32B');
  const msgs = [...convo];
  msgs[2] = { role: 'assistant', content: 'Let me think.</think>Hello!' };
  const o = { bosToken: '<｜begin▁of▁sentence｜>', eosToken: '<｜end▁of▁sentence｜>', addGenerationPrompt: true };
  assert.equal(renderChat(t, msgs, o),
    '<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi there<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n');
  assert.equal(renderChat(t, noSystem.slice(0, 1), { ...o, addGenerationPrompt: false }), '<｜begin▁of▁sentence｜><｜User｜>Hi there');
});

test('Gemma 2: model role, trim filter, alternation and system errors', () => {
  const t = load('google-gemma-2-2b-it');
  const o = { bosToken: '<bos>', eosToken: '<eos>', addGenerationPrompt: true };
  const msgs = noSystem.map((m, i) => (i === 0 ? { ...m, content: '  Hi there \n' } : m));
  assert.equal(renderChat(t, msgs, o),
    '<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n');
  assert.throws(() => renderChat(t, convo, o), (e: Error) => e instanceof TemplateError && /System role not supported/.test(e.message));
  assert.throws(() => renderChat(t, [noSystem[0], noSystem[0]], o), /roles must alternate/);
});

test('Llama 3.2: system header with date, trimmed contents, generation prompt', () => {
  const t = load('meta-llama-Llama-3.2-3B-Instruct');
  const o = { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>', addGenerationPrompt: true };
  const head = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
  assert.equal(renderChat(t, convo, o),
    '<|begin_of_text|>' + head('system') + 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|>' +
    head('user') + 'Hi there<|eot_id|>' + head('assistant') + 'Hello!<|eot_id|>' + head('user') + 'What is 2+2?<|eot_id|>' + head('assistant'));
  assert.equal(t.render({ messages: noSystem.slice(0, 1), bos_token: '<|begin_of_text|>', date_string: '01 Jan 2025' }),
    '<|begin_of_text|>' + head('system') + 'Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|>' + head('user') + 'Hi there<|eot_id|>');
});

test('Llama 3.2 tools in the first user message: tojson(indent=4)', () => {
  const t = load('meta-llama-Llama-3.2-3B-Instruct');
  const head = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
  const out = t.render({ messages: [{ role: 'user', content: ' Hi ' }], tools: [{ name: 'f', parameters: {}, tags: ['a', 'b'] }], bos_token: '', add_generation_prompt: true });
  assert.equal(out,
    head('system') + 'Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>' +
    head('user') + 'Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n' +
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n' +
    '{\n    "name": "f",\n    "parameters": {},\n    "tags": [\n        "a",\n        "b"\n    ]\n}\n\nHi<|eot_id|>' + head('assistant'));
});

test('Phi 3.5: generation prompt or eos', () => {
  const t = load('microsoft-Phi-3.5-mini-instruct');
  const o = { bosToken: '<s>', eosToken: '<|endoftext|>', addGenerationPrompt: true };
  assert.equal(renderChat(t, convo, o), '<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n');
  assert.equal(renderChat(t, [{ role: 'system', content: '' }, noSystem[0]], { ...o, addGenerationPrompt: false }), '<|user|>\nHi there<|end|>\n<|endoftext|>');
});

test('Mistral Nemo: system folded into the last user turn, alternation check', () => {
  const t = load('mistralai-Mistral-Nemo-Instruct-2407');
  const o = { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true };
  assert.equal(renderChat(t, convo, o), '<s>[INST]Hi there[/INST]Hello!</s>[INST]You are terse.\n\nWhat is 2+2?[/INST]');
  assert.throws(() => renderChat(t, [noSystem[0], noSystem[1], noSystem[1]], o), /conversation roles must alternate/);
});

test('Mistral Nemo tools: filtered dict loop, is string, selectattr and dict equality', () => {
  const t = load('mistralai-Mistral-Nemo-Instruct-2407');
  const out = t.render({
    messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }, { role: 'user', content: 'Go' }],
    tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' }, return: 'x' } }, { type: 'function', function: { name: 'g' } }],
    bos_token: '<s>', eos_token: '</s>',
  });
  assert.equal(out, '<s>[INST]Hi[/INST]Yo</s>[AVAILABLE_TOOLS][{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}, ' +
    '{"type": "function", "function": {"name": "g"}}][/AVAILABLE_TOOLS][INST]Go[/INST]');
  assert.throws(() => t.render({
    messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', tool_calls: [{ id: 'short', function: { name: 'f', arguments: {} } }] }],
    bos_token: '<s>', eos_token: '</s>',
  }), /alphanumeric strings with length 9/);
});

test('interpreter details: whitespace control, scoping, slices, tests, errors with line numbers', () => {
  const r = (src: string, ctx: Record<string, unknown> = {}) => new ChatTemplate(src).render(ctx);
  assert.equal(r('  {% if true %}\n  x\n  {% endif %}\n'), '  x\n');
  assert.equal(r('a {{- " b " -}} c'), 'a b c');
  assert.equal(r('{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}'), '1');
  assert.equal(r('{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}'), '4');
  assert.equal(r('{{ "abcdef"[1:-1] }}|{{ [1,2,3][::-1] }}|{{ "a,b,,c".split(",") }}|{{ " x ".strip() }}'), "bcde|[3, 2, 1]|['a', 'b', '', 'c']|x");
  assert.equal(r('{% for k, v in d.items() if v %}{{ loop.index }}{{ k }}{{ "," if not loop.last }}{% endfor %}', { d: { a: 1, b: 0, c: 2 } }), '1a,2c');
  assert.equal(r('{{ x is defined }} {{ none is none }} {{ "ab" is string }} {{ 3 is odd }} {{ [] | length }}'), 'False True True True 0');
  assert.equal(r('{{ 7 // 2 }} {{ 7 % 3 }} {{ "a" ~ 1 }} {{ "x" if false else "y" }} {{ "b" in "abc" }} {{ 2 not in [1] }}'), '3 1 a1 y True True');
  assert.throws(() => r('line one\n{{ undefined_thing + 1 }}'), (e: Error) => e instanceof TemplateError && /line 2/.test(e.message) && /undefined_thing/.test(e.message));
  assert.throws(() => r('{% for x in y %}'), /without "endfor"/);
  assert.throws(() => r('{% macro m() %}{% endmacro %}'), /unsupported statement "macro"/);
  assert.throws(() => r('{{ x | frobnicate }}', { x: 1 }), /unknown filter "frobnicate"/);
});
