// Chat templates: the Jinja `tokenizer.chat_template` a GGUF carries, rendered by @huggingface/jinja
// (the renderer transformers.js uses, in Hugging Face's environment: trim_blocks, lstrip_blocks) with
// the variables llama.cpp and transformers pass; or, for a file without one, a built-in template
// chosen by architecture. A render is bounded in work and output (the file's text is untrusted) and
// every failure is a TemplateError that names the template.
import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/**
 * Nodes one render may evaluate (range() items count too): this many, plus RENDER_STEPS_PER_ITEM
 * per message and tool. Real templates take 20-100 steps a message; the library takes ~10 µs a step.
 */
export const RENDER_STEPS = 50_000;
export const RENDER_STEPS_PER_ITEM = 1_000;
/** Longest string a render may build: far beyond any context window. */
export const MAX_RENDER_CHARS = 1 << 26;

type Program = ReturnType<typeof parse>;
type Node = Parameters<Interpreter['evaluate']>[0];
type Value = ReturnType<Interpreter['evaluate']>;

/** Text quoted from a template or a file: control characters escaped, length capped. */
function quote(s: string, max = 200): string {
  const q = JSON.stringify(s.length > max ? s.slice(0, max) : s);
  return s.length > max ? `${q.slice(0, -1)}..."` : q;
}

/** The library's own message, with anything from the template in it made printable. */
function describe(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return quote(m).slice(1, -1);
}

class Budget {
  private steps = 0;
  constructor(private readonly name: string, private readonly limit: number) {}
  spend(n: number): void {
    this.steps += n;
    if (this.steps > this.limit) throw new TemplateError(`${this.name}: rendering took over ${this.limit} steps (a loop that does not end?)`);
  }
}

const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);

/** The interpreter, counting every node it evaluates and refusing oversized strings. */
class BoundedInterpreter extends Interpreter {
  constructor(env: Environment, private readonly budget: Budget, private readonly name: string) {
    super(env);
  }

  override evaluate(node: Node, env: Environment): Value {
    this.budget.spend(1);
    const v = super.evaluate(node, env);
    if (typeof v.value === 'string' && v.value.length > MAX_RENDER_CHARS) {
      throw new TemplateError(`${this.name}: the output grew past ${MAX_RENDER_CHARS} characters`);
    }
    return v;
  }
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Python's strftime in the C locale (English names, whatever the machine's locale). */
function strftime(d: Date, format: string, name: string): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%(.)/gs, (all, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return p2(d.getFullYear() % 100);
      case 'm': return p2(d.getMonth() + 1);
      case 'd': return p2(d.getDate());
      case 'H': return p2(d.getHours());
      case 'M': return p2(d.getMinutes());
      case 'S': return p2(d.getSeconds());
      case 'B': return MONTHS[d.getMonth()];
      case 'b': return MONTHS[d.getMonth()].slice(0, 3);
      case 'A': return DAYS[d.getDay()];
      case 'a': return DAYS[d.getDay()].slice(0, 3);
      case '%': return '%';
      default: throw new TemplateError(`${name}: strftime_now: unsupported directive ${quote(all)}`);
    }
  });
}

/** The globals Hugging Face's environment gives every template, bounded and naming the template. */
function globals(name: string, budget: Budget, now: Date): Record<string, unknown> {
  return {
    true: true, false: false, none: null, True: true, False: false, None: null,
    raise_exception: (message: unknown) => {
      throw new TemplateError(`${name}: the template raised an error: ${quote(String(message))}`);
    },
    range: (start: number, stop?: number, step = 1) => {
      if (stop === undefined) [start, stop] = [0, start];
      if (![start, stop, step].every(Number.isInteger) || step === 0) throw new TemplateError(`${name}: range() needs integers and a non-zero step`);
      const n = Math.max(0, Math.ceil((stop - start) / step));
      budget.spend(n);
      return Array.from({ length: n }, (_, i) => start + i * step);
    },
    strftime_now: (format: unknown) => strftime(now, String(format), name),
  };
}

/** A parsed template; render() can be called any number of times. */
export class ChatTemplate {
  private readonly program: Program;

  /** `name` says where the template came from, for errors: "tokenizer.chat_template of FILE". */
  constructor(readonly source: string, readonly name = 'chat template') {
    try {
      this.program = parse(tokenize(source, { lstrip_blocks: true, trim_blocks: true }));
    } catch (e) {
      throw new TemplateError(`${name}: cannot parse: ${describe(e)}`);
    }
  }

  /** Renders with `context` as the template's variables; `now` is what strftime_now() reads. */
  render(context: Record<string, unknown>, now = new Date()): string {
    const budget = new Budget(this.name, RENDER_STEPS + RENDER_STEPS_PER_ITEM * (count(context.messages) + count(context.tools)));
    const env = new Environment();
    for (const [k, v] of Object.entries({ ...globals(this.name, budget, now), ...context })) if (v !== undefined) env.set(k, v);
    try {
      const out = new BoundedInterpreter(env, budget, this.name).run(this.program).value;
      if (typeof out !== 'string') throw new Error(`rendered a ${typeof out}, not text`);
      return out;
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      // RangeError included: V8's own bounds (string length, call stack) end a hostile render here.
      throw new TemplateError(`${this.name}: ${describe(e)}`);
    }
  }

  /**
   * The marker the template writes right after an assistant turn (<|im_end|>, <|eot_id|>, </s> ...):
   * where a generated answer ends. Found by rendering a two-turn conversation; undefined when the
   * template writes no such marker there or refuses the probe.
   */
  endOfTurn(o: { bosToken: string; eosToken: string }): string | undefined {
    const answer = 'hearth-probe-answer';
    let text: string;
    try {
      text = renderChat(this, [{ role: 'user', content: 'hearth-probe-question' }, { role: 'assistant', content: answer }], { ...o, addGenerationPrompt: false });
    } catch {
      return undefined;
    }
    const at = text.lastIndexOf(answer);
    if (at < 0) return undefined;
    // The first marker after the answer: <|im_end|>, </s>, <｜end▁of▁sentence｜>, [EOT] ...
    return /^\s*(<[^<>\s]{1,64}>|\[[^[\]\s]{1,64}\])/.exec(text.slice(at + answer.length))?.[1];
  }
}

export interface ChatRenderOptions {
  bosToken: string;
  eosToken: string;
  addGenerationPrompt: boolean;
  /** Function signatures, as transformers' `tools` argument; not passed when absent. */
  tools?: unknown[];
  /** The time strftime_now() reports (default: now). */
  now?: Date;
}

/** A conversation turn, as transformers takes it (content is null in a turn that only calls tools). */
export interface ChatTurn {
  role: string;
  content: string | null;
  tool_calls?: unknown[];
}

/** What the template needs of a vocabulary (engine/tokenizer's Tokenizer is one). */
export interface TemplateVocab {
  bos?: number;
  eos?: number;
  tokenText(id: number): string;
  tokenId(text: string): number | undefined;
}

/** bos_token and eos_token for a vocabulary: the texts of its BOS and EOS tokens ('' without one). */
export function specialTokens(v: Omit<TemplateVocab, 'tokenId'>): { bosToken: string; eosToken: string } {
  return { bosToken: v.bos !== undefined ? v.tokenText(v.bos) : '', eosToken: v.eos !== undefined ? v.tokenText(v.eos) : '' };
}

/**
 * Where a generated answer ends: the template's end-of-turn marker as a token id, when the
 * vocabulary has it as one token (a control token decodes to no text), and as text, for a model
 * that spells it out in pieces. Usually the marker is an end-of-generation token already.
 */
export function answerStops(template: ChatTemplate, vocab: TemplateVocab): { ids: number[]; texts: string[] } {
  const end = template.endOfTurn(specialTokens(vocab));
  if (end === undefined) return { ids: [], texts: [] };
  const id = vocab.tokenId(end);
  return { ids: id === undefined ? [] : [id], texts: [end] };
}

/** Renders a conversation with the template, with the variables llama.cpp and transformers pass. */
export function renderChat(template: ChatTemplate, messages: readonly ChatTurn[], o: ChatRenderOptions): string {
  return template.render({
    messages,
    bos_token: o.bosToken,
    eos_token: o.eosToken,
    add_generation_prompt: o.addGenerationPrompt,
    tools: o.tools,
  }, o.now);
}

// ---- built-in templates, for files without tokenizer.chat_template ----------------------------

export type FallbackName = 'chatml' | 'llama3' | 'llama2' | 'deepseek-coder';

/** The formats of llama.cpp's built-in templates of the same names, as Jinja. */
const FALLBACKS: Record<FallbackName, string> = {
  chatml: `{% for m in messages %}
{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}
{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}`,
  llama3: `{{ bos_token }}{% for m in messages %}
{{ '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + m.content | trim + '<|eot_id|>' }}{% endfor %}
{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}`,
  // Llama 2 chat: each exchange is <s>[INST] user [/INST] answer </s>; a system message goes in <<SYS>> inside the first.
  llama2: `{% set ns = namespace(system='') %}{% for m in messages %}
{% if m.role == 'system' %}{% set ns.system = '<<SYS>>\\n' + m.content | trim + '\\n<</SYS>>\\n\\n' %}
{% elif m.role == 'user' %}{{ bos_token + '[INST] ' + ns.system + m.content | trim + ' [/INST]' }}{% set ns.system = '' %}
{% else %}{{ ' ' + m.content | trim + ' ' + eos_token }}{% endif %}
{% endfor %}`,
  'deepseek-coder': `{{ bos_token }}{% for m in messages %}
{% if m.role == 'system' %}{{ m.content }}{% elif m.role == 'user' %}{{ '### Instruction:\\n' + m.content + '\\n' }}{% else %}
{{ '### Response:\\n' + m.content + '\\n<|EOT|>\\n' }}{% endif %}
{% endfor %}
{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}`,
};

/** GGUF metadata, as read by engine/gguf (only string keys and the token list are read). */
export type ChatMetadata = ReadonlyMap<string, unknown>;

/**
 * The built-in template for a file without one: Llama 3 style for llama files whose vocabulary has
 * <|start_header_id|>, DeepSeek-Coder's for its vocabulary, Llama 2 [INST] for other SentencePiece
 * llama files, ChatML otherwise (qwen2 and unknown architectures, as llama.cpp defaults to).
 */
export function fallbackFor(meta: ChatMetadata): FallbackName {
  if (meta.get('general.architecture') !== 'llama') return 'chatml';
  const tokens = meta.get('tokenizer.ggml.tokens');
  const has = (t: string) => Array.isArray(tokens) && tokens.includes(t);
  if (has('<|start_header_id|>')) return 'llama3';
  if (meta.get('tokenizer.ggml.pre') === 'deepseek-coder' || has('<|EOT|>')) return 'deepseek-coder';
  if (meta.get('tokenizer.ggml.model') === 'llama') return 'llama2';
  return 'chatml';
}

export function fallbackTemplate(name: FallbackName): ChatTemplate {
  return new ChatTemplate(FALLBACKS[name], `built-in ${name} chat template`);
}

/** A model's chat template, and which built-in one stands in when the file has none. */
export interface ModelChatTemplate {
  template: ChatTemplate;
  fallback?: FallbackName;
}

/** The file's own template (a TemplateError if it does not parse), else the fallback for its architecture. */
export function modelChatTemplate(meta: ChatMetadata, file: string): ModelChatTemplate {
  const src = meta.get('tokenizer.chat_template');
  if (typeof src === 'string' && src.trim() !== '') return { template: new ChatTemplate(src, `tokenizer.chat_template of ${file}`) };
  const fallback = fallbackFor(meta);
  return { template: fallbackTemplate(fallback), fallback };
}
